"""Single-port 32-bit SRAM with byte enables: the TCDM bank's storage.

It is emitted once per depth as its own Verilog module and instantiated by
name in every bank (as a memory compiler's macro would be), which keeps the
cluster's Verilog small, lets synthesis keep it as a black box and gives
testbenches one obvious place (``bankN.sram.mem``) to look at memory.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..interconnect.protocol import BE_WIDTH, DATA_WIDTH

__all__ = ["TcdmSram"]


class TcdmSram(wiring.Component):
    def __init__(self, words: int):
        self.words = words
        self.addr_width = max(1, ceil_log2(words))
        super().__init__({
            "req": In(1), "we": In(1), "addr": In(self.addr_width), "be": In(BE_WIDTH),
            "wdata": In(DATA_WIDTH), "rdata": Out(DATA_WIDTH),
        })

    @staticmethod
    def module_name(words: int) -> str:
        return f"imcc_tcdm_sram_{words}x{DATA_WIDTH}"

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=DATA_WIDTH, depth=self.words, init=[])
        wr = mem.write_port(granularity=8)
        rd = mem.read_port()
        m.d.comb += [
            wr.addr.eq(self.addr),
            wr.data.eq(self.wdata),
            wr.en.eq(self.be & (self.req & self.we).replicate(BE_WIDTH)),
            rd.addr.eq(self.addr),
            rd.en.eq(self.req & ~self.we),   # single port: a write cycle reads nothing
            self.rdata.eq(rd.data),
        ]
        return m
