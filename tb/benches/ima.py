"""The IMA inside the cluster, checked bit for bit against the golden IMA
arithmetic (imcc.sim.golden).

Two designs run these tests:

* tb/tops/cluster_tb.py (the generated cluster with protocol checkers, a build
  shared with other testbenches): registers over the SoC port (cocotbext-axi);
* tb/tops/ima_cluster.py: registers through the ``core0`` master port
  (tb/bus/tcdm_master.py), and hardware read traffic on the other core ports
  (``noise``) so the IMA's ports meet bank conflicts.

Data is loaded and checked through the TCDM backdoor; the behavioural
crossbar answers the macro port (tb/bus/crossbar_macro.py).  Tests that do
not test programming load weights with the crossbar's backdoor
(``Crossbar.load``).

Environment: IMCC_CONFIG (configuration JSON), IMCC_SEED, IMCC_LAYERS,
IMCC_CONV_SIZE (input height = width of the first convolution), IMCC_RESULT
(JSON output of the ``stream_rate`` measurement), IMCC_UTIL, IMCC_STEPS,
IMCC_CLOCK_MHZ (clock of the macro model only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge, Timer, with_timeout
from cocotbext.axi import AxiBus, AxiMaster

from imcc.gen.config import ClusterConfig
from imcc.rtl.ima.engine import slot_counts
from imcc.rtl.ima.regs import ERR
from imcc.sim.crossbar import Crossbar
from imcc.sim.golden import gain_shift, ima_conv, ima_pointwise
from imcc.tb.bus.crossbar_macro import CrossbarMacro
from imcc.tb.bus.hwpe_axi import AxiRegs
from imcc.tb.bus.ima_driver import (ALL_ONES, ImaDriver, ImaJob, conv_job,
                                    pack_weights, pointwise_job, program_job)
from imcc.tb.bus.clock import start_clock
from imcc.tb.bus.reset import release_reset
from imcc.tb.bus.tcdm_backdoor import TcdmBackdoor
from imcc.tb.bus.tcdm_master import TcdmMaster
from imcc.tb.monitors.tcdm import watch
from imcc.rtl.registry import compose
from imcc.tb.env import config, write_result

PERIOD_NS = 2
GUARD = 16          # bytes checked untouched around every output region



def _seed() -> int:
    return int(os.environ.get("IMCC_SEED", "1"))


@dataclass
class Env:
    dut: object
    cfg: ClusterConfig
    xbar: Crossbar
    macro: CrossbarMacro
    drv: ImaDriver
    mem: TcdmBackdoor
    rng: np.random.Generator
    noise: bool = False         # the design has the traffic generators
    next_free: int = 0

    def set_noise(self, on: bool):
        if self.noise:
            self.dut.noise_en.value = int(on)

    def alloc(self, nbytes: int, align_any: bool = True) -> int:
        """A fresh TCDM region at a random byte offset, with guard bands."""
        t = self.cfg.tcdm
        off = int(self.rng.integers(0, 4)) if align_any else 0
        addr = t.base + self.next_free + GUARD + off
        self.next_free += GUARD + off + nbytes + GUARD + 4
        self.next_free = (self.next_free + 3) & ~3
        if self.next_free > t.size_bytes:
            raise RuntimeError("test data exceeds the TCDM; call reset_alloc()")
        return addr

    def reset_alloc(self):
        self.next_free = 0

    def canary(self, addr: int, nbytes: int) -> bytes:
        """Fill [addr - GUARD, addr + nbytes + GUARD) with random bytes; returns them."""
        data = self.rng.integers(0, 256, nbytes + 2 * GUARD, dtype=np.uint8).tobytes()
        self.mem.write(addr - GUARD, data)
        return data

    def check_guards(self, addr: int, nbytes: int, before: bytes, what: str):
        now = self.mem.read(addr - GUARD, nbytes + 2 * GUARD)
        assert now[:GUARD] == before[:GUARD], f"{what}: bytes before the output were written"
        assert now[-GUARD:] == before[-GUARD:], f"{what}: bytes after the output were written"

    def timeout_ns(self, steps: int) -> float:
        """Generous bound on a job of ``steps`` MVMs (a hang fails the test)."""
        per_step = 4 * self.xbar.mvm_cycles + 2048
        return (steps * per_step + 20_000) * PERIOD_NS

    async def run(self, job: ImaJob) -> int:
        return await with_timeout(self.drv.run(job), self.timeout_ns(job.steps), "ns")


def _idle_inputs(dut, cfg: ClusterConfig):
    """Ports of the cluster that no block drives and no test uses: idle."""
    for name in compose(cfg).masters:
        if name != "core0" and hasattr(dut, f"{name}__req"):
            getattr(dut, f"{name}__req").value = 0
    for s in [*compose(cfg).periph_slaves, *(w.name for w in compose(cfg).memory_windows)]:
        for pre in ("periph_", "mem_"):
            if hasattr(dut, f"{pre}{s}__rdata"):
                getattr(dut, f"{pre}{s}__rdata").value = 0
                getattr(dut, f"{pre}{s}__r_err").value = 0


async def setup(dut, *, noise: bool = False) -> Env:
    cfg = config()
    start_clock(dut, PERIOD_NS)
    dut.rst.value = 1
    own_top = hasattr(dut, "core0__req")        # tb/tops/ima_cluster.py
    if own_top:
        dut.noise_en.value = 0
        master = TcdmMaster(dut, "core0", dut.clk)
        mem_root = dut.cluster
    else:                                       # tb/tops/cluster_tb.py
        _idle_inputs(dut, cfg)
        axi = AxiMaster(AxiBus.from_prefix(dut, "soc_axi_"), dut.clk, dut.rst)
        axi.write_if.log.setLevel("WARNING")
        axi.read_if.log.setLevel("WARNING")
        master = AxiRegs(axi)
        mem_root = dut
    # The RTL does not depend on the clock: IMCC_CLOCK_MHZ sets the frequency the
    # macro model converts its analog times with (benchmarks reuse one build).
    mhz = os.environ.get("IMCC_CLOCK_MHZ")
    xbar = Crossbar(cfg.replace(clock={"freq_mhz": float(mhz)}) if mhz else cfg)
    macro = CrossbarMacro(dut, "ima_macro", xbar, dut.clk, PERIOD_NS)
    await ClockCycles(dut.clk, 3)
    await release_reset(dut)
    watch(dut, os.environ["IMCC_MASTERS"].split(","))
    if own_top:
        dut.noise_en.value = int(noise)
    drv = ImaDriver(dut, master, cfg)
    rng = np.random.default_rng(_seed())
    return Env(dut, cfg, xbar, macro, drv, TcdmBackdoor(mem_root, cfg), rng, noise=own_top)


def _adc(rng, cin: int):
    """Gain and shift that spread the outputs over int8, and a clip range."""
    spread = max(1.0, np.sqrt(cin) * 74 * 4.3)
    gain, shift = gain_shift(float(rng.uniform(20, 120)) / (2 * spread), gain_bits=12)
    lo, hi = rng.choice([(-128, 127), (0, 127), (0, 6 * 16), (-100, 50)])
    return int(gain), int(shift), int(lo), int(hi)


def _weights(rng, rows, cols):
    return rng.integers(-7, 8, (rows, cols), dtype=np.int8)


async def pointwise_layer(env: Env, cin: int, cout: int, pixels: int, row_off: int, col_off: int,
                          *, what: str = "layer", job_fn=None):
    rng = env.rng
    x = rng.integers(-128, 128, (pixels, cin), dtype=np.int8)
    w = _weights(rng, cin, cout)
    env.xbar.load(w, row_off, col_off)
    gain, shift, lo, hi = _adc(rng, cin)
    src, dst = env.alloc(pixels * cin), env.alloc(pixels * cout)
    env.mem.write(src, x.tobytes())
    before = env.canary(dst, pixels * cout)
    job = pointwise_job(src, dst, cin, cout, pixels, row_off=row_off, col_off=col_off,
                        gain=gain, shift=shift, lo=lo, hi=hi)
    err = await env.run(job)
    assert err == 0, f"{what}: error code {err}"
    got = np.frombuffer(env.mem.read(dst, pixels * cout), np.int8).reshape(pixels, cout)
    exp = ima_pointwise(x, w, gain, shift, lo, hi)
    bad = np.argwhere(got != exp)
    assert not bad.size, (f"{what} ({cin}->{cout}, {pixels} px, window rows {row_off}+{cin} "
                          f"cols {col_off}+{cout}): {len(bad)} wrong outputs, first at "
                          f"{tuple(bad[0])}: {got[tuple(bad[0])]} != {exp[tuple(bad[0])]}")
    env.check_guards(dst, pixels * cout, before, what)


# ---------------------------------------------------------------------------------------------
@cocotb.test()
async def pointwise_layers(dut):
    """Random 1x1 layers (channels 1..rows/cols, random pixel counts) at random
    windows, each layer one job; half of them with bank-conflict noise."""
    env = await setup(dut)
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    rng = env.rng
    n = int(os.environ.get("IMCC_LAYERS", "6"))
    shapes = [(1, 1), (rows, cols), (3, min(cols, 200))]
    while len(shapes) < n:
        shapes.append((int(rng.integers(1, rows + 1)), int(rng.integers(1, cols + 1))))
    for i, (cin, cout) in enumerate(shapes[:n]):
        env.set_noise(i % 2 == 1)
        pixels = int(rng.integers(1, 40))
        ro = int(rng.integers(0, rows - cin + 1))
        co = int(rng.integers(0, cols - cout + 1))
        env.reset_alloc()
        await pointwise_layer(env, cin, cout, pixels, ro, co, what=f"layer {i}")
    dut._log.info("%d layers, %d MVMs", n, env.xbar.stats["mvms"])


@cocotb.test()
async def packed_layers(dut):
    """Two layers packed in one crossbar at different windows, the second
    reading the first's output; both triggered at once (two contexts)."""
    env = await setup(dut)
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    rng = env.rng
    c0, c1, c2 = min(rows // 2, 40), min(cols // 2, 48), min(cols // 2, 24)
    pixels = 30
    wa, wb = _weights(rng, c0, c1), _weights(rng, c1, c2)
    # A at rows [0, c0) x cols [0, c1); B at rows [rows - c1, rows) x cols [cols - c2, cols)
    env.xbar.load(wa, 0, 0)
    env.xbar.load(wb, rows - c1, cols - c2)
    x = rng.integers(-128, 128, (pixels, c0), dtype=np.int8)
    src, mid, dst = env.alloc(pixels * c0), env.alloc(pixels * c1), env.alloc(pixels * c2)
    env.mem.write(src, x.tobytes())
    before = env.canary(dst, pixels * c2)
    ga, sa, _, _ = _adc(rng, c0)
    gb, sb, _, _ = _adc(rng, c1)
    ja = pointwise_job(src, mid, c0, c1, pixels, gain=ga, shift=sa)
    jb = pointwise_job(mid, dst, c1, c2, pixels, row_off=rows - c1, col_off=cols - c2,
                       gain=gb, shift=sb, lo=0, hi=100)
    await env.drv.offload(ja)
    await env.drv.offload(jb)
    await with_timeout(env.drv.wait_events(2), env.timeout_ns(2 * pixels), "ns")
    assert env.drv.events == [False, False]
    mid_exp = ima_pointwise(x, wa, ga, sa)
    exp = ima_pointwise(mid_exp, wb, gb, sb, 0, 100)
    got = np.frombuffer(env.mem.read(dst, pixels * c2), np.int8).reshape(pixels, c2)
    assert np.array_equal(got, exp), f"{int(np.sum(got != exp))} wrong outputs of layer B"
    env.check_guards(dst, pixels * c2, before, "layer B")


@cocotb.test()
async def conv_first_layer(dut):
    """MobileNetV2's first layer, 3x3 stride 2 on a 3-channel input (padding 1
    kept in memory), by virtual im2col: one configuration per band of output
    rows (one band unless input and output do not fit the TCDM together)."""
    env = await setup(dut, noise=True)
    rng = env.rng
    size = int(os.environ.get("IMCC_CONV_SIZE", "24"))
    cout = min(32, env.cfg.ima.cols)
    x = rng.integers(-128, 128, (size, size, 3), dtype=np.int8)
    w = rng.integers(-7, 8, (3, 3, 3, cout), dtype=np.int8)
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    wp = size + 2
    row_off = int(rng.integers(0, env.cfg.ima.rows - 27 + 1))
    col_off = int(rng.integers(0, env.cfg.ima.cols - cout + 1))
    env.xbar.load(w.reshape(27, cout), row_off, col_off)
    gain, shift, lo, hi = _adc(rng, 27)
    exp = ima_conv(x, w, gain, shift, lo, hi, stride=2, pad=1)
    ho, wo = exp.shape[:2]
    budget = env.cfg.tcdm.size_bytes - 1024
    band = ho
    while (2 * band + 1) * wp * 3 + band * wo * cout > budget:
        band = (band + 1) // 2
    for r0 in range(0, ho, band):
        r1 = min(ho, r0 + band)
        rows_in = xp[2 * r0:2 * (r1 - 1) + 3]
        env.reset_alloc()
        src, dst = env.alloc(rows_in.size), env.alloc((r1 - r0) * wo * cout)
        env.mem.write(src, rows_in.tobytes())
        before = env.canary(dst, (r1 - r0) * wo * cout)
        job = conv_job(src, dst, rows_in.shape[0], wp, 3, 3, 2, cout, row_off=row_off,
                       col_off=col_off, gain=gain, shift=shift, lo=lo, hi=hi)
        assert (job.inner, job.outer) == (wo, r1 - r0)
        err = await env.run(job)
        assert err == 0, f"error code {err}"
        got = np.frombuffer(env.mem.read(dst, (r1 - r0) * wo * cout), np.int8)
        ref = exp[r0:r1]
        got = got.reshape(ref.shape)
        assert np.array_equal(got, ref), (f"output rows {r0}..{r1}: {int(np.sum(got != ref))} of "
                                          f"{ref.size} outputs wrong")
        env.check_guards(dst, (r1 - r0) * wo * cout, before, "conv")
    dut._log.info("%dx%dx3 -> %dx%dx%d in bands of %d rows: %d MVMs", size, size, ho, wo, cout,
                  band, env.xbar.stats["mvms"])


@cocotb.test()
async def job_contexts(dut):
    """Configure the next job while one runs; ACQUIRE answers all-ones and
    TRIGGER a bus error when every context is taken; ids, RUNNING_JOB and
    FINISHED_JOBS follow the jobs."""
    env = await setup(dut)
    d, rng = env.drv, env.rng
    n_ctx = env.cfg.ima.job_contexts
    cin, cout, pixels = min(64, env.cfg.ima.rows), min(64, env.cfg.ima.cols), 60
    jobs, checks = [], []
    for k in range(n_ctx + 1):
        x = rng.integers(-128, 128, (pixels, cin), dtype=np.int8)
        src, dst = env.alloc(pixels * cin), env.alloc(pixels * cout)
        env.mem.write(src, x.tobytes())
        gain, shift, lo, hi = _adc(rng, cin)
        jobs.append(pointwise_job(src, dst, cin, cout, pixels, gain=gain, shift=shift, lo=lo, hi=hi))
        checks.append((x, dst, gain, shift, lo, hi))
    w = _weights(rng, cin, cout)
    env.xbar.load(w, 0, 0)
    assert await d.read("RUNNING_JOB") == ALL_ONES
    ids = [await d.offload(jobs[0])]
    await ClockCycles(dut.clk, 30)
    assert await d.read("RUNNING_JOB") == ids[0], "the first job is not running"
    assert (await d.status())["BUSY"] == 1
    for k in range(1, n_ctx):      # configured while job 0 runs
        ids.append(await d.offload(jobs[k]))
    assert ids == list(range(n_ctx)), f"job ids {ids}"
    assert await d.acquire() == ALL_ONES, "ACQUIRE with every context taken"
    assert await d.write("TRIGGER", 0, check=False), "TRIGGER with no free context: no bus error"
    assert not d.events, "the first job ended too early for this test"
    await with_timeout(d.wait_events(1), env.timeout_ns(pixels), "ns")
    assert await d.read("FINISHED_JOBS") == 1
    assert await d.read("RUNNING_JOB") == ids[1]
    ids.append(await d.offload(jobs[n_ctx]))      # a context is free again
    assert ids[-1] == n_ctx
    await with_timeout(d.wait_events(n_ctx + 1), env.timeout_ns(n_ctx * pixels), "ns")
    assert d.events == [False] * (n_ctx + 1)
    assert await d.read("FINISHED_JOBS") == n_ctx + 1
    assert await d.read("RUNNING_JOB") == ALL_ONES
    assert (await d.status())["BUSY"] == 0
    for k, (x, dst, gain, shift, lo, hi) in enumerate(checks):
        got = np.frombuffer(env.mem.read(dst, pixels * cout), np.int8).reshape(pixels, cout)
        assert np.array_equal(got, ima_pointwise(x, w, gain, shift, lo, hi)), f"job {k} wrong"


@cocotb.test()
async def soft_clear(dut):
    """SOFT_CLEAR in the middle of a long job (and of a queued one): the IMA
    drains, drops both without an event, clears its counters, and the next
    job runs correctly."""
    env = await setup(dut, noise=True)
    d = env.drv
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    pixels = 400
    env.xbar.load(_weights(env.rng, rows, cols), 0, 0)
    src, dst = env.alloc(pixels * rows), env.alloc(pixels * cols)
    long_job = pointwise_job(src, dst, rows, cols, pixels)
    await d.offload(long_job)
    await d.offload(long_job)
    await Timer(int(env.rng.integers(20, 60)) * env.xbar.mvm_cycles * PERIOD_NS, "ns")
    assert (await d.status())["BUSY"] == 1
    mvms = env.xbar.stats["mvms"]
    assert 0 < mvms < pixels, f"{mvms} MVMs before the clear"
    await d.write("SOFT_CLEAR", 1)
    await with_timeout(d.wait_idle(), 10_000 * PERIOD_NS, "ns")
    assert not d.events, "a cleared job raised its event"
    assert await d.read("FINISHED_JOBS") == 0
    assert await d.read("RUNNING_JOB") == ALL_ONES
    assert (await d.status())["ERROR"] == 0
    assert env.xbar.stats["mvms"] < pixels, "the job ran to its end despite SOFT_CLEAR"
    await Timer(5 * env.xbar.mvm_cycles * PERIOD_NS, "ns")
    assert not env.macro.errors
    env.reset_alloc()
    await pointwise_layer(env, min(50, rows - 3), min(70, cols - 5), 25, 3, 5,
                          what="after SOFT_CLEAR")
    assert d.events == [False]
    assert await d.acquire() == 1, "job ids restart at 0 after SOFT_CLEAR"


def _bad_jobs(env: Env, good: ImaJob) -> list[tuple[str, ImaJob, str]]:
    cfg = env.cfg
    rows, cols = cfg.ima.rows, cfg.ima.cols
    t = cfg.tcdm
    g = good
    return [
        ("bad mode", replace(g, op=7), "MODE"),
        ("zero steps", replace(g, inner=0), "ZERO"),
        ("zero outer steps", replace(g, outer=0), "ZERO"),
        ("zero rows", replace(g, n_rows=0), "ZERO"),
        ("zero source length", replace(g, src=replace(g.src, length=0)), "ZERO"),
        ("rows outside", replace(g, row_off=rows - g.n_rows + 1), "WINDOW"),
        ("columns outside", replace(g, col_off=cols - 2, n_cols=3,
                                    dst=replace(g.dst, length=3)), "WINDOW"),
        ("huge offset", replace(g, row_off=0xFFFF), "WINDOW"),
        ("clip lo > hi", replace(g, lo=10, hi=-10), "CLIP"),
        ("source shape", replace(g, src=replace(g.src, length=g.n_rows - 1)), "SHAPE"),
        ("sink shape", replace(g, dst=replace(g.dst, c1=2)), "SHAPE"),
        ("source below the TCDM", replace(g, src=replace(g.src, addr=t.base - 1)), "ADDRESS"),
        ("source past the TCDM", replace(g, src=replace(g.src, addr=t.base + t.size_bytes - g.n_rows
                                                         + 1, step0=0, step1=0)), "ADDRESS"),
        ("sink steps leave the TCDM", replace(g, dst=replace(g.dst, step0=-(1 << 20))), "ADDRESS"),
        ("sink in a peripheral window", replace(g, dst=replace(g.dst, addr=cfg.interconnect.periph_base)),
         "ADDRESS"),
        ("program: columns not in groups", program_job(g.src.addr, 0, 2, 4, 8), "WINDOW"),
        ("program: stream shape", replace(program_job(g.src.addr, 0, 2, 8, 16), inner=3), "SHAPE"),
    ]


@cocotb.test()
async def bad_jobs(dut):
    """Each bad job ends at once with its error code in STATUS and both
    events, writes nothing, and the next job runs correctly."""
    env = await setup(dut)
    d = env.drv
    codes = {n: v for n, v, _ in ERR}
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    cin, cout, pixels = min(20, rows), min(24, cols), 6
    src, dst = env.alloc(pixels * cin), env.alloc(pixels * cout)
    good = pointwise_job(src, dst, cin, cout, pixels, row_off=2, col_off=1)
    bad = _bad_jobs(env, good)
    for i, (what, job, code) in enumerate(bad):
        before = env.canary(dst, pixels * cout)
        mvms = env.xbar.stats["mvms"]
        err = await env.run(job)
        assert err == codes[code], f"{what}: error code {err}, expected {codes[code]} ({code})"
        assert env.drv.events[-1] is True, f"{what}: no error event"
        assert env.xbar.stats["mvms"] == mvms, f"{what}: the bad job ran MVMs"
        assert env.mem.read(dst - GUARD, pixels * cout + 2 * GUARD) == before, f"{what}: wrote memory"
        status = await d.status()
        assert status["BUSY"] == 0, f"{what}: still busy"
        if i % 4 == 0:     # the next job runs correctly
            await pointwise_layer(env, cin, cout, 5, 0, 0, what=f"good job after '{what}'")
            assert env.drv.events[-1] is False
    await pointwise_layer(env, cin, cout, 5, 0, 0, what="good job after the bad ones")
    assert not env.macro.errors


@cocotb.test()
async def program_registers(dut):
    """Programming through PROG_ROWS / PROG_COLS / PROG_DATA, read-back through
    READ_ADDR / READ_DATA, bus errors past the window, then an MVM with the
    programmed weights."""
    env = await setup(dut)
    d, rng = env.drv, env.rng
    R = d.R
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    r0, nr, g0, ng = 5, 3, 1, 2
    w = _weights(rng, nr, 8 * ng)
    words = pack_weights(w)
    await d.write("PROG_ROWS", r0 | nr << 16)
    await d.write("PROG_COLS", g0 | ng << 16)
    assert await d.read("PROG_ROWS") == r0 | nr << 16
    for word in words:
        while (await d.status())["PROG_FULL"]:
            pass
        await d.write("PROG_DATA", word)
    assert await d.write("PROG_DATA", 0x1234, check=False), "write past the window: no bus error"
    await d.wait_idle("PROG_BUSY")
    assert env.xbar.stats["writes"] == len(words)
    assert np.array_equal(env.xbar.w[r0:r0 + nr, 8 * g0:8 * (g0 + ng)], w)
    for i, word in enumerate(words):
        await d.write("READ_ADDR", (r0 + i // ng) | (g0 + i % ng) << 16)
        await d.wait_idle("PROG_BUSY")
        got = await d.read("READ_DATA")
        assert got == word, f"read-back of word {i}: {got:#010x} != {word:#010x}"
    assert await d.write("READ_ADDR", rows | 0 << 16, check=False), "read-back outside: no error"
    assert await d.write("READ_ADDR", 0 | (cols // 8) << 16, check=False)
    # the programmed weights in an MVM job
    pixels = 7
    x = rng.integers(-128, 128, (pixels, nr), dtype=np.int8)
    src, dst = env.alloc(pixels * nr), env.alloc(pixels * 8 * ng)
    env.mem.write(src, x.tobytes())
    job = pointwise_job(src, dst, nr, 8 * ng, pixels, row_off=r0, col_off=8 * g0)
    assert await env.run(job) == 0
    got = np.frombuffer(env.mem.read(dst, pixels * 8 * ng), np.int8).reshape(pixels, -1)
    assert np.array_equal(got, ima_pointwise(x, w, 1, 0))
    assert R.PROG_DATA == 0x88


@cocotb.test()
async def program_bulk(dut):
    """A PROGRAM job streams packed weights from the TCDM into a window; every
    word is checked by read-back through the registers, then used in an MVM."""
    env = await setup(dut, noise=True)
    d, rng = env.drv, env.rng
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    nr, nc = min(12, rows), min(48, cols)
    r0, c0 = rows - nr, 8 * int(rng.integers(0, (cols - nc) // 8 + 1))
    w = _weights(rng, nr, nc)
    words = pack_weights(w)
    src = env.alloc(4 * len(words), align_any=False) + 2     # unaligned on purpose
    env.mem.write(src, np.array(words, "<u4").tobytes())
    job = program_job(src, r0, nr, c0, nc)
    err = await with_timeout(d.run(job), (len(words) * env.xbar.prog_cycles + 10_000) * PERIOD_NS,
                             "ns")
    assert err == 0, f"error code {err}"
    assert env.xbar.stats["writes"] == len(words)
    assert np.array_equal(env.xbar.w[r0:r0 + nr, c0:c0 + nc], w), "programmed weights differ"
    for i in range(0, len(words), max(1, len(words) // 16)):
        await d.write("READ_ADDR", (r0 + i // (nc // 8)) | (c0 // 8 + i % (nc // 8)) << 16)
        await d.wait_idle("PROG_BUSY")
        assert await d.read("READ_DATA") == words[i], f"read-back of word {i}"
    pixels = 9
    x = rng.integers(-128, 128, (pixels, nr), dtype=np.int8)
    xs, dst = env.alloc(pixels * nr), env.alloc(pixels * nc)
    env.mem.write(xs, x.tobytes())
    assert await env.run(pointwise_job(xs, dst, nr, nc, pixels, row_off=r0, col_off=c0)) == 0
    got = np.frombuffer(env.mem.read(dst, pixels * nc), np.int8).reshape(pixels, nc)
    assert np.array_equal(got, ima_pointwise(x, w, 1, 0))


@cocotb.test()
async def stream_rate(dut):
    """Measurement (scripts/bench_ima.py): cycles per MVM in a stream of
    ``IMCC_STEPS`` steps over square windows of each utilisation in IMCC_UTIL,
    written to IMCC_RESULT."""
    env = await setup(dut)
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    steps = int(os.environ.get("IMCC_STEPS", "40"))
    utils = [float(u) for u in os.environ.get("IMCC_UTIL", "1.0").split(",")]
    out = []
    env.xbar.load(_weights(env.rng, rows, cols), 0, 0)
    for u in utils:
        nr, nc = max(1, round(u * rows)), max(1, round(u * cols))
        env.reset_alloc()
        src, dst = env.alloc(steps * nr, align_any=False), env.alloc(steps * nc, align_any=False)
        env.macro.mvm_log.clear()
        job = pointwise_job(src, dst, nr, nc, steps)
        err = await env.run(job)
        assert err == 0
        starts = np.array([s for s, _ in env.macro.mvm_log]) / PERIOD_NS
        gaps = np.diff(starts)
        steady = gaps[len(gaps) // 4:]     # past the pipeline fill
        out.append({"util": u, "rows": nr, "cols": nc, "steps": steps,
                    "cycles_per_mvm": float(np.mean(steady)), "min": float(np.min(steady)),
                    "max": float(np.max(steady)), "mvm_cycles": env.xbar.mvm_cycles})
        dut._log.info("%.2f: %dx%d %.2f cycles per MVM", u, nr, nc, out[-1]["cycles_per_mvm"])
    write_result({"slots": slot_counts(env.cfg), "results": out})
