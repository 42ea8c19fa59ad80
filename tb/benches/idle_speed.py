"""Raw simulation speed of a design with Python asleep (a reference figure)."""

import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer


@cocotb.test()
async def idle(dut):
    cocotb.start_soon(Clock(dut.clk, 2, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    n = int(os.environ.get("IMCC_CYCLES", "200000"))
    t0 = time.monotonic()
    await Timer(2 * n, "ns")
    dt = time.monotonic() - t0
    dut._log.info("[progress] idle: %d cycles in %.2f s = %.0f cycles/s", n, dt, n / dt)
