"""Bus models: plain Python calls that hide a protocol (TCDM backdoor, later AXI)."""
