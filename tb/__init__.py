"""Testbenches: Verilator harness, cocotb bus models and monitors, tests."""
