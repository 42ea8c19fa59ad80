"""amaranth.sim unit tests of the HWPE controller's job waits (WAIT0/WAIT1,
``ima.job_waits`` / ``dw.job_waits``): a queued job starts only once the job
counts it names are reached, compared modulo 2^16; a wait naming no job
source ends the job with ERR_WAIT without starting it; unbuilt WAIT
registers are unmapped.  The accelerator side is a stub that answers
``done`` a few cycles after each start."""

from __future__ import annotations

from amaranth.sim import Simulator

from imcc.rtl.dw.regs import DW_REGS
from imcc.rtl.hwpe.controller import HwpeController
from imcc.rtl.hwpe.regs import ERR_WAIT, WAIT_OFFSET

WAIT = DW_REGS["WAIT0"]
TRIGGER, FINISHED, FAILED = (DW_REGS[n].offset for n in ("TRIGGER", "FINISHED_JOBS", "FAILED"))


def wait_word(source: int, count: int, on: int = 1) -> int:
    return WAIT.pack(SOURCE=source, COUNT=count & 0xFFFF, ON=on)


async def queue(bus, idle, *words):
    """Queue a job with these WAIT words (WAIT0, WAIT1, ...), then let 10 cycles pass."""
    for k, w in enumerate(words):
        await bus(WAIT_OFFSET + 4 * k, 1, w)
    await bus(TRIGGER, 1, 0)
    await idle(10)


def starts(log) -> int:
    return [e for _, e in log].count("start")


def run(waits: int, sources: int, script, job_cycles: int = 3):
    """Simulate ``script(bus, counts, log)``: ``bus(offset, we, wdata)`` makes one
    register access and returns (rdata, r_err); ``counts[i] = v`` sets job
    source i's count; ``log`` collects (cycle, event) with the accelerator's
    starts and the controller's done/error events."""
    dut = HwpeController(DW_REGS, 2, 12, waits=waits, sources=sources)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    log, state = [], {"cycle": 0, "counts": [0] * sources}

    async def accel(ctx):
        ctx.set(dut.job.idle, 1)
        busy = None
        async for _ in ctx.tick():
            state["cycle"] += 1
            c = state["cycle"]
            ctx.set(dut.job.done, 0)
            if ctx.get(dut.job.start):
                log.append((c, "start"))
                busy = job_cycles
                ctx.set(dut.job.idle, 0)
            elif busy is not None:
                busy -= 1
                if busy == 0:
                    ctx.set(dut.job.done, 1)
                    ctx.set(dut.job.error, 0)
                    ctx.set(dut.job.idle, 1)
                    busy = None
            if ctx.get(dut.evt_done):
                log.append((c, "done"))
            if ctx.get(dut.evt_error):
                log.append((c, "error"))
            if waits:
                for i, v in enumerate(state["counts"]):
                    ctx.set(dut.job_counts[i], v & 0xFFFF)

    async def bench(ctx):
        async def bus(offset, we=0, wdata=0):
            ctx.set(dut.ctrl.req, 1)
            ctx.set(dut.ctrl.addr, offset)
            ctx.set(dut.ctrl.we, we)
            ctx.set(dut.ctrl.be, 0xF)
            ctx.set(dut.ctrl.wdata, wdata)
            await ctx.tick()            # the answer is registered at this edge
            out = ctx.get(dut.ctrl.rdata), ctx.get(dut.ctrl.r_err)
            ctx.set(dut.ctrl.req, 0)
            await ctx.tick()
            return out

        async def idle(n):
            await ctx.tick().repeat(n)

        await script(bus, idle, state["counts"], log)

    sim.add_testbench(accel, background=True)
    sim.add_testbench(bench)
    sim.run()
    return log


def test_a_queued_job_starts_when_its_waits_are_met():
    async def script(bus, idle, counts, log):
        counts[1] = 5
        # job 1 waits for source 1 to reach 7, job 2 for source 0 to reach 1 and source 1 for 7
        assert (await bus(WAIT_OFFSET, 1, wait_word(1, 7)))[1] == 0
        await bus(TRIGGER, 1, 0)
        await bus(WAIT_OFFSET, 1, wait_word(0, 1))
        await bus(WAIT_OFFSET + 4, 1, wait_word(1, 7))
        await bus(TRIGGER, 1, 0)
        await idle(20)
        assert not any(e == "start" for _, e in log), "a job started before its wait was met"
        counts[1] = 6
        await idle(10)
        assert not any(e == "start" for _, e in log)
        counts[1] = 7
        await idle(10)
        starts = [c for c, e in log if e == "start"]
        assert len(starts) == 1, log
        counts[0] = 1          # the second job's last wait
        await idle(10)
        assert [e for _, e in log].count("start") == 2
        assert (await bus(FINISHED))[0] == 2
        assert "error" not in [e for _, e in log]
    run(2, 3, script)


def test_wait_counts_compare_modulo_2_16_and_off_waits_are_ignored():
    async def script(bus, idle, counts, log):
        counts[0] = 0xFFFE
        # 0x0001 is 3 ahead of 0xFFFE: not met until the count wraps past it
        await bus(WAIT_OFFSET, 1, wait_word(0, 0x0001))
        await bus(WAIT_OFFSET + 4, 1, wait_word(2, 0x1234, on=0))   # ignored
        await bus(TRIGGER, 1, 0)
        await idle(10)
        assert not log
        counts[0] = 0x10001     # wrapped: low 16 bits 0x0001
        await idle(10)
        assert [e for _, e in log][:1] == ["start"]
        # a count already passed (behind by less than 2^15) is met at once
        counts[0] = 0x0100
        await queue(bus, idle, wait_word(0, 0x00F0))
        assert starts(log) == 2
    run(2, 3, script)


def test_a_wait_naming_no_source_ends_the_job_with_err_wait():
    async def script(bus, idle, counts, log):
        await queue(bus, idle, wait_word(3, 0))            # 3 sources: 0..2
        assert starts(log) == 0, "the accelerator saw a bad job"
        assert "error" in [e for _, e in log]
        failed = (await bus(FAILED))[0]
        assert DW_REGS["FAILED"].unpack(failed) == {"ERROR": ERR_WAIT[1], "JOB": 1}
        assert (await bus(FINISHED))[0] == 1
        # the next job runs normally
        await queue(bus, idle, wait_word(0, 0))
        assert starts(log) == 1
    run(2, 3, script)


def test_unbuilt_wait_registers_are_unmapped():
    async def script(bus, idle, counts, log):
        assert (await bus(WAIT_OFFSET, 1, wait_word(0, 1)))[1] == 0
        assert (await bus(WAIT_OFFSET + 4, 1, wait_word(0, 1)))[1] == 1
    run(1, 2, script)

    async def none(bus, idle, counts, log):
        assert (await bus(WAIT_OFFSET, 1, wait_word(0, 1)))[1] == 1
        await queue(bus, idle)
        assert starts(log) == 1
    run(0, 0, none)
