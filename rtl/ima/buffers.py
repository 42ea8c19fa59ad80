"""Vector buffers of the IMA engine: DAC input slots filled by the source
streamer, ADC output slots drained by the sink streamer.

The streamer moves whole 32-bit words with a byte mask and the position of
the word's byte 0 in the step vector, so unaligned streams need no separate
re-aligner: each word is rotated into place as it lands (input) or is
gathered from two neighbouring buffer words as it leaves (output).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .addrgen import POS_BITS

__all__ = ["InBuffer", "OutBuffer"]


def _words_of(vec, n):
    return [vec[32 * j:32 * (j + 1)] for j in range(n)]


class InBuffer(wiring.Component):
    """``slots`` x ``nbytes``.  ``lanes`` scatter writes per cycle (one per data
    port response); ``vec`` is the slot ``rd`` in full (the DAC vector)."""

    def __init__(self, slots: int, nbytes: int, lanes: int):
        self.slots, self.nbytes, self.lanes = slots, nbytes, lanes
        self.words = nbytes // 4
        super().__init__({
            "w_valid": In(lanes),
            "w_slot": In(2).array(lanes),
            "w_pos": In(signed(POS_BITS)).array(lanes),
            "w_mask": In(4).array(lanes),
            "w_data": In(32).array(lanes),
            "rd": In(2),
            "vec": Out(8 * nbytes),
        })

    def elaborate(self, platform):
        m = Module()
        nb = self.nbytes
        W = self.words
        # Whole-slot vector operations instead of per-byte logic: each lane's word,
        # rotated by its position, covers buffer word idx (low half) and idx + 1
        # (high half).  Its byte enables are the mask shifted to that word; its
        # data, replicated over all words, is selected by those enables.
        news = [[] for _ in range(self.slots)]
        wes = [[] for _ in range(self.slots)]
        for q in range(self.lanes):
            pos = self.w_pos[q]
            rot = pos[:2]
            word1 = Signal(POS_BITS - 1, name=f"lane{q}_word1")   # idx + 1 >= 0
            m.d.comb += word1.eq((pos >> 2) + 1)
            d64 = Signal(64, name=f"lane{q}_d64")
            k8 = Signal(8, name=f"lane{q}_m8")
            m.d.comb += [d64.eq(Cat(self.w_data[q], Const(0, 32)) << (rot * 8)),
                         k8.eq(Cat(self.w_mask[q], Const(0, 4)) << rot)]
            # byte enables over words -1 .. W of the slot, then cut to 0 .. W-1
            en = Signal(nb + 8, name=f"lane{q}_en")
            m.d.comb += en.eq(k8 << (word1 * 4))
            en_lo = Signal(nb, name=f"lane{q}_en_lo")
            en_hi = Signal(nb, name=f"lane{q}_en_hi")
            lo_mask = Cat(Const(0xF, 4) if i % 2 == 0 else Const(0, 4) for i in range(2 * W + 2))
            sel_lo = Signal(nb + 8, name=f"lane{q}_sel_lo")
            m.d.comb += sel_lo.eq(lo_mask << ((word1 & 1) * 4))   # bytes of the idx word
            m.d.comb += [en_lo.eq((en & sel_lo)[4:4 + nb]), en_hi.eq((en & ~sel_lo)[4:4 + nb])]
            rep_lo = Cat([d64[:32]] * W)
            rep_hi = Cat([d64[32:]] * W)
            for s in range(self.slots):
                hit = Signal(name=f"lane{q}_slot{s}")
                m.d.comb += hit.eq(self.w_valid[q] & (self.w_slot[q] == s))
                e_lo = Signal(nb, name=f"lane{q}_s{s}_lo")
                e_hi = Signal(nb, name=f"lane{q}_s{s}_hi")
                m.d.comb += [e_lo.eq(en_lo & hit.replicate(nb)), e_hi.eq(en_hi & hit.replicate(nb))]
                news[s].append((rep_lo & _bits(e_lo)) | (rep_hi & _bits(e_hi)))
                wes[s].append(e_lo | e_hi)
        vecs = []
        for s in range(self.slots):
            mem = Signal(8 * nb, name=f"slot{s}")
            new = Signal(8 * nb, name=f"slot{s}_new")
            we = Signal(nb, name=f"slot{s}_we")
            m.d.comb += [new.eq(_or(news[s])), we.eq(_or(wes[s]))]
            m.d.sync += mem.eq((mem & ~_bits(we)) | new)
            vecs.append(mem)
        m.d.comb += self.vec.eq(Array(vecs + [vecs[-1]] * (4 - self.slots))[self.rd])
        return m


def _bits(byte_en):
    """Byte enables -> bit mask."""
    return Cat(byte_en[i].replicate(8) for i in range(len(byte_en)))


def _or(values):
    out = values[0]
    for v in values[1:]:
        out = out | v
    return out


class OutBuffer(wiring.Component):
    """``slots`` x ``nbytes``.  ``capture`` writes a whole ADC vector into slot
    ``wr``; ``lanes`` gather reads per cycle from slot ``rd``."""

    def __init__(self, slots: int, nbytes: int, lanes: int):
        self.slots, self.nbytes, self.lanes = slots, nbytes, lanes
        self.words = nbytes // 4
        super().__init__({
            "capture": In(1),
            "wr": In(2),
            "data": In(8 * nbytes),
            "rd": In(2),
            "r_pos": In(signed(POS_BITS)).array(lanes),
            "r_data": Out(32).array(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        W = self.words
        mem = [Signal(8 * self.nbytes, name=f"slot{s}") for s in range(self.slots)]
        for s in range(self.slots):
            with m.If(self.capture & (self.wr == s)):
                m.d.sync += mem[s].eq(self.data)
        cur = Signal(8 * self.nbytes)
        m.d.comb += cur.eq(Array(mem + [mem[-1]] * (4 - self.slots))[self.rd])
        ib = max(1, ceil_log2(W + 2))
        words = _words_of(cur, W)
        words += [Const(0, 32)] * ((1 << ib) - W)   # idx -1 wraps to the top: zeros (masked anyway)
        table = Array(words)
        for q in range(self.lanes):
            pos = self.r_pos[q]
            idx = Signal(signed(POS_BITS - 2), name=f"lane{q}_idx")
            m.d.comb += idx.eq(pos >> 2)
            lo = Signal(32, name=f"lane{q}_lo")
            hi = Signal(32, name=f"lane{q}_hi")
            m.d.comb += [lo.eq(table[idx[:ib]]), hi.eq(table[(idx + 1)[:ib]])]
            m.d.comb += self.r_data[q].eq((Cat(lo, hi) >> (pos[:2] * 8))[:32])
        return m
