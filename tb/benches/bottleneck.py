"""A MobileNetV2 bottleneck on the whole generated cluster, driven exactly as a
SoC would drive it (design: tb/tops/cluster_tb): the SoC port loads the input
and the weights into the TCDM, the IMA's bulk-programming jobs write the
crossbar, each layer is one job configured through the control registers,
the end of each job is seen on the interrupt line, and the block's output is
read back through the SoC port and compared bit-exactly with sim/bottleneck.py,
the intermediate tensors too (those through the TCDM backdoor).

With ``crossbar.model = "pcm"`` the macro port is answered by the PCM model
and the golden path runs its 1x1 layers on a second PCM crossbar built from
the same configuration and seed, programmed with the same windows and issuing
the same MVMs in the same order: the cluster must match it bit for bit, and
the report adds the block output's error against the ideal block (the RTL
point of `imcc study drift`).

Environment: IMCC_CONFIG, IMCC_BLOCK (JSON: h, w, cin, t, cout, stride,
seed), IMCC_RESULT (JSON report written here), IMCC_DUMP (optional .npz).
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time

from imcc.gen.mapping import BottleneckShape, plan_bottleneck
from imcc.sim.bottleneck import bottleneck as golden_block, dump, random_bottleneck
from imcc.sim.crossbar import Crossbar
from imcc.sim.drift_study import crossbar_pointwise, metrics
from imcc.tb.benches.soc_axi import setup as soc_setup
from imcc.sim.weight_image import WeightImage
from imcc.tb.bus.crossbar_macro import attach_crossbars
from imcc.tb.bus.hwpe import HwpeDriver, hwpe_driver
from imcc.tb.bus.hwpe_axi import AxiRegs
from imcc.tb.bus.ima_driver import pack_window, pad_columns, pointwise_job, program_job
from imcc.tb.bus.tcdm_backdoor import TcdmBackdoor
from imcc.tb.counters import counter_keys, delta, monitor_grants, read_vpi
from imcc.tb.env import config, record_failure, write_result



def progress(dut, text):
    dut._log.info("[progress] %s", text)


def _i8(a) -> bytes:
    return np.asarray(a).astype(np.int8).tobytes()


class Run:
    def __init__(self, dut, cfg, axi):
        self.dut, self.cfg, self.axi = dut, cfg, axi
        regs = AxiRegs(axi)
        self.ima = hwpe_driver(dut, cfg, regs, "ima")
        self.dw = hwpe_driver(dut, cfg, regs, "dw")
        self.layers = []
        self.counted = bool(counter_keys(cfg))
        self.monitored = hasattr(dut, "chk_soc0") and hasattr(dut.chk_soc0, "tcdm_grants")

    def activity(self) -> dict:
        """The activity counters now (by VPI: no simulated time; {} when off)."""
        return read_vpi(self.dut, self.cfg) if self.counted else {}

    def since(self, before: dict) -> dict:
        return delta(self.activity(), before, self.cfg) if self.counted else {}

    def monitor(self) -> dict:
        """The protocol checkers' TCDM access counts per master class ({} without)."""
        return monitor_grants(self.dut, self.cfg) if self.monitored else {}

    def monitor_since(self, before: dict) -> dict:
        return {k: v - before[k] for k, v in self.monitor().items()}

    def cycle(self) -> int:
        return int(self.dut.ctrl.cycles.value)

    def stopped(self) -> int:
        """Cycles the cluster's idle clock gate has stopped the clock so far."""
        return int(self.dut.ctrl.gated_cycles.value)

    async def write(self, addr, data: bytes):
        r = await self.axi.write(addr, data)
        assert r.resp == 0, f"loading {len(data)} bytes at {addr:#x}: {r.resp}"

    async def read(self, addr, n) -> bytes:
        r = await self.axi.read(addr, n)
        assert r.resp == 0, f"reading {n} bytes at {addr:#x}: {r.resp}"
        return bytes(r.data)

    async def layer(self, name, unit, acc: HwpeDriver, job, work: dict):
        """Configure, trigger, sleep until the interrupt; record the cycles."""
        await acc.configure(job)
        c0, s0, t0 = self.cycle(), self.stopped(), get_sim_time("ns")
        a0, g0 = self.activity(), self.monitor()
        await acc.trigger()
        err = await acc.wait_end()
        c1, s1, t1 = self.cycle(), self.stopped(), get_sim_time("ns")
        activity, grants = self.since(a0), self.monitor_since(g0)
        assert err == 0, f"layer {name} ({unit}) ended with error code {err}"
        rec = {"name": name, "unit": unit, "cycles": c1 - c0, "stopped_cycles": s1 - s0,
               "start_ns": t0, "end_ns": t1, "activity": activity,
               "monitor_tcdm": grants, **work}
        self.layers.append(rec)
        progress(self.dut, f"{name} on {unit}: {c1 - c0} cycles")
        return rec


