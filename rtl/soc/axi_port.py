"""The SoC port: an AXI4 subordinate that becomes one TCDM master per 32-bit
lane (docs/soc-port.md).

* Bursts: INCR up to 256 beats, FIXED, and WRAP of 2, 4, 8 or 16 beats;
  narrow and unaligned transfers; WSTRB per byte.  A WRAP burst of another
  length or a beat size wider than the bus is answered with SLVERR on every
  beat (the beats are consumed, nothing is accessed).
* Responses: OKAY; DECERR for a beat outside every window of the address
  map; SLVERR when a mapped target answers ``r_err``.  A write burst's BRESP
  is the worst of its beats.
* The write and read engines run at the same time; they take turns on the
  lanes one beat at a time, and a beat keeps the lanes until all its lane
  requests are granted (the TCDM hold rule).  One write and one read burst
  are in flight at once; ``wlast`` is not needed (beats are counted).
* Throughput: one beat per cycle into an idle TCDM; a read beat is issued
  only when the R FIFO can take it, so RREADY backpressure never stalls a
  lane with a pending request.
* The inbound channels (AW, W, AR) pass a register slice (axi_cut.py): one
  cycle of latency each, full throughput, and no combinational path from the
  AXI inputs into the cluster.  B and R leave from registers.
"""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from imcc.gen.config import ClusterConfig
from ..block import ClusterBlock
from ..interconnect.crossbar import in_window
from ..interconnect.protocol import TcdmSignature
from .axi import AxiBurst, AxiResp, AxiSignature
from .axi_cut import ChannelCut

__all__ = ["SocPort"]

R_FIFO_DEPTH = 4


