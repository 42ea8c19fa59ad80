"""One TCDM bank: the interconnect's target wrapped around a single-port SRAM."""

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from amaranth.utils import ceil_log2

from ..interconnect.protocol import TargetSignature
from .sram import TcdmSram

__all__ = ["TcdmBank"]


class TcdmBank(wiring.Component):
    """``words`` x 32-bit bank.  The interconnect has already arbitrated, so a
    request is always accepted; read data appears on ``port.rdata`` the next
    cycle, and a bank never reports an error.

    ``macro=True`` instantiates the SRAM by module name (:class:`TcdmSram`
    emitted separately, see gen/elaborate.py); ``macro=False`` inlines it, which
    amaranth.sim needs."""

    def __init__(self, words: int, *, macro: bool = True):
        self.words = words
        self.macro = macro
        super().__init__({"port": In(TargetSignature(max(1, ceil_log2(words))))})

    def elaborate(self, platform):
        m = Module()
        p = self.port
        if self.macro:
            m.submodules.sram = Instance(
                TcdmSram.module_name(self.words),
                i_clk=ClockSignal(), i_rst=ResetSignal(),
                i_req=p.req, i_we=p.we, i_addr=p.addr, i_be=p.be, i_wdata=p.wdata,
                o_rdata=p.rdata)
        else:
            m.submodules.sram = sram = TcdmSram(self.words)
            m.d.comb += [sram.req.eq(p.req), sram.we.eq(p.we), sram.addr.eq(p.addr),
                         sram.be.eq(p.be), sram.wdata.eq(p.wdata), p.rdata.eq(sram.rdata)]
        m.d.comb += p.r_err.eq(0)
        return m
