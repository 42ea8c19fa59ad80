"""The DMA's data mover: one transfer at a time between the TCDM (``ports``,
32-bit TCDM masters) and L2 (``axi``, an AXI4 manager), rows of any length at
any byte alignment on both sides.

Bytes flow in row order through a realigning :class:`ByteFifo`:

* L2 -> TCDM: read bursts (beat-aligned, at most ``max_burst`` beats, never
  across 4 KiB, up to ``outstanding`` in flight) fill the queue with the bytes
  of each row as the beats arrive (the head bytes of a row's first beat
  skipped); the TCDM side writes *groups*: the words a row touches next,
  one word per port, with byte enables, once the queue holds the group's
  bytes, and pops them when every port has its grant.
* TCDM -> L2: the TCDM side reads a group (one word per port), keeps each
  word as it answers and pushes the group's bytes once all are in; write
  bursts (address first, then one beat per cycle with the strobes of the
  row's head and tail) drain the queue; every burst's write response is
  counted.

An AXI error response ends the transfer with ``error``: on a read no byte of
the failing beat or after it reaches the TCDM (the burst's remaining beats
are drained), on a write the transfer completes and reports it.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ..interconnect.protocol import TcdmSignature
from ..soc.axi import AxiBurst, AxiResp, AxiSignature
from .bytefifo import ByteFifo

__all__ = ["Descriptor", "Mover"]

BURST_BOUNDARY = 4096       # AXI: no burst crosses a 4 KiB boundary


class Descriptor(data.Struct):
    """One transfer as the queue holds it (the front-end checked it)."""
    id: 16
    to_l2: 1            # 0: L2 -> TCDM, 1: TCDM -> L2
    src: 32
    dst: 32
    nbytes: 32          # per row
    rows: 16            # >= 1
    src_stride: 32
    dst_stride: 32


class _Rows:
    """A walk over the bytes of a transfer's rows on one side: ``addr`` (the
    next byte), ``rem`` (bytes left in the row), ``rows`` (rows left,
    this one included).  :meth:`take` consumes bytes of the current row."""

    def __init__(self, m, name: str, n, stride):
        self.m, self.n, self.stride = m, n, stride
        self.row = Signal(32, name=f"{name}_row")       # first byte of the current row
        self.addr = Signal(32, name=f"{name}_addr")
        self.rem = Signal(32, name=f"{name}_rem")
        self.rows = Signal(16, name=f"{name}_rows")

    def load(self, base, n, rows):
        self.m.d.sync += [self.row.eq(base), self.addr.eq(base), self.rem.eq(n),
                          self.rows.eq(rows)]

    def take(self, k):
        m = self.m
        with m.If(k == self.rem):
            nxt = self.row + self.stride
            m.d.sync += [self.row.eq(nxt), self.addr.eq(nxt), self.rem.eq(self.n),
                         self.rows.eq(self.rows - 1)]
        with m.Else():
            m.d.sync += [self.addr.eq(self.addr + k), self.rem.eq(self.rem - k)]


class _Bursts:
    """A walk over the AXI bursts of a transfer's rows on the L2 side:
    ``addr`` (beat-aligned), ``left`` (beats left in the row), ``length``
    (beats of the next burst), ``rows`` (rows left)."""

    def __init__(self, m, name: str, n, stride, beat_bytes: int, max_burst: int):
        self.m, self.n, self.stride = m, n, stride
        self.lb = exact_log2(beat_bytes)
        self.row = Signal(32, name=f"{name}_row")
        self.addr = Signal(32, name=f"{name}_addr")
        self.left = Signal(32, name=f"{name}_left")
        self.rows = Signal(16, name=f"{name}_rows")
        self.length = Signal(range(max_burst + 1), name=f"{name}_len")
        to_4k = Signal(range(BURST_BOUNDARY // beat_bytes + 1), name=f"{name}_to_4k")
        m.d.comb += to_4k.eq((BURST_BOUNDARY - self.addr[:12]) >> self.lb)
        cap = Signal(32, name=f"{name}_cap")
        m.d.comb += cap.eq(Mux(self.left < max_burst, self.left, max_burst))
        m.d.comb += self.length.eq(Mux(cap < to_4k, cap, to_4k))

    def _beats(self, base, n):
        lb = self.lb
        return (base[:lb] + n + (1 << lb) - 1) >> lb

    def load(self, base, n, rows):
        lb = self.lb
        self.m.d.sync += [self.row.eq(base), self.addr.eq(Cat(Const(0, lb), base[lb:])),
                          self.left.eq(self._beats(base, n)), self.rows.eq(rows)]

    def advance(self):
        """The burst of ``length`` beats at ``addr`` is issued: the next one."""
        m, lb = self.m, self.lb
        with m.If(self.length == self.left):
            nxt = Signal(32, name=f"{self.row.name}_next")
            m.d.comb += nxt.eq(self.row + self.stride)
            m.d.sync += [self.row.eq(nxt), self.addr.eq(Cat(Const(0, lb), nxt[lb:])),
                         self.left.eq(self._beats(nxt, self.n)), self.rows.eq(self.rows - 1)]
        with m.Else():
            m.d.sync += [self.addr.eq(self.addr + (self.length << lb)),
                         self.left.eq(self.left - self.length)]


class Mover(wiring.Component):
    """Parameters
    ----------
    ports : int
        TCDM data ports (32-bit words; a group is one word per port).
    data_width, id_width : int
        The AXI manager port.
    max_burst, outstanding : int
        Longest burst in beats; read bursts in flight (write bursts too).

    Members
    -------
    start : In(1)
        Begin ``desc`` (only while ``busy`` is low).
    desc : In(Descriptor)
    busy : Out(1)
    done : Out(1)
        One cycle at the end of a transfer, with ``error`` for an AXI error.
    moved : Out(8)
        Bytes delivered to the destination this cycle (activity counter).
    ports : Out(TcdmSignature()).array(ports)
    axi : Out(AxiSignature)
    """

    def __init__(self, *, ports: int, data_width: int, id_width: int, max_burst: int,
                 outstanding: int):
        self.k, self.max_burst, self.outstanding = ports, max_burst, outstanding
        self.beat = data_width // 8
        self.group = 4 * ports
        super().__init__({
            "start": In(1), "desc": In(Descriptor), "busy": Out(1),
            "done": Out(1), "error": Out(1), "moved": Out(8),
            "ports": Out(TcdmSignature()).array(ports),
            "axi": Out(AxiSignature(data_width=data_width, id_width=id_width)),
        })

    def elaborate(self, platform):
        m = Module()
        K, B, G = self.k, self.beat, self.group
        lb = exact_log2(B)
        axi = self.axi
        # (beats as wide as a group: room for a group pushed, one requested and one
        # being written, so that the reader keeps a group per cycle)
        m.submodules.fifo = fifo = ByteFifo((4 if B >= G else 2) * max(G, B),
                                            push_max=max(G, B), pop_max=max(G, B))

        # -- the running transfer ---------------------------------------------------------------
        d = Signal(Descriptor, name="xfer")
        running = Signal(name="running")
        failed = Signal(name="failed")       # an AXI error response was seen
        to_l2 = d.to_l2
        m.d.comb += self.busy.eq(running)
        src = _Rows(m, "src", d.nbytes, d.src_stride)       # the TCDM reader (TCDM -> L2)
        dst = _Rows(m, "dst", d.nbytes, d.dst_stride)       # the TCDM writer (L2 -> TCDM)
        rbytes = _Rows(m, "rbeat", d.nbytes, d.src_stride)  # R beats (L2 -> TCDM)
        wbytes = _Rows(m, "wbeat", d.nbytes, d.dst_stride)  # W beats (TCDM -> L2)
        ar = _Bursts(m, "ar", d.nbytes, d.src_stride, B, self.max_burst)
        aw = _Bursts(m, "aw", d.nbytes, d.dst_stride, B, self.max_burst)
        wb = _Bursts(m, "wb", d.nbytes, d.dst_stride, B, self.max_burst)   # W burst ends

        with m.If(self.start & ~running):
            desc = self.desc
            m.d.sync += [d.eq(desc), running.eq(1), failed.eq(0)]
            for walk in (src, rbytes):
                walk.load(desc.src, desc.nbytes, desc.rows)
            for walk in (dst, wbytes):
                walk.load(desc.dst, desc.nbytes, desc.rows)
            ar.load(desc.src, desc.nbytes, desc.rows)
            aw.load(desc.dst, desc.nbytes, desc.rows)
            wb.load(desc.dst, desc.nbytes, desc.rows)
        m.d.comb += fifo.clear.eq(self.start & ~running)

        push_data = Signal(8 * max(G, B), name="push_data")
        push_n = Signal(range(max(G, B) + 1), name="push_n")
        pop_n = Signal(range(max(G, B) + 1), name="pop_n")
        m.d.comb += [fifo.push_data.eq(push_data), fifo.push_n.eq(push_n), fifo.pop_n.eq(pop_n),
                     self.moved.eq(pop_n)]    # bytes leave the queue for their destination

        def smaller(a, b):
            return Mux(a < b, a, b)

        # -- AXI read side (L2 -> TCDM) --------------------------------------------------------
        def address(ch: str, bursts: _Bursts, valid) -> Signal:
            """Drive address channel ``ch`` ("ar"/"aw") with the next burst of
            ``bursts`` while ``valid``; the handshake advances the walk."""
            go = Signal(name=f"{ch}_go")
            m.d.comb += [getattr(axi, f"{ch}id").eq(0), getattr(axi, f"{ch}addr").eq(bursts.addr),
                         getattr(axi, f"{ch}len").eq(bursts.length - 1),
                         getattr(axi, f"{ch}size").eq(lb),
                         getattr(axi, f"{ch}burst").eq(AxiBurst.INCR),
                         getattr(axi, f"{ch}valid").eq(valid & (bursts.rows != 0)),
                         go.eq(getattr(axi, f"{ch}valid") & getattr(axi, f"{ch}ready"))]
            with m.If(go):
                bursts.advance()
            return go

        rd_bursts = Signal(range(self.outstanding + 1), name="ar_in_flight")
        r_last = Signal(name="r_last_beat")
        ar_go = address("ar", ar, running & ~to_l2 & ~failed & (rd_bursts != self.outstanding))
        r_skip = Signal(lb, name="r_skip")
        r_take = Signal(range(B + 1), name="r_take")
        m.d.comb += [r_skip.eq(rbytes.addr[:lb]), r_take.eq(smaller(B - r_skip, rbytes.rem))]
        # Take a beat when its bytes fit; after an error, drain the rest unread.
        m.d.comb += axi.rready.eq(running & ~to_l2 & (failed | (fifo.space >= B)))
        r_beat = Signal(name="r_beat")
        m.d.comb += [r_beat.eq(axi.rvalid & axi.rready), r_last.eq(r_beat & axi.rlast)]
        m.d.sync += rd_bursts.eq(rd_bursts + ar_go - r_last)
        r_bad = Signal(name="r_bad")
        m.d.comb += r_bad.eq(r_beat & (axi.rresp != AxiResp.OKAY))
        with m.If(r_bad):
            m.d.sync += failed.eq(1)
        with m.If(r_beat & ~r_bad & ~failed):
            m.d.comb += [push_data.eq(axi.rdata >> (r_skip << 3)), push_n.eq(r_take)]
            rbytes.take(r_take)

        # -- TCDM write side (L2 -> TCDM): one group of words at a time -------------------------
        w_off = Signal(2, name="wr_off")
        w_n = Signal(range(G + 1), name="wr_bytes")
        m.d.comb += [w_off.eq(dst.addr[:2]), w_n.eq(smaller(G - w_off, dst.rem))]
        w_pending = Signal(name="wr_pending")     # a group is shown and not all granted
        w_granted = Signal(K, name="wr_granted")
        w_can = Signal(name="wr_can")
        m.d.comb += w_can.eq(running & ~to_l2 & ~failed & (dst.rows != 0)
                             & (fifo.count >= w_n))
        w_show = Signal(name="wr_show")
        m.d.comb += w_show.eq(w_pending | w_can)
        wide = Signal(8 * (G + 4), name="wr_data")
        m.d.comb += wide.eq(fifo.head[:8 * G] << (w_off << 3))
        lanes = Signal(G + 4, name="wr_lanes")
        m.d.comb += lanes.eq(((Const(1, G + 5) << w_n) - 1) << w_off)
        w_active = Signal(K, name="wr_active")
        m.d.comb += w_active.eq(Cat(lanes[4 * i:4 * i + 4].any() for i in range(K)))
        word0 = Signal(32, name="wr_word0")
        m.d.comb += word0.eq(Cat(Const(0, 2), dst.addr[2:]))
        r_pending = Signal(name="rd_pending")
        r_collect = Signal(name="rd_collect")
        for i, p in enumerate(self.ports):
            with m.If(to_l2):
                pass    # the reader drives the ports (below)
            with m.Else():
                m.d.comb += [p.req.eq(w_show & w_active[i] & ~w_granted[i]), p.we.eq(1),
                             p.addr.eq(word0 + 4 * i), p.wdata.eq(wide[32 * i:32 * i + 32]),
                             p.be.eq(lanes[4 * i:4 * i + 4])]
        w_all = Signal(name="wr_all_granted")
        m.d.comb += w_all.eq(Cat(~w_active[i] | w_granted[i] | self.ports[i].gnt
                                 for i in range(K)).all())
        with m.If(w_show & ~to_l2):
            with m.If(w_all):
                m.d.sync += [w_pending.eq(0), w_granted.eq(0)]
                m.d.comb += pop_n.eq(w_n)
                dst.take(w_n)
            with m.Else():
                m.d.sync += [w_pending.eq(1),
                             w_granted.eq(w_granted | Cat(p.gnt for p in self.ports))]

        # -- TCDM read side (TCDM -> L2): a group of words, then its bytes ----------------------
        # Two stages: the next group is requested while the words of the last one
        # answer (a group per cycle: with beats as wide as a group, the W channel
        # drains one per cycle); the walk advances when a group is granted and its
        # offset and length wait for its words in c_off / c_n.
        r_off = Signal(2, name="rd_off")
        r_n = Signal(range(G + 1), name="rd_bytes")
        m.d.comb += [r_off.eq(src.addr[:2]), r_n.eq(smaller(G - r_off, src.rem))]
        r_granted = Signal(K, name="rd_granted")
        r_have = Signal(K, name="rd_have")
        r_words = [Signal(32, name=f"rd_word{i}") for i in range(K)]
        r_lanes = Signal(G + 4, name="rd_lanes")
        m.d.comb += r_lanes.eq(((Const(1, G + 5) << r_n) - 1) << r_off)
        r_active = Signal(K, name="rd_active")
        m.d.comb += r_active.eq(Cat(r_lanes[4 * i:4 * i + 4].any() for i in range(K)))
        c_off = Signal(2, name="rd_collect_off")
        c_n = Signal(range(G + 1), name="rd_collect_bytes")
        c_active = Signal(K, name="rd_collect_active")
        # Every word of the group being collected answered (now or before).
        got = Signal(K, name="rd_got")
        m.d.comb += got.eq(r_have | Cat(p.r_valid for p in self.ports))
        c_done = Signal(name="rd_collect_done")
        m.d.comb += c_done.eq(r_collect & ((got & c_active) == c_active))
        r_can = Signal(name="rd_can")
        m.d.comb += r_can.eq(running & to_l2 & (src.rows != 0) & (~r_collect | c_done)
                             & (fifo.space >= G + Mux(r_collect, c_n, 0)))
        r_show = Signal(name="rd_show")
        m.d.comb += r_show.eq(r_pending | r_can)
        rword0 = Signal(32, name="rd_word0")
        m.d.comb += rword0.eq(Cat(Const(0, 2), src.addr[2:]))
        for i, p in enumerate(self.ports):
            with m.If(to_l2):
                m.d.comb += [p.req.eq(r_show & r_active[i] & ~r_granted[i]), p.we.eq(0),
                             p.addr.eq(rword0 + 4 * i), p.be.eq(0xF)]
            # a word answers the cycle after its grant: keep it until the group is in
            with m.If(p.r_valid & to_l2):
                m.d.sync += [r_words[i].eq(p.rdata), r_have[i].eq(1)]
        r_data = Signal(32 * K, name="rd_data")
        m.d.comb += r_data.eq(Cat(Mux(self.ports[i].r_valid, self.ports[i].rdata, r_words[i])
                                  for i in range(K)))
        with m.If(c_done):
            m.d.comb += [push_data.eq(r_data >> (c_off << 3)), push_n.eq(c_n)]
            m.d.sync += [r_collect.eq(0), r_have.eq(0)]
        r_all = Signal(name="rd_all_granted")
        m.d.comb += r_all.eq(Cat(~r_active[i] | r_granted[i] | self.ports[i].gnt
                                 for i in range(K)).all())
        with m.If(r_show & to_l2):
            with m.If(r_all):       # (after the push above: the next group collects)
                m.d.sync += [r_pending.eq(0), r_collect.eq(1), r_granted.eq(0),
                             c_off.eq(r_off), c_n.eq(r_n), c_active.eq(r_active)]
                src.take(r_n)
            with m.Else():
                m.d.sync += [r_pending.eq(1),
                             r_granted.eq(r_granted | Cat(p.gnt for p in self.ports))]

        # -- AXI write side (TCDM -> L2) -------------------------------------------------------
        wr_bursts = Signal(range(2 * self.outstanding + 1), name="aw_in_flight")   # until B
        w_ahead = Signal(range(self.outstanding + 1), name="aw_ahead_of_w")
        aw_go = address("aw", aw, running & to_l2 & (wr_bursts < self.outstanding))
        w_skip = Signal(lb, name="w_skip")
        w_take = Signal(range(B + 1), name="w_take")
        m.d.comb += [w_skip.eq(wbytes.addr[:lb]), w_take.eq(smaller(B - w_skip, wbytes.rem))]
        w_beat_i = Signal(range(max(2, self.max_burst)), name="w_beat_in_burst")
        w_lanes = Signal(B, name="w_lanes")
        m.d.comb += w_lanes.eq(((Const(1, B + 1) << w_take) - 1) << w_skip)
        m.d.comb += [axi.wdata.eq(fifo.head[:8 * B] << (w_skip << 3)), axi.wstrb.eq(w_lanes),
                     axi.wlast.eq(w_beat_i == wb.length - 1),
                     axi.wvalid.eq(running & to_l2 & (w_ahead != 0) & (wbytes.rows != 0)
                                   & (fifo.count >= w_take))]
        w_go = Signal(name="w_go")
        m.d.comb += w_go.eq(axi.wvalid & axi.wready)
        with m.If(w_go):
            m.d.comb += pop_n.eq(w_take)
            wbytes.take(w_take)
            with m.If(axi.wlast):
                m.d.sync += w_beat_i.eq(0)
                wb.advance()
            with m.Else():
                m.d.sync += w_beat_i.eq(w_beat_i + 1)
        m.d.sync += w_ahead.eq(w_ahead + aw_go - (w_go & axi.wlast))
        m.d.comb += axi.bready.eq(1)
        b_go = Signal(name="b_go")
        m.d.comb += b_go.eq(axi.bvalid & axi.bready)
        m.d.sync += wr_bursts.eq(wr_bursts + aw_go - b_go)
        with m.If(b_go & (axi.bresp != AxiResp.OKAY)):
            m.d.sync += failed.eq(1)

        # -- the end ---------------------------------------------------------------------------
        end = Signal(name="end")
        with m.If(to_l2):
            m.d.comb += end.eq((wbytes.rows == 0) & (wr_bursts == 0) & ~b_go)
        with m.Else():
            m.d.comb += end.eq(((dst.rows == 0) | (failed & ~w_pending))
                               & (rd_bursts == 0) & ~ar_go & ((ar.rows == 0) | failed))
        with m.If(running & end):
            m.d.sync += running.eq(0)
            m.d.comb += [self.done.eq(1), self.error.eq(failed)]
        return m
