"""An IMA with several crossbar arrays (``ima.arrays``; tb/test_ima_arrays.py,
scripts/bench_ima_multi.py): jobs that name their array, alternating, bit-exact
against each array's weights; programming one array by a job while another
has just computed; a job naming an array that does not exist; the direct
programming registers' array.  Design: tb/tops/cluster_tb.

Environment: IMCC_CONFIG, IMCC_SEED, IMCC_PIXELS (steps per job), IMCC_RESULT
(cycles per job with alternating arrays and on one array).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import with_timeout

from imcc.sim import golden
from imcc.sim.weight_image import WeightImage
from imcc.tb.bus.ima_driver import pack_weights, pack_window, pointwise_job, program_job
from imcc.tb.env import ClusterEnv, write_result


def _layer(env, rng, pixels):
    rows, cols = env.cfg.ima.rows, env.cfg.ima.cols
    x = rng.integers(-128, 128, (pixels, rows), dtype=np.int8)
    gain, shift = golden.gain_shift(60 / (np.sqrt(rows) * 74 * 4.3), gain_bits=12)
    return x, int(gain), int(shift), env.put(x), env.alloc(pixels * cols)


async def _run(env, drv, job) -> tuple[int, int]:
    """(error code, cycles from TRIGGER to the end event)."""
    token = drv.evt.mark()
    await drv.configure(job)
    c0 = env.cycle()
    await drv.trigger()
    err = await with_timeout(drv.wait_end(token), 50_000_000, "ns")
    return err, env.cycle() - c0


@cocotb.test()
async def alternating_arrays(dut):
    """Each array holds other weights (a preloaded weight image); jobs alternate
    over the arrays and each output is its array's; the same jobs on one array
    give the per-job switching overhead."""
    env = await ClusterEnv.start(dut)
    cfg, drv = env.cfg, env.driver("ima")
    n = cfg.ima.arrays
    rows, cols = cfg.ima.rows, cfg.ima.cols
    rng = np.random.default_rng(int(os.environ.get("IMCC_SEED", "1")))
    pixels = int(os.environ.get("IMCC_PIXELS", "16"))
    weights = [rng.integers(-7, 8, (rows, cols), dtype=np.int8) for _ in range(n)]
    env.preload(WeightImage({("ima", k): w for k, w in enumerate(weights)}))
    cycles = {"alternating": [], "same": []}
    for mode, order in (("alternating", [j % n for j in range(2 * n)]), ("same", [0] * (2 * n))):
        for k in order:
            x, gain, shift, src, dst = _layer(env, rng, pixels)
            job = pointwise_job(src, dst, rows, cols, pixels, gain=gain, shift=shift, array=k)
            err, c = await _run(env, drv, job)
            assert err == 0, (mode, k, err)
            cycles[mode].append(c)
            exp = golden.ima_pointwise(x, weights[k], gain, shift)
            got = np.frombuffer(env.mem.read(dst, exp.size), np.int8).reshape(exp.shape)
            assert np.array_equal(got, exp), f"array {k}: {(got != exp).sum()} outputs differ"
            env._next = cfg.tcdm.base          # reuse the TCDM for the next job
    per_job = (sum(cycles["alternating"]) - sum(cycles["same"])) / len(cycles["same"])
    dut._log.info("cycles per job: alternating %s, same array %s: %+.2f per job",
                  cycles["alternating"], cycles["same"], per_job)
    write_result({"pixels": pixels, "cycles": cycles, "switch_overhead_per_job": per_job})


@cocotb.test()
async def program_and_bad_arrays(dut):
    """A PROGRAM job on one array queued behind an MVM job on another (jobs run
    in order: the rule is one active array per IMA), then an MVM on the newly
    programmed array; a job naming an array the IMA lacks ends with ARRAY and
    the error event, and the next job runs; PROG_ARRAY refuses such an array
    and steers the direct programming registers."""
    env = await ClusterEnv.start(dut)
    cfg, drv = env.cfg, env.driver("ima")
    n, rows, cols = cfg.ima.arrays, cfg.ima.rows, cfg.ima.cols
    rng = np.random.default_rng(2)
    w0 = rng.integers(-7, 8, (rows, cols), dtype=np.int8)
    w2 = rng.integers(-7, 8, (rows, cols), dtype=np.int8)
    env.arrays["ima", 0].load(w0)
    words = env.put(pack_window(w2))
    x, gain, shift, src, dst0 = _layer(env, rng, 8)
    dst2 = env.alloc(8 * cols)
    await drv.offload(pointwise_job(src, dst0, rows, cols, 8, gain=gain, shift=shift, array=0))
    await drv.offload(program_job(words, 0, rows, 0, cols, array=2))
    # the MVM job ends long before the programming job (the interrupt bit is
    # sticky: one wait per job end, in order)
    assert await with_timeout(drv.wait_end(), 50_000_000, "ns") == 0
    assert await with_timeout(drv.wait_end(), 500_000_000, "ns") == 0
    err, _ = await _run(env, drv, pointwise_job(src, dst2, rows, cols, 8, gain=gain,
                                                shift=shift, array=2))
    assert err == 0
    for dst, w in ((dst0, w0), (dst2, w2)):
        exp = golden.ima_pointwise(x, w, gain, shift)
        got = np.frombuffer(env.mem.read(dst, exp.size), np.int8).reshape(exp.shape)
        assert np.array_equal(got, exp), f"{(got != exp).sum()} outputs differ"
    # an array that does not exist
    err, c = await _run(env, drv, pointwise_job(src, dst0, rows, cols, 8, array=n))
    assert err == drv.ERR["ARRAY"] and c < 100, (err, c)
    err, _ = await _run(env, drv, pointwise_job(src, dst0, rows, cols, 8, gain=gain, shift=shift,
                                                array=n - 1))
    assert err == 0, "the job after a refused one"
    # direct programming: PROG_ARRAY steers PROG_DATA / READ_ADDR
    assert await drv.write("PROG_ARRAY", n, check=False), "PROG_ARRAY beyond the arrays"
    await drv.write("PROG_ARRAY", 1)
    assert await drv.read("PROG_ARRAY") == 1
    await drv.write("PROG_ROWS", drv.rm["PROG_ROWS"].pack(OFFSET=3, COUNT=1))
    await drv.write("PROG_COLS", drv.rm["PROG_COLS"].pack(OFFSET=1, COUNT=1))
    await drv.write("PROG_DATA", 0x1234_5677)
    await drv.wait_idle("PROG_BUSY")
    await drv.write("READ_ADDR", drv.rm["READ_ADDR"].pack(ROW=3, GROUP=1))
    await drv.wait_idle("PROG_BUSY")
    assert await drv.read("READ_DATA") == 0x1234_5677
    assert env.arrays["ima", 1].read_word(3, 1) == 0x1234_5677
    assert env.arrays["ima", 0].read_word(3, 1) == pack_weights(w0[3:4, 8:16])[0], "array 0 changed"


@cocotb.test()
async def pool_shared_arrays(dut):
    """A pool of arrays (``ima.macro_ports = "pool"``) that two IMAs reach: jobs
    on different arrays compute at the same time (about one job's cycles for
    both); on the same array the macro takes their MVMs in turn (about twice),
    every output still its array's; weights one IMA programs, the other reads."""
    env = await ClusterEnv.start(dut)
    cfg = env.cfg
    a, b = env.driver("ima"), env.driver("ima1")
    rows, cols = cfg.ima.rows, cfg.ima.cols
    rng = np.random.default_rng(3)
    pixels = int(os.environ.get("IMCC_PIXELS", "32"))
    weights = [rng.integers(-7, 8, (rows, cols), dtype=np.int8) for _ in range(cfg.ima.arrays)]
    env.preload(WeightImage({("ima", k): w for k, w in enumerate(weights)}))
    assert env.arrays["ima1", 1] is env.arrays["ima", 1], "one model per pool array"

    async def both(arr_a: int, arr_b: int) -> int:
        jobs = []
        for drv, k in ((a, arr_a), (b, arr_b)):
            x, gain, shift, src, dst = _layer(env, rng, pixels)
            jobs.append((drv, k, x, gain, shift, dst,
                         pointwise_job(src, dst, rows, cols, pixels, gain=gain, shift=shift,
                                       array=k)))
        tokens = [drv.evt.mark() for drv, *_ in jobs]
        for drv, *_, job in jobs:
            await drv.configure(job)
        c0 = env.cycle()
        for drv, *_ in jobs:
            await drv.trigger()
        for (drv, *_), tok in zip(jobs, tokens):
            assert await with_timeout(drv.wait_end(tok), 50_000_000, "ns") == 0
        cycles = env.cycle() - c0
        for drv, k, x, gain, shift, dst, _ in jobs:
            exp = golden.ima_pointwise(x, weights[k], gain, shift)
            got = np.frombuffer(env.mem.read(dst, exp.size), np.int8).reshape(exp.shape)
            assert np.array_equal(got, exp), f"array {k}: {(got != exp).sum()} outputs differ"
        env._next = cfg.tcdm.base
        return cycles

    apart, shared = await both(0, 1), await both(1, 1)
    x, gain, shift, src, dst = _layer(env, rng, pixels)
    err, one = await _run(env, a, pointwise_job(src, dst, rows, cols, pixels, gain=gain,
                                                shift=shift, array=0))
    assert err == 0
    dut._log.info("two jobs of %d MVMs: different arrays %d cycles, the same array %d, "
                  "one job alone %d", pixels, apart, shared, one)
    # the programming of array 1 by one IMA is the other's weights
    w_new = rng.integers(-7, 8, (rows, cols), dtype=np.int8)
    words = env.put(pack_window(w_new))
    err, _ = await _run(env, a, program_job(words, 0, rows, 0, cols, array=1))
    assert err == 0
    weights[1] = w_new
    x, gain, shift, src, dst = _layer(env, rng, 4)
    err, _ = await _run(env, b, pointwise_job(src, dst, rows, cols, 4, gain=gain, shift=shift,
                                              array=1))
    assert err == 0
    exp = golden.ima_pointwise(x, w_new, gain, shift)
    got = np.frombuffer(env.mem.read(dst, exp.size), np.int8).reshape(exp.shape)
    assert np.array_equal(got, exp), "ima1 does not see the weights ima programmed"
    write_result({"pixels": pixels, "apart": apart, "shared": shared, "one": one})
