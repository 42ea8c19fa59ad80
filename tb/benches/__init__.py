"""cocotb test modules (run inside the simulator by tb/test_*.py)."""
