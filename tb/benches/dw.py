"""The DW accelerator (depthwise 3x3 and element-wise add) on the whole
cluster with protocol checkers (tb/test_dw.py): operands through the TCDM
backdoor (or the SoC port), control through the SoC port (cocotbext-axi),
results bit-exact against imcc.sim.golden.

Environment: IMCC_CONFIG, IMCC_SEED, IMCC_JOBS (random jobs),
IMCC_BENCH_RESULT (JSON of cycle counts, scripts/bench_dw.py), IMCC_SHAPES
(``HxWxC/s`` list for ``mobilenet``).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from amaranth.lib.wiring import In
from cocotbext.axi import AxiResp

from imcc.gen.config import ClusterConfig
from imcc.gen.regmap import register_maps
from imcc.rtl.cluster import Cluster
from imcc.rtl.dw.regs import DW_REGS
from imcc.sim import golden
from imcc.tb.benches.soc_axi import setup as soc_setup
from imcc.tb.bus.tcdm_backdoor import TcdmBackdoor

ERR = {n: v for n, v, _ in DW_REGS.constants["ERR"]}
OP = {n: v for n, v, _ in DW_REGS.constants["OP"]}


def _config() -> ClusterConfig:
    return ClusterConfig.from_dict(json.loads(os.environ["IMCC_CONFIG"]))


class Dw:
    """Job offload through the SoC port; waits on the cluster's interrupt line."""

    def __init__(self, dut, cfg, axi):
        self.dut, self.cfg, self.axi = dut, cfg, axi
        maps = {rm.name: (rm, base) for rm, base in register_maps(cfg)}
        self.base = maps["dw"][1]
        self.ctrl, self.ctrl_base = maps["ctrl"]
        self.creg = self.ctrl.namespace(self.ctrl_base)
        ev = cfg.event_names()
        self.bit_done, self.bit_err = ev.index("dw_done"), ev.index("dw_error")
        self.mem = TcdmBackdoor(dut.cluster if hasattr(dut, "cluster") else dut, cfg)

    async def wr(self, off, value):
        r = await self.axi.write(off, (value & 0xFFFF_FFFF).to_bytes(4, "little"), size=2)
        assert r.resp == AxiResp.OKAY, f"write {off:#x}: {r.resp}"

    async def rd(self, off):
        r = await self.axi.read(off, 4, size=2)
        assert r.resp == AxiResp.OKAY, f"read {off:#x}: {r.resp}"
        return int.from_bytes(r.data, "little")

    async def irq_on(self):
        mask = (1 << self.bit_done) | (1 << self.bit_err)
        await self.wr(self.ctrl_base + self.creg.IRQ_MASK, mask)

    async def submit(self, **regs):
        """ACQUIRE, write the job registers (name -> value or field dict), TRIGGER."""
        jid = await self.rd(self.base + DW_REGS["ACQUIRE"].offset)
        assert jid != 0xFFFF_FFFF, "no free job context"
        for name, v in regs.items():
            r = DW_REGS[name]
            word = r.pack(**v) if isinstance(v, dict) else v
            await self.wr(self.base + r.offset, word)
        await self.wr(self.base + DW_REGS["TRIGGER"].offset, 0)
        return jid

    async def _watch(self):
        """Cycles from the DW leaving idle to its end-of-job event (hardware times)."""
        dut = self.dut
        await RisingEdge(dut.dw.busy)
        c0 = int(dut.ctrl.cycles.value)
        await RisingEdge(dut.dw.evt_done)
        return int(dut.ctrl.cycles.value) - c0

    async def run(self, max_cycles, **regs):
        """Submit one job and wait for its end event; returns (error code, cycles).
        A hang fails the test; the events must say what STATUS says."""
        watch = cocotb.start_soon(self._watch())
        await self.submit(**regs)
        cycles = await with_timeout(watch, 2 * max_cycles + 2000, "ns")
        pend = await self.rd(self.ctrl_base + self.creg.EVT_PENDING)
        assert pend >> self.bit_done & 1, f"EVT_PENDING {pend:#x} without dw_done"
        assert int(self.dut.ctrl_irq.value) >> self.bit_done & 1, "no dw_done interrupt"
        await self.wr(self.ctrl_base + self.creg.EVT_CLEAR, pend)
        status = DW_REGS["STATUS"].unpack(await self.rd(self.base + DW_REGS["STATUS"].offset))
        err = status["ERROR"]
        assert bool(pend >> self.bit_err & 1) == (err != 0), (err, pend)
        assert status["BUSY"] == 0, status
        return err, cycles


async def setup(dut):
    cfg = _config()
    axi = await soc_setup(dut, cfg)
    shell = Cluster(cfg)
    for path, flow, _ in shell.signature.flatten(shell):
        name = "__".join(str(p) for p in path)
        if flow == In and name.startswith("ima_"):
            getattr(dut, name).value = 0
    dw = Dw(dut, cfg, axi)
    await dw.irq_on()
    return cfg, dw


