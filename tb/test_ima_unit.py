"""amaranth.sim unit tests of the IMA block on its own (no Verilator): the data
ports see a TCDM model that grants at random and answers one cycle after
each grant, the macro port a behavioural crossbar with the configured
latencies, the control port single register accesses.  Small crossbars keep
the Python simulation fast; tb/test_ima.py runs the full-size cluster."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from imcc.gen.config import ClusterConfig
from imcc.rtl.ima import IMA_REGS, Ima
from imcc.rtl.ima.regs import ERR
from imcc.sim.crossbar import Crossbar
from imcc.sim.golden import ima_conv, ima_pointwise
from imcc.tb.bus.hwpe import HwpeDriver
from imcc.tb.bus.ima_driver import ALL_ONES, conv_job, pack_weights, pointwise_job, program_job

CODES = {n: v for n, v, _ in ERR}
BASE_CFG = ClusterConfig().replace(ima={"rows": 32, "cols": 32, "data_ports": 2,
                                        "mvm_ns": 20.0, "prog_ns": 10.0})


class ImaSim:
    def __init__(self, cfg: ClusterConfig, seed=0, p_grant=0.7):
        self.cfg = cfg
        self.dut = Ima(cfg)
        self.rng = random.Random(seed)
        self.p_grant = p_grant
        t = cfg.tcdm
        self.mem = np.zeros(t.size_bytes, np.uint8)
        self.xbar = Crossbar(cfg)
        self.ports = [getattr(self.dut, n) for n in self.dut.master_names + self.dut.sink_names]
        self.due = {}
        self.mvm_due = None           # (cycle, y)
        self.prog_busy_until = 0
        self.prog_prev = (False, False)  # (prog_ready, accepted) of the previous cycle
        self.read_due = None
        self.cycles = 0
        self.events = []              # (cycle, error flag)
        self.mvm_starts = []

    def _word(self, addr):
        o = addr - self.cfg.tcdm.base
        return int.from_bytes(self.mem[o:o + 4].tobytes(), "little")

    async def cycle(self, ctx, ctrl=None):
        """One clock; ``ctrl`` = (offset, we, wdata) drives the control port.
        Returns (rdata, r_err) of the control access of the previous cycle."""
        d, t = self.dut, self.cfg.tcdm
        # -- data ports: last cycle's answers, this cycle's grants
        for i, p in enumerate(self.ports):
            rdata, err = self.due.get(i, (0, 0))
            ctx.set(p.r_valid, int(i in self.due))
            ctx.set(p.rdata, rdata)
            ctx.set(p.r_err, err)
        due = {}
        for i, p in enumerate(self.ports):
            g = int(ctx.get(p.req) and self.rng.random() < self.p_grant)
            ctx.set(p.gnt, g)
            if g:
                addr, we, be = ctx.get(p.addr), ctx.get(p.we), ctx.get(p.be)
                assert addr % 4 == 0
                mapped = t.base <= addr < t.base + t.size_bytes
                rdata = self._word(addr) if mapped else 0
                if we and mapped:
                    wdata = ctx.get(p.wdata)
                    for b in range(4):
                        if be >> b & 1:
                            self.mem[addr - t.base + b] = wdata >> (8 * b) & 0xFF
                due[i] = (0 if we else rdata, int(not mapped))
        # -- macro
        mac = d.macro
        ctx.set(mac.done, 0)
        ctx.set(mac.prog_rvalid, 0)
        if self.mvm_due and self.mvm_due[0] == self.cycles:
            ctx.set(mac.y, self.mvm_due[1])
            ctx.set(mac.done, 1)
            self.mvm_due = None
        if ctx.get(mac.start):
            assert self.mvm_due is None, "MVM started while one is in flight"
            n_rows, n_cols = ctx.get(mac.n_rows), ctx.get(mac.n_cols)
            x = np.frombuffer(ctx.get(mac.x).to_bytes(self.xbar.rows, "little"), np.int8)[:n_rows]
            lo, hi = ctx.get(mac.lo), ctx.get(mac.hi)
            y = self.xbar.mvm(x, ctx.get(mac.row_off), n_rows, ctx.get(mac.col_off), n_cols,
                              ctx.get(mac.gain), ctx.get(mac.shift), lo - 256 * (lo > 127),
                              hi - 256 * (hi > 127))
            out = np.zeros(self.xbar.cols, np.int8)
            out[:n_cols] = y
            # done one cycle early: the IMA's input register adds it (rtl/ima/macro.py)
            self.mvm_due = (self.cycles + self.xbar.mvm_cycles - 1,
                            int.from_bytes(out.tobytes(), "little"))
            self.mvm_starts.append(self.cycles)
        ready = self.cycles >= self.prog_busy_until
        if self.read_due and self.read_due[0] == self.cycles:
            ctx.set(mac.prog_rvalid, 1)
            ctx.set(mac.prog_rdata, self.read_due[1])
            self.read_due = None
        ctx.set(mac.prog_ready, int(ready))
        # The IMA sees prog_ready through a register: an offer counts once ready
        # was high in the cycle before too, and not in the cycle after a handshake.
        accept = (ready and self.prog_prev[0] and not self.prog_prev[1]
                  and bool(ctx.get(mac.prog_valid)))
        self.prog_prev = (ready, accept)
        if accept:
            row, grp = ctx.get(mac.prog_row), ctx.get(mac.prog_group)
            if ctx.get(mac.prog_we):
                busy = self.xbar.program(row, grp, ctx.get(mac.prog_wdata))
            else:
                busy = self.xbar.mvm_cycles
            # ready (and read data) one cycle early, for the same input register
            self.prog_busy_until = self.cycles + busy
            if not ctx.get(mac.prog_we):
                self.read_due = (self.prog_busy_until, self.xbar.read_word(row, grp))
        # -- control port
        c = d.ctrl
        if ctrl is not None:
            off, we, wdata = ctrl
            ctx.set(c.req, 1)
            ctx.set(c.addr, off)
            ctx.set(c.we, we)
            ctx.set(c.be, 0xF)
            ctx.set(c.wdata, wdata)
        else:
            ctx.set(c.req, 0)
        if ctx.get(d.evt_done):
            self.events.append((self.cycles, bool(ctx.get(d.evt_error))))
        await ctx.tick()
        self.due = due
        self.cycles += 1
        return ctx.get(c.rdata), ctx.get(c.r_err)

    async def access(self, ctx, name, we=0, wdata=0):
        # the answer is registered at the edge that ends the request cycle
        rdata, err = await self.cycle(ctx, (IMA_REGS[name].offset, we, wdata & ALL_ONES))
        await self.cycle(ctx)
        return rdata, err

    async def write(self, ctx, name, value):
        _, err = await self.access(ctx, name, 1, value)
        assert not err, f"bus error writing {name}"

    async def read(self, ctx, name):
        rdata, err = await self.access(ctx, name)
        assert not err, f"bus error reading {name}"
        return rdata

    async def run_job(self, ctx, job, limit=200_000):
        """The job through the testbenches' one HWPE driver (tb/bus/hwpe.py), its
        register accesses and events carried by this cycle model."""
        return await HwpeDriver(_SimRegs(self, ctx), IMA_REGS, 0,
                                _SimEvents(self, ctx, limit)).run(job)

    def load(self, addr, data: bytes):
        o = addr - self.cfg.tcdm.base
        self.mem[o:o + len(data)] = np.frombuffer(data, np.uint8)

    def fetch(self, addr, n) -> bytes:
        o = addr - self.cfg.tcdm.base
        return self.mem[o:o + n].tobytes()


class _SimRegs:
    """Register accesses of :class:`HwpeDriver` on the IMA's control port
    (addresses are offsets: the driver's base is 0)."""

    def __init__(self, h: ImaSim, ctx):
        self.h, self.ctx = h, ctx

    async def access(self, addr, we, wdata, check):
        rdata, err = await self.h.cycle(self.ctx, (addr, we, wdata & ALL_ONES))
        await self.h.cycle(self.ctx)
        assert not (check and err), f"bus error at offset {addr:#x}"
        return err if we else rdata

    async def read(self, addr, *, check=True):
        return await self.access(addr, 0, 0, check)

    async def write(self, addr, value, *, check=True):
        return await self.access(addr, 1, value, check)


class _SimEvents:
    """End-of-job events of :class:`HwpeDriver`: the IMA's ``evt_done`` pulses
    the cycle model records."""

    def __init__(self, h: ImaSim, ctx, limit: int):
        self.h, self.ctx, self.limit = h, ctx, limit

    def mark(self) -> int:
        return len(self.h.events)

    async def wait(self, token=None) -> bool:
        n = self.mark() if token is None else token
        while len(self.h.events) <= n:
            await self.h.cycle(self.ctx)
            assert self.h.cycles < self.limit, "job did not end"
        return self.h.events[n][1]


def _simulate(h: ImaSim, body):
    sim = Simulator(h.dut)
    sim.add_clock(1e-6)

    async def tb(ctx):
        await body(ctx)

    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("mode,ports", [("pipelined", "shared"), ("sequential", "separate")])
def test_pointwise_unaligned(mode, ports):
    """Unaligned channel counts and addresses, random grants, both engine modes."""
    cfg = BASE_CFG.replace(ima={"mode": mode, "stream_ports": ports})
    h = ImaSim(cfg, seed=3)
    rng = np.random.default_rng(5)
    t = cfg.tcdm

    async def body(ctx):
        for k, (cin, cout, pixels) in enumerate([(5, 7, 6), (32, 32, 4), (1, 3, 5), (13, 29, 3)]):
            ro, co = int(rng.integers(0, 33 - cin)), int(rng.integers(0, 33 - cout))
            w = rng.integers(-7, 8, (cin, cout), dtype=np.int8)
            h.xbar.load(w, ro, co)
            x = rng.integers(-128, 128, (pixels, cin), dtype=np.int8)
            src, dst = t.base + 1000 * k + 3, t.base + 50_000 + 1000 * k + 1
            h.load(src, x.tobytes())
            job = pointwise_job(src, dst, cin, cout, pixels, row_off=ro, col_off=co,
                                gain=3, shift=4, lo=-100, hi=90)
            assert await h.run_job(ctx, job) == 0
            got = np.frombuffer(h.fetch(dst, pixels * cout), np.int8).reshape(pixels, cout)
            assert np.array_equal(got, ima_pointwise(x, w, 3, 4, -100, 90)), f"layer {k}"
            assert h.fetch(dst - 1, 1) == b"\0" and h.fetch(dst + pixels * cout, 1) == b"\0"
        assert h.events and not any(e for _, e in h.events)

    _simulate(h, body)


def test_conv_im2col_and_bad_jobs():
    """A 3x3 stride-2 convolution by virtual im2col, then each error code once."""
    cfg = BASE_CFG
    h = ImaSim(cfg, seed=1)
    rng = np.random.default_rng(2)
    t = cfg.tcdm
    size, cout = 7, 5

    async def body(ctx):
        x = rng.integers(-128, 128, (size, size, 3), dtype=np.int8)
        w = rng.integers(-7, 8, (3, 3, 3, cout), dtype=np.int8)
        xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
        h.xbar.load(w.reshape(27, cout), 2, 4)
        src, dst = t.base + 2, t.base + 4096 + 3
        h.load(src, xp.tobytes())
        job = conv_job(src, dst, size + 2, size + 2, 3, 3, 2, cout, row_off=2, col_off=4, gain=5,
                       shift=6)
        assert await h.run_job(ctx, job) == 0
        exp = ima_conv(x, w, 5, 6, stride=2, pad=1)
        got = np.frombuffer(h.fetch(dst, exp.size), np.int8).reshape(exp.shape)
        assert np.array_equal(got, exp)
        good = pointwise_job(src, dst, 8, 8, 2)
        bad = [(dict(op=3), "MODE"), (dict(outer=0), "ZERO"), (dict(row_off=25), "WINDOW"),
               (dict(lo=5, hi=4), "CLIP"), (dict(n_rows=9), "SHAPE")]
        from dataclasses import replace
        for kw, code in bad:
            assert await h.run_job(ctx, replace(good, **kw)) == CODES[code], code
        src_, dst_ = good.src, good.dst
        far = replace(good, src=replace(src_, addr=t.base + t.size_bytes - 4))
        # Zero counts of the columns and of each destination field.
        bad = [(dict(n_cols=0), "ZERO"), (dict(dst=replace(dst_, length=0)), "ZERO"),
               (dict(dst=replace(dst_, c1=0)), "ZERO"), (dict(dst=replace(dst_, c2=0)), "ZERO"),
               (dict(src=far.src), "ADDRESS"),
               # A step of 1 GiB: the fifth step's source is 4 GiB on, which a
               # 32-bit address would wrap back onto the first; both directions.
               (dict(outer=5, src=replace(src_, step1=0x4000_0000)), "ADDRESS"),
               (dict(outer=5, src=replace(src_, step1=-0x4000_0000)), "ADDRESS"),
               (dict(outer=5, dst=replace(dst_, step1=0x4000_0000)), "ADDRESS"),
               # The output over its own input: shifted by 4 bytes, and in place.
               (dict(dst=replace(dst_, addr=src + 4)), "OVERLAP"),
               (dict(dst=replace(dst_, addr=src)), "OVERLAP"),
               (dict(dst=replace(dst_, addr=src + 15)), "OVERLAP")]
        for kw, code in bad:
            assert await h.run_job(ctx, replace(good, **kw)) == CODES[code], (kw, code)
        # Adjacent (the output starts after the input's last byte) is no overlap.
        assert await h.run_job(ctx, replace(good, dst=replace(dst_, addr=src + 16))) == 0
        assert [e for _, e in h.events] == [False] + [True] * 16 + [False]
        assert await h.run_job(ctx, good) == 0

    _simulate(h, body)


def test_contexts_and_programming():
    """Two contexts (ACQUIRE all-ones when both are taken), bulk programming
    with read-back through the registers."""
    cfg = BASE_CFG
    h = ImaSim(cfg, seed=4)
    rng = np.random.default_rng(9)
    t = cfg.tcdm

    async def body(ctx):
        w = rng.integers(-7, 8, (4, 16), dtype=np.int8)
        words = pack_weights(w)
        src = t.base + 0x100
        h.load(src, np.array(words, "<u4").tobytes())
        assert await h.run_job(ctx, program_job(src, 10, 4, 8, 16)) == 0
        assert np.array_equal(h.xbar.w[10:14, 8:24], w)
        await h.write(ctx, "READ_ADDR", 12 | 2 << 16)
        while IMA_REGS["STATUS"].unpack(await h.read(ctx, "STATUS"))["PROG_BUSY"]:
            pass
        assert await h.read(ctx, "READ_DATA") == words[2 * 2 + 1]
        # contexts
        x = rng.integers(-128, 128, (20, 4), dtype=np.int8)
        h.load(t.base + 0x1000, x.tobytes())
        job = pointwise_job(t.base + 0x1000, t.base + 0x2000, 4, 16, 20, row_off=10, col_off=8)
        ids = []
        for _ in range(2):
            ids.append(await h.read(ctx, "ACQUIRE"))
            for name, value in job.registers():
                await h.write(ctx, name, value)
            await h.write(ctx, "TRIGGER", 0)
        assert ids == [1, 2]      # id 0 was the PROGRAM job
        assert await h.read(ctx, "ACQUIRE") == ALL_ONES
        while len(h.events) < 3:
            await h.cycle(ctx)
        assert await h.read(ctx, "FINISHED_JOBS") == 3
        got = np.frombuffer(h.fetch(t.base + 0x2000, 20 * 16), np.int8).reshape(20, 16)
        assert np.array_equal(got, ima_pointwise(x, w, 1, 0))

    _simulate(h, body)


def test_register_bus_rules():
    """Bus errors: unmapped offset, write to a read-only register, TRIGGER or a
    job-register write with no context free; ACQUIRE holds the lock."""
    h = ImaSim(BASE_CFG)

    async def body(ctx):
        _, err = await h.cycle(ctx, (0x1FC, 0, 0))            # nothing there
        assert err == 1
        _, err = await h.cycle(ctx, (IMA_REGS["STATUS"].offset, 1, 5))
        assert err == 1
        first = await h.read(ctx, "ACQUIRE")
        assert await h.read(ctx, "ACQUIRE") == ALL_ONES, "the acquired context is locked"
        await h.write(ctx, "MODE", 3)                          # a bad job in context 0 ...
        assert await h.read(ctx, "MODE") == 3
        await h.write(ctx, "TRIGGER", 0)
        await h.write(ctx, "STEPS", 0)                         # ... and a zero-step one in 1
        await h.write(ctx, "TRIGGER", 0)
        # both contexts may be taken now (the first job ends within a few cycles)
        while len(h.events) < 2:
            await h.cycle(ctx)
        assert [e for _, e in h.events] == [True, True]
        assert await h.read(ctx, "FINISHED_JOBS") == 2
        assert first == 0 and await h.read(ctx, "ACQUIRE") == 2

    _simulate(h, body)


def test_trigger_when_full():
    """With a long job running and one queued, TRIGGER and job-register writes
    answer bus errors; SOFT_CLEAR in the middle, then a correct job."""
    h = ImaSim(BASE_CFG, seed=7)
    rng = np.random.default_rng(3)
    t = BASE_CFG.tcdm

    async def body(ctx):
        w = rng.integers(-7, 8, (32, 32), dtype=np.int8)
        h.xbar.load(w, 0, 0)
        long_job = pointwise_job(t.base, t.base + 0x8000, 32, 32, 200)
        for _ in range(2):
            assert await h.read(ctx, "ACQUIRE") != ALL_ONES
            for name, value in long_job.registers():
                await h.write(ctx, name, value)
            await h.write(ctx, "TRIGGER", 0)
        assert await h.read(ctx, "ACQUIRE") == ALL_ONES
        assert (await h.access(ctx, "TRIGGER", 1, 0))[1] == 1
        assert (await h.access(ctx, "GAIN", 1, 7))[1] == 1
        for _ in range(300):
            await h.cycle(ctx)
        assert 0 < len(h.mvm_starts) < 200
        await h.write(ctx, "SOFT_CLEAR", 1)
        while IMA_REGS["STATUS"].unpack(await h.read(ctx, "STATUS"))["BUSY"]:
            pass
        assert h.events == [] and await h.read(ctx, "FINISHED_JOBS") == 0
        assert await h.read(ctx, "RUNNING_JOB") == ALL_ONES
        x = rng.integers(-128, 128, (5, 32), dtype=np.int8)
        h.load(t.base + 0x100, x.tobytes())
        job = pointwise_job(t.base + 0x100, t.base + 0x9001, 32, 32, 5, gain=2, shift=5)
        assert await h.run_job(ctx, job) == 0
        got = np.frombuffer(h.fetch(t.base + 0x9001, 5 * 32), np.int8).reshape(5, 32)
        assert np.array_equal(got, ima_pointwise(x, w, 2, 5))

    _simulate(h, body)


def test_register_programming():
    """PROG_ROWS / PROG_COLS / PROG_DATA, a bus error past the window and when
    the queue is full, read-back."""
    cfg = BASE_CFG.replace(ima={"prog_ns": 40.0})
    h = ImaSim(cfg)
    rng = np.random.default_rng(1)

    async def body(ctx):
        w = rng.integers(-7, 8, (2, 16), dtype=np.int8)
        words = pack_weights(w)
        await h.write(ctx, "PROG_ROWS", 30 | 2 << 16)
        await h.write(ctx, "PROG_COLS", 2 | 2 << 16)
        errs = []
        for word in words:
            while True:      # the queue takes two; a third write in a row is refused
                _, err = await h.access(ctx, "PROG_DATA", 1, word)
                if not err:
                    break
                errs.append(err)
        assert errs, "the queue never filled"
        assert (await h.access(ctx, "PROG_DATA", 1, 0))[1] == 1, "write past the window"
        while IMA_REGS["STATUS"].unpack(await h.read(ctx, "STATUS"))["PROG_BUSY"]:
            pass
        assert np.array_equal(h.xbar.w[30:32, 16:32], w)
        for i, word in enumerate(words):
            await h.write(ctx, "READ_ADDR", (30 + i // 2) | (2 + i % 2) << 16)
            while IMA_REGS["STATUS"].unpack(await h.read(ctx, "STATUS"))["PROG_BUSY"]:
                pass
            assert await h.read(ctx, "READ_DATA") == word
        assert (await h.access(ctx, "READ_ADDR", 1, 32))[1] == 1

    _simulate(h, body)


@pytest.mark.parametrize("seed", [11, 12])
def test_random_small_layers(seed):
    """Random windows, channel counts, addresses and grant rates."""
    rng = np.random.default_rng(seed)
    mode = ["pipelined", "sequential"][seed % 2]
    cfg = BASE_CFG.replace(ima={"mode": mode, "data_ports": int(rng.integers(1, 5))})
    h = ImaSim(cfg, seed=seed, p_grant=float(rng.uniform(0.2, 1.0)))
    t = cfg.tcdm

    async def body(ctx):
        for k in range(6):
            cin, cout = int(rng.integers(1, 33)), int(rng.integers(1, 33))
            ro, co = int(rng.integers(0, 33 - cin)), int(rng.integers(0, 33 - cout))
            pixels = int(rng.integers(1, 9))
            w = rng.integers(-7, 8, (cin, cout), dtype=np.int8)
            h.xbar.load(w, ro, co)
            x = rng.integers(-128, 128, (pixels, cin), dtype=np.int8)
            src = t.base + int(rng.integers(0, 4000))
            dst = t.base + 8192 + 600 * k + int(rng.integers(0, 4))
            h.load(src, x.tobytes())
            gain, shift = int(rng.integers(0, 300)), int(rng.integers(0, 12))
            job = pointwise_job(src, dst, cin, cout, pixels, row_off=ro, col_off=co, gain=gain,
                                shift=shift, lo=-90, hi=110)
            assert await h.run_job(ctx, job) == 0
            got = np.frombuffer(h.fetch(dst, pixels * cout), np.int8).reshape(pixels, cout)
            assert np.array_equal(got, ima_pointwise(x, w, gain, shift, -90, 110)), f"layer {k}"

    _simulate(h, body)


def _segments(s, i, o):
    """Byte addresses of step (i, o) of stream ``s`` (a Stream), in vector order."""
    base = s.addr + i * s.step0 + o * s.step1
    return [base + a * s.stride2 + b * s.stride1 + k
            for a in range(s.c2) for b in range(s.c1) for k in range(s.length)]


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_strided_streams(seed):
    """Both streams with every loop level in use and signed strides (reversed
    steps): the bytes each step reads and writes follow the register formula."""
    from imcc.tb.bus.ima_driver import ImaJob, Stream
    rng = np.random.default_rng(seed)
    cfg = BASE_CFG.replace(ima={"data_ports": int(rng.integers(1, 4))})
    h = ImaSim(cfg, seed=seed, p_grant=0.6)
    t = cfg.tcdm

    def stream(base, length, c1, c2, inner, outer):
        # segments spread out with gaps, steps after each other; the outer step
        # loop runs backwards through memory
        s1 = length + int(rng.integers(0, 5))
        s2 = c1 * s1 + int(rng.integers(0, 7))
        st0 = c2 * s2 + int(rng.integers(0, 3))
        st1 = -(inner * st0 + int(rng.integers(0, 9)))
        return Stream(base - (outer - 1) * st1, length, c1, c2, s1, s2, st0, st1)

    async def body(ctx):
        for k in range(3):
            lin, c1i, c2i = int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
            lout, c1o, c2o = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
            n_rows, n_cols = lin * c1i * c2i, lout * c1o * c2o
            inner, outer = int(rng.integers(1, 4)), int(rng.integers(1, 3))
            src = stream(t.base + 0x1000 * (2 * k + 1) + int(rng.integers(0, 4)), lin, c1i, c2i,
                         inner, outer)
            dst = stream(t.base + 0x1000 * (2 * k + 2) + int(rng.integers(0, 4)), lout, c1o, c2o,
                         inner, outer)
            h.mem[:] = rng.integers(0, 256, h.mem.size, dtype=np.uint8)
            before = h.mem.copy()
            w = rng.integers(-7, 8, (n_rows, n_cols), dtype=np.int8)
            h.xbar.load(w, 1, 2)
            job = ImaJob(row_off=1, n_rows=n_rows, col_off=2, n_cols=n_cols, gain=5, shift=3,
                         inner=inner, outer=outer, src=src, dst=dst)
            assert await h.run_job(ctx, job) == 0, f"job {k}"
            expect = before.copy()
            for o in range(outer):
                for i in range(inner):
                    a_in = np.array(_segments(src, i, o)) - t.base
                    a_out = np.array(_segments(dst, i, o)) - t.base
                    x = before[a_in].view(np.int8)
                    expect[a_out] = ima_pointwise(x[None], w, 5, 3)[0].view(np.uint8)
            bad = np.flatnonzero(h.mem != expect)
            assert not bad.size, f"job {k}: {bad.size} bytes differ, first at {t.base + bad[0]:#x}"

    _simulate(h, body)
