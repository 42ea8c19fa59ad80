"""Protocol monitors: checkers built into the simulated design plus the
cocotb side that turns a violation into a test failure with a message."""
