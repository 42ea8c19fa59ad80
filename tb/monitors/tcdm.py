"""TCDM port protocol monitor (rules in docs/protocols.md).

The checking runs in the simulated hardware (one :class:`TcdmPortChecker` per
master port, attached through :class:`imcc.rtl.cluster.Cluster`'s
``port_checker`` hook), so Python is not woken every cycle: the cocotb side,
:func:`watch`, sleeps until ``chk_error`` rises and then fails the test with
the master's name and the rule it broke.
"""

import enum

import cocotb
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge

from imcc.rtl.interconnect.protocol import TcdmSignature

__all__ = ["Rule", "TcdmPortChecker", "watch"]


class Rule(enum.IntEnum):
    OK = 0
    UNSTABLE = 1        # req dropped or payload changed before gnt
    NO_RESPONSE = 2     # a granted request had no r_valid one cycle later
    SPURIOUS = 3        # r_valid without a granted request one cycle before

    @property
    def text(self):
        return {
            Rule.UNSTABLE: "req or payload changed while waiting for gnt",
            Rule.NO_RESPONSE: "no r_valid exactly one cycle after a granted request",
            Rule.SPURIOUS: "r_valid without a granted request in the previous cycle",
        }.get(self, "ok")


class TcdmPortChecker(wiring.Component):
    """Observes one TCDM port; ``error`` pulses in the cycle a rule breaks.

    ``tcdm_grants`` counts the port's granted requests to the TCDM window
    (:attr:`TCDM`, set by the testbench top): the testbench's own count of the
    accesses, which the cluster's activity counters must match (tb/test_counters.py)."""

    KIND_WIDTH = 2
    TCDM: tuple[int, int] | None = None     # (base, size) of the TCDM window

    def __init__(self, name: str = "port"):
        self.port_name = name
        members = {k: In(v.shape) for k, v in TcdmSignature().members.items()}
        members.update(error=Out(1), kind=Out(self.KIND_WIDTH))
        if self.TCDM is not None:
            members["tcdm_grants"] = Out(32)
        super().__init__(members)

    def observe(self, m: Module, port):
        """Connect every member of ``port`` to this checker's inputs."""
        m.d.comb += [getattr(self, k).eq(getattr(port, k)) for k in TcdmSignature().members]

    def elaborate(self, platform):
        m = Module()
        prev = {k: Signal.like(getattr(self, k), name=f"prev_{k}")
                for k in ("req", "addr", "we", "be", "wdata", "gnt")}
        m.d.sync += [prev[k].eq(getattr(self, k)) for k in prev]
        waiting = prev["req"] & ~prev["gnt"]
        changed = (~self.req | (self.addr != prev["addr"]) | (self.we != prev["we"])
                   | (self.be != prev["be"]) | (self.we & (self.wdata != prev["wdata"])))
        granted = prev["req"] & prev["gnt"]
        if self.TCDM is not None:
            base, size = self.TCDM
            with m.If(self.req & self.gnt & (self.addr >= base) & (self.addr < base + size)):
                m.d.sync += self.tcdm_grants.eq(self.tcdm_grants + 1)
        with m.If(waiting & changed):
            m.d.comb += [self.error.eq(1), self.kind.eq(Rule.UNSTABLE)]
        with m.Elif(granted & ~self.r_valid):
            m.d.comb += [self.error.eq(1), self.kind.eq(Rule.NO_RESPONSE)]
        with m.Elif(~granted & self.r_valid):
            m.d.comb += [self.error.eq(1), self.kind.eq(Rule.SPURIOUS)]
        return m


def watch(dut, master_names):
    """Start a task that fails the test at the first protocol violation.

    It waits on the rising edge of the design's sticky ``chk_fail``, so it costs
    nothing while the protocol is kept."""

    async def _watch():
        await RisingEdge(dut.chk_fail)
        await ReadOnly()
        bits = int(dut.chk_who.value)
        who = [n for i, n in enumerate(master_names) if bits >> i & 1]
        rule = Rule(int(dut.chk_kind.value))
        at = get_sim_time("ns")
        raise AssertionError(f"TCDM protocol violation in the cycle before {at:.0f} ns "
                             f"on {', '.join(who)}: {rule.name} ({rule.text})")

    return cocotb.start_soon(_watch())
