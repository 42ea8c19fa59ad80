"""IMA streamer: source (TCDM -> DAC input slots) and sink (ADC output slots ->
TCDM), each with its own :class:`AddrGen`, over the data ports.

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

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..interconnect.protocol import TcdmSignature
from .addrgen import AddrGen
from .buffers import InBuffer, OutBuffer
from .port import SNK, SRC, DataPort

__all__ = ["Streamer", "STREAM_CFG"]

STREAM_CFG = data.StructLayout({
    "base": 32, "length": 16, "c1": 16, "c2": 16, "stride1": 32, "stride2": 32,
    "step0": 32, "step1": 32, "inner": 16, "outer": 16,
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
            "in_word": Out(32),     # word in_word_sel of the slot in_vec shows
            # output slots, filled in order by the engine
            "out_free": Out(1),
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
        m.submodules.src_gen = sg = AddrGen(P)
        m.submodules.dst_gen = dg = AddrGen(P)
        m.submodules.inbuf = ib = InBuffer(self.in_slots, self.in_bytes, P)
        m.submodules.outbuf = ob = OutBuffer(self.out_slots, self.out_bytes, P)
        src_ports = [DataPort() for _ in range(P)]
        snk_ports = src_ports if self.shared else [DataPort() for _ in range(P)]
        all_ports = src_ports if self.shared else src_ports + snk_ports
        for i, p in enumerate(src_ports):
            m.submodules[f"port{i}"] = p
            wiring.connect(m, p.bus, wiring.flipped(self.ports[i]))
        if not self.shared:
            for i, p in enumerate(snk_ports):
                m.submodules[f"sink_port{i}"] = p
                wiring.connect(m, p.bus, wiring.flipped(self.sink_ports[i]))

        for gen, cfg in ((sg, self.src_cfg), (dg, self.dst_cfg)):
            for name in STREAM_CFG.members:
                m.d.comb += getattr(gen, name).eq(getattr(cfg, name))
        m.d.comb += [sg.start.eq(self.start), dg.start.eq(self.start & self.use_sink),
                     sg.stop.eq(self.stop), dg.stop.eq(self.stop)]

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
        src_space = Cat(p.space for p in src_ports).all()
        snk_space = Cat(p.space for p in snk_ports).all()
        src_slot_ok = (in_wst == IN_FILL) | ((in_wst == IN_FREE) &
                                             (all_out_free if self.sequential else 1))
        src_want = Signal()
        snk_want = Signal()
        m.d.comb += [src_want.eq(sg.valid & src_slot_ok & src_space & ~self.stop),
                     snk_want.eq(dg.valid & ((out_rst == OUT_FULL) | (out_rst == OUT_DRAIN))
                                 & snk_space & ~self.stop)]
        src_go, snk_go = Signal(), Signal()
        if self.shared:
            last_src = Signal()     # round-robin: who sent last when both wanted
            m.d.comb += [src_go.eq(src_want & (~snk_want | ~last_src)),
                         snk_go.eq(snk_want & (~src_want | last_src))]
            with m.If(src_want & snk_want):
                m.d.sync += last_src.eq(src_go)
        else:
            m.d.comb += [src_go.eq(src_want), snk_go.eq(snk_want)]
        m.d.comb += [sg.ack.eq(src_go), dg.ack.eq(snk_go)]

        # -- pushes into the ports ----------------------------------------------------------
        m.d.comb += ob.rd.eq(out_rp)
        for i in range(P):
            m.d.comb += ob.r_pos[i].eq(dg.lane_pos[i])
        for i in range(P):
            sp, kp = src_ports[i], snk_ports[i]
            src_e = Signal.like(sp.entry, name=f"src_entry{i}")
            m.d.comb += [src_e.word.eq(sg.lane_word[i]), src_e.we.eq(0),
                         src_e.be.eq(sg.lane_mask[i]), src_e.dir.eq(SRC),
                         src_e.slot.eq(in_wp), src_e.pos.eq(sg.lane_pos[i])]
            snk_e = Signal.like(kp.entry, name=f"snk_entry{i}")
            m.d.comb += [snk_e.word.eq(dg.lane_word[i]), snk_e.we.eq(1),
                         snk_e.be.eq(dg.lane_mask[i]), snk_e.wdata.eq(ob.r_data[i]),
                         snk_e.dir.eq(SNK), snk_e.slot.eq(out_rp), snk_e.pos.eq(dg.lane_pos[i])]
            if self.shared:
                m.d.comb += [sp.entry.eq(Mux(snk_go, snk_e, src_e)),
                             sp.push.eq((src_go & sg.lane_en[i]) | (snk_go & dg.lane_en[i]))]
            else:
                m.d.comb += [sp.entry.eq(src_e), sp.push.eq(src_go & sg.lane_en[i]),
                             kp.entry.eq(snk_e), kp.push.eq(snk_go & dg.lane_en[i])]

        # -- responses: land source words, retire requests ----------------------------------
        for i, p in enumerate(src_ports):
            m.d.comb += [ib.w_valid[i].eq(p.resp_valid & (p.resp.dir == SRC)),
                         ib.w_slot[i].eq(p.resp.slot), ib.w_pos[i].eq(p.resp.pos),
                         ib.w_mask[i].eq(p.resp.be), ib.w_data[i].eq(p.resp_data)]
        with m.If(self.start):
            m.d.sync += self.bus_err.eq(0)
        with m.Elif(Cat(p.resp_err for p in all_ports).any()):
            m.d.sync += self.bus_err.eq(1)

        src_pushed = _popcount([sg.lane_en[i] for i in range(P)])
        snk_pushed = _popcount([dg.lane_en[i] for i in range(P)])
        for s in range(self.in_slots):
            ret = _popcount([p.resp_valid & (p.resp.dir == SRC) & (p.resp.slot == s)
                             for p in src_ports])
            add = Mux(src_go & (in_wp == s), src_pushed, 0)
            m.d.sync += in_fly[s].eq(in_fly[s] + add - ret)
        for s in range(self.out_slots):
            ret = _popcount([p.resp_valid & (p.resp.dir == SNK) & (p.resp.slot == s)
                             for p in snk_ports])
            add = Mux(snk_go & (out_rp == s), snk_pushed, 0)
            m.d.sync += out_fly[s].eq(out_fly[s] + add - ret)

        # -- input slots --------------------------------------------------------------------
        m.d.comb += [ib.rd.eq(in_rp), self.in_vec.eq(ib.vec), ib.word_sel.eq(self.in_word_sel),
                     self.in_word.eq(ib.word),
                     self.in_ready.eq(at(in_st, in_rp) == IN_READY)]
        for s in range(self.in_slots):
            with m.If(src_go & (in_wp == s)):
                m.d.sync += in_st[s].eq(Mux(sg.vec_end, IN_GEN, IN_FILL))
            with m.If((in_st[s] == IN_GEN) & (in_fly[s] == 0)):
                m.d.sync += in_st[s].eq(IN_READY)
            with m.If(self.in_release & (in_rp == s)):
                m.d.sync += in_st[s].eq(IN_FREE)
        with m.If(src_go & sg.vec_end):
            m.d.sync += in_wp.eq(in_inc(in_wp))
        with m.If(self.in_release):
            m.d.sync += in_rp.eq(in_inc(in_rp))

        # -- output slots -------------------------------------------------------------------
        m.d.comb += [ob.capture.eq(self.out_push), ob.wr.eq(out_wp), ob.data.eq(self.out_data),
                     self.out_free.eq(at(out_st, out_wp) == OUT_FREE)]
        for s in range(self.out_slots):
            with m.If(self.out_push & (out_wp == s)):
                m.d.sync += out_st[s].eq(OUT_FULL)
            with m.If(snk_go & (out_rp == s)):
                m.d.sync += out_st[s].eq(Mux(dg.vec_end, OUT_GEN, OUT_DRAIN))
            with m.If((out_st[s] == OUT_GEN) & (out_fly[s] == 0)):
                m.d.sync += out_st[s].eq(OUT_FREE)
        m.d.sync += self.out_done.eq(_popcount([(s == OUT_GEN) & (f == 0)
                                                for s, f in zip(out_st, out_fly)]))
        with m.If(self.out_push):
            m.d.sync += out_wp.eq(out_inc(out_wp))
        with m.If(snk_go & dg.vec_end):
            m.d.sync += out_rp.eq(out_inc(out_rp))

        with m.If(self.start):
            m.d.sync += [in_wp.eq(0), in_rp.eq(0), out_wp.eq(0), out_rp.eq(0)]
            m.d.sync += [s.eq(0) for s in in_st + out_st]
            m.d.sync += [f.eq(0) for f in in_fly + out_fly]

        m.d.comb += self.idle.eq(Cat(p.idle for p in all_ports).all() & ~sg.busy & ~dg.busy)
        # Quiet: nothing pushed, in flight or landing, no slot about to change state
        # (a source waiting for a free slot holds still).
        settling = ([(st == IN_GEN) & (f == 0) for st, f in zip(in_st, in_fly)]
                    + [(st == OUT_GEN) & (f == 0) for st, f in zip(out_st, out_fly)])
        m.d.comb += self.quiet.eq(
            Cat(p.idle for p in all_ports).all() & sg.quiet & dg.quiet     # (ack = a push)
            & ~Cat(*settling).any() & (self.out_done == 0) & ~self.start & ~self.stop
            & ~self.in_release & ~self.out_push)
        return m
