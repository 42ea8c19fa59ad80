"""HWPE controller: the register file and job queue of an accelerator, built
from its :class:`~imcc.rtl.hwpe.regs.RegisterMap`.

Job offload (system contract, "Accelerator control"): software reads ACQUIRE
to lock the next job context (it gets the job id, or all-ones when every
context is queued or running), writes the job registers, then writes
TRIGGER.  Contexts form a ring: jobs run in trigger order, one at a time,
while the next ones are configured.  Every job end (with or without error)
pulses ``evt_done``; a job with a non-zero error code also pulses
``evt_error``, and STATUS.ERROR keeps the code until the next job ends.

Job waits (``waits`` > 0, registers WAIT0.. of kind ``wait``): the job at
the head of the queue starts only once every WAIT with ON set is met by the
``job_counts`` input (one 16-bit count per job source of the cluster: the
HWPEs' FINISHED_JOBS, the DMA's DONE_ID), so software may queue a job before
the jobs it depends on have ended.  A WAIT naming a source beyond
``sources`` ends the job at once with error ERR_WAIT, without starting it
(the accelerator never sees it).  A wait that is never met keeps the job
queued; SOFT_CLEAR drops it.  ``count`` gives the low 16 bits of
FINISHED_JOBS to the other controllers.

The accelerator sees the running context through ``job`` (:class:`JobSignature`):
``start`` (one cycle; the job registers of ``job`` stay stable until it
answers ``done`` with an ``error`` code), ``clear`` (SOFT_CLEAR: drop the job,
drain, then raise ``idle`` again) and ``idle`` (no job is started unless it is
high).  ``start`` and ``clear`` are registered (one cycle after the decision
and after the SOFT_CLEAR write), so no combinational path runs from the bus
into the accelerator.  Registers of kind ``io`` are forwarded through ``io``
(:class:`IoSignature`) with a write and a read strobe each.

Bus side: ``ctrl`` takes every request in the cycle it comes (the
interconnect arbitrated already) and answers ``rdata``/``r_err`` one cycle
later.  A bus error answers an unmapped offset, a write to a read-only
register, a job-register write or TRIGGER with no context free, and an io
access the accelerator refuses.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..interconnect.protocol import TargetSignature
from .regs import ERR_WAIT, STATUS_BUSY, STATUS_ERROR, RegisterMap

__all__ = ["HwpeController", "JobSignature", "IoSignature", "ERROR_BITS", "JOB_ID_BITS",
           "job_counts_member"]

ERROR_BITS = STATUS_ERROR.width
JOB_ID_BITS = 8
ALL_ONES = 0xFFFF_FFFF

FREE, ACQUIRED, QUEUED, RUNNING = range(4)


def _member(reg) -> str:
    return reg.name.lower()


class JobSignature(wiring.Signature):
    """The running job, from the controller's side (``Out`` flows to the
    accelerator): ``start``, ``clear``, one member per job register (lower-case
    name); back: ``idle``, ``done`` and ``error``."""

    def __init__(self, regmap: RegisterMap):
        members = {"start": Out(1), "clear": Out(1), "idle": In(1), "done": In(1),
                   "error": In(ERROR_BITS)}
        for r in regmap.of_kind("job"):
            members[_member(r)] = Out(r.width)
        super().__init__(members)


class IoSignature(wiring.Signature):
    """Accesses to ``io`` registers and the accelerator's own STATUS fields,
    from the controller's side.  Per io register ``<name>_w`` / ``<name>_r``
    strobes (the request cycle) and ``<name>_rdata``; ``wdata``/``be`` of the
    access; ``err`` (combinational, in the request cycle) refuses it."""

    def __init__(self, regmap: RegisterMap):
        members = {"wdata": Out(32), "be": Out(4), "err": In(1)}
        for r in regmap.of_kind("io"):
            n = _member(r)
            members[f"{n}_w"] = Out(1)
            members[f"{n}_r"] = Out(1)
            members[f"{n}_rdata"] = In(r.width)
        for f in regmap["STATUS"].fields:
            if f.name not in (STATUS_BUSY.name, STATUS_ERROR.name):
                members[f"status_{f.name.lower()}"] = In(f.width)
        super().__init__(members)


def job_counts_member(waits: int, sources: int) -> dict:
    """The ``job_counts`` input (every job source's 16-bit count) of a controller
    with job waits, and of the block around it; none without waits."""
    return {"job_counts": In(16).array(max(1, sources))} if waits else {}


class HwpeController(wiring.Component):
    def __init__(self, regmap: RegisterMap, contexts: int, window_bits: int, *,
                 waits: int = 0, sources: int = 0):
        if contexts < 2:
            raise ValueError("an HWPE controller needs at least two job contexts")
        if waits > len(regmap.of_kind("wait")):
            raise ValueError(f"{regmap.name}: {waits} job waits, the register map has "
                             f"{len(regmap.of_kind('wait'))}")
        self.waits, self.sources = waits, sources
        if regmap.span > 1 << window_bits:
            raise ValueError(f"register map of {regmap.name} ({regmap.span} bytes) exceeds the "
                             f"{1 << window_bits}-byte window")
        self.regmap = regmap
        self.contexts = contexts
        super().__init__({
            "ctrl": In(TargetSignature(window_bits)),
            "job": Out(JobSignature(regmap)),
            "io": Out(IoSignature(regmap)),
            "evt_done": Out(1),
            "evt_error": Out(1),
            "quiet": Out(1),        # no job starts, ends or is cleared at the next edge
            "busy": Out(1),         # STATUS.BUSY (the activity counters' busy cycles)
            "count": Out(16),       # FINISHED_JOBS, low bits: a job source for the waits
            **job_counts_member(waits, sources),
        })

    def elaborate(self, platform):
        m = Module()
        rm, n, c, job, io = self.regmap, self.contexts, self.ctrl, self.job, self.io
        pbits = max(1, ceil_log2(n))

        state = [Signal(2, name=f"ctx{k}_state") for k in range(n)]
        ids = [Signal(JOB_ID_BITS, name=f"ctx{k}_id") for k in range(n)]
        # the wait registers this controller builds (WAITk for k < waits; the rest unmapped)
        wait_regs = rm.of_kind("wait")[:self.waits]
        regs = [r for r in rm.registers if r.kind != "wait" or r in wait_regs]
        jregs = {r.name: [Signal(r.width, init=r.reset, name=f"ctx{k}_{_member(r)}")
                          for k in range(n)] for r in rm.of_kind("job") + wait_regs}
        wr = Signal(pbits)          # context being configured (ring order)
        rd = Signal(pbits)          # next / running context
        next_id = Signal(JOB_ID_BITS)
        running = Signal()
        running_id = Signal(JOB_ID_BITS)
        finished = Signal(32)
        last_err = Signal(ERROR_BITS)
        failed = Signal(32)         # FAILED: code and number of the last job with an error

        def inc(p):
            return Mux(p == n - 1, 0, p + 1)

        def at(sigs, idx):
            return Array(sigs + [sigs[-1]] * ((1 << pbits) - n))[idx]

        wr_state = Signal(2)
        m.d.comb += wr_state.eq(at(state, wr))
        wr_free = wr_state == FREE
        wr_cfg = wr_free | (wr_state == ACQUIRED)

        # -- the running context, as the accelerator sees it ----------------------------
        for r in rm.of_kind("job"):
            m.d.comb += getattr(job, _member(r)).eq(at(jregs[r.name], rd))
        busy = Signal()
        m.d.comb += busy.eq(Cat((s == QUEUED) | (s == RUNNING) for s in state).any() | ~job.idle)
        m.d.comb += self.busy.eq(busy)

        # -- bus decode -------------------------------------------------------------------
        word = c.addr[2:]
        rd_req = c.req & ~c.we
        wr_req = c.req & c.we
        rdata = Signal(32)
        err = Signal()
        hits = {}
        for r in regs:
            h = Signal(name=f"hit_{_member(r)}")
            m.d.comb += h.eq(c.req & (word == r.offset // 4))
            hits[r.name] = h
        mapped = Cat(hits.values()).any()
        m.d.comb += [io.wdata.eq(c.wdata), io.be.eq(c.be)]
        with m.If(c.req & ~mapped):
            m.d.comb += err.eq(1)
        bytemask = Cat(Mux(c.be[i], Const(0xFF, 8), Const(0, 8)) for i in range(4))

        for r in regs:
            h = hits[r.name]
            if r.access == "ro":
                with m.If(h & c.we):
                    m.d.comb += err.eq(1)
            if r.kind in ("job", "wait"):
                with m.If(h & rd_req):
                    m.d.comb += rdata.eq(at(jregs[r.name], wr))
                with m.If(h & wr_req):
                    with m.If(wr_cfg):
                        for k in range(n):
                            with m.If(wr == k):
                                reg = jregs[r.name][k]
                                m.d.sync += reg.eq((reg & ~bytemask) | (c.wdata & bytemask))
                    with m.Else():
                        m.d.comb += err.eq(1)
            elif r.kind == "io":
                nm = _member(r)
                if r.access != "ro":
                    m.d.comb += getattr(io, f"{nm}_w").eq(h & wr_req)
                m.d.comb += getattr(io, f"{nm}_r").eq(h & rd_req)
                if r.access != "wo":
                    with m.If(h & rd_req):
                        m.d.comb += rdata.eq(getattr(io, f"{nm}_rdata"))
                with m.If(h & io.err):
                    m.d.comb += err.eq(1)

        # -- control registers -------------------------------------------------------------
        status = rm["STATUS"]
        st_word = Signal(32)
        for f in status.fields:
            if f.name == STATUS_BUSY.name:
                v = busy
            elif f.name == STATUS_ERROR.name:
                v = last_err
            else:
                v = getattr(io, f"status_{f.name.lower()}")
            m.d.comb += st_word[f.lsb:f.lsb + f.width].eq(v)
        with m.If(hits["STATUS"] & rd_req):
            m.d.comb += rdata.eq(st_word)
        with m.If(hits["FAILED"] & rd_req):
            m.d.comb += rdata.eq(failed)
        with m.If(hits["FINISHED_JOBS"] & rd_req):
            m.d.comb += rdata.eq(finished)
        with m.If(hits["RUNNING_JOB"] & rd_req):
            m.d.comb += rdata.eq(Mux(running, running_id, ALL_ONES))

        # ACQUIRE: lock the context at wr (read side effect).
        with m.If(hits["ACQUIRE"] & rd_req):
            with m.If(wr_free):
                m.d.comb += rdata.eq(next_id)
                m.d.sync += next_id.eq(next_id + 1)
                for k in range(n):
                    with m.If(wr == k):
                        m.d.sync += [state[k].eq(ACQUIRED), ids[k].eq(next_id)]
            with m.Else():
                m.d.comb += rdata.eq(ALL_ONES)

        # TRIGGER: queue the context at wr (acquired, or still free: it gets an id now).
        with m.If(hits["TRIGGER"] & wr_req):
            with m.If(wr_cfg):
                m.d.sync += wr.eq(inc(wr))
                with m.If(wr_free):
                    m.d.sync += next_id.eq(next_id + 1)
                for k in range(n):
                    with m.If(wr == k):
                        m.d.sync += state[k].eq(QUEUED)
                        with m.If(wr_free):
                            m.d.sync += ids[k].eq(next_id)
            with m.Else():
                m.d.comb += err.eq(1)

        m.d.sync += [c.rdata.eq(rdata), c.r_err.eq(err)]

        # -- job sequencing ---------------------------------------------------------------
        rd_state = Signal(2)
        m.d.comb += rd_state.eq(at(state, rd))
        clear = Signal()
        m.d.comb += clear.eq(hits["SOFT_CLEAR"] & wr_req)
        # start and clear reach the accelerator one cycle later, registered: no
        # combinational path from the bus into the accelerator's control logic.
        m.d.sync += job.clear.eq(clear)
        # the head job's waits: met (every WAIT with ON set reached), bad (one names
        # no job source: the job ends with ERR_WAIT instead of starting)
        met, bad = Signal(init=1), Signal()
        if wait_regs:
            f = wait_regs[0]
            on, src, cnt = f.field("ON"), f.field("SOURCE"), f.field("COUNT")
            counts = Array(self.job_counts)
            met_k, bad_k = [], []
            for r in wait_regs:
                w = at(jregs[r.name], rd)
                w_on, w_src = w[on.lsb], w[src.lsb:src.lsb + src.width]
                valid = w_src < self.sources
                diff = Signal(16, name=f"{_member(r)}_diff")
                m.d.comb += diff.eq(counts[w_src] - w[cnt.lsb:cnt.lsb + cnt.width])
                met_k.append(~w_on | (valid & ~diff[15]))
                bad_k.append(w_on & ~valid)
            m.d.comb += [met.eq(Cat(met_k).all()), bad.eq(Cat(bad_k).any())]
        head = Signal()
        m.d.comb += head.eq((rd_state == QUEUED) & ~running & job.idle & ~clear)
        can_start, reject = Signal(), Signal()
        m.d.comb += [can_start.eq(head & met & ~bad), reject.eq(head & bad)]
        m.d.sync += job.start.eq(can_start)
        # (bus accesses are the interconnect's activity; evt_* pulses settle)
        m.d.comb += self.quiet.eq(~can_start & ~reject & ~job.start & ~job.clear & ~job.done)
        m.d.comb += self.count.eq(finished[:16])
        m.d.sync += [self.evt_done.eq(0), self.evt_error.eq(0)]
        with m.If(can_start):
            m.d.sync += [running.eq(1), running_id.eq(at(ids, rd))]
            for k in range(n):
                with m.If(rd == k):
                    m.d.sync += state[k].eq(RUNNING)
        with m.If(job.done & running):
            m.d.sync += [running.eq(0), rd.eq(inc(rd)), finished.eq(finished + 1),
                         last_err.eq(job.error), self.evt_done.eq(1),
                         self.evt_error.eq(job.error != 0)]
            with m.If(job.error != 0):
                fr = rm["FAILED"]
                m.d.sync += [failed[fr.field("ERROR").lsb:][:ERROR_BITS].eq(job.error),
                             failed[fr.field("JOB").lsb:][:16].eq(finished + 1)]
            for k in range(n):
                with m.If(rd == k):
                    m.d.sync += state[k].eq(FREE)
        # a job whose wait names no source ends as if it had run, with ERR_WAIT
        with m.If(reject):
            fr = rm["FAILED"]
            m.d.sync += [rd.eq(inc(rd)), finished.eq(finished + 1), last_err.eq(ERR_WAIT[1]),
                         self.evt_done.eq(1), self.evt_error.eq(1),
                         failed[fr.field("ERROR").lsb:][:ERROR_BITS].eq(ERR_WAIT[1]),
                         failed[fr.field("JOB").lsb:][:16].eq(finished + 1)]
            for k in range(n):
                with m.If(rd == k):
                    m.d.sync += state[k].eq(FREE)

        # SOFT_CLEAR overrides everything above (last assignment wins).
        with m.If(clear):
            m.d.sync += [wr.eq(0), rd.eq(0), next_id.eq(0), running.eq(0), finished.eq(0),
                         last_err.eq(0), failed.eq(0), self.evt_done.eq(0), self.evt_error.eq(0)]
            m.d.sync += [s.eq(FREE) for s in state]
        return m