class Alloc:
    """Consecutive TCDM regions with a chosen alignment offset and guard gaps."""

    def __init__(self, cfg, rng):
        self.cfg, self.rng = cfg, rng
        self.next = cfg.tcdm.base + 64

    def take(self, nbytes, align=None):
        off = self.rng.randrange(4) if align is None else align
        a = (self.next + 15) // 16 * 16 + off
        self.next = a + nbytes + 16
        assert self.next <= self.cfg.tcdm.base + self.cfg.tcdm.size_bytes, "test data too large"
        return a


def dw_params(rng: np.random.Generator, c, shift=None):
    w = rng.integers(-128, 128, (3, 3, c), dtype=np.int64)
    bias = rng.integers(-2**16, 2**16, c, dtype=np.int64)
    scale = rng.integers(0, 2**16, c, dtype=np.int64)
    if shift is None:
        shift = int(rng.integers(14, 26))
    return w, bias, scale, shift


def _i8(a):
    return np.asarray(a, dtype=np.int64).astype(np.int8)


async def dw_job(dw: Dw, alloc: Alloc, rng, h, w_, c, stride, pads, *, aligned=False,
                 lo=-128, hi=127, max_cycles=None, check=True):
    """Load a random depthwise job, run it, compare with the golden model.
    Returns the job's cycles."""
    x = rng.integers(-128, 128, (h, w_, c), dtype=np.int64)
    wt, bias, scale, shift = dw_params(rng, c)
    ref = golden.depthwise3x3(x, wt, bias, scale, shift, lo, hi, stride, pads)
    ho, wo = ref.shape[:2]
    al = 0 if aligned else None
    ax, awt = alloc.take(x.size, al), alloc.take(wt.size, al)
    ab, asc = alloc.take(4 * c, al), alloc.take(4 * c, al)
    ay = alloc.take(ref.size + 8, al)
    mem = dw.mem
    mem.write(ax, _i8(x).tobytes())
    mem.write(awt, _i8(wt).tobytes())
    mem.write(ab, bias.astype("<i4").tobytes())
    mem.write(asc, scale.astype("<u4").tobytes())
    guard = bytes(rng.integers(0, 256, ref.size + 8, dtype=np.uint8))
    mem.write(ay, guard)
    pt, pb, pl, pr = pads
    macs = ho * wo * c * 9
    err, cycles = await dw.run(
        max_cycles or 200 + 4 * macs,
        MODE=dict(OP=OP["DW3X3"], STRIDE=stride, PAD_T=pt, PAD_B=pb, PAD_L=pl, PAD_R=pr),
        SIZE=dict(H=h, W=w_), CHANNELS=dict(C=c), SRC_ADDR=ax, WEIGHT_ADDR=awt,
        BIAS_ADDR=ab, SCALE_ADDR=asc, DST_ADDR=ay, QUANT=dict(SHIFT=shift, LO=lo, HI=hi))
    assert err == 0, f"job {h}x{w_}x{c} s{stride} pad {pads}: error {err}"
    if check:
        got = np.frombuffer(mem.read(ay, ref.size), np.int8).reshape(ref.shape)
        if not np.array_equal(got, ref):
            bad = np.argwhere(got != ref)
            i = tuple(bad[0])
            raise AssertionError(f"depthwise {h}x{w_}x{c} s{stride} pad {pads} at {ay:#x}: "
                                 f"{len(bad)} of {ref.size} outputs differ, first at (y, x, c)="
                                 f"{i}: got {got[i]}, expected {ref[i]}")
        tail = mem.read(ay + ref.size, 8)
        assert tail == guard[ref.size:], "the job wrote past its output"
    return cycles, macs


async def add_job(dw: Dw, alloc: Alloc, rng, shape, *, aligned=False, check=True):
    a = rng.integers(-128, 128, shape, dtype=np.int64)
    b = rng.integers(-128, 128, shape, dtype=np.int64)
    sa, sb = int(rng.integers(-2**15, 2**15)), int(rng.integers(-2**15, 2**15))
    shift = int(rng.integers(0, 16))
    lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
    if rng.random() < 0.5:
        lo, hi = -128, 127
    ref = golden.residual_add(a, b, sa, sb, shift, lo, hi)
    al = 0 if aligned else None
    aa, abb, ay = alloc.take(a.size, al), alloc.take(b.size, al), alloc.take(a.size + 8, al)
    dw.mem.write(aa, _i8(a).tobytes())
    dw.mem.write(abb, _i8(b).tobytes())
    guard = bytes(rng.integers(0, 256, a.size + 8, dtype=np.uint8))
    dw.mem.write(ay, guard)
    h, w_, c = shape
    err, cycles = await dw.run(
        200 + 4 * a.size, MODE=dict(OP=OP["ADD"]), SIZE=dict(H=h, W=w_), CHANNELS=dict(C=c),
        SRC_ADDR=aa, SRC2_ADDR=abb, DST_ADDR=ay, SCALE_A=sa, SCALE_B=sb,
        QUANT=dict(SHIFT=shift, LO=lo, HI=hi))
    assert err == 0, f"add {shape}: error {err}"
    if check:
        got = np.frombuffer(dw.mem.read(ay, a.size), np.int8).reshape(shape)
        assert np.array_equal(got, ref), (
            f"add {shape}: {(got != ref).sum()} of {a.size} differ")
        assert dw.mem.read(ay + a.size, 8) == guard[a.size:], "the add wrote past its output"
    return cycles, a.size


