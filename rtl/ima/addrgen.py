"""Strided address generator of the IMA streamer (one per stream direction).

A job's stream is a sequence of step vectors; step (j0, j1) starts at
``base + j0*step0 + j1*step1``.  A step vector is ``c2 x c1`` segments of
``length`` contiguous bytes, segment (i2, i1) at ``+ i2*stride2 +
i1*stride1`` (so a 1x1 layer is one segment per step, and a KxK convolution
is K segments of K*C bytes per step: virtual im2col).

Each cycle the generator offers a *group* of up to ``lanes`` 32-bit words of
the current segment (one per data port): word addresses, per-lane byte masks
(segments start and end anywhere) and the position in the step vector of
byte 0 of each word (``pos``, negative for the first word of an unaligned
vector).  ``ack`` consumes the group.  The next segment's address is kept
ready so segments follow each other without a bubble; a segment shorter than
the group leaves the remaining lanes empty.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AddrGen", "POS_BITS"]

POS_BITS = 13     # signed byte position within a step vector (vectors <= 1024 bytes)


class AddrGen(wiring.Component):
    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({
            # configuration, stable while running
            "base": In(32), "length": In(16), "c1": In(16), "c2": In(16),
            "stride1": In(32), "stride2": In(32), "step0": In(32), "step1": In(32),
            "inner": In(16), "outer": In(16),
            "start": In(1),         # (re)load the configuration and begin
            "stop": In(1),          # abandon the stream
            "busy": Out(1),
            "quiet": Out(1),        # no register changes at the next edge
            # the current group
            "valid": Out(1),
            "ack": In(1),
            "lane_en": Out(lanes),
            "lane_word": Out(30).array(lanes),
            "lane_mask": Out(4).array(lanes),
            "lane_pos": Out(signed(POS_BITS)).array(lanes),
            "vec_end": Out(1),      # the group completes a step vector
        })

    def elaborate(self, platform):
        m = Module()
        P = self.lanes

        # -- the next segment (counters describe it) -------------------------------------
        nxt_valid = Signal()
        nxt_addr = Signal(32)
        nxt_vpos = Signal(POS_BITS - 1)
        i1, i2, j0, j1 = (Signal(16, name=n) for n in ("i1", "i2", "j0", "j1"))
        b2, bs, bo = Signal(32), Signal(32), Signal(32)   # bases of the i2 loop, step, outer step
        nxt_vec_last = Signal()
        m.d.comb += nxt_vec_last.eq((i1 == self.c1 - 1) & (i2 == self.c2 - 1))

        # -- the current segment ---------------------------------------------------------
        cur_valid = Signal()
        cur_w = Signal(30)
        cur_last = Signal(30)
        cur_o = Signal(2)
        cur_e = Signal(2)
        cur_first = Signal()
        cur_pos = Signal(signed(POS_BITS))
        cur_vec_end = Signal()

        left = Signal(30)
        m.d.comb += left.eq(cur_last - cur_w)          # words left after the first
        seg_end = Signal()
        m.d.comb += seg_end.eq(left < P)
        first_mask = Signal(4)
        last_mask = Signal(4)
        m.d.comb += [
            first_mask.eq(Mux(cur_first, (Const(0xF, 4) << cur_o)[:4], 0xF)),
            last_mask.eq(Mux(seg_end, (Const(0xF, 4) >> (~cur_e))[:4], 0xF)),
        ]
        for i in range(P):
            is_last = seg_end & (left == i)
            en = cur_valid & (~seg_end | (left >= i)) if i else cur_valid
            mask = Const(0xF, 4)
            if i == 0:
                mask = first_mask
            m.d.comb += [
                self.lane_en[i].eq(en),
                self.lane_word[i].eq(cur_w + i),
                self.lane_mask[i].eq(Mux(is_last, mask & last_mask, mask)),
                self.lane_pos[i].eq(cur_pos + 4 * i),
            ]
        m.d.comb += [
            self.valid.eq(cur_valid),
            self.vec_end.eq(cur_valid & seg_end & cur_vec_end),
            self.busy.eq(cur_valid | nxt_valid),
        ]

        # -- advance ---------------------------------------------------------------------
        load = Signal()
        m.d.comb += load.eq(nxt_valid & (~cur_valid | (self.ack & seg_end)))
        m.d.comb += self.quiet.eq(~self.start & ~self.stop & ~self.ack & ~load)
        with m.If(self.ack & ~seg_end):
            m.d.sync += [cur_w.eq(cur_w + P), cur_pos.eq(cur_pos + 4 * P), cur_first.eq(0)]
        with m.Elif(self.ack & seg_end):
            m.d.sync += cur_valid.eq(0)
        with m.If(load):
            end_addr = Signal(32)
            m.d.comb += end_addr.eq(nxt_addr + self.length - 1)
            m.d.sync += [
                cur_valid.eq(1), cur_w.eq(nxt_addr[2:]), cur_last.eq(end_addr[2:]),
                cur_o.eq(nxt_addr[:2]), cur_e.eq(end_addr[:2]), cur_first.eq(1),
                cur_pos.eq(nxt_vpos - nxt_addr[:2]), cur_vec_end.eq(nxt_vec_last),
            ]
            with m.If(i1 + 1 < self.c1):
                m.d.sync += [i1.eq(i1 + 1), nxt_addr.eq(nxt_addr + self.stride1),
                             nxt_vpos.eq(nxt_vpos + self.length)]
            with m.Elif(i2 + 1 < self.c2):
                m.d.sync += [i1.eq(0), i2.eq(i2 + 1), b2.eq(b2 + self.stride2),
                             nxt_addr.eq(b2 + self.stride2), nxt_vpos.eq(nxt_vpos + self.length)]
            with m.Elif(j0 + 1 < self.inner):
                m.d.sync += [i1.eq(0), i2.eq(0), j0.eq(j0 + 1), bs.eq(bs + self.step0),
                             b2.eq(bs + self.step0), nxt_addr.eq(bs + self.step0), nxt_vpos.eq(0)]
            with m.Elif(j1 + 1 < self.outer):
                m.d.sync += [i1.eq(0), i2.eq(0), j0.eq(0), j1.eq(j1 + 1), bo.eq(bo + self.step1),
                             bs.eq(bo + self.step1), b2.eq(bo + self.step1),
                             nxt_addr.eq(bo + self.step1), nxt_vpos.eq(0)]
            with m.Else():
                m.d.sync += nxt_valid.eq(0)

        with m.If(self.start):
            m.d.sync += [nxt_valid.eq(1), nxt_addr.eq(self.base), nxt_vpos.eq(0),
                         i1.eq(0), i2.eq(0), j0.eq(0), j1.eq(0),
                         b2.eq(self.base), bs.eq(self.base), bo.eq(self.base), cur_valid.eq(0)]
        with m.If(self.stop):
            m.d.sync += [nxt_valid.eq(0), cur_valid.eq(0)]
        return m
