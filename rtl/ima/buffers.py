"""Vector buffers of the IMA engine: DAC input slots filled by the source
streamer, ADC output slots drained by the sink streamer.

The streamer moves whole 32-bit words with a byte mask and the position of
the word's byte 0 in the step vector, so unaligned streams need no separate
re-aligner: each word is rotated into place as it lands (input) or gathered
from two neighbouring buffer words as it leaves (output).

Both buffers are word memories (slot s, word j at s * words + j) with
byte-granular write ports: a landing word writes the low half of its
rotation into word idx and the high half into idx + 1, so two lanes may fill
different bytes of one word in the same cycle.  A write whose bytes are all
masked off is a no-op, whatever its address.
"""

from amaranth.hdl import Cat, Const, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..stream.addrgen import POS_BITS

__all__ = ["InBuffer", "OutBuffer"]


def _addr_bits(slots, words):
    return ceil_log2(slots * words + 2)


class InBuffer(wiring.Component):
    """``slots`` x ``nbytes``.  ``lanes`` scatter writes per cycle (one per data
    port response); ``vec`` is slot ``rd`` in full (the DAC vector) and
    ``word`` its word ``word_sel`` (a row of packed weights)."""

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
            "vec_rd": In(2),
            "vec": Out(8 * nbytes),
            "word_sel": In(range(self.words)),
            "word": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        W = self.words
        ab = _addr_bits(self.slots, W)
        m.submodules.mem = mem = Memory(shape=32, depth=self.slots * W + 1, init=[])
        for q in range(self.lanes):
            pos = self.w_pos[q]
            rot = pos[:2]
            base = Signal(ab, name=f"lane{q}_addr")      # word idx of the slot (may be -1)
            m.d.comb += base.eq(self.w_slot[q] * W + (pos >> 2))
            d64 = Signal(64, name=f"lane{q}_d64")
            k8 = Signal(8, name=f"lane{q}_m8")
            m.d.comb += [d64.eq(Cat(self.w_data[q], Const(0, 32)) << (rot * 8)),
                         k8.eq(Cat(self.w_mask[q], Const(0, 4)) << rot)]
            lo = mem.write_port(granularity=8)
            hi = mem.write_port(granularity=8)
            m.d.comb += [
                lo.addr.eq(base), lo.data.eq(d64[:32]), lo.en.eq(k8[:4] & self.w_valid[q].replicate(4)),
                hi.addr.eq(base + 1), hi.data.eq(d64[32:]),
                hi.en.eq(k8[4:] & self.w_valid[q].replicate(4)),
            ]
        words = []
        for j in range(W):
            rp = mem.read_port(domain="comb")
            m.d.comb += rp.addr.eq(self.vec_rd * W + j)
            words.append(rp.data)
        m.d.comb += self.vec.eq(Cat(words))
        rp = mem.read_port(domain="comb")
        m.d.comb += [rp.addr.eq(self.rd * W + self.word_sel), self.word.eq(rp.data)]
        return m


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
        ab = _addr_bits(self.slots, W)
        m.submodules.mem = mem = Memory(shape=32, depth=self.slots * W + 1, init=[])
        for j in range(W):
            wp = mem.write_port()
            m.d.comb += [wp.addr.eq(self.wr * W + j), wp.data.eq(self.data[32 * j:32 * (j + 1)]),
                         wp.en.eq(self.capture)]
        for q in range(self.lanes):
            pos = self.r_pos[q]
            base = Signal(ab, name=f"lane{q}_addr")
            m.d.comb += base.eq(self.rd * W + (pos >> 2))
            lo, hi = mem.read_port(domain="comb"), mem.read_port(domain="comb")
            m.d.comb += [lo.addr.eq(base), hi.addr.eq(base + 1)]
            # bytes outside the vector are masked off by the sink's byte enables
            m.d.comb += self.r_data[q].eq((Cat(lo.data, hi.data) >> (pos[:2] * 8))[:32])
        return m
