"""The testbench clock: driven by the simulator's main loop when it can
(tb/csrc/verilator_main.cpp), else by a cocotb Clock.

A cocotb Clock toggles the signal from a VPI timer callback registered anew at
every edge; the main loop's native clock costs nothing per edge beyond the
evaluation itself.  Both give the same waveform: high for the first half
period from now, edges every half period, RisingEdge/ClockCycles work as usual.
The native clock drives only the top level's ``clk`` port and runs until the
simulation ends.
"""

from __future__ import annotations

import ctypes

import cocotb
from cocotb.clock import Clock
from cocotb.utils import get_sim_steps

__all__ = ["start_clock", "clock_mode"]

_modes: dict[str, str] = {}     # clock path -> how it is driven


def _native():
    try:
        fn = ctypes.CDLL(None).imcc_native_clock
    except AttributeError:          # another main loop (or simulator)
        return None
    fn.argtypes, fn.restype = [ctypes.c_uint64], ctypes.c_int
    return fn


def start_clock(dut, period_ns: float) -> str:
    """Start ``dut.clk`` with ``period_ns``; returns "native" or "cocotb"."""
    half = get_sim_steps(period_ns / 2, "ns")
    fn = _native()
    # the native clock toggles every half period: it needs an even period in steps
    if fn is not None and 2 * half == get_sim_steps(period_ns, "ns"):
        dut.clk.value = 1
        if fn(half):
            _modes[dut.clk._path] = "native"
            return "native"
    cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
    _modes[dut.clk._path] = "cocotb"
    return "cocotb"


def clock_mode(dut) -> str | None:
    """How start_clock drives ``dut.clk``: "native", "cocotb" or None."""
    return _modes.get(dut.clk._path)
