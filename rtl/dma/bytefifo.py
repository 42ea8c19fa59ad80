"""A byte queue that realigns: up to ``push_max`` bytes in and up to
``pop_max`` bytes out per cycle, in order, whatever the alignment of either
side.  The DMA's readers push the bytes of a row as they arrive (an AXI beat
after its head bytes are skipped, a group of TCDM words); its writers look
at the first bytes (``head``) and pop what they have written."""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ByteFifo"]


class ByteFifo(wiring.Component):
    """Parameters
    ----------
    capacity : int
        Bytes it holds.
    push_max, pop_max : int
        Most bytes pushed / popped in one cycle.

    Members
    -------
    push_data : In(8 * push_max)
        Bytes to push, first byte in bits 7:0; bytes past ``push_n`` are ignored.
    push_n : In(range(push_max + 1))
        Bytes pushed this cycle (the caller checks ``space``).
    head : Out(8 * pop_max)
        The first ``pop_max`` bytes (those past ``count`` are 0).
    pop_n : In(range(pop_max + 1))
        Bytes popped this cycle (at most ``count``).
    count, space : Out
        Bytes held, bytes free (before this cycle's push and pop).
    clear : In(1)
        Drop everything (the end of a transfer).
    """

    def __init__(self, capacity: int, push_max: int, pop_max: int):
        self.capacity, self.push_max, self.pop_max = capacity, push_max, pop_max
        super().__init__({
            "push_data": In(8 * push_max), "push_n": In(range(push_max + 1)),
            "head": Out(8 * pop_max), "pop_n": In(range(pop_max + 1)),
            "count": Out(range(capacity + 1)), "space": Out(range(capacity + 1)),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.capacity
        buf = Signal(8 * c, name="bytes")
        keep = Signal(8 * self.push_max)
        # bytes of push_data past push_n are cleared, so they OR in as zeros
        lanes = Signal(self.push_max)
        m.d.comb += lanes.eq((Const(1, self.push_max + 1) << self.push_n) - 1)
        m.d.comb += keep.eq(self.push_data & _bytes_mask(lanes, self.push_max))
        rest = Signal(range(c + 1))
        m.d.comb += [rest.eq(self.count - self.pop_n), self.space.eq(c - self.count),
                     self.head.eq(buf[:8 * self.pop_max])]
        with m.If(self.clear):
            m.d.sync += [buf.eq(0), self.count.eq(0)]
        with m.Else():
            shifted = Signal(8 * c)
            m.d.comb += shifted.eq(buf >> (self.pop_n << 3))
            m.d.sync += [buf.eq(shifted | (keep << (rest << 3))),
                         self.count.eq(rest + self.push_n)]
        return m


def _bytes_mask(lanes: Signal, n: int):
    """Bit mask of 8*n bits with byte i set where ``lanes[i]`` is."""
    from amaranth.hdl import Cat
    return Cat(*[lanes[i].replicate(8) for i in range(n)])
