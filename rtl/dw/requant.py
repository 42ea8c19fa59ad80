"""The DW engine's requantisation: MAC results to int8 output segments."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import Layer
from .mac import MacResult
from ..stream.segment import WriteRequest

__all__ = ["Requantiser", "requant"]


def requant(v, shift, lo, hi):
    """clip(floor((v + 2^(shift-1)) / 2^shift), lo, hi) (v itself for shift 0), int8."""
    rnd = (Const(1, 65) << shift) >> 1
    r = (v + rnd) >> shift
    return Mux(r < lo, lo, Mux(r > hi, hi, r))[:8]


class Requantiser(wiring.Component):
    """Two stages behind the MAC array: ``acc * scale`` (64 bit; ADD sums
    pass through), then rounding shift and clip of each lane into a
    collector that forms the pixel's output segment, emitted with the
    pixel's last group.  No back-pressure: the MAC array holds a store
    credit for every pixel it starts.

    Parameters
    ----------
    channels : int
        Channels per block: bytes of an output segment.
    lanes, add_lanes : int
        Lanes of a MAC result (DW3X3, ADD).

    Members
    -------
    layer : ``In(Layer)``
        The running job (operation, shift, clip range).
    abort : ``In(1)``
        Drop the result in flight.
    inp : ``In(stream.Signature(MacResult(...), always_ready=True))``
        MAC results.
    out : ``Out(stream.Signature(WriteRequest(channels), always_ready=True))``
        Output segments.
    busy : ``Out(1)``
        A result is in the pipeline.
    """
    def __init__(self, channels: int, lanes: int, add_lanes: int):
        self.channels, self.lanes, self.add_lanes = channels, lanes, add_lanes
        super().__init__({
            "layer": In(Layer), "abort": In(1),
            "inp": In(stream.Signature(MacResult(channels, lanes, add_lanes), always_ready=True)),
            "out": Out(stream.Signature(WriteRequest(channels), always_ready=True)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        CB, L, LA = self.channels, self.lanes, self.add_lanes
        G, GA = -(-CB // L), -(-CB // LA)
        lay, inp = self.layer, self.inp.payload

        # stage 2: acc * scale (DW3X3); ADD passes through
        valid, last, grp = Signal(), Signal(), Signal(range(max(G, GA) + 1))
        addr, n = Signal(32), Signal(range(CB + 1))
        prod = [Signal(signed(66), name=f"prod2_{l}") for l in range(L)]
        sums = [Signal(signed(42), name=f"sum2_{l}") for l in range(LA)]
        m.d.sync += valid.eq(self.inp.valid)
        with m.If(self.inp.valid):
            m.d.sync += [last.eq(inp.last), grp.eq(inp.group), addr.eq(inp.addr), n.eq(inp.n)]
            m.d.sync += [prod[l].eq(inp.acc[l] * inp.scale[l]) for l in range(L)]
            m.d.sync += [sums[l].eq(inp.sum[l]) for l in range(LA)]
        with m.If(self.abort):
            m.d.sync += valid.eq(0)
        m.d.comb += self.busy.eq(valid)

        # stage 3: round, shift, clip into the collector
        coll = Signal(8 * CB)
        dw_bytes = Cat(requant(prod[l], lay.shift, lay.lo, lay.hi) for l in range(L))
        add_bytes = Cat(requant(sums[l], lay.shift, lay.lo, lay.hi) for l in range(LA))
        nxt = Signal(8 * CB)
        m.d.comb += nxt.eq(coll)
        with m.If(lay.add):
            for g in range(GA):
                with m.If(grp == g):
                    w = min(8 * LA, 8 * CB - 8 * LA * g)
                    m.d.comb += nxt[8 * LA * g:8 * LA * g + w].eq(add_bytes[:w])
        with m.Else():
            for g in range(G):
                with m.If(grp == g):
                    w = min(8 * L, 8 * CB - 8 * L * g)
                    m.d.comb += nxt[8 * L * g:8 * L * g + w].eq(dw_bytes[:w])
        with m.If(valid):
            m.d.sync += coll.eq(nxt)
        out = self.out.payload
        m.d.comb += [self.out.valid.eq(valid & last), out.addr.eq(addr), out.n.eq(n),
                     out.data.eq(nxt)]
        return m
