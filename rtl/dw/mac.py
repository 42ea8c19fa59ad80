"""The DW engine's MAC array with its window ring: loads land in column slots
and parameter registers, the array sweeps the output and emits one group of
accumulators (DW3X3) or scaled sums (ADD) per cycle."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layer import BAND, SLOTS, Layer, LoadTag
from ..stream.segment import ReadResponse

__all__ = ["MacArray", "MacResult"]


class MacResult(data.StructLayout):
    """One group of a pixel: ``lanes`` accumulators ``bias + sum of 9 taps``
    with their channel's scale (DW3X3), ``add_lanes`` sums
    ``a * SCALE_A + b * SCALE_B`` (ADD); ``last``: the pixel's last group,
    ``addr`` and ``n``: its output segment."""
    def __init__(self, channels: int, lanes: int, add_lanes: int):
        groups = max(-(-channels // lanes), -(-channels // add_lanes))
        super().__init__({
            "last": 1, "group": range(groups + 1), "addr": 32, "n": range(channels + 1),
            "acc": data.ArrayLayout(signed(32), lanes),
            "scale": data.ArrayLayout(32, lanes),
            "sum": data.ArrayLayout(signed(42), add_lanes),
        })


class MacArray(wiring.Component):
    """Window ring, parameter registers and the MAC array.

    The ring has ``SLOTS`` column slots of ``column_height`` pixels of
    ``channels`` bytes; a slot is *allocated* when the loader starts its
    column and *available* when the column's last pixel has arrived.  The
    array reads its 3x3 window from three consecutive slots and computes the
    output pixels of a band's column top to bottom, each in
    ``ceil(n / lanes)`` cycles (one *group* of ``lanes`` channels x 9 taps per
    cycle), then frees ``stride`` slots (3 after the band's last column).
    ADD: a slot holds a vector of a and of b; ``add_lanes`` elements per
    cycle, one slot per output segment.  A pixel starts only with a store
    credit (a place in the store queue).

    Parameters
    ----------
    channels : int
        Channels per block (bytes of a slot pixel).
    lanes : int
        Channels per cycle, DW3X3 (``macs // 9``).
    add_lanes : int
        Elements per cycle, ADD.

    Members
    -------
    layer : ``In(Layer)``
        The running job.
    start : ``In(1)``
        One cycle: initialise (the job starts running next cycle).
    run : ``In(1)``
        The job runs: compute.
    abort : ``In(1)``
        Drop the group in flight and stop (overrides ``start``).
    rsp : ``In(stream.Signature(ReadResponse(channels, LoadTag), always_ready=True))``
        Load data with its tag.
    alloc : ``In(1)``
        The loader took a slot.
    slot_free, ring_empty : ``Out(1)``
        Fewer than ``SLOTS`` / no slots are allocated.
    credit : ``In(1)``
        The store queue has room for a pixel.
    reserve : ``Out(1)``
        A pixel starts: it takes a credit.
    out : ``Out(stream.Signature(MacResult(...), always_ready=True))``
        The groups, one cycle after they issue.
    done : ``Out(1)``
        The job's last group has issued (or the job was aborted).
    macs : ``Out(16)``
        Multiply-accumulates of the group issuing now, valid channels only:
        9 per channel (DW3X3), 2 per element (ADD: a * SCALE_A + b * SCALE_B).
    """
    def __init__(self, channels: int, lanes: int, add_lanes: int):
        self.channels, self.lanes, self.add_lanes = channels, lanes, add_lanes
        self.column_height = (BAND - 1) * 2 + 3
        super().__init__({
            "layer": In(Layer), "start": In(1), "run": In(1), "abort": In(1),
            "rsp": In(stream.Signature(ReadResponse(channels, LoadTag), always_ready=True)),
            "alloc": In(1), "slot_free": Out(1), "ring_empty": Out(1),
            "credit": In(1), "reserve": Out(1),
            "out": Out(stream.Signature(MacResult(channels, lanes, add_lanes), always_ready=True)),
            "done": Out(1),
            "macs": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        CB, L, LA, HC = self.channels, self.lanes, self.add_lanes, self.column_height
        G = -(-CB // L)                  # groups of a DW3X3 pixel
        GA = -(-CB // LA)                # groups of an ADD segment
        lay, out = self.layer, self.out.payload
        s2 = lay.stride2

        # -- storage ------------------------------------------------------------------------------
        ring = [[Signal(8 * CB, name=f"ring{s}_{j}") for j in range(HC)] for s in range(SLOTS)]
        wts = [Signal(8 * CB, name=f"w{t}") for t in range(9)]
        bias = [Signal(8 * CB, name=f"bias{t}") for t in range(4)]
        scale = [Signal(8 * CB, name=f"scale{t}") for t in range(4)]
        bias_all, scale_all = Cat(*bias), Cat(*scale)

        occ = Signal(range(SLOTS + 1))      # slots allocated by the loader, not yet freed
        avail = Signal(range(SLOTS + 1))    # slots whose column has arrived, not yet freed
        arrive = Signal()
        pop = Signal(range(4))
        m.d.sync += [occ.eq(occ + self.alloc - pop), avail.eq(avail + arrive - pop)]
        m.d.comb += [self.slot_free.eq(occ < SLOTS), self.ring_empty.eq(occ == 0)]

        tag, rdata = self.rsp.payload.tag, self.rsp.payload.data
        with m.If(self.rsp.valid):
            with m.If(~tag.param):
                for s in range(SLOTS):
                    for j in range(HC):
                        with m.If((tag.slot == s) & (tag.index == j)):
                            m.d.sync += ring[s][j].eq(rdata)
            with m.Else():
                for q, reg in enumerate(wts + bias + scale):
                    with m.If(tag.index == q):
                        m.d.sync += reg.eq(rdata)
        m.d.comb += arrive.eq(self.rsp.valid & ~tag.param & tag.last)

        # -- the sweep: block, band, output column, row of the band, group ------------------------
        chan_left = Signal(17)
        elem_left = Signal(32)
        seg_n = Signal(range(CB + 1))
        m.d.comb += seg_n.eq(Mux(lay.add, Mux(elem_left > CB, CB, elem_left),
                                 Mux(chan_left > CB, CB, chan_left)))
        groups = Signal(range(max(G, GA) + 1))
        m.d.comb += groups.eq(Mux(lay.add, (seg_n + LA - 1) // LA, (seg_n + L - 1) // L))
        grp = Signal(range(max(G, GA) + 1))
        row = Signal(range(BAND + 1))       # output row within the band
        ox = Signal(16)
        band_y = Signal(16)
        band_rows = Signal(range(BAND + 1))
        m.d.comb += band_rows.eq(Mux(lay.out_height - band_y < BAND,
                                     lay.out_height - band_y, BAND))
        head = Signal(range(SLOTS))
        pix_addr = Signal(32)       # output address of (band_y, ox) in the block
        band_addr = Signal(32)      # ... of (band_y, 0)
        blk_addr = Signal(32)       # ... of (0, 0)
        done = self.done

        issue = Signal()
        first = grp == 0
        last_g = grp == groups - 1
        need = Mux(lay.add, 1, 3)
        m.d.comb += issue.eq(self.run & ~done & (avail >= need) & (~first | self.credit))
        m.d.comb += self.reserve.eq(issue & first)
        # the group's valid channels: all lanes but in a pixel's (segment's) last group
        with m.If(issue):
            with m.If(lay.add):
                m.d.comb += self.macs.eq(2 * Mux(last_g, seg_n - grp * LA, LA))
            with m.Else():
                m.d.comb += self.macs.eq(9 * Mux(last_g, seg_n - grp * L, L))

        # window taps: slot (head + kx), pixel row*S + ky, channels grp*L..grp*L+L-1
        flat = Array(ring[s][j] for s in range(SLOTS) for j in range(HC))
        taps = []
        for ky in range(3):
            for kx in range(3):
                sl = Signal(range(SLOTS), name=f"sl{kx}_{ky}")
                hs = head + kx
                m.d.comb += sl.eq(Mux(hs >= SLOTS, hs - SLOTS, hs))
                pix = Mux(s2, row * 2, row) + ky
                vec = flat[sl * HC + pix]
                taps.append(vec.word_select(grp, 8 * L))
        out_addr = Signal(32)
        m.d.comb += out_addr.eq(Mux(lay.add, pix_addr,
                                    pix_addr + Mux(row != 0, lay.out_row_bytes * row, 0)))

        # accumulators (DW3X3) or scaled sums (ADD), registered: the stream's payload
        m.d.sync += self.out.valid.eq(issue)
        with m.If(issue):
            m.d.sync += [out.last.eq(last_g), out.group.eq(grp), out.addr.eq(out_addr),
                         out.n.eq(seg_n)]
            for l in range(L):
                prods = [taps[t][8 * l:8 * l + 8].as_signed()
                         * wts[t].word_select(grp, 8 * L)[8 * l:8 * l + 8].as_signed()
                         for t in range(9)]
                ch = grp * L + l
                b = bias_all.word_select(ch, 32).as_signed()
                m.d.sync += [out.acc[l].eq(sum(prods) + b),
                             out.scale[l].eq(scale_all.word_select(ch, 32))]
        slot_a = Array(ring[s][0] for s in range(SLOTS))[head]
        slot_b = Array(ring[s][1] for s in range(SLOTS))[head]
        with m.If(issue):
            for l in range(LA):
                a = slot_a.word_select(grp, 8 * LA)[8 * l:8 * l + 8].as_signed()
                b = slot_b.word_select(grp, 8 * LA)[8 * l:8 * l + 8].as_signed()
                m.d.sync += out.sum[l].eq(a * lay.scale_a + b * lay.scale_b)

        # advance
        with m.If(issue):
            with m.If(~last_g):
                m.d.sync += grp.eq(grp + 1)
            with m.Else():
                m.d.sync += grp.eq(0)
                with m.If(lay.add):
                    m.d.comb += pop.eq(1)
                    m.d.sync += [pix_addr.eq(pix_addr + CB), elem_left.eq(elem_left - seg_n),
                                 head.eq(Mux(head == SLOTS - 1, 0, head + 1))]
                    with m.If(elem_left <= CB):
                        m.d.sync += done.eq(1)
                with m.Elif(row != band_rows - 1):
                    m.d.sync += row.eq(row + 1)
                with m.Else():
                    m.d.sync += row.eq(0)
                    lastx = ox == lay.out_width - 1
                    npop = Mux(lastx, 3, Mux(s2, 2, 1))
                    m.d.comb += pop.eq(npop)
                    hn = head + npop
                    m.d.sync += head.eq(Mux(hn >= SLOTS, hn - SLOTS, hn))
                    with m.If(~lastx):
                        m.d.sync += [ox.eq(ox + 1), pix_addr.eq(pix_addr + lay.channels)]
                    with m.Else():
                        nb = band_addr + Mux(BAND == 2, lay.out_row_bytes << 1,
                                             lay.out_row_bytes * BAND)
                        m.d.sync += [ox.eq(0), band_y.eq(band_y + BAND), band_addr.eq(nb),
                                     pix_addr.eq(nb)]
                        with m.If(band_y + BAND >= lay.out_height):
                            with m.If(chan_left <= CB):
                                m.d.sync += done.eq(1)
                            with m.Else():
                                m.d.sync += [chan_left.eq(chan_left - CB), band_y.eq(0),
                                             blk_addr.eq(blk_addr + CB),
                                             band_addr.eq(blk_addr + CB),
                                             pix_addr.eq(blk_addr + CB)]

        with m.If(self.start):
            m.d.sync += [chan_left.eq(lay.channels), grp.eq(0), row.eq(0), ox.eq(0),
                         band_y.eq(0), head.eq(0), pix_addr.eq(lay.dst), band_addr.eq(lay.dst),
                         blk_addr.eq(lay.dst), elem_left.eq(lay.elements), done.eq(0),
                         occ.eq(0), avail.eq(0)]
        with m.If(self.abort):
            m.d.sync += [done.eq(1), self.out.valid.eq(0)]
        return m
