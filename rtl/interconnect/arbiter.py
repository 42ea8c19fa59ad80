"""Round-robin arbiter with a combinational grant."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RoundRobinArbiter"]


class RoundRobinArbiter(wiring.Component):
    """Grants one of ``n`` requests in the same cycle.

    The requester granted last has the lowest priority next time, so under any
    load a requester that keeps asking waits at most ``n - 1`` grants.  The
    priority moves only when a grant is given (``grant`` is one-hot or zero).
    """

    def __init__(self, n: int):
        self.n = n
        super().__init__({"requests": In(n), "grant": Out(n)})

    def elaborate(self, platform):
        m = Module()
        n = self.n
        # above[i] is set for the requesters after the one granted last.
        above = Signal(n, init=(1 << n) - 1 if n > 1 else 0)
        masked = Signal(n)
        m.d.comb += masked.eq(self.requests & above)
        # Lowest set bit: x & -x.  Take it among the requesters after the last
        # grant, or wrap around to all requesters.
        pick = Signal(n)
        with m.If(masked.any()):
            m.d.comb += pick.eq(masked & (~masked + 1))
        with m.Else():
            m.d.comb += pick.eq(self.requests & (~self.requests + 1))
        m.d.comb += self.grant.eq(pick)
        with m.If(pick.any()):
            # bits strictly above the granted one: ~(pick | (pick - 1))
            m.d.sync += above.eq(~(pick | (pick - 1)))
        return m
