"""The DW engine's loader: the read requests of a job, in the order the MAC
array consumes their data (docs/dw.md, "Bands and columns")."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import ADDR, BAND, PARAM_SEGS, SLOTS, Layer, LoadTag
from ..stream.segment import ReadRequest

__all__ = ["WindowLoader"]


class LoadState(enum.Enum, shape=2):
    PARAMS = 0      # the block's 9 weight vectors, bias and scale
    COLUMNS = 1     # DW3X3: input columns band by band; ADD: a and b vectors
    BLOCK_END = 2   # a channel block's last column is loaded: next block or done
    DONE = 3


class WindowLoader(wiring.Component):
    """Issues the segment reads of a job.

    DW3X3, per block of ``channels`` channels: the ``PARAM_SEGS`` parameter
    segments, then for every band of ``BAND`` output rows its input columns
    left to right, each ``(rows - 1) * stride + 3`` pixels top to bottom
    (zero-length *null* reads outside the image: the padding).  A column takes
    a ring slot when its first read is accepted; the loader waits for a free
    slot, and at a block's end for the ring and the MAC pipeline to drain
    (the next block's parameters overwrite the registers they read).
    ADD: per slot one vector of a (index 0) and one of b (index 1).

    Parameters
    ----------
    channels : int
        Channels per block: the longest segment.

    Members
    -------
    layer : ``In(Layer)``
        The running job.
    start : ``In(1)``
        One cycle: initialise for ``layer`` (the job starts running next cycle).
    run : ``In(1)``
        The job runs: issue reads.
    rd : ``Out(stream.Signature(ReadRequest(channels, LoadTag)))``
        Segment reads, tagged with their destination.
    alloc : ``Out(1)``
        A column (ADD: vector pair) took a ring slot.
    slot_free : ``In(1)``
        The ring has a slot no column holds.
    ring_empty : ``In(1)``
        No slot is held.
    pipe_empty : ``In(1)``
        No MAC result is in the requantisation pipeline.
    """
    def __init__(self, channels: int):
        self.channels = channels
        self.column_height = (BAND - 1) * 2 + 3          # pixels of a stride-2 column
        super().__init__({
            "layer": In(Layer), "start": In(1), "run": In(1),
            "rd": Out(stream.Signature(ReadRequest(channels, LoadTag))),
            "alloc": Out(1),
            "slot_free": In(1), "ring_empty": In(1), "pipe_empty": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        CB, HC = self.channels, self.column_height
        lay, rd = self.layer, self.rd.payload
        C, s2 = lay.channels, lay.stride2

        state = Signal(LoadState)
        chan_left = Signal(17)               # channels from this block on
        seg_n = Signal(range(CB + 1))        # channels of this block
        m.d.comb += seg_n.eq(Mux(chan_left > CB, CB, chan_left))
        blk = Signal(16)                     # channel offset of the block
        param = Signal(range(PARAM_SEGS + 1))
        param_addr = Signal(32)
        band_y = Signal(16)                  # first output row of the band
        col = Signal(18)                     # input column of the band
        pix = Signal(range(HC + 1))          # pixel of the column
        slot = Signal(range(SLOTS))
        yi = Signal(signed(20))              # input row of pixel `pix` of the column
        yb = Signal(signed(20))              # input row of pixel 0
        xi = Signal(signed(20))              # input column
        ptr = Signal(ADDR)                   # address of pixel (yi, xi) of the block
        col_ptr = Signal(ADDR)               # ... of pixel 0 of the column
        band_ptr = Signal(ADDR)              # ... of pixel 0 of column 0 of the band
        origin = Signal(ADDR)                # ... of the first band of block 0
        band_rows = Signal(range(BAND + 1))
        m.d.comb += band_rows.eq(Mux(lay.out_height - band_y < BAND,
                                     lay.out_height - band_y, BAND))
        col_height = Signal(range(HC + 1))
        m.d.comb += col_height.eq(Mux(s2, (band_rows - 1) * 2, band_rows - 1) + 3)
        # ADD
        a_ptr, b_ptr = Signal(32), Signal(32)
        elem_left = Signal(32)
        load_b = Signal()

        valid = Signal()
        m.d.comb += [self.rd.valid.eq(valid & self.run), rd.tag.slot.eq(slot)]
        take = Signal()
        m.d.comb += take.eq(self.rd.valid & self.rd.ready)

        # parameter segment q: weights 0..8 (n bytes), bias 9..12 and scale 13..16 (4n bytes)
        part = Signal(range(5))
        m.d.comb += part.eq(Mux(param < 13, param - 9, param - 13))
        rem4 = Signal(signed(20))
        m.d.comb += rem4.eq((seg_n << 2) - part * CB)

        with m.If(self.run):
            with m.Switch(state):
                with m.Case(LoadState.PARAMS):
                    with m.If(lay.add):
                        m.d.sync += state.eq(LoadState.COLUMNS)
                    with m.Else():
                        m.d.comb += [valid.eq(1), rd.addr.eq(param_addr), rd.tag.param.eq(1),
                                     rd.tag.index.eq(param)]
                        with m.If(param < 9):
                            m.d.comb += rd.n.eq(seg_n)
                        with m.Else():
                            m.d.comb += rd.n.eq(Mux(rem4 > CB, CB, Mux(rem4 < 0, 0, rem4)))
                        with m.If(take):
                            m.d.sync += param.eq(param + 1)
                            with m.If(param == 8):
                                m.d.sync += param_addr.eq(lay.bias + (blk << 2))
                            with m.Elif(param == 12):
                                m.d.sync += param_addr.eq(lay.scale + (blk << 2))
                            with m.Elif(param < 8):
                                m.d.sync += param_addr.eq(param_addr + C)
                            with m.Else():
                                m.d.sync += param_addr.eq(param_addr + CB)
                            with m.If(param == PARAM_SEGS - 1):
                                m.d.sync += state.eq(LoadState.COLUMNS)
                with m.Case(LoadState.COLUMNS):
                    with m.If(lay.add):
                        m.d.comb += [valid.eq(self.slot_free | load_b),
                                     rd.tag.index.eq(load_b), rd.tag.last.eq(load_b),
                                     rd.addr.eq(Mux(load_b, b_ptr, a_ptr)),
                                     rd.n.eq(Mux(elem_left > CB, CB, elem_left))]
                        m.d.comb += self.alloc.eq(take & ~load_b)
                        with m.If(take):
                            m.d.sync += load_b.eq(~load_b)
                            with m.If(load_b):
                                m.d.sync += [a_ptr.eq(a_ptr + CB), b_ptr.eq(b_ptr + CB),
                                             elem_left.eq(elem_left - rd.n),
                                             slot.eq(Mux(slot == SLOTS - 1, 0, slot + 1))]
                                with m.If(elem_left <= CB):
                                    m.d.sync += state.eq(LoadState.DONE)
                    with m.Else():
                        inside = ((yi >= 0) & (yi < lay.height) & (xi >= 0) & (xi < lay.width))
                        m.d.comb += [valid.eq(self.slot_free | (pix != 0)),
                                     rd.tag.index.eq(pix), rd.tag.last.eq(pix == col_height - 1),
                                     rd.addr.eq(ptr[:32]), rd.n.eq(Mux(inside, seg_n, 0))]
                        m.d.comb += self.alloc.eq(take & (pix == 0))
                        with m.If(take):
                            with m.If(pix != col_height - 1):
                                m.d.sync += [pix.eq(pix + 1), yi.eq(yi + 1),
                                             ptr.eq(ptr + lay.row_bytes)]
                            with m.Else():
                                m.d.sync += [pix.eq(0), yi.eq(yb),
                                             slot.eq(Mux(slot == SLOTS - 1, 0, slot + 1))]
                                with m.If(col != lay.columns - 1):
                                    m.d.sync += [col.eq(col + 1), xi.eq(xi + 1),
                                                 col_ptr.eq(col_ptr + C), ptr.eq(col_ptr + C)]
                                with m.Else():
                                    # next band
                                    nb = Signal(ADDR)
                                    m.d.comb += nb.eq(band_ptr + Mux(s2, lay.row_bytes * (2 * BAND),
                                                                     lay.row_bytes * BAND))
                                    nyb = yb + Mux(s2, 2 * BAND, BAND)
                                    m.d.sync += [col.eq(0), xi.eq(-lay.pad_left),
                                                 band_ptr.eq(nb), col_ptr.eq(nb), ptr.eq(nb),
                                                 yb.eq(nyb), yi.eq(nyb), band_y.eq(band_y + BAND)]
                                    with m.If(band_y + BAND >= lay.out_height):
                                        m.d.sync += state.eq(LoadState.BLOCK_END)
                with m.Case(LoadState.BLOCK_END):
                    # block done: wait until the MAC array is done with its parameters
                    with m.If(chan_left <= CB):
                        m.d.sync += state.eq(LoadState.DONE)
                    with m.Elif(self.ring_empty & self.pipe_empty):
                        nbk = Signal(ADDR)
                        m.d.comb += nbk.eq(origin + blk + CB)
                        m.d.sync += [state.eq(LoadState.PARAMS), param.eq(0),
                                     chan_left.eq(chan_left - CB), blk.eq(blk + CB),
                                     param_addr.eq(lay.weights + blk + CB),
                                     band_y.eq(0), col.eq(0), pix.eq(0), xi.eq(0 - lay.pad_left),
                                     yb.eq(0 - lay.pad_top), yi.eq(0 - lay.pad_top),
                                     band_ptr.eq(nbk), col_ptr.eq(nbk), ptr.eq(nbk)]

        with m.If(self.start):
            m.d.sync += [state.eq(LoadState.PARAMS), chan_left.eq(C), blk.eq(0), param.eq(0),
                         param_addr.eq(lay.weights), band_y.eq(0), col.eq(0), pix.eq(0),
                         slot.eq(0), xi.eq(0 - lay.pad_left), yb.eq(0 - lay.pad_top),
                         yi.eq(0 - lay.pad_top), origin.eq(lay.origin), band_ptr.eq(lay.origin),
                         col_ptr.eq(lay.origin), ptr.eq(lay.origin),
                         a_ptr.eq(lay.src), b_ptr.eq(lay.src2), elem_left.eq(lay.elements),
                         load_b.eq(0)]
        return m
