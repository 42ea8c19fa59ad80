"""Job check of the DW accelerator: a job that would misbehave does not run.

The cheap checks (operation, stride, zero sizes, kernel fit, clip range) are
combinational; the tensor sizes need products of 16- and 32-bit register
values, so they run one product per cycle on a single multiplier (8 cycles
once per job).  The products are kept: the engine's address generators step
by them.  The address and overlap checks compare at the last product's cycle:
they add no cycle to a valid job.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hwpe.controller import ERROR_BITS
from .regs import DW_REGS

__all__ = ["JobCheck", "E", "OPS"]

E = {n: v for n, v, _ in DW_REGS.constants["ERR"]}
OPS = {n: v for n, v, _ in DW_REGS.constants["OP"]}
_W = 50     # wide enough for 16 x 16 x 16-bit sizes plus a 32-bit base


class JobCheck(wiring.Component):
    def __init__(self, tcdm_base: int, tcdm_bytes: int):
        self.t0, self.t1 = tcdm_base, tcdm_base + tcdm_bytes
        super().__init__({
            "start": In(1),
            "op": In(4), "stride": In(4), "pt": In(4), "pb": In(4), "pl": In(4), "pr": In(4),
            "h": In(16), "w": In(16), "c": In(16), "lo": In(signed(8)), "hi": In(signed(8)),
            "src": In(32), "src2": In(32), "wt": In(32), "bias": In(32), "scale": In(32),
            "dst": In(32),
            "done": Out(1), "error": Out(ERROR_BITS),
            # valid with done (no error)
            "ho": Out(16), "wo": Out(16), "hwc": Out(32), "wc": Out(32), "woc": Out(32),
            "ptwc": Out(36),
        })

    def elaborate(self, platform):
        m = Module()
        dw = self.op == OPS["DW3X3"]
        add = self.op == OPS["ADD"]
        s2 = self.stride == 2
        hp = Signal(18)
        wp = Signal(18)
        m.d.comb += [hp.eq(self.h + self.pt + self.pb), wp.eq(self.w + self.pl + self.pr)]
        ho = Signal(17)
        wo = Signal(17)
        m.d.comb += [ho.eq(Mux(s2, (hp - 3) >> 1, hp - 3) + 1),
                     wo.eq(Mux(s2, (wp - 3) >> 1, wp - 3) + 1)]
        quick = Signal(ERROR_BITS)
        with m.If(~dw & ~add):
            m.d.comb += quick.eq(E["MODE"])
        with m.Elif(dw & (self.stride != 1) & ~s2):
            m.d.comb += quick.eq(E["STRIDE"])
        with m.Elif((self.h == 0) | (self.w == 0) | (self.c == 0)):
            m.d.comb += quick.eq(E["ZERO"])
        with m.Elif(dw & ((hp < 3) | (wp < 3))):
            m.d.comb += quick.eq(E["SHAPE"])
        with m.Elif(self.lo > self.hi):
            m.d.comb += quick.eq(E["CLIP"])

        # -- one product per cycle --------------------------------------------------------------
        a = Signal(_W)
        b = Signal(16)
        p = Signal(_W)
        m.d.comb += p.eq(a * b)
        hw, hwc, wc, howo, howoc, woc, ptwc = (Signal(_W, name=n) for n in
                                               ("hw", "hwc_", "wc_", "howo", "howoc", "woc_", "ptwc_"))
        seq = [(self.h, self.w, hw), (hw, self.c, hwc), (self.w, self.c, wc),
               (ho, wo, howo), (howo, self.c, howoc), (wo, self.c, woc), (wc, self.pt, ptwc)]
        k = Signal(range(len(seq) + 2))
        run = Signal()
        with m.If(run):
            with m.Switch(k):
                for i, (ea, eb, dst) in enumerate(seq):
                    with m.Case(i):
                        m.d.comb += [a.eq(ea), b.eq(eb)]
                        m.d.sync += dst.eq(p)
            m.d.sync += k.eq(k + 1)

        def outside(base, length):      # (base < 0 always fails: UNSIGNED lint)
            return ((base < self.t0) if self.t0 else 0) | (base + length > self.t1)

        bad = Signal()
        m.d.comb += bad.eq(Mux(dw, outside(self.src, hwc) | outside(self.dst, howoc)
                               | outside(self.wt, 9 * self.c) | outside(self.bias, 4 * self.c)
                               | outside(self.scale, 4 * self.c),
                               outside(self.src, hwc) | outside(self.src2, hwc)
                               | outside(self.dst, hwc)))

        def meets(base, length, out_len):     # [base, +length) and the result's bytes
            return (base < self.dst + out_len) & (self.dst < base + length)

        # The 3x3 window reads input rows the result would already have
        # overwritten; an ADD reads each element once, before writing it, so
        # only exactly in place is safe there.
        clash = Signal()
        m.d.comb += clash.eq(Mux(dw, meets(self.src, hwc, howoc) | meets(self.wt, 9 * self.c, howoc)
                                 | meets(self.bias, 4 * self.c, howoc)
                                 | meets(self.scale, 4 * self.c, howoc),
                                 (meets(self.src, hwc, hwc) & (self.dst != self.src))
                                 | (meets(self.src2, hwc, hwc) & (self.dst != self.src2))))
        m.d.sync += self.done.eq(0)
        with m.If(run & (k == len(seq))):
            m.d.sync += [run.eq(0), self.done.eq(1),
                         self.error.eq(Mux(bad, E["ADDRESS"], Mux(clash, E["OVERLAP"], E["OK"])))]
        m.d.comb += [self.ho.eq(ho), self.wo.eq(wo), self.hwc.eq(hwc), self.wc.eq(wc),
                     self.woc.eq(woc), self.ptwc.eq(ptwc)]
        with m.If(self.start):
            m.d.sync += k.eq(0)
            with m.If(quick != 0):
                m.d.sync += [self.done.eq(1), self.error.eq(quick), run.eq(0)]
            with m.Else():
                m.d.sync += run.eq(1)
        return m
