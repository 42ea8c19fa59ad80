"""Several accelerator instances in one cluster (tb/test_instances.py): every
IMA and DW instance gets a job of its own, all offloaded before any ends, so
they run at the same time; each result is checked bit-exactly against
imcc.sim.golden, each end is seen on the interrupt line as the instance's own
event, and a bad job on one instance raises only that instance's error.

Design: tb/tops/cluster_tb (the generated cluster with protocol checkers).
Environment: IMCC_CONFIG, IMCC_SEED, IMCC_RESULT (JSON: per instance, the
cycles from the first TRIGGER to its end event).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import with_timeout

from imcc.sim import golden
from imcc.tb.bus.ima_driver import pointwise_job
from imcc.tb.env import ClusterEnv, write_result


def _i8(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64).astype(np.int8)


def ima_job(env: ClusterEnv, rng, instance: str, pixels: int):
    """A random 1x1 layer over the whole crossbar of ``instance`` (weights loaded
    into its behavioural model); returns (job, check)."""
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    w = rng.integers(-7, 8, (rows, cols), dtype=np.int8)
    env.xbars[instance].load(w)
    x = rng.integers(-128, 128, (pixels, rows), dtype=np.int8)
    gain, shift = golden.gain_shift(60 / (np.sqrt(rows) * 74 * 4.3), gain_bits=12)
    src, dst = env.put(x), env.alloc(pixels * cols)
    job = pointwise_job(src, dst, rows, cols, pixels, gain=int(gain), shift=int(shift))
    exp = golden.ima_pointwise(x, w, int(gain), int(shift))

    def check():
        got = np.frombuffer(env.mem.read(dst, exp.size), np.int8).reshape(exp.shape)
        assert np.array_equal(got, exp), f"{instance}: {(got != exp).sum()} outputs differ"
    return job, check


def dw_job(env: ClusterEnv, rng, instance: str, h: int, w: int, c: int):
    """A random depthwise 3x3 layer (stride 1, padding 1); returns (job, check)."""
    drv = env.driver(instance)
    x = rng.integers(-128, 128, (h, w, c))
    wt = rng.integers(-128, 128, (3, 3, c))
    bias = rng.integers(-2**16, 2**16, c)
    scale = rng.integers(0, 2**16, c)
    shift = 20
    exp = golden.depthwise3x3(x, wt, bias, scale, shift, stride=1, pad=1)
    src, wad = env.put(_i8(x)), env.put(_i8(wt))
    bad, sad = env.put(bias.astype("<i4")), env.put(scale.astype("<u4"))
    dst = env.alloc(exp.size)
    job = dict(MODE=dict(OP=drv.OP["DW3X3"], STRIDE=1, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1),
               SIZE=dict(H=h, W=w), CHANNELS=dict(C=c), SRC_ADDR=src, WEIGHT_ADDR=wad,
               BIAS_ADDR=bad, SCALE_ADDR=sad, DST_ADDR=dst,
               QUANT=dict(SHIFT=shift, LO=-128, HI=127))

    def check():
        got = np.frombuffer(env.mem.read(dst, exp.size), np.int8).reshape(exp.shape)
        assert np.array_equal(got, exp), f"{instance}: {(got != exp).sum()} outputs differ"
    return job, check


@cocotb.test()
async def concurrent_jobs(dut):
    env = await ClusterEnv.start(dut)
    rng = np.random.default_rng(int(os.environ.get("IMCC_SEED", "1")))
    imas = [i.name for i in env.comp.of_kind("ima")]
    dws = [i.name for i in env.comp.of_kind("dw")]
    assert len(imas) >= 2 and len(dws) >= 2, env.comp.instances
    jobs = {n: ima_job(env, rng, n, 96) for n in imas}
    jobs.update({n: dw_job(env, rng, n, 16, 16, 32) for n in dws})

    # Offload everything first: every instance is busy at once.
    t0 = env.cycle()
    for name, (job, _) in jobs.items():
        await env.driver(name).offload(job)
    busy = {n: (await env.driver(n).status())["BUSY"] for n in jobs}
    assert all(busy.values()), f"not all instances run at the same time: {busy}"

    # Each end arrives as the instance's own interrupt bit; results bit-exact.
    ends = {}

    async def wait(name):
        err = await env.driver(name).wait_end()
        ends[name] = env.cycle() - t0
        assert err == 0, f"{name}: error code {err}"
    waiters = [cocotb.start_soon(wait(n)) for n in jobs]
    for w in waiters:
        await with_timeout(w, 2_000_000, "ns")
    for name, (_, check) in jobs.items():
        check()
        assert await env.driver(name).read("FINISHED_JOBS") == 1, name
    dut._log.info("cycles from the first TRIGGER to each end: %s", ends)

    # A bad job on the second IMA: its error event alone, the others untouched.
    ctrl = env.driver(imas[1]).evt.ctrl
    pend0 = await ctrl.read("EVT_PENDING")
    assert pend0 == 0, f"events left pending: {pend0:#x}"
    drv = env.driver(imas[1])
    bad = pointwise_job(env.cfg.tcdm.base, env.cfg.tcdm.base + 0x100, 0, 8, 4)   # ROWS.COUNT 0
    token = drv.evt.mark()
    await drv.offload(bad)
    err = await drv.wait_end(token)
    assert err == drv.ERR["ZERO"], err
    for name in jobs:
        st = await env.driver(name).status()
        assert st["ERROR"] == (drv.ERR["ZERO"] if name == imas[1] else 0), (name, st)
    write_result({"cycles_to_end": ends})


@cocotb.test()
async def stream_all(dut):
    """Every IMA instance streams one long full-window layer (IMCC_PIXELS MVMs)
    at the same time: aggregate MVMs per cycle (IMCC_RESULT), each bit-exact."""
    env = await ClusterEnv.start(dut)
    rng = np.random.default_rng(int(os.environ.get("IMCC_SEED", "1")))
    pixels = int(os.environ.get("IMCC_PIXELS", "128"))
    imas = [i.name for i in env.comp.of_kind("ima")]
    jobs = {n: ima_job(env, rng, n, pixels) for n in imas}
    t0 = env.cycle()
    for name, (job, _) in jobs.items():
        await env.driver(name).offload(job)
    for name in imas:
        assert await with_timeout(env.driver(name).wait_end(), 200_000_000, "ns") == 0, name
    cycles = env.cycle() - t0
    for _, check in jobs.values():
        check()
    mvms = pixels * len(imas)
    dut._log.info("%d instances: %d MVMs in %d cycles, %.4f MVMs/cycle", len(imas), mvms,
                  cycles, mvms / cycles)
    write_result({"instances": len(imas), "mvms": mvms, "cycles": cycles,
                  "mvms_per_cycle": mvms / cycles})
