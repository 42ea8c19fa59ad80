"""Instruction memory: one fetch port per core plus a bus port.

It stands in for the cluster's instruction cache as an *ideal* one: every core
can fetch one 32-bit word every cycle, whatever the others do, and nothing
misses.  Cycle counts measured on the cluster therefore assume a shared I-cache
that never misses and never conflicts (docs/cores.md).  The bus port (the
``imem`` window of the interconnect) is how the SoC port loads code before the
cores start; cores may read it too.

Like the TCDM SRAM it is emitted once as its own Verilog module and
instantiated by name, so synthesis keeps it as a black box (a real cluster has
an instruction cache there, not this memory).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

__all__ = ["InstrMem"]


class InstrMem(wiring.Component):
    """``words`` x 32 bit; ``f_en``/``f_addr``/``f_data`` are packed per fetch
    port (word addresses), data one cycle after ``en``."""

    def __init__(self, words: int, fetch_ports: int):
        self.words, self.n = words, fetch_ports
        self.aw = exact_log2(words)
        super().__init__({
            "f_en": In(fetch_ports), "f_addr": In(self.aw * fetch_ports),
            "f_data": Out(32 * fetch_ports),
            "req": In(1), "we": In(1), "addr": In(self.aw), "be": In(4), "wdata": In(32),
            "rdata": Out(32),
        })

    @staticmethod
    def module_name(words: int, fetch_ports: int) -> str:
        return f"imcc_imem_{words}x32_{fetch_ports}f"

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=32, depth=self.words, init=[])
        wr = mem.write_port(granularity=8)
        rd = mem.read_port()
        m.d.comb += [wr.addr.eq(self.addr), wr.data.eq(self.wdata),
                     wr.en.eq(self.be & (self.req & self.we).replicate(4)),
                     rd.addr.eq(self.addr), rd.en.eq(self.req & ~self.we),
                     self.rdata.eq(rd.data)]
        for k in range(self.n):
            f = mem.read_port()
            m.d.comb += [f.addr.eq(self.f_addr[k * self.aw:(k + 1) * self.aw]),
                         f.en.eq(self.f_en[k]), self.f_data[32 * k:32 * (k + 1)].eq(f.data)]
        return m