def _result(data):
    if os.environ.get("IMCC_BENCH_RESULT"):
        with open(os.environ["IMCC_BENCH_RESULT"], "w") as f:
            json.dump(data, f)


@cocotb.test()
async def random_shapes(dut):
    """Random H, W in 1..32, C in 1..200, stride 1 and 2, padding 0..2 per side,
    any alignment."""
    cfg, dw = await setup(dut)
    seed = int(os.environ.get("IMCC_SEED", "1"))
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    jobs = int(os.environ.get("IMCC_JOBS", "16"))
    for k in range(jobs):
        while True:
            h, w_ = int(rng.integers(1, 33)), int(rng.integers(1, 33))
            c = int(rng.choice([int(rng.integers(1, 201)), 16, 32, 5]))
            stride = int(rng.integers(1, 3))
            pads = tuple(int(v) for v in rng.integers(0, 3, 4)) if k % 3 else (1, 1, 1, 1)
            if h + pads[0] + pads[1] >= 3 and w_ + pads[2] + pads[3] >= 3 and h * w_ * c < 60000:
                break
        lo, hi = (-128, 127) if k % 2 else sorted(int(v) for v in rng.integers(-128, 128, 2))
        alloc = Alloc(cfg, prng)
        cycles, macs = await dw_job(dw, alloc, rng, h, w_, c, stride, pads, lo=lo, hi=hi)
        dut._log.info("dw %dx%dx%d s%d pad %s: %d cycles, %.1f MAC/cycle", h, w_, c, stride,
                      pads, cycles, macs / cycles)


@cocotb.test()
async def residual_add(dut):
    """Element-wise add on random tensors (any alignment, any length)."""
    cfg, dw = await setup(dut)
    rng = np.random.default_rng(int(os.environ.get("IMCC_SEED", "1")))
    prng = random.Random(2)
    for shape in [(1, 1, 1), (3, 5, 7), (4, 4, 16), (7, 9, 33), (28, 28, 32), (2, 3, 200)]:
        cycles, n = await add_job(dw, Alloc(cfg, prng), rng, shape)
        dut._log.info("add %s: %d cycles, %.2f elements/cycle", shape, cycles, n / cycles)


