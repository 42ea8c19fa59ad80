"""Hardware traffic generators in front of the interconnect, for throughput
benchmarks that run without waking Python: each master draws a bank from
its own LFSR, counters tally cycles and accepted requests.

Modes (``mode`` input):
  0 independent: a fresh random bank every cycle whether or not the last one
    was granted - the textbook model behind M(1-(1-1/M)^N).  It breaks the
    hold-until-granted rule on purpose, so no checker is attached here.
  1 held: protocol-compliant; a refused request is kept until granted.
  2 disjoint: master i asks bank (i + cycle) mod M, so masters never collide.
"""

from amaranth.hdl import Module, Signal, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from imcc.gen.config import ClusterConfig
from imcc.rtl.interconnect import Interconnect
from imcc.rtl.registry import compose

__all__ = ["LicTraffic"]


def _lfsr_next(x):
    # 32-bit Galois LFSR, taps 32,22,2,1 (maximal length)
    return Cat(x[1:], 0) ^ (x[0].replicate(32) & 0x80200003)


class LicTraffic(wiring.Component):
    def __init__(self, cfg: ClusterConfig, n_masters: int):
        self.cfg = cfg
        self.n = n_masters
        super().__init__({"mode": In(2), "run": In(1),
                          "cycles": Out(32), "accepted": Out(32)})

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        names = [f"m{i}" for i in range(self.n)]
        m.submodules.interconnect = ic = Interconnect(cfg, compose(cfg), masters=names)
        for b in ic.banks:
            m.d.comb += [b.rdata.eq(0), b.r_err.eq(0)]
        for s in ic.slave_names:
            t = getattr(ic, f"periph_{s}")
            m.d.comb += [t.rdata.eq(0), t.r_err.eq(0)]
        bank_bits = exact_log2(cfg.tcdm.banks)
        rot = Signal(max(1, bank_bits))
        with m.If(self.run):
            m.d.sync += [self.cycles.eq(self.cycles + 1), rot.eq(rot + 1)]
        grants = []
        for i, name in enumerate(names):
            p = getattr(ic, name)
            lfsr = Signal(32, init=(0x1234567 * (i + 1)) & 0xFFFFFFFF or 1, name=f"lfsr{i}")
            bank = Signal(max(1, bank_bits), name=f"bank{i}")
            held = Signal(max(1, bank_bits), name=f"held{i}")
            waiting = Signal(name=f"waiting{i}")
            with m.Switch(self.mode):
                with m.Case(0):
                    m.d.comb += bank.eq(lfsr)
                with m.Case(1):
                    m.d.comb += bank.eq(lfsr)
                    with m.If(waiting):
                        m.d.comb += bank.eq(held)
                with m.Default():
                    m.d.comb += bank.eq(rot + i)
            m.d.comb += [p.req.eq(self.run), p.we.eq(0), p.be.eq(0xF),
                         p.addr.eq(cfg.tcdm.base + (bank << 2) if bank_bits else cfg.tcdm.base)]
            with m.If(self.run):
                # a new random draw each cycle (mode 1 keeps the refused bank in `held`)
                m.d.sync += lfsr.eq(_lfsr_next(lfsr))
                m.d.sync += [waiting.eq(~p.gnt), held.eq(bank)]
            grants.append(p.gnt & self.run)
        count = sum(grants[1:], grants[0]) if grants else 0
        with m.If(self.run):
            m.d.sync += self.accepted.eq(self.accepted + count)
        return m
