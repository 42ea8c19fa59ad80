"""Amaranth components of the cluster: one concept per file."""