class SocPort(wiring.Component, ClusterBlock):
    external = ("axi",)

    name = "soc"

    def __init__(self, cfg: ClusterConfig, names: list[str], address_map):
        """``names``: the lanes' master names; ``address_map``: the windows that
        answer (any other address gets DECERR)."""
        self.cfg, self.address_map = cfg, list(address_map)
        self.lanes_n = cfg.soc.lanes
        self.names = list(names)
        assert len(self.names) == self.lanes_n
        super().__init__({
            "axi": In(AxiSignature(data_width=cfg.soc.data_width, id_width=cfg.soc.id_width)),
            "lanes": Out(TcdmSignature()).array(self.lanes_n),
            # The cluster's clock runs this cycle (its idle gate; 1 without one).  The
            # inbound channels are ready only then: a transfer offered while the clock
            # is stopped waits for it instead of being taken by nobody.
            "clock_on": In(1, init=1),
        })
        self._quiet = Signal(name="soc_quiet")

    def tcdm_masters(self):
        return dict(zip(self.names, self.lanes))

    def quiet(self):
        return self._quiet

    # -- helpers ------------------------------------------------------------------------
    def _mapped(self, m, addr, name):
        """1 when ``addr`` falls in a window of the address map (else DECERR)."""
        s = Signal(name=name)
        m.d.comb += s.eq(Cat(*[in_window(addr, w.base, w.size)
                               for w in self.address_map]).any())
        return s

    @staticmethod
    def _next_addr(addr, size, burst, length):
        """Address of the next beat (AXI4 A3.4.1)."""
        step = Const(1, 8) << size
        aligned = addr & ~(step - 1)
        incr = aligned + step
        wrap_mask = ((length + 1) << size) - 1
        wrapped = (addr & ~wrap_mask) | (incr & wrap_mask)
        return Mux(burst == AxiBurst.FIXED, addr, Mux(burst == AxiBurst.WRAP, wrapped, incr))

    def _burst_ok(self, size, burst, length):
        wrap_len_ok = (length == 1) | (length == 3) | (length == 7) | (length == 15)
        return ((size <= exact_log2(self.cfg.soc.data_width // 8))
                & ((burst == AxiBurst.INCR) | (burst == AxiBurst.FIXED)
                   | ((burst == AxiBurst.WRAP) & wrap_len_ok)))

    def _cut(self, m, axi, ch: str, fields: tuple[str, ...]):
        """The channel ``ch`` of ``axi`` after a register slice, with the AXI
        names: ``.valid``, ``.ready`` (driven by the port) and one attribute
        per field."""
        vals = [getattr(axi, f"{ch}{f}") for f in fields]
        cut = ChannelCut(sum(len(v) for v in vals))
        m.submodules[f"{ch}_cut"] = cut
        m.d.comb += [cut.i_valid.eq(getattr(axi, f"{ch}valid")),
                     getattr(axi, f"{ch}ready").eq(cut.i_ready & self.clock_on),
                     cut.i_data.eq(Cat(*vals))]
        out = SimpleNamespace(valid=cut.o_valid, ready=cut.o_ready, quiet=cut.quiet)
        pos = 0
        for f, v in zip(fields, vals):
            sig = Signal(len(v), name=f"{ch}_{f}")
            m.d.comb += sig.eq(cut.o_data[pos:pos + len(v)])
            setattr(out, f"{ch}{f}", sig)
            pos += len(v)
        return out

    # -- elaboration ----------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        axi, lanes, n = self.axi, self.lanes, self.lanes_n
        aw = self._cut(m, axi, "aw", ("id", "addr", "len", "size", "burst"))
        w = self._cut(m, axi, "w", ("data", "strb"))
        ar = self._cut(m, axi, "ar", ("id", "addr", "len", "size", "burst"))
        bus_bytes = self.cfg.soc.data_width // 8
        worst = _worst

        # Lane ownership: 0 = write engine, 1 = read engine, switched between beats.
        owner = Signal(name="lane_owner")
        w_wants, r_wants = Signal(name="w_wants"), Signal(name="r_wants")
        w_beat_done, r_beat_done = Signal(name="w_beat_done"), Signal(name="r_beat_done")
        w_mid, r_mid = Signal(name="w_mid_beat"), Signal(name="r_mid_beat")
        with m.If(owner == 0):
            with m.If(~w_mid & (w_beat_done | ~w_wants) & r_wants):
                m.d.sync += owner.eq(1)
        with m.Else():
            with m.If(~r_mid & (r_beat_done | ~r_wants) & w_wants):
                m.d.sync += owner.eq(0)

        # Responses come back one cycle after each grant; remember per lane
        # whether that access was mapped, to tell SLVERR from DECERR.
        lane_mapped_q = Signal(n, name="lane_mapped_q")
        lane_is_read_q = Signal(n, name="lane_is_read_q")
        lane_err = [Signal(2, name=f"lane{i}_resp") for i in range(n)]
        for i in range(n):
            m.d.comb += lane_err[i].eq(Mux(lanes[i].r_valid & lanes[i].r_err,
                                           Mux(lane_mapped_q[i], AxiResp.SLVERR, AxiResp.DECERR),
                                           AxiResp.OKAY))

        # ---- write engine --------------------------------------------------------------
        w_active = Signal(name="w_active")
        w_addr = Signal(32, name="w_addr")
        w_size, w_burst, w_len = Signal(3, name="w_size"), Signal(2, name="w_burst"), Signal(8, name="w_len")
        w_left = Signal(9, name="w_beats_left")
        w_id = Signal.like(axi.awid, name="w_id")
        w_ok = Signal(name="w_burst_ok")
        w_done = Signal(n, name="w_lane_done")
        w_err = Signal(2, name="w_err")
        b_collect = Signal(name="b_collect")      # the cycle the last beat's responses arrive
        b_valid = Signal(name="b_valid")

        with m.If(~w_active & ~b_collect & ~b_valid):
            m.d.comb += aw.ready.eq(1)
            with m.If(aw.valid):
                m.d.sync += [w_active.eq(1), w_addr.eq(aw.awaddr), w_size.eq(aw.awsize),
                             w_burst.eq(aw.awburst), w_len.eq(aw.awlen),
                             w_left.eq(aw.awlen + 1), w_id.eq(aw.awid), w_err.eq(AxiResp.OKAY),
                             w_ok.eq(self._burst_ok(aw.awsize, aw.awburst, aw.awlen)),
                             w_done.eq(0)]

        w_beat_base = Signal(32, name="w_beat_base")
        m.d.comb += w_beat_base.eq(w_addr & ~(bus_bytes - 1))
        w_mapped = self._mapped(m, w_addr, "w_mapped")
        w_lane_active = Signal(n, name="w_lane_active")
        m.d.comb += w_lane_active.eq(Cat(w.wstrb[4 * i:4 * i + 4].any() & w_ok for i in range(n)))
        w_go = Signal(name="w_go")
        m.d.comb += [w_go.eq(w_active & w.valid & (owner == 0)),
                     w_wants.eq(w_active & w.valid), w_mid.eq(w_done.any())]
        w_all = Signal(name="w_all_granted")
        m.d.comb += w_all.eq(Cat(~w_lane_active[i] | w_done[i] | lanes[i].gnt for i in range(n)).all())
        m.d.comb += [w_beat_done.eq(w_go & w_all), w.ready.eq(w_go & w_all)]
        with m.If(w_go & w_all):
            m.d.sync += [w_done.eq(0), w_left.eq(w_left - 1),
                         w_addr.eq(self._next_addr(w_addr, w_size, w_burst, w_len))]
            with m.If(w_left == 1):
                m.d.sync += [w_active.eq(0), b_collect.eq(1)]
        with m.Elif(w_go):
            m.d.sync += w_done.eq(w_done | Cat(lanes[i].gnt for i in range(n)))

        # Errors of write responses (they arrive one cycle after the grants).
        w_resp_now = Signal(2, name="w_resp_now")
        m.d.comb += w_resp_now.eq(_worst_of([Mux(lane_is_read_q[i], AxiResp.OKAY, lane_err[i])
                                             for i in range(n)]))
        w_beat_err = Mux(w_go & w_all & ~w_ok, AxiResp.SLVERR, AxiResp.OKAY)
        with m.If(w_active | b_collect):
            m.d.sync += w_err.eq(worst(worst(w_err, w_resp_now), w_beat_err))
        with m.If(b_collect):
            m.d.sync += [b_collect.eq(0), b_valid.eq(1)]
        m.d.comb += [axi.bvalid.eq(b_valid), axi.bid.eq(w_id), axi.bresp.eq(w_err)]
        with m.If(b_valid & axi.bready):
            m.d.sync += b_valid.eq(0)

        # ---- read engine ---------------------------------------------------------------
        r_active = Signal(name="r_active")
        r_addr = Signal(32, name="r_addr")
        r_size, r_burst, r_len = Signal(3, name="r_size"), Signal(2, name="r_burst"), Signal(8, name="r_len")
        r_left = Signal(9, name="r_beats_left")
        r_id = Signal.like(axi.arid, name="r_id")
        r_ok = Signal(name="r_burst_ok")
        r_done = Signal(n, name="r_lane_done")

        m.submodules.r_fifo = fifo = SyncFIFOBuffered(
            width=self.cfg.soc.data_width + 2 + 1 + len(axi.rid), depth=R_FIFO_DEPTH)
        # the beat whose lanes were all granted last cycle: pushed this cycle
        pend_valid = Signal(name="r_pend_valid")
        pend_need = Signal(n, name="r_pend_lanes")
        pend_last = Signal(name="r_pend_last")
        pend_id = Signal.like(axi.arid, name="r_pend_id")
        pend_err = Signal(2, name="r_pend_err")
        asm = [Signal(32, name=f"r_lane{i}_data") for i in range(n)]
        asm_err = Signal(2, name="r_asm_err")

        with m.If(~r_active):
            m.d.comb += ar.ready.eq(1)
            with m.If(ar.valid):
                m.d.sync += [r_active.eq(1), r_addr.eq(ar.araddr), r_size.eq(ar.arsize),
                             r_burst.eq(ar.arburst), r_len.eq(ar.arlen),
                             r_left.eq(ar.arlen + 1), r_id.eq(ar.arid), r_done.eq(0),
                             r_ok.eq(self._burst_ok(ar.arsize, ar.arburst, ar.arlen))]

        # Bytes of this beat: from the address to the end of its size-aligned container.
        r_first = Signal(range(bus_bytes), name="r_first_byte")
        r_end = Signal(range(bus_bytes + 1), name="r_end_byte")
        m.d.comb += [r_first.eq(r_addr[:exact_log2(bus_bytes)] if bus_bytes > 1 else 0),
                     r_end.eq(((r_addr[:exact_log2(bus_bytes)] >> r_size) + 1) << r_size)]
        r_lane_active = Signal(n, name="r_lane_active")
        m.d.comb += r_lane_active.eq(Cat(r_ok & (r_first < 4 * i + 4) & (r_end > 4 * i)
                                         for i in range(n)))
        r_mapped = self._mapped(m, r_addr, "r_mapped")
        credit = Signal(name="r_credit")
        m.d.comb += credit.eq(fifo.level + pend_valid < R_FIFO_DEPTH)
        r_go = Signal(name="r_go")
        m.d.comb += [r_go.eq(r_active & credit & (owner == 1)),
                     r_wants.eq(r_active & credit), r_mid.eq(r_done.any())]
        r_all = Signal(name="r_all_granted")
        m.d.comb += r_all.eq(Cat(~r_lane_active[i] | r_done[i] | lanes[i].gnt for i in range(n)).all())
        m.d.comb += r_beat_done.eq(r_go & r_all)
        m.d.sync += pend_valid.eq(0)
        with m.If(r_go & r_all):
            m.d.sync += [r_done.eq(0), r_left.eq(r_left - 1),
                         r_addr.eq(self._next_addr(r_addr, r_size, r_burst, r_len)),
                         pend_valid.eq(1), pend_need.eq(r_lane_active), pend_last.eq(r_left == 1),
                         pend_id.eq(r_id), pend_err.eq(Mux(r_ok, AxiResp.OKAY, AxiResp.SLVERR))]
            with m.If(r_left == 1):
                m.d.sync += r_active.eq(0)
        with m.Elif(r_go):
            m.d.sync += r_done.eq(r_done | Cat(lanes[i].gnt for i in range(n)))

        # Assemble the beat: lanes answered earlier are held in r_laneN_data.
        beat = []
        for i in range(n):
            is_r = lanes[i].r_valid & lane_is_read_q[i]
            with m.If(is_r):
                m.d.sync += asm[i].eq(lanes[i].rdata)
            beat.append(Mux(is_r, lanes[i].rdata, asm[i]))
        r_resp_now = Signal(2, name="r_resp_now")
        m.d.comb += r_resp_now.eq(_worst_of([Mux(lane_is_read_q[i], lane_err[i], AxiResp.OKAY)
                                             for i in range(n)]))
        with m.If(pend_valid):
            m.d.sync += asm_err.eq(AxiResp.OKAY)
        with m.Elif(lane_is_read_q.any()):
            m.d.sync += asm_err.eq(worst(asm_err, r_resp_now))
        m.d.comb += [
            fifo.w_en.eq(pend_valid),
            fifo.w_data.eq(Cat(Cat(*beat), worst(worst(asm_err, r_resp_now), pend_err),
                               pend_last, pend_id)),
            fifo.r_en.eq(axi.rready),
            axi.rvalid.eq(fifo.r_rdy),
        ]
        dw = self.cfg.soc.data_width
        m.d.comb += [axi.rdata.eq(fifo.r_data[:dw]), axi.rresp.eq(fifo.r_data[dw:dw + 2]),
                     axi.rlast.eq(fifo.r_data[dw + 2]), axi.rid.eq(fifo.r_data[dw + 3:])]

        # no burst, beat, response or channel transfer under way (owner and the
        # per-lane response flags settle by themselves)
        m.d.comb += self._quiet.eq(aw.quiet & w.quiet & ar.quiet & ~w_active & ~b_collect
                                   & ~b_valid & ~r_active & ~pend_valid & (fifo.level == 0)
                                   & ~lane_is_read_q.any())
        # ---- lanes ------------------------------------------------------------------------
        for i, lane in enumerate(lanes):
            w_req = w_go & w_lane_active[i] & ~w_done[i]
            r_req = r_go & r_lane_active[i] & ~r_done[i]
            m.d.comb += [
                lane.req.eq(w_req | r_req),
                lane.we.eq(owner == 0),
                lane.addr.eq(Mux(owner == 0, w_beat_base, r_addr & ~(bus_bytes - 1)) + 4 * i),
                lane.be.eq(Mux(owner == 0, w.wstrb[4 * i:4 * i + 4], 0xF)),
                lane.wdata.eq(w.wdata[32 * i:32 * i + 32]),
            ]
            with m.If(lane.req & lane.gnt):
                m.d.sync += [lane_mapped_q[i].eq(Mux(owner == 0, w_mapped, r_mapped)),
                             lane_is_read_q[i].eq(owner == 1)]
            with m.Else():
                m.d.sync += lane_is_read_q[i].eq(0)
        return m


def _worst(a, b):
    """The more severe of two responses (DECERR > SLVERR > OKAY)."""
    return Mux(a > b, a, b)


def _worst_of(resps):
    out = resps[0]
    for r in resps[1:]:
        out = _worst(out, r)
    return out
