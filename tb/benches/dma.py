"""The cluster DMA between the TCDM and the simulated L2 (design:
tb/tops/cluster_l2.py; tb/test_dma.py, scripts/bench_dma.py).  Transfers are
launched through the SoC port as software launches them; both memories are
mirrored in Python and compared through their backdoors.

Environment: IMCC_CONFIG, IMCC_SEED, IMCC_TRANSFERS (random transfers),
IMCC_RESULT (figures of ``throughput``).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from imcc.tb.env import ClusterEnv, write_result

L2_SPAN = 1 << 20        # the part of L2 the random transfers use (checked after each batch)


class Mirror:
    """Both memories as bytes, and the transfers applied to them in launch order."""

    def __init__(self, env: ClusterEnv, rng, l2_span: int):
        cfg = env.cfg
        self.env = env
        self.t0, self.tn = cfg.tcdm.base, cfg.tcdm.size_bytes
        self.l0, self.ln = cfg.l2.base, min(l2_span, cfg.l2.size_bytes)
        self.tcdm = bytearray(rng.integers(0, 256, self.tn, dtype=np.uint8).tobytes())
        self.l2 = bytearray(rng.integers(0, 256, self.ln, dtype=np.uint8).tobytes())
        env.mem.write(self.t0, bytes(self.tcdm))
        env.l2.write(self.l0, bytes(self.l2))

    def _side(self, addr):
        if self.t0 <= addr < self.t0 + self.tn:
            return self.tcdm, addr - self.t0
        return self.l2, addr - self.l0

    def apply(self, src, dst, n, rows=1, sstr=0, dstr=0):
        for r in range(rows):
            smem, so = self._side(src + r * sstr)
            dmem, do = self._side(dst + r * dstr)
            dmem[do:do + n] = smem[so:so + n]

    def check(self, what: str):
        for name, mem, base, size, ref in (("TCDM", self.env.mem, self.t0, self.tn, self.tcdm),
                                            ("L2", self.env.l2, self.l0, self.ln, self.l2)):
            got = np.frombuffer(mem.read(base, size), np.uint8)
            exp = np.frombuffer(bytes(ref), np.uint8)
            bad = np.flatnonzero(got != exp)
            assert not bad.size, (f"{what}: {bad.size} bytes of the {name} differ, first at "
                                  f"{base + bad[0]:#x}: {got[bad[0]]:#04x} != {exp[bad[0]]:#04x}")


def random_transfer(rng, m: Mirror):
    """(src, dst, n, rows, sstr, dstr) inside the windows, either direction,
    1-D (rows 0) or 2-D with strides of either sign."""
    to_l2 = bool(rng.integers(0, 2))
    two_d = bool(rng.integers(0, 3) == 0)
    n = int(rng.choice([rng.integers(1, 9), rng.integers(1, 97), rng.integers(1, 1025)]))
    rows = int(rng.integers(1, 9)) if two_d else 1
    strides = []
    for _ in range(2):
        s = int(rng.integers(n, 2 * n + 64)) * (1 if rng.random() < 0.8 else -1)
        strides.append(s if two_d else 0)
    sstr, dstr = strides

    def place(base, size, stride):
        span = (rows - 1) * abs(stride) + n
        lo = base + (-(rows - 1) * stride if stride < 0 else 0)
        return lo + int(rng.integers(0, size - span + 1))
    tw, lw = (m.t0, m.tn), (m.l0, m.ln)
    src = place(*(tw if to_l2 else lw), sstr)
    dst = place(*(lw if to_l2 else tw), dstr)
    return src, dst, n, (rows if two_d else 0), sstr, dstr


@cocotb.test()
async def random_transfers(dut):
    """Random transfers (sizes, alignments, 1-D and 2-D, both directions) with
    up to the queue's depth in flight, scoreboarded against the mirror after
    every batch: nothing lost, duplicated or written out of range."""
    env = await ClusterEnv.start(dut)
    rng = np.random.default_rng(int(os.environ.get("IMCC_SEED", "1")))
    dma, cfg = env.dma(), env.cfg
    total = int(os.environ.get("IMCC_TRANSFERS", "2000"))
    batch = 250
    m = Mirror(env, rng, L2_SPAN)
    done = beats = 0
    bb = cfg.dma.data_width // 8
    while done < total:
        for _ in range(min(batch, total - done)):
            src, dst, n, rows, sstr, dstr = random_transfer(rng, m)
            kw = dict(reps=rows, src_stride=sstr, dst_stride=dstr) if rows else {}
            while not (tid := await dma.launch(src, dst, n, **kw)):
                st = await dma.status()     # full (or it has just drained): no error
                assert st["ERROR"] == 0, (hex(src), hex(dst), n, rows, st)
                await ClockCycles(dut.clk, 16)
            m.apply(src, dst, n, max(rows, 1), sstr, dstr)
            l2a, l2s = (dst, dstr) if src < dst else (src, sstr)     # the L2 side
            beats += sum((l2a + r * l2s + n - 1) // bb - (l2a + r * l2s) // bb + 1
                         for r in range(max(rows, 1)))
            done += 1
        await with_timeout(dma.wait(tid), 50_000_000, "ns")
        m.check(f"after {done} transfers")
        assert not any(dma.events), "a transfer or launch failed"
    dut._log.info("%d transfers checked, %d AXI beats", done, beats)
    write_result({"transfers": done, "beats": beats})


@cocotb.test()
async def bad_launches(dut):
    """Refused launches: id 0, the error code, the error event; the next transfer runs."""
    env = await ClusterEnv.start(dut)
    cfg, dma = env.cfg, env.dma()
    t, l2 = cfg.tcdm, cfg.l2
    cases = [
        ("ZERO", (t.base, l2.base, 0), {}),
        ("ZERO", (t.base, l2.base, 8), dict(reps=0, src_stride=8, dst_stride=8)),
        ("ADDRESS", (t.base, t.base + 64, 8), {}),                         # TCDM -> TCDM
        ("ADDRESS", (l2.base, l2.base + 64, 8), {}),                       # L2 -> L2
        ("ADDRESS", (t.base + t.size_bytes - 4, l2.base, 8), {}),          # past the TCDM
        ("ADDRESS", (l2.base + l2.size_bytes - 4, t.base, 5), {}),         # past L2
        ("ADDRESS", (t.base - 1, l2.base, 1), {}),
        ("ADDRESS", (t.base, l2.base, 64), dict(reps=3, src_stride=-64, dst_stride=64)),
        ("ADDRESS", (t.base, l2.base + l2.size_bytes - 200, 64),
         dict(reps=4, src_stride=64, dst_stride=64)),                      # last row past L2
        ("ADDRESS", (0xFFFF_FFF0, l2.base, 0x20), {}),                    # wraps past 4 GiB
    ]
    n_ev = len(dma.events)
    for code, (src, dst, n), kw in cases:
        assert await dma.launch(src, dst, n, **kw) == 0, (code, hex(src), hex(dst), n, kw)
        st = await dma.status()
        assert st["ERROR"] == dma.ERR[code] and st["ERROR_ID"] == 0, (code, st)
        n_ev += 1
        await with_timeout(dma.pins.wait_count(n_ev), 10_000, "ns")
        assert dma.events[-1] is True, f"{code}: no error event"
    # the queue fills: the launch after it answers 0 with STATUS.FULL and no
    # event, the error code stays; then all complete
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    env.l2.write(l2.base, data)
    ids = []
    for k in range(cfg.dma.queue + 2):
        ids.append(await dma.launch(l2.base, t.base + 4096 * k, 4096))
        if not ids[-1]:
            st = await dma.status()
            assert st["FULL"] and st["ERROR"] == dma.ERR["ADDRESS"], st
    assert 0 in ids, f"{cfg.dma.queue + 2} launches of 4 KiB were all accepted: no FULL"
    await with_timeout(dma.wait(max(i for i in ids if i)), 1_000_000, "ns")
    for k, tid in enumerate(ids):
        if tid:
            assert env.mem.read(t.base + 4096 * k, 4096) == data, k
    st = await dma.status()
    assert st["QUEUED"] == 0 and not st["FULL"] and not st["BUSY"], st
    assert dma.events[n_ev:] == [False] * sum(1 for i in ids if i), "events of the transfers"


@cocotb.test()
async def axi_errors(dut):
    """An error response from L2: the transfer ends with ERROR = AXI and its id;
    on a read no TCDM byte of the failing beat or after it is written; the next
    transfer runs."""
    env = await ClusterEnv.start(dut)
    cfg, dma = env.cfg, env.dma()
    t, l2 = cfg.tcdm, cfg.l2
    beat = cfg.dma.data_width // 8
    rng = np.random.default_rng(5)
    src, dst, n = l2.base + 0x1003, t.base + 0x2001, 3000
    env.l2.write(src, rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    old = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    env.mem.write(dst, old)
    poison = (src + 1000) // beat * beat
    dut.l2_err_lo.value, dut.l2_err_hi.value = poison, poison + 64
    err = await with_timeout(dma.run(src, dst, n), 1_000_000, "ns")
    assert err == dma.ERR["AXI"], await dma.status()
    assert dma.events[-1] is True
    cut = poison - src                  # stream bytes before the failing beat
    got = env.mem.read(dst, n)
    assert got[cut:] == old[cut:], "bytes of the failing beat or after it reached the TCDM"
    new = env.l2.read(src, n)
    written = next((k for k in range(cut) if got[k] != new[k]), cut)
    assert got[:written] == new[:written] and got[written:cut] == old[written:cut]
    assert written >= cut - 4 * cfg.dma.ports, f"only {written} of {cut} good bytes written"
    # a write into the poisoned range: reported, the rest of L2 written
    err = await with_timeout(dma.run(t.base, poison - 16, 256), 1_000_000, "ns")
    assert err == dma.ERR["AXI"]
    dut.l2_err_lo.value = dut.l2_err_hi.value = 0
    assert await with_timeout(dma.run(src, dst, n), 1_000_000, "ns") == 0
    assert env.mem.read(dst, n) == env.l2.read(src, n)


async def _timed(env, dma, *args, **kw) -> int:
    """Cycles of one transfer, from its launch to its end event."""
    tid = await dma.launch(*args, **kw)
    assert tid
    c0 = env.cycle()
    await with_timeout(RisingEdge(env.dut.dma_evt_done), 10_000_000, "ns")
    c1 = env.cycle()
    await dma.wait(tid)
    return c1 - c0


@cocotb.test()
async def throughput(dut):
    """AXI beats per cycle of long 1-D transfers each way and of 2-D rows of 96
    bytes with strides (IMCC_RESULT)."""
    env = await ClusterEnv.start(dut)
    cfg, dma = env.cfg, env.dma()
    t, l2 = cfg.tcdm, cfg.l2
    beat = cfg.dma.data_width // 8
    n = int(os.environ.get("IMCC_BYTES", str(64 * 1024)))
    rng = np.random.default_rng(9)
    env.l2.write(l2.base, rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    out = {}
    c = await _timed(env, dma, l2.base, t.base, n)
    out["l2_to_tcdm"] = {"bytes": n, "beats": n // beat, "cycles": c}
    assert env.mem.read(t.base, n) == env.l2.read(l2.base, n)
    c = await _timed(env, dma, t.base, l2.base + n, n)
    out["tcdm_to_l2"] = {"bytes": n, "beats": n // beat, "cycles": c}
    assert env.l2.read(l2.base + n, n) == env.mem.read(t.base, n)
    rows, row = n // 128, 96
    c = await _timed(env, dma, l2.base, t.base + n, row, reps=rows, src_stride=128,
                     dst_stride=112)
    out["two_d"] = {"bytes": rows * row, "beats": rows * row // beat, "cycles": c,
                    "row_bytes": row}
    for r in range(0, rows, max(1, rows // 16)):
        assert env.mem.read(t.base + n + 112 * r, row) == env.l2.read(l2.base + 128 * r, row), r
    for k, v in out.items():
        v["beats_per_cycle"] = v["beats"] / v["cycles"]
        dut._log.info("%s: %d bytes in %d cycles, %.3f beats/cycle", k, v["bytes"], v["cycles"],
                      v["beats_per_cycle"])
    write_result(out)


@cocotb.test()
async def with_accelerators(dut):
    """DMA transfers while an IMA layer and a DW layer run: both layers stay
    bit-exact, the transfers complete with the right data, and the DMA's rate
    while the IMA streams its layer is reported (IMCC_RESULT)."""
    from imcc.tb.benches.instances import dw_job, ima_job
    env = await ClusterEnv.start(dut)
    cfg, dma = env.cfg, env.dma()
    l2 = cfg.l2
    beat = cfg.dma.data_width // 8
    rng = np.random.default_rng(11)
    ima_j, ima_check = ima_job(env, rng, "ima", 256)
    dw_j, dw_check = dw_job(env, rng, "dw", 16, 16, 32)
    n = 64 * 1024
    src_l2 = l2.base + 0x10_0000
    env.l2.write(src_l2, rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    dst_tcdm = env.alloc(n, 64)
    src_tcdm = env.put(rng.integers(0, 256, n, dtype=np.uint8))
    ima, dw = env.driver("ima"), env.driver("dw")
    await ima.offload(ima_j)
    await dw.offload(dw_j)          # waits for the IMA's ports (shared) or runs beside it
    c = await _timed(env, dma, src_l2, dst_tcdm, n)
    ima_busy = (await ima.status())["BUSY"]
    t2 = await dma.launch(src_tcdm, l2.base + 0x20_0000, n)
    assert t2
    for drv in (ima, dw):
        assert await with_timeout(drv.wait_end(), 20_000_000, "ns") == 0
    await with_timeout(dma.wait(t2), 20_000_000, "ns")
    ima_check()
    dw_check()
    assert env.mem.read(dst_tcdm, n) == env.l2.read(src_l2, n)
    assert env.l2.read(l2.base + 0x20_0000, n) == env.mem.read(src_tcdm, n)
    assert not any(dma.events)
    rate = n // beat / c
    dut._log.info("L2 -> TCDM beside the IMA layer: %d bytes in %d cycles, %.3f beats/cycle "
                  "(IMA still busy after it: %d)", n, c, rate, ima_busy)
    assert ima_busy, "the IMA layer ended before the DMA transfer: make it longer"
    write_result({"l2_to_tcdm_with_ima": {"bytes": n, "beats": n // beat, "cycles": c,
                                          "beats_per_cycle": rate}})


@cocotb.test()
async def counters(dut):
    """The activity counters through the register map (tb/test_counters.py):
    a frozen snapshot read over AXI equals the registers (VPI), CNT_CLEAR
    zeroes them, then SoC writes and DMA transfers of known sizes count
    exactly: ``tcdm.soc`` = words the SoC port wrote, ``dma.bytes`` = bytes
    of the transfers, ``tcdm.dma`` = TCDM words they touched, each also equal
    to the protocol checkers' own count of TCDM grants (IMCC_RESULT)."""
    from imcc.tb.counters import clear_regs, monitor_grants, read_regs, read_vpi
    env = await ClusterEnv.start(dut)
    cfg, dma, regs = env.cfg, env.dma(), env.regs
    t, l2 = cfg.tcdm, cfg.l2
    rm = next(r for r, _ in env.comp.register_maps() if r.name == "ctrl")
    ctrl = env.comp.base("ctrl")
    out = {}
    # some activity first, so that the snapshot is not all zeros
    rng = np.random.default_rng(3)
    env.l2.write(l2.base, rng.integers(0, 256, 8192, dtype=np.uint8).tobytes())
    assert await dma.run(l2.base, t.base, 4096) == 0
    # a frozen snapshot: the register map reads what VPI reads
    await regs.write(ctrl + rm["CNT_CTRL"].offset, 1)
    frozen = read_vpi(dut, cfg)
    await ClockCycles(dut.clk, 50)
    assert read_vpi(dut, cfg) == frozen, "a frozen counter moved"
    via_bus = await read_regs(regs, cfg)
    out["frozen"], out["via_bus"] = frozen, via_bus
    # CNT_CLEAR while frozen: every counter reads 0
    await regs.write(ctrl + rm["CNT_CTRL"].offset, 1)
    await clear_regs(regs, cfg)
    out["after_clear"] = await read_regs(regs, cfg)     # (unfreezes at its end)

    # a counting window with known traffic
    await clear_regs(regs, cfg)
    g0 = monitor_grants(dut, cfg)
    soc_bytes = 1024                                    # aligned: one grant per word
    r = await env.axi.write(t.base + 0x10000, rng.integers(0, 256, soc_bytes,
                                                           dtype=np.uint8).tobytes())
    assert r.resp == 0
    moves = [(l2.base, t.base + 0x20000, 4096),         # aligned: 1024 words
             (t.base + 0x20003, l2.base + 0x8000, 1001),    # unaligned, to L2
             (l2.base + 0x101, t.base + 0x30002, 77)]       # unaligned, to TCDM
    for src, dst, n in moves:
        assert await dma.run(src, dst, n) == 0
    words = sum(((d if d < l2.base else s) + n + 3) // 4 - (d if d < l2.base else s) // 4
                for s, d, n in moves)
    await regs.write(ctrl + rm["CNT_CTRL"].offset, 1)
    g1 = monitor_grants(dut, cfg)
    out["window"] = await read_regs(regs, cfg)
    out["monitor"] = {k: g1[k] - g0[k] for k in g1}
    out["expected"] = {"tcdm.soc": soc_bytes // 4, "dma.bytes": sum(n for *_, n in moves),
                       "tcdm.dma": words}
    write_result(out)
