"""Throughput of the interconnect under hardware-generated traffic
(design: tb/tops/lic_traffic).  Python only starts and stops the run."""

import os

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from imcc.tb.bus.clock import start_clock
from imcc.tb.env import write_result

CYCLES = int(os.environ.get("IMCC_CYCLES", "100000"))


@cocotb.test()
async def throughput(dut):
    start_clock(dut, 2)
    out = {}
    for mode, name in ((0, "independent"), (1, "held"), (2, "disjoint")):
        dut.run.value = 0
        dut.mode.value = mode
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        dut.run.value = 1
        await ClockCycles(dut.clk, CYCLES)
        dut.run.value = 0
        await RisingEdge(dut.clk)
        await ReadOnly()
        out[name] = int(dut.accepted.value) / int(dut.cycles.value)
        await RisingEdge(dut.clk)
    write_result(out)