@cocotb.test()
async def bad_jobs(dut):
    """Bad configurations end with their error code and the error event, never
    a hang; the next job runs."""
    cfg, dw = await setup(dut)
    t = cfg.tcdm
    ok = dict(MODE=dict(OP=OP["DW3X3"], STRIDE=1, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1),
              SIZE=dict(H=4, W=4), CHANNELS=dict(C=8), SRC_ADDR=t.base, WEIGHT_ADDR=t.base + 0x400,
              BIAS_ADDR=t.base + 0x500, SCALE_ADDR=t.base + 0x600, DST_ADDR=t.base + 0x800,
              SRC2_ADDR=t.base + 0x200, QUANT=dict(SHIFT=0, LO=-128, HI=127))
    end = t.base + t.size_bytes
    cases = [
        ("MODE", dict(MODE=dict(OP=7, STRIDE=1))),
        ("STRIDE", dict(MODE=dict(OP=0, STRIDE=3, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1))),
        ("STRIDE", dict(MODE=dict(OP=0, STRIDE=0, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1))),
        ("ZERO", dict(SIZE=dict(H=0, W=4))),
        ("ZERO", dict(CHANNELS=dict(C=0))),
        ("ZERO", dict(MODE=dict(OP=OP["ADD"]), SIZE=dict(H=3, W=0))),
        ("SHAPE", dict(SIZE=dict(H=1, W=4), MODE=dict(OP=0, STRIDE=1, PAD_T=1, PAD_L=1, PAD_R=1))),
        ("CLIP", dict(QUANT=dict(SHIFT=0, LO=5, HI=4))),
        ("ADDRESS", dict(SRC_ADDR=t.base - 4)),
        ("ADDRESS", dict(DST_ADDR=end - 10)),
        ("ADDRESS", dict(WEIGHT_ADDR=end - 9 * 8 + 1)),
        ("ADDRESS", dict(SCALE_ADDR=0x0)),
        ("ADDRESS", dict(MODE=dict(OP=OP["ADD"]), SRC2_ADDR=end - 4 * 4 * 8 + 1)),
        ("ADDRESS", dict(SIZE=dict(H=0xFFFF, W=0xFFFF), CHANNELS=dict(C=0xFFFF))),
    ]
    for name, change in cases:
        err, cycles = await dw.run(1000, **{**ok, **change})
        assert err == ERR[name], f"{change}: error {err}, expected {name} ({ERR[name]})"
        assert cycles < 100, f"{change}: the error took {cycles} cycles"
    # SOFT_CLEAR in the middle of a job: the DW drains and becomes idle
    await dw.submit(**{**ok, "SIZE": dict(H=32, W=32), "CHANNELS": dict(C=64),
                       "DST_ADDR": t.base + 0x10000, "SRC_ADDR": t.base + 0x20000})
    await ClockCycles(dut.clk, 300)
    assert int(dut.dw.busy.value) == 1, "the job should still run"
    await dw.wr(dw.base + DW_REGS["SOFT_CLEAR"].offset, 1)
    for _ in range(50):
        if DW_REGS["STATUS"].unpack(await dw.rd(dw.base + DW_REGS["STATUS"].offset))["BUSY"] == 0:
            break
    else:
        raise AssertionError("the DW did not become idle after SOFT_CLEAR")
    await dw.wr(dw.ctrl_base + dw.creg.EVT_CLEAR, 0xFFFF_FFFF)
    # the next job runs normally
    rng = np.random.default_rng(4)
    await dw_job(dw, Alloc(cfg, random.Random(4)), rng, 5, 6, 20, 1, (1, 1, 1, 1))
    # two jobs queued back to back (two contexts): both finish, in order
    fin0 = await dw.rd(dw.base + DW_REGS["FINISHED_JOBS"].offset)
    await dw.submit(**{**ok, "DST_ADDR": t.base + 0x900})
    await dw.submit(**{**ok, "SIZE": dict(H=0, W=1)})
    for expect in (0, ERR["ZERO"]):
        while True:
            fin = await dw.rd(dw.base + DW_REGS["FINISHED_JOBS"].offset)
            if fin - fin0 >= 1:
                break
            await ClockCycles(dut.clk, 20)
        fin0 += 1
    status = DW_REGS["STATUS"].unpack(await dw.rd(dw.base + DW_REGS["STATUS"].offset))
    assert status == {"BUSY": 0, "ERROR": ERR["ZERO"]}, status


@cocotb.test()
async def mobilenet(dut):
    """MobileNetV2 depthwise layers (IMCC_SHAPES, default 28x28x192/1) and the
    28x28x32 residual add, bit-exact; cycle counts to IMCC_BENCH_RESULT.
    A layer whose tensors do not fit the TCDM runs in two row halves."""
    cfg, dw = await setup(dut)
    rng = np.random.default_rng(7)
    out = {"dw": [], "add": []}
    for spec in os.environ.get("IMCC_SHAPES", "28x28x192/1").split(","):
        dims, s = spec.split("/")
        h, w_, c = (int(v) for v in dims.split("x"))
        s = int(s)
        ho, wo = golden.dw_output_size(h, w_, s, 1)
        if h * w_ * c + ho * wo * c + 11 * c + 256 <= cfg.tcdm.size_bytes:
            parts = [(h, (1, 1, 1, 1))]
        else:   # rows 0..h/2-1 (pad top) and h/2-1..h-1 (pad bottom): output rows split evenly
            assert s == 2 and h % 4 == 0, spec
            parts = [(h // 2, (1, 0, 1, 1)), (h // 2 + 1, (0, 1, 1, 1))]
        tot_c = tot_m = 0
        for hh, pads in parts:
            cyc, macs = await dw_job(dw, Alloc(cfg, random.Random(1)), rng, hh, w_, c, s, pads,
                                     aligned=True)
            tot_c += cyc
            tot_m += macs
        dut._log.info("dw %s: %d cycles, %.2f MAC/cycle (%d job(s))", spec, tot_c,
                      tot_m / tot_c, len(parts))
        out["dw"].append({"shape": spec, "cycles": tot_c, "macs": tot_m, "jobs": len(parts)})
    cyc, n = await add_job(dw, Alloc(cfg, random.Random(1)), rng, (28, 28, 32), aligned=True)
    dut._log.info("add 28x28x32: %d cycles, %.2f elements/cycle", cyc, n / cyc)
    out["add"].append({"shape": "28x28x32", "cycles": cyc, "elements": n})
    _result(out)
