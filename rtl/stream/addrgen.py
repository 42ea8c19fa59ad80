"""Strided address generation: three-level patterns of byte segments as
groups of word addresses (the IMA's streams; a DMA's transfers).

A pattern is a sequence of *vectors*; vector (j0, j1) starts at
``base + j0*step0 + j1*step1`` (``j0 < inner``, ``j1 < outer``).  A vector is
``c2 x c1`` segments of ``length`` contiguous bytes, segment (i2, i1) at
``+ i2*stride2 + i1*stride1`` (a 1x1 layer is one segment per vector, a KxK
convolution K segments of K*C bytes: virtual im2col).  Strides are signed.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StridedAddressGenerator", "STRIDED_PATTERN", "WordGroup", "POS_BITS"]

POS_BITS = 13     # signed byte position within a vector (vectors <= 1024 bytes)

STRIDED_PATTERN = data.StructLayout({
    "base": 32, "length": 16, "c1": 16, "c2": 16, "stride1": 32, "stride2": 32,
    "step0": 32, "step1": 32, "inner": 16, "outer": 16,
})


class WordGroup(data.StructLayout):
    """Up to ``lanes`` consecutive words of one segment: per lane an enable,
    the word address, the byte mask (segments start and end anywhere) and
    ``pos``, the position in the vector of the word's byte 0 (negative for
    the first word of an unaligned vector); ``vec_end``: the group completes
    a vector."""
    def __init__(self, lanes: int):
        super().__init__({
            "en": lanes, "word": data.ArrayLayout(30, lanes), "mask": data.ArrayLayout(4, lanes),
            "pos": data.ArrayLayout(signed(POS_BITS), lanes), "vec_end": 1,
        })


class StridedAddressGenerator(wiring.Component):
    """Walks a :data:`STRIDED_PATTERN` and offers it as :class:`WordGroup` s,
    one group (up to ``lanes`` words of the current segment) per transfer.
    The next segment's address is kept ready, so segments follow each other
    without a bubble; a segment shorter than the group leaves the remaining
    lanes empty.

    Parameters
    ----------
    lanes : int
        Words per group (one per data port).

    Members
    -------
    pattern : ``In(STRIDED_PATTERN)``
        The pattern; read at ``start`` and while running (keep it stable).
    start : ``In(1)``
        (Re)load the pattern and begin.
    stop : ``In(1)``
        Abandon the pattern (the offered group is withdrawn).
    words : ``Out(stream.Signature(WordGroup(lanes)))``
        The groups.  ``valid`` does not depend on ``ready``; a group stays
        until taken (or ``stop``).
    busy : ``Out(1)``
        Groups remain.
    quiet : ``Out(1)``
        No register changes at the next edge (for a clock gate).
    """
    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({
            "pattern": In(STRIDED_PATTERN),
            "start": In(1), "stop": In(1),
            "words": Out(stream.Signature(WordGroup(lanes))),
            "busy": Out(1), "quiet": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        P = self.lanes
        pat, out = self.pattern, self.words.payload

        # -- the next segment (counters describe it) -------------------------------------
        nxt_valid = Signal()
        nxt_addr = Signal(32)
        nxt_vpos = Signal(POS_BITS - 1)
        i1, i2, j0, j1 = (Signal(16, name=n) for n in ("i1", "i2", "j0", "j1"))
        b2, bs, bo = Signal(32), Signal(32), Signal(32)   # bases of the i2 loop, step, outer step
        nxt_vec_last = Signal()
        m.d.comb += nxt_vec_last.eq((i1 == pat.c1 - 1) & (i2 == pat.c2 - 1))

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
                out.en[i].eq(en),
                out.word[i].eq(cur_w + i),
                out.mask[i].eq(Mux(is_last, mask & last_mask, mask)),
                out.pos[i].eq(cur_pos + 4 * i),
            ]
        m.d.comb += [
            self.words.valid.eq(cur_valid),
            out.vec_end.eq(cur_valid & seg_end & cur_vec_end),
            self.busy.eq(cur_valid | nxt_valid),
        ]

        # -- advance ---------------------------------------------------------------------
        take = Signal()             # the group is transferred
        m.d.comb += take.eq(self.words.valid & self.words.ready)
        load = Signal()
        m.d.comb += load.eq(nxt_valid & (~cur_valid | (take & seg_end)))
        m.d.comb += self.quiet.eq(~self.start & ~self.stop & ~take & ~load)
        with m.If(take & ~seg_end):
            m.d.sync += [cur_w.eq(cur_w + P), cur_pos.eq(cur_pos + 4 * P), cur_first.eq(0)]
        with m.Elif(take & seg_end):
            m.d.sync += cur_valid.eq(0)
        with m.If(load):
            end_addr = Signal(32)
            m.d.comb += end_addr.eq(nxt_addr + pat.length - 1)
            m.d.sync += [
                cur_valid.eq(1), cur_w.eq(nxt_addr[2:]), cur_last.eq(end_addr[2:]),
                cur_o.eq(nxt_addr[:2]), cur_e.eq(end_addr[:2]), cur_first.eq(1),
                cur_pos.eq(nxt_vpos - nxt_addr[:2]), cur_vec_end.eq(nxt_vec_last),
            ]
            with m.If(i1 + 1 < pat.c1):
                m.d.sync += [i1.eq(i1 + 1), nxt_addr.eq(nxt_addr + pat.stride1),
                             nxt_vpos.eq(nxt_vpos + pat.length)]
            with m.Elif(i2 + 1 < pat.c2):
                m.d.sync += [i1.eq(0), i2.eq(i2 + 1), b2.eq(b2 + pat.stride2),
                             nxt_addr.eq(b2 + pat.stride2), nxt_vpos.eq(nxt_vpos + pat.length)]
            with m.Elif(j0 + 1 < pat.inner):
                m.d.sync += [i1.eq(0), i2.eq(0), j0.eq(j0 + 1), bs.eq(bs + pat.step0),
                             b2.eq(bs + pat.step0), nxt_addr.eq(bs + pat.step0), nxt_vpos.eq(0)]
            with m.Elif(j1 + 1 < pat.outer):
                m.d.sync += [i1.eq(0), i2.eq(0), j0.eq(0), j1.eq(j1 + 1), bo.eq(bo + pat.step1),
                             bs.eq(bo + pat.step1), b2.eq(bo + pat.step1),
                             nxt_addr.eq(bo + pat.step1), nxt_vpos.eq(0)]
            with m.Else():
                m.d.sync += nxt_valid.eq(0)

        with m.If(self.start):
            m.d.sync += [nxt_valid.eq(1), nxt_addr.eq(pat.base), nxt_vpos.eq(0),
                         i1.eq(0), i2.eq(0), j0.eq(0), j1.eq(0),
                         b2.eq(pat.base), bs.eq(pat.base), bo.eq(pat.base), cur_valid.eq(0)]
        with m.If(self.stop):
            m.d.sync += [nxt_valid.eq(0), cur_valid.eq(0)]
        return m
