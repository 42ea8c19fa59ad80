"""A register slice ("cut") on an inbound valid/ready channel: a two-entry
skid buffer, so the channel keeps one transfer per cycle while ``ready`` and
everything the port does with the payload come from registers.

Why at the SoC port: without it the AXI inputs reach the TCDM requests, and
through the interconnect's arbiters nearly every register's next state, in
zero time.  A cut there is what silicon wants at a cluster boundary (PULP
puts AXI cuts or CDC FIFOs there), costs one cycle of latency per channel, and
keeps the simulator from re-evaluating the whole cluster whenever it looks at
its inputs (docs/soc-port.md).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ChannelCut"]


class ChannelCut(wiring.Component):
    """``i_*`` from the manager, ``o_*`` to the port logic; ``width`` payload bits.
    ``i_ready`` is a register (the skid slot is free) and ``o_valid``/``o_data``
    are registers (the main slot)."""

    def __init__(self, width: int):
        super().__init__({
            "i_valid": In(1), "i_ready": Out(1), "i_data": In(width),
            "o_valid": Out(1), "o_ready": In(1), "o_data": Out(width),
            "quiet": Out(1),        # nothing held and nothing offered
        })

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal(name="skid_valid")
        skid_data = Signal.like(self.i_data, name="skid_data")
        m.d.comb += [self.i_ready.eq(~skid_valid),
                     self.quiet.eq(~self.i_valid & ~skid_valid & ~self.o_valid)]
        with m.If(self.o_ready | ~self.o_valid):          # the main slot moves or is empty
            m.d.sync += [self.o_valid.eq(skid_valid | self.i_valid), skid_valid.eq(0)]
            # the payload register loads only what is valid: an idle channel holds still
            with m.If(skid_valid | self.i_valid):
                m.d.sync += self.o_data.eq(Mux(skid_valid, skid_data, self.i_data))
        with m.Elif(self.i_valid & ~skid_valid):           # main slot held: park the input
            m.d.sync += [skid_valid.eq(1), skid_data.eq(self.i_data)]
        return m
