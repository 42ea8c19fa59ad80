"""The network compiler: Tile&Pack, lowering, schedules and the job list core 0 walks."""
