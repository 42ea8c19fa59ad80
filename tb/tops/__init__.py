"""Testbench tops: Amaranth wrappers that give cocotb wide, packed ports."""
