"""The DW engine's store queue: output segments on their way to the ports."""

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .layer import STORE_DEPTH
from ..stream.segment import WriteRequest

__all__ = ["StoreQueue"]


class StoreQueue(wiring.Component):
    """A ``STORE_DEPTH``-deep queue of output segments with credits: the MAC
    array takes a credit when it starts a pixel, the queue gives it back when
    the segment leaves, so the queue never overruns although the pipeline in
    front of it has no back-pressure.

    Parameters
    ----------
    channels : int
        Bytes of an output segment.

    Members
    -------
    start : ``In(1)``
        One cycle: all credits back (a job starts).
    flush : ``In(1)``
        Drop the queued segments.
    run : ``In(1)``
        Offer segments to the port.
    inp : ``In(stream.Signature(WriteRequest(channels), always_ready=True))``
        Segments from the requantiser.
    out : ``Out(stream.Signature(WriteRequest(channels)))``
        Segment writes.
    credit : ``Out(1)``
        A pixel may start.
    reserve : ``In(1)``
        A pixel starts.
    empty : ``Out(1)``
        No segment is queued.
    """
    def __init__(self, channels: int):
        self.channels = channels
        super().__init__({
            "start": In(1), "flush": In(1), "run": In(1),
            "inp": In(stream.Signature(WriteRequest(channels), always_ready=True)),
            "out": Out(stream.Signature(WriteRequest(channels))),
            "credit": Out(1), "reserve": In(1), "empty": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        layout = WriteRequest(self.channels)
        fifo = SyncFIFOBuffered(width=layout.size, depth=STORE_DEPTH)
        m.submodules.fifo = ResetInserter(self.flush)(fifo)
        m.d.comb += [fifo.w_en.eq(self.inp.valid), fifo.w_data.eq(self.inp.payload),
                     self.out.valid.eq(fifo.r_rdy & self.run),
                     self.out.payload.eq(fifo.r_data),
                     fifo.r_en.eq(self.out.valid & self.out.ready),
                     self.empty.eq(fifo.level == 0)]
        credits = Signal(range(STORE_DEPTH + 1))
        m.d.sync += credits.eq(credits - self.reserve + fifo.r_en)
        with m.If(self.start):
            m.d.sync += credits.eq(STORE_DEPTH)
        m.d.comb += self.credit.eq(credits != 0)
        return m