def golden(cfg, plan, x, p):
    """(reference the cluster must match, ideal block): the same on an ideal
    crossbar; on a PCM one the reference runs on its own copy of the model."""
    ideal = golden_block(x, p)
    if cfg.crossbar.model != "pcm":
        return ideal, ideal
    xb, windows = Crossbar(cfg), {}
    for name, w in (("expand", p.w_expand), ("project", p.w_project)):
        if w is not None:
            win = plan.windows[name]
            xb.load(pad_columns(w), win.row, win.col)
            windows[name] = (win.row, win.col)
    return golden_block(x, p, pointwise=crossbar_pointwise(xb, windows, one_by_one=True)), ideal


@cocotb.test()
async def bottleneck(dut):
    wall0 = time.monotonic()
    cfg = config()
    blk = json.loads(os.environ.get("IMCC_BLOCK", "{}"))
    seed = blk.pop("seed", 0)
    shape = BottleneckShape(**blk)
    plan = plan_bottleneck(cfg, shape)
    x, p = random_bottleneck(shape.h, shape.w, shape.cin, shape.t, shape.cout, shape.stride, seed)
    ref, ideal = golden(cfg, plan, x, p)
    ho, wo = shape.out_hw

    axi = await soc_setup(dut, cfg)
    xbars = attach_crossbars(dut, cfg)      # the block's windows live in array 0 of "ima"
    preload = os.environ.get("IMCC_WEIGHTS", "program") == "preload"
    run = Run(dut, cfg, axi)
    await run.ima.evt.enable()
    await run.dw.evt.enable()

    # -- load input and parameters through the SoC port -------------------------------------
    c_load = run.cycle()
    a_load, g_load = run.activity(), run.monitor()
    loaded = [len(_i8(x)), p.w_dw.size, 8 * p.w_dw.shape[-1]]
    await run.write(plan.addr("x"), _i8(x))
    await run.write(plan.addr("w_dw"), _i8(p.w_dw))
    await run.write(plan.addr("dw_bias"), np.asarray(p.dw_bias, "<i4").tobytes())
    await run.write(plan.addr("dw_scale"), np.asarray(p.dw_scale, "<u4").tobytes())
    packed = {}
    for name, w in (("expand", p.w_expand), ("project", p.w_project)):
        if w is None:
            continue
        win = plan.windows[name]
        words = pack_window(w)
        packed[name] = (pad_columns(w).shape[1], words)
        await run.write(plan.addr(f"w_{name}"), words.tobytes())
        loaded.append(words.nbytes)
    load_cycles = run.cycle() - c_load
    load_activity, load_grants = run.since(a_load), run.monitor_since(g_load)
    progress(dut, f"loaded {sum(loaded) / 1024:.1f} KiB of input and weights through the SoC port "
                  f"in {load_cycles} cycles")

    # -- program the crossbar: one bulk-programming job per layer, or start from a
    # programmed array (a weight image: PCM keeps its weights) -------------------------------
    c_prog, s_prog, w_prog = run.cycle(), run.stopped(), time.monotonic()
    a_prog = run.activity()
    if preload:
        progress(dut, "crossbar preloaded from a weight image (no programming jobs)")
        image = WeightImage()
        for name in packed:
            win = plan.windows[name]
            w = p.w_expand if name == "expand" else p.w_project
            image.place("ima", 0, pad_columns(w), win.row, win.col, (cfg.ima.rows, cfg.ima.cols))
        image.load_into(xbars)
    else:
        progress(dut, "programming the crossbar (bulk-programming jobs; PCM writes are slow)")
        for name, (ncols, _) in packed.items():
            win = plan.windows[name]
            job = program_job(plan.addr(f"w_{name}"), win.row, win.rows, win.col, ncols)
            err = await run.ima.run(job)
            assert err == 0, f"programming the {name} window failed with error {err}"
    program_cycles, program_stopped = run.cycle() - c_prog, run.stopped() - s_prog
    program_wall = time.monotonic() - w_prog
    program_activity = run.since(a_prog)

    # -- inference: the layers one after another ----------------------------------------------
    c_inf = run.cycle()
    a_inf = run.activity()
    src = plan.addr("x")
    if shape.expand:
        win = plan.windows["expand"]
        job = pointwise_job(src, plan.addr("y_expand"), shape.cin, shape.cexp, shape.h * shape.w,
                            row_off=win.row, col_off=win.col, gain=p.expand_gain,
                            shift=p.expand_shift, lo=p.expand_lo, hi=p.expand_hi)
        await run.layer("expand 1x1", "IMA", run.ima, job,
                        {"mvms": shape.h * shape.w})
        src = plan.addr("y_expand")
    await run.layer("depthwise 3x3", "DW", run.dw, {
        "MODE": dict(OP=run.dw.OP["DW3X3"], STRIDE=shape.stride, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1),
        "SIZE": dict(H=shape.h, W=shape.w), "CHANNELS": dict(C=shape.cexp),
        "SRC_ADDR": src, "WEIGHT_ADDR": plan.addr("w_dw"), "BIAS_ADDR": plan.addr("dw_bias"),
        "SCALE_ADDR": plan.addr("dw_scale"), "DST_ADDR": plan.addr("y_dw"),
        "QUANT": dict(SHIFT=p.dw_shift, LO=p.dw_lo, HI=p.dw_hi)},
        {"macs": ho * wo * shape.cexp * 9})
    win = plan.windows["project"]
    job = pointwise_job(plan.addr("y_dw"), plan.addr("y_project"), shape.cexp, shape.cout,
                        ho * wo, row_off=win.row, col_off=win.col, gain=p.project_gain,
                        shift=p.project_shift, lo=p.project_lo, hi=p.project_hi)
    await run.layer("project 1x1", "IMA", run.ima, job, {"mvms": ho * wo})
    if shape.residual:
        await run.layer("residual add", "DW", run.dw, {
            "MODE": dict(OP=run.dw.OP["ADD"]), "SIZE": dict(H=ho, W=wo),
            "CHANNELS": dict(C=shape.cout), "SRC_ADDR": plan.addr("y_project"),
            "SRC2_ADDR": plan.addr("x"), "DST_ADDR": plan.addr("y"),
            "SCALE_A": p.add_sa, "SCALE_B": p.add_sb,
            "QUANT": dict(SHIFT=p.add_shift, LO=p.add_lo, HI=p.add_hi)},
            {"elements": ho * wo * shape.cout})
    total = run.cycle() - c_inf
    activity = run.since(a_inf)

    # -- read back and compare ----------------------------------------------------------------
    progress(dut, "reading the results back and comparing with the golden model")
    checks = [("y_expand", "expand 1x1", ref.y_expand), ("y_dw", "depthwise 3x3", ref.y_dw),
              ("y_project", "project 1x1", ref.y_project)]
    if shape.residual:
        checks.append(("y", "residual add", ref.y))
    out_key = "y" if shape.residual else "y_project"
    backdoor = TcdmBackdoor(dut, cfg)
    got_tensors, mismatches = {}, []
    for key, layer, exp in checks:
        if exp is None:
            continue
        # The block's output comes through the SoC port, as a SoC reads it; the
        # intermediate tensors through the TCDM backdoor (zero simulated time:
        # reading them through AXI would cost more wall time than the layers).
        raw = (await run.read(plan.addr(key), exp.size) if key == out_key
               else backdoor.read(plan.addr(key), exp.size))
        got = np.frombuffer(raw, np.int8).reshape(exp.shape)
        got_tensors[key] = got
        if not np.array_equal(got, exp):
            bad = np.argwhere(got != exp)
            yx = tuple(int(v) for v in bad[0])
            rec = next(r for r in run.layers if r["name"] == layer)
            if not mismatches:      # a failed run's waves open on the first wrong layer
                record_failure(f"{layer} (wrong values)", rec["start_ns"] * 1000,
                               rec["end_ns"] * 1000)
            mismatches.append(
                f"{layer}: {len(bad)} of {exp.size} values differ; first at pixel (y={yx[0]}, "
                f"x={yx[1]}) channel {yx[2]}: expected {int(exp[yx])}, got {int(got[yx])}; "
                f"the job ran from {rec['start_ns']:.0f} ns to {rec['end_ns']:.0f} ns")
    out = ref.y if shape.residual else ref.y_project
    y_cluster = got_tensors[out_key]

    report = {
        "block": {**blk, "seed": seed, "residual": shape.residual},
        "layers": run.layers, "total_cycles": total, "bit_exact": not mismatches,
        "mismatches": mismatches, "weights": "preloaded" if preload else "programmed",
        "load_cycles": load_cycles, "load_kib": sum(loaded) / 1024, "program_cycles": program_cycles,
        "program_stopped_cycles": program_stopped,
        # activity counters (docs/counters.md; {} with counters.enabled false): over the
        # inference (the layers), per layer, and over the crossbar programming
        "activity": activity, "layer_activity": [r["activity"] for r in run.layers],
        "program_activity": program_activity, "load_activity": load_activity,
        "load_monitor_tcdm": load_grants, "loaded_bytes": loaded,
        "program_words": sum(int(words.size) for _, words in packed.values()),
        "sim_cycles": run.cycle(), "sim_stopped_cycles": run.stopped(), "wall_s": time.monotonic() - wall0,
        "program_wall_s": program_wall,
        "output_shape": list(out.shape),
        "crossbar": {"model": cfg.crossbar.model},
    }
    if cfg.crossbar.model == "pcm":
        rms, over, snr = metrics(y_cluster, ideal.y if shape.residual else ideal.y_project)
        report["crossbar"].update(
            t_inference=cfg.crossbar.t_inference, compensation=cfg.crossbar.drift_compensation,
            seed=cfg.crossbar.seed, rms_lsb=rms, over_1lsb=over, snr_db=snr)
    write_result(report)
    if os.environ.get("IMCC_DUMP"):
        d = dump(x, p, ref)
        d["y"] = y_cluster
        np.savez(os.environ["IMCC_DUMP"], **d)
    progress(dut, f"done: {total} cycles, {'bit-exact' if not mismatches else 'MISMATCH'}")
    assert not mismatches or os.environ.get("IMCC_NO_ASSERT"), "\n".join(mismatches)
