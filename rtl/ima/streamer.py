"""IMA streamer: source (TCDM -> DAC input slots) and sink (ADC output slots ->
TCDM), each a :class:`~imcc.rtl.stream.StridedAddressGenerator`, over the data
ports (:class:`~imcc.rtl.stream.TcdmPortGroup`: a request FIFO per port).

Slots are used in ring order.  An input slot goes FREE -> FILL (the source
generator pushes its words) -> GEN (all words requested) -> READY (all
landed) and back to FREE when the engine releases it; an output slot goes
FREE -> FULL (the engine captured an ADC vector) -> DRAIN -> GEN -> FREE
(all writes answered).  Per slot a counter of requests in flight tells when
the last word has landed.

``shared`` ports: source and sink take turns, round-robin per cycle when both
have words to send (the paper's mux); otherwise the sink has its own ports.
``sequential``: the source starts a step's vector only when every output
slot is empty, so stream-in, compute and stream-out of a step follow each
other (the paper's sequential mode).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..interconnect.protocol import TcdmSignature
from ..stream import POS_BITS, STRIDED_PATTERN, StridedAddressGenerator, TcdmPortGroup
from .buffers import InBuffer, OutBuffer

__all__ = ["Streamer", "STREAM_CFG"]

STREAM_CFG = STRIDED_PATTERN

SRC, SNK = 0, 1        # direction of a request: source read or sink write

# what a word request carries to its response
TAG = data.StructLayout({
    "dir": 1,
    "slot": 2,                  # vector buffer slot
    "pos": signed(POS_BITS),    # position of byte 0 of the word in the step vector
})

IN_FREE, IN_FILL, IN_GEN, IN_READY = range(4)
OUT_FREE, OUT_FULL, OUT_DRAIN, OUT_GEN = range(4)


def _popcount(bits):
    return sum((b for b in bits), Const(0, 1)) if bits else Const(0, 1)


class Streamer(wiring.Component):
    def __init__(self, *, ports: int, shared: bool, sequential: bool, in_slots: int,
                 out_slots: int, in_bytes: int, out_bytes: int):
        self.n_ports, self.shared, self.sequential = ports, shared, sequential
        self.in_slots, self.out_slots = in_slots, out_slots
        self.in_bytes, self.out_bytes = in_bytes, out_bytes
        members = {
            "src_cfg": In(STREAM_CFG),
            "dst_cfg": In(STREAM_CFG),
            "start": In(1),         # begin a job's streams (dst only with use_sink)
            "use_sink": In(1),
            "stop": In(1),          # abandon the streams (SOFT_CLEAR)
            "idle": Out(1),         # nothing requested or in flight
            "bus_err": Out(1),      # a data port answered r_err since start
            # input slots, consumed in order by the engine
            "in_ready": Out(1),
            "in_release": In(1),
            "in_vec": Out(8 * in_bytes),
            "in_word_sel": In(range(in_bytes // 4)),
            "in_word": Out(32),     # word in_word_sel of the slot in_ready tells of
            # the slot after: in_vec shows it while in_peek (the cycle the engine
            # releases the slot at the macro and starts the next MVM at once)
            "in_peek": In(1),
            "in_next_ready": Out(1),
            # output slots, filled in order by the engine
            "out_free": Out(1),
            "out_next_free": Out(1),    # the slot after the one out_push fills is free
            "out_push": In(1),
            "out_data": In(8 * out_bytes),
            "out_done": Out(2),     # step output vectors completely written this cycle
            "quiet": Out(1),        # no register changes at the next edge (the clock gate)
            "ports": Out(TcdmSignature()).array(ports),
        }
        if not shared:
            members["sink_ports"] = Out(TcdmSignature()).array(ports)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        P = self.n_ports
        m.submodules.src_gen = sg = StridedAddressGenerator(P)
        m.submodules.dst_gen = dg = StridedAddressGenerator(P)
        m.submodules.inbuf = ib = InBuffer(self.in_slots, self.in_bytes, P)
        m.submodules.outbuf = ob = OutBuffer(self.out_slots, self.out_bytes, P)
        m.submodules.ports = src_ports = TcdmPortGroup(P, TAG)
        for i in range(P):
            wiring.connect(m, src_ports.bus[i], wiring.flipped(self.ports[i]))
        snk_ports = src_ports
        groups = [src_ports]
        if not self.shared:
            m.submodules.sink_ports = snk_ports = TcdmPortGroup(P, TAG)
            for i in range(P):
                wiring.connect(m, snk_ports.bus[i], wiring.flipped(self.sink_ports[i]))
            groups.append(snk_ports)
        all_rsp = [r for g in groups for r in g.rsp]

        m.d.comb += [sg.pattern.eq(self.src_cfg), dg.pattern.eq(self.dst_cfg),
                     sg.start.eq(self.start), dg.start.eq(self.start & self.use_sink),
                     sg.stop.eq(self.stop), dg.stop.eq(self.stop)]
        src_w, dst_w = sg.words.payload, dg.words.payload

        def ring(n):
            return lambda p: Mux(p == n - 1, 0, p + 1)

        in_inc, out_inc = ring(self.in_slots), ring(self.out_slots)
        in_st = [Signal(2, name=f"in{s}_state") for s in range(self.in_slots)]
        out_st = [Signal(2, name=f"out{s}_state") for s in range(self.out_slots)]
        in_fly = [Signal(10, name=f"in{s}_inflight") for s in range(self.in_slots)]
        out_fly = [Signal(10, name=f"out{s}_inflight") for s in range(self.out_slots)]
        in_wp, in_rp = Signal(2), Signal(2)     # slot the source fills / the engine reads
        out_wp, out_rp = Signal(2), Signal(2)   # slot the engine captures into / the sink drains

        def at(sigs, idx):
            return Array(sigs + [sigs[-1]] * (4 - len(sigs)))[idx]

        in_wst, out_rst = Signal(2), Signal(2)
        m.d.comb += [in_wst.eq(at(in_st, in_wp)), out_rst.eq(at(out_st, out_rp))]
        all_out_free = Cat(s == OUT_FREE for s in out_st).all()

        # -- who sends this cycle ---------------------------------------------------------
        src_slot_ok = (in_wst == IN_FILL) | ((in_wst == IN_FREE) &
                                             (all_out_free if self.sequential else 1))
        src_offer = Signal()
        snk_offer = Signal()
        m.d.comb += [src_offer.eq(sg.words.valid & src_slot_ok & ~self.stop),
                     snk_offer.eq(dg.words.valid & ((out_rst == OUT_FULL) | (out_rst == OUT_DRAIN))
                                  & ~self.stop)]
        src_pick, snk_pick = Signal(), Signal()
        if self.shared:
            last_src = Signal()     # round-robin: who sent last when both offered
            m.d.comb += [src_pick.eq(src_offer & (~snk_offer | ~last_src)),
                         snk_pick.eq(snk_offer & (~src_offer | last_src))]
            with m.If(src_offer & snk_offer & src_ports.req.ready):
                m.d.sync += last_src.eq(src_pick)
        else:
            m.d.comb += [src_pick.eq(src_offer), snk_pick.eq(snk_offer)]
        src_go, snk_go = Signal(), Signal()     # the group is taken by the ports
        m.d.comb += [src_go.eq(src_pick & src_ports.req.ready),
                     snk_go.eq(snk_pick & snk_ports.req.ready)]
        m.d.comb += [sg.words.ready.eq(src_go), dg.words.ready.eq(snk_go)]

        # -- the groups of word requests --------------------------------------------------
        m.d.comb += ob.rd.eq(out_rp)
        for i in range(P):
            m.d.comb += ob.r_pos[i].eq(dst_w.pos[i])
        src_req = Signal.like(src_ports.req.payload, name="src_req")
        snk_req = Signal.like(snk_ports.req.payload, name="snk_req")
        m.d.comb += [src_req.en.eq(src_w.en), snk_req.en.eq(dst_w.en)]
        for i in range(P):
            se, ke = src_req.lane[i], snk_req.lane[i]
            m.d.comb += [se.word.eq(src_w.word[i]), se.we.eq(0), se.be.eq(src_w.mask[i]),
                         se.tag.dir.eq(SRC), se.tag.slot.eq(in_wp), se.tag.pos.eq(src_w.pos[i]),
                         ke.word.eq(dst_w.word[i]), ke.we.eq(1), ke.be.eq(dst_w.mask[i]),
                         ke.wdata.eq(ob.r_data[i]), ke.tag.dir.eq(SNK), ke.tag.slot.eq(out_rp),
                         ke.tag.pos.eq(dst_w.pos[i])]
        if self.shared:
            m.d.comb += [src_ports.req.valid.eq(src_pick | snk_pick),
                         src_ports.req.payload.eq(Mux(snk_pick, snk_req, src_req))]
        else:
            m.d.comb += [src_ports.req.valid.eq(src_pick), src_ports.req.payload.eq(src_req),
                         snk_ports.req.valid.eq(snk_pick), snk_ports.req.payload.eq(snk_req)]

        # -- responses: land source words, retire requests ----------------------------------
        for i, r in enumerate(src_ports.rsp):
            m.d.comb += [ib.w_valid[i].eq(r.valid & (r.payload.tag.dir == SRC)),
                         ib.w_slot[i].eq(r.payload.tag.slot), ib.w_pos[i].eq(r.payload.tag.pos),
                         ib.w_mask[i].eq(r.payload.be), ib.w_data[i].eq(r.payload.data)]
        with m.If(self.start):
            m.d.sync += self.bus_err.eq(0)
        with m.Elif(Cat(r.payload.err for r in all_rsp).any()):
            m.d.sync += self.bus_err.eq(1)

        src_pushed = _popcount([src_w.en[i] for i in range(P)])
        snk_pushed = _popcount([dst_w.en[i] for i in range(P)])
        for s in range(self.in_slots):
            ret = _popcount([r.valid & (r.payload.tag.dir == SRC) & (r.payload.tag.slot == s)
                             for r in src_ports.rsp])
            add = Mux(src_go & (in_wp == s), src_pushed, 0)
            m.d.sync += in_fly[s].eq(in_fly[s] + add - ret)
        for s in range(self.out_slots):
            ret = _popcount([r.valid & (r.payload.tag.dir == SNK) & (r.payload.tag.slot == s)
                             for r in snk_ports.rsp])
            add = Mux(snk_go & (out_rp == s), snk_pushed, 0)
            m.d.sync += out_fly[s].eq(out_fly[s] + add - ret)

        # -- input slots --------------------------------------------------------------------
        m.d.comb += [ib.rd.eq(in_rp), ib.vec_rd.eq(Mux(self.in_peek, in_inc(in_rp), in_rp)),
                     self.in_vec.eq(ib.vec), ib.word_sel.eq(self.in_word_sel),
                     self.in_word.eq(ib.word),
                     self.in_ready.eq(at(in_st, in_rp) == IN_READY),
                     self.in_next_ready.eq((at(in_st, in_inc(in_rp)) == IN_READY)
                                           if self.in_slots > 1 else 0)]
        for s in range(self.in_slots):
            with m.If(src_go & (in_wp == s)):
                m.d.sync += in_st[s].eq(Mux(src_w.vec_end, IN_GEN, IN_FILL))
            with m.If((in_st[s] == IN_GEN) & (in_fly[s] == 0)):
                m.d.sync += in_st[s].eq(IN_READY)
            with m.If(self.in_release & (in_rp == s)):
                m.d.sync += in_st[s].eq(IN_FREE)
        with m.If(src_go & src_w.vec_end):
            m.d.sync += in_wp.eq(in_inc(in_wp))
        with m.If(self.in_release):
            m.d.sync += in_rp.eq(in_inc(in_rp))

        # -- output slots -------------------------------------------------------------------
        m.d.comb += [ob.capture.eq(self.out_push), ob.wr.eq(out_wp), ob.data.eq(self.out_data),
                     self.out_free.eq(at(out_st, out_wp) == OUT_FREE),
                     self.out_next_free.eq((at(out_st, out_inc(out_wp)) == OUT_FREE)
                                           if self.out_slots > 1 else 0)]
        for s in range(self.out_slots):
            with m.If(self.out_push & (out_wp == s)):
                m.d.sync += out_st[s].eq(OUT_FULL)
            with m.If(snk_go & (out_rp == s)):
                m.d.sync += out_st[s].eq(Mux(dst_w.vec_end, OUT_GEN, OUT_DRAIN))
            with m.If((out_st[s] == OUT_GEN) & (out_fly[s] == 0)):
                m.d.sync += out_st[s].eq(OUT_FREE)
        m.d.sync += self.out_done.eq(_popcount([(s == OUT_GEN) & (f == 0)
                                                for s, f in zip(out_st, out_fly)]))
        with m.If(self.out_push):
            m.d.sync += out_wp.eq(out_inc(out_wp))
        with m.If(snk_go & dst_w.vec_end):
            m.d.sync += out_rp.eq(out_inc(out_rp))

        with m.If(self.start):
            m.d.sync += [in_wp.eq(0), in_rp.eq(0), out_wp.eq(0), out_rp.eq(0)]
            m.d.sync += [s.eq(0) for s in in_st + out_st]
            m.d.sync += [f.eq(0) for f in in_fly + out_fly]

        ports_idle = Cat(g.idle for g in groups).all()
        m.d.comb += self.idle.eq(ports_idle & ~sg.busy & ~dg.busy)
        # Quiet: nothing pushed, in flight or landing, no slot about to change state
        # (a source waiting for a free slot holds still).
        settling = ([(st == IN_GEN) & (f == 0) for st, f in zip(in_st, in_fly)]
                    + [(st == OUT_GEN) & (f == 0) for st, f in zip(out_st, out_fly)])
        m.d.comb += self.quiet.eq(
            ports_idle & sg.quiet & dg.quiet     # (a taken group = a push)
            & ~Cat(*settling).any() & (self.out_done == 0) & ~self.start & ~self.stop
            & ~self.in_release & ~self.out_push)
        return m
