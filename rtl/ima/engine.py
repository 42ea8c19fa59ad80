"""IMA engine: runs the controller's jobs on the streamer and the macro.

A job is checked first (:class:`JobCheck`); a bad job ends at once with its
error code.  An MVM job then starts one MVM whenever an input slot is READY
(its DAC vector drives ``macro.x`` until ``done``), an output slot is free
and the macro is idle; ``done`` captures the ADC vector and frees the input
slot.  The job ends when the sink has written every step's outputs.  With
the pipelined slot counts (3 input, 3 output) stream-in of the next steps
and stream-out of the previous one overlap the analog MVM, so a stream of
MVMs runs at one per (macro latency + 1) cycles when the ports keep up.

A PROGRAM job streams packed weights the same way; each input vector is one
window row, written group by group through the macro's programming port.

SOFT_CLEAR stops the address generators, lets requests already in the
ports finish (the TCDM protocol forbids withdrawing them), waits for an MVM
or programming write in flight, and returns to idle without an end event.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..hwpe.controller import ERROR_BITS, IoSignature, JobSignature
from ..interconnect.protocol import TcdmSignature
from .check import E, OPS, JobCheck
from .macro import MacroSignature
from .progregs import ProgRegs
from .regs import IMA_REGS
from .streamer import Streamer

__all__ = ["Engine", "slot_counts", "buffer_bytes"]


def slot_counts(cfg: ClusterConfig) -> tuple[int, int]:
    """(input, output) vector slots: when pipelined, the slot at the macro plus
    two, so the streams of the steps before and after never wait for each
    other's last word (with two, a stream of full 256-wide steps on 4 shared
    ports at a 33-cycle MVM loses half a cycle per step); one each when
    sequential."""
    return (3, 3) if cfg.ima.mode == "pipelined" else (1, 1)


def buffer_bytes(cfg: ClusterConfig) -> tuple[int, int]:
    """Bytes of one input slot (a DAC vector, or one row of packed weights) and
    one output slot (an ADC vector)."""
    rows, cols = cfg.ima.rows, cfg.ima.cols
    return max(rows, cols // 2), cols


def field(job, reg: str, name: str):
    f = IMA_REGS[reg].field(name)
    v = getattr(job, reg.lower())[f.lsb:f.lsb + f.width]
    return v.as_signed() if f.signed else v


class Engine(wiring.Component):
    def __init__(self, cfg: ClusterConfig):
        self.cfg = cfg
        ima = cfg.ima
        members = {
            "job": In(JobSignature(IMA_REGS)),
            "io": In(IoSignature(IMA_REGS)),
            "macro": Out(MacroSignature(ima.rows, ima.cols)),
            "ports": Out(TcdmSignature()).array(ima.data_ports),
            "busy": Out(1),         # a job is being checked, run or flushed
            "pcm_write": Out(1),    # the macro accepts a programming write (activity counter)
            "quiet": Out(1),        # no register changes at the next edge (the clock gate)
            # the array the macro port reaches: the running job's, the programming
            # registers' while idle (rtl/ima/arrays.py)
            "array": Out(range(max(2, ima.arrays))),
        }
        if ima.stream_ports == "separate":
            members["sink_ports"] = Out(TcdmSignature()).array(ima.data_ports)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, job, mac = self.cfg, self.job, self.macro
        ima = cfg.ima
        in_slots, out_slots = slot_counts(cfg)
        in_bytes, out_bytes = buffer_bytes(cfg)
        shared = ima.stream_ports == "shared"
        m.submodules.check = chk = JobCheck(ima.rows, ima.cols, cfg.tcdm.base, cfg.tcdm.size_bytes,
                                            ima.arrays)
        m.submodules.streamer = st = Streamer(
            ports=ima.data_ports, shared=shared, sequential=ima.mode == "sequential",
            in_slots=in_slots, out_slots=out_slots, in_bytes=in_bytes, out_bytes=out_bytes)
        m.submodules.progregs = pr = ProgRegs(ima.rows, ima.cols, ima.arrays)
        wiring.connect(m, wiring.flipped(self.io), pr.io)
        for i in range(ima.data_ports):
            wiring.connect(m, st.ports[i], wiring.flipped(self.ports[i]))
            if not shared:
                wiring.connect(m, st.sink_ports[i], wiring.flipped(self.sink_ports[i]))

        # -- job registers -> check and streams ------------------------------------------------
        op = field(job, "MODE", "OP")
        is_mvm = op == OPS["MVM"]
        regs = {
            "row_off": field(job, "ROWS", "OFFSET"), "n_rows": field(job, "ROWS", "COUNT"),
            "col_off": field(job, "COLS", "OFFSET"), "n_cols": field(job, "COLS", "COUNT"),
            "lo": field(job, "ADC", "LO"), "hi": field(job, "ADC", "HI"),
            "inner": field(job, "STEPS", "INNER"), "outer": field(job, "STEPS", "OUTER"),
        }
        m.d.comb += [getattr(chk, k).eq(v) for k, v in regs.items()]
        m.d.comb += [chk.op.eq(op), chk.array.eq(field(job, "ARRAY", "INDEX"))]
        for p, cfg_in, chk_in in (("SRC", st.src_cfg, chk.src), ("DST", st.dst_cfg, chk.dst)):
            vals = {
                "base": getattr(job, f"{p.lower()}_addr"),
                "length": field(job, f"{p}_LEN", "LEN"),
                "c1": field(job, f"{p}_COUNT", "C1"), "c2": field(job, f"{p}_COUNT", "C2"),
                "stride1": getattr(job, f"{p.lower()}_stride1"),
                "stride2": getattr(job, f"{p.lower()}_stride2"),
                "step0": getattr(job, f"{p.lower()}_step0"),
                "step1": getattr(job, f"{p.lower()}_step1"),
                "inner": regs["inner"], "outer": regs["outer"],
            }
            for k, v in vals.items():
                m.d.comb += [getattr(cfg_in, k).eq(v), getattr(chk_in, k).eq(v)]

        # -- macro settings, latched for the whole job --------------------------------------------
        settings = {"row_off": regs["row_off"], "n_rows": regs["n_rows"],
                    "col_off": regs["col_off"], "n_cols": regs["n_cols"],
                    "gain": job.gain, "shift": field(job, "ADC", "SHIFT"),
                    "lo": regs["lo"], "hi": regs["hi"]}
        latch = Signal()
        for k, v in settings.items():
            with m.If(latch):
                m.d.sync += getattr(mac, k).eq(v)
        m.d.comb += mac.x.eq(st.in_vec[:8 * ima.rows])

        steps = Signal(32)
        issued = Signal(32)         # MVMs started / rows programmed
        sunk = Signal(32)           # output vectors written
        mvm_busy = Signal()
        prog_mode = Signal()
        done = Signal()
        done_err = Signal(ERROR_BITS)
        m.d.sync += [job.done.eq(done), job.error.eq(done_err)]

        # -- the macro's outputs, sampled at the boundary (macro.py: latencies count to here) ---
        # No combinational path from the macro into the cluster: timing closure across a hard
        # macro's edge, and in simulation the model's writes wake no logic but these flops.
        mdone = Signal(name="macro_done_q")
        my = Signal(len(mac.y), name="macro_y_q")
        mready_q = Signal(name="macro_prog_ready_q")
        mrvalid = Signal(name="macro_prog_rvalid_q")
        mrdata = Signal(len(mac.prog_rdata), name="macro_prog_rdata_q")
        accepted_q = Signal(name="macro_prog_accepted_q")
        m.d.sync += [mdone.eq(mac.done), my.eq(mac.y), mready_q.eq(mac.prog_ready),
                     mrvalid.eq(mac.prog_rvalid), mrdata.eq(mac.prog_rdata)]
        # The macro drops prog_ready at the handshake edge; its register shows that one
        # cycle later, so the cycle after an accepted operation is not ready either.
        mready = Signal(name="macro_prog_ready")
        m.d.comb += mready.eq(mready_q & ~accepted_q)

        # -- programming port: the register unit when idle, the PROGRAM job otherwise -----------
        n_groups = Signal(16)
        g = Signal(16)
        m.d.comb += st.in_word_sel.eq(g)
        pv_active = Signal()        # a weight row is being written
        pv_hold = Signal()          # prog_valid shown and not yet accepted
        eng_valid = Signal()
        accept = mac.prog_valid & mready
        m.d.comb += self.pcm_write.eq(accept & mac.prog_we)
        m.d.sync += [pv_hold.eq(mac.prog_valid & ~mready), accepted_q.eq(accept)]
        m.d.comb += [pr.op_ready.eq(mready), pr.op_rvalid.eq(mrvalid), pr.op_rdata.eq(mrdata)]
        with m.If(pr.grant):
            m.d.comb += [mac.prog_valid.eq(pr.op_valid), mac.prog_we.eq(pr.op.we),
                         mac.prog_row.eq(pr.op.row), mac.prog_group.eq(pr.op.group),
                         mac.prog_wdata.eq(pr.op.data)]
        with m.Else():
            m.d.comb += [mac.prog_valid.eq(eng_valid), mac.prog_we.eq(1),
                         mac.prog_row.eq(mac.row_off + issued),
                         mac.prog_group.eq((mac.col_off >> 3) + g),
                         mac.prog_wdata.eq(st.in_word)]

        go = Signal(name="mvm_go")          # an MVM starts this cycle
        ending = Signal(name="mvm_ending")  # the MVM in flight is seen done this cycle
        m.d.comb += ending.eq(mdone & mvm_busy)
        m.d.sync += sunk.eq(sunk + st.out_done)     # (the job start below resets it)
        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += [pr.grant.eq(1), job.idle.eq(~pr.busy)]
                with m.If(job.start):
                    m.d.comb += chk.start.eq(1)
                    m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(job.clear):
                    m.next = "FLUSH"
                with m.Elif(chk.done & (chk.error != E["OK"])):
                    m.d.comb += [done.eq(1), done_err.eq(chk.error)]
                    m.next = "IDLE"
                with m.Elif(chk.done):
                    m.d.comb += [latch.eq(1), st.start.eq(1), st.use_sink.eq(is_mvm)]
                    m.d.sync += [steps.eq(chk.steps), issued.eq(0), sunk.eq(0),
                                 n_groups.eq(regs["n_cols"] >> 3), g.eq(0), pv_active.eq(0),
                                 prog_mode.eq(~is_mvm)]
                    m.next = "RUN"
            with m.State("RUN"):
                with m.If(job.clear):
                    m.next = "FLUSH"
                with m.Elif(~prog_mode):
                    # MVM: start when an input is ready and its output has a slot; in the
                    # cycle the MVM in flight is seen done, on the next slots (back to
                    # back: an MVM every L cycles, not L + 1)
                    m.d.comb += go.eq(((st.in_ready & st.out_free & ~mvm_busy)
                                       | (ending & st.in_next_ready & st.out_next_free))
                                      & (issued != steps) & mready)
                    m.d.comb += mac.start.eq(go)
                    with m.If(go):
                        m.d.sync += issued.eq(issued + 1)
                    with m.If(sunk == steps):
                        m.d.comb += [done.eq(1), done_err.eq(Mux(st.bus_err, E["BUS"], E["OK"]))]
                        m.next = "IDLE"
                with m.Else():
                    with m.If(~pv_active & st.in_ready & (issued != steps)):
                        m.d.sync += [pv_active.eq(1), g.eq(0)]
                    m.d.comb += eng_valid.eq(pv_active)
                    with m.If(accept):
                        with m.If(g + 1 == n_groups):
                            m.d.comb += st.in_release.eq(1)
                            m.d.sync += [pv_active.eq(0), issued.eq(issued + 1)]
                        with m.Else():
                            m.d.sync += g.eq(g + 1)
                    with m.If((issued == steps) & ~pv_active):
                        m.next = "SETTLE"
            with m.State("SETTLE"):     # after the last write: until the macro is idle
                with m.If(job.clear):
                    m.next = "FLUSH"
                with m.Elif(mready & ~accept):
                    m.d.comb += [done.eq(1), done_err.eq(Mux(st.bus_err, E["BUS"], E["OK"]))]
                    m.next = "IDLE"
            with m.State("FLUSH"):
                m.d.comb += [st.stop.eq(1), eng_valid.eq(pv_hold)]
                with m.If(st.idle & ~mvm_busy & ~pv_hold & ~eng_valid & mready):
                    m.next = "IDLE"

        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        # Array selection: latched with the job's macro settings; while idle the
        # programming registers' array (they act only then).
        job_array = Signal.like(self.array, name="job_array")
        with m.If(latch):
            m.d.sync += job_array.eq(field(job, "ARRAY", "INDEX"))
        m.d.comb += self.array.eq(Mux(fsm.ongoing("IDLE"), pr.array, job_array))

        # Quiet: idle, or waiting for the macro (an MVM, a PCM write) with the streams
        # at rest, and the macro's outputs equal to their boundary registers.
        waiting = Signal(name="waiting_for_macro")
        m.d.comb += waiting.eq(
            (fsm.ongoing("RUN") & ~prog_mode & mvm_busy & ~mdone & (sunk != steps))
            | (fsm.ongoing("RUN") & prog_mode & pv_active & ~mready)
            | (fsm.ongoing("SETTLE") & ~mready))
        macro_still = Signal(name="macro_inputs_still")
        m.d.comb += macro_still.eq((mac.done == mdone) & (mac.y == my)
                                   & (mac.prog_ready == mready_q) & (mac.prog_rvalid == mrvalid)
                                   & (mac.prog_rdata == mrdata))
        m.d.comb += self.quiet.eq(
            ((fsm.ongoing("IDLE") & ~job.start) | (waiting & ~job.clear))
            & ~accepted_q & st.quiet & pr.quiet & macro_still)

        # ADC results: capture, free the DAC slot (also while flushing: then discarded);
        # while it is released, the macro's x shows the next slot (the MVM starting now).
        with m.If(ending):
            m.d.sync += mvm_busy.eq(0)
            with m.If(fsm.ongoing("RUN")):
                m.d.comb += [st.out_push.eq(1), st.in_release.eq(1), st.in_peek.eq(1)]
        with m.If(go):
            m.d.sync += mvm_busy.eq(1)
        m.d.comb += st.out_data.eq(my)
        return m
