"""Build a program of sw/apps, run it on the generated cluster and return what
it left behind (helpers for tb/test_cores.py and scripts/)."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from imcc.gen import sw
from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import BottleneckShape, plan_bottleneck
from imcc.sim.bottleneck import bottleneck, random_bottleneck
from imcc.sim.crossbar import Crossbar
from imcc.tb import harness
from imcc.tb.bus.ima_driver import pack_window

__all__ = ["run_app", "run_sw_bottleneck", "run_acc_bottleneck", "BOTTLENECK_LAYERS",
           "ACC_JOBS"]

BOTTLENECK_LAYERS = ("expand 1x1", "depthwise 3x3", "project 1x1", "residual add")
# The jobs of sw/apps/bottleneck_acc.c, in the order of its job_error words.
ACC_JOBS = ("program expand", "program project", "expand 1x1", "depthwise 3x3", "project 1x1",
            "residual add")


def _params_words(p) -> np.ndarray:
    """The ``params`` words of bottleneck_sw.c / bottleneck_acc.c (0 for a layer
    the block does not have)."""
    v = [p.expand_gain, p.expand_shift, p.expand_lo, p.expand_hi,
         p.project_gain, p.project_shift, p.project_lo, p.project_hi,
         p.dw_shift, p.dw_lo, p.dw_hi,
         p.add_sa, p.add_sb, p.add_shift, p.add_lo, p.add_hi]
    return np.array([0 if a is None else a for a in v], dtype="<i4")


def run_app(cfg: ClusterConfig, app: str, *, testcase: str = "program", defines=None,
            inputs: dict[str, np.ndarray] | None = None, outputs: dict[str, int] | None = None,
            env: dict | None = None, l2_inputs: dict[int, bytes] | None = None,
            l2_outputs: dict[str, tuple[int, int]] | None = None, progress=None) -> dict:
    """Run ``sw/apps/<app>.c`` to its end on the cluster; the result dict has
    ``exit``, ``cycles``, ``wall_s``, ``console``, ``outputs`` (bytes) and the
    Verilator model's ``build_key``, ``build_s`` and ``build_reused``.  With
    ``l2_inputs`` (``{address: bytes}``) or ``l2_outputs`` (``{name: (address,
    bytes)}``, added to ``outputs``) the design has the L2 behind the DMA
    (tb/tops/cluster_l2.py)."""
    elf = sw.build(cfg, app, harness.build_dir() / "sw" / cfg.digest(), defines=defines)
    with tempfile.TemporaryDirectory() as d:
        extra = {"IMCC_ELF": str(elf), **(env or {})}
        if inputs:
            np.savez(Path(d) / "inputs.npz", **{k: np.ascontiguousarray(v) for k, v in inputs.items()})
            extra["IMCC_INPUTS"] = str(Path(d) / "inputs.npz")
        if outputs:
            extra["IMCC_OUTPUTS"] = json.dumps(outputs)
        top = {}
        if l2_inputs is not None or l2_outputs is not None:
            from imcc.tb.tops.cluster_l2 import ClusterL2
            top = {"top": "cluster_l2", "component": ClusterL2}
            np.savez(Path(d) / "l2.npz", **{f"{a:x}": np.frombuffer(bytes(v), np.uint8)
                                            for a, v in (l2_inputs or {}).items()})
            extra["IMCC_L2_INPUTS"] = str(Path(d) / "l2.npz")
            extra["IMCC_L2_OUTPUTS"] = json.dumps(l2_outputs or {})
        bench = harness.run_bench(cfg, "cores_sw", testcase=testcase, env=extra,
                                  progress=progress, **top)
        r, b = bench.result, bench.build
    r["outputs"] = {k: bytes.fromhex(v) for k, v in r["outputs"].items()}
    r["build_s"], r["build_reused"], r["build_key"] = b.seconds, b.reused, b.key
    r["sim_wall_s"], r["run_dir"] = bench.seconds, str(bench.run_dir)
    return r


def run_sw_bottleneck(cfg: ClusterConfig, h=28, w=28, cin=32, t=6, cout=32, seed=0) -> dict:
    """The software bottleneck (sw/apps/bottleneck_sw.c) on a random block of this
    shape; returns the run with ``layer_cycles``, the golden result and the
    per-layer outputs as arrays."""
    x, p = random_bottleneck(h, w, cin, t, cout, stride=1, seed=seed)
    gold = bottleneck(x, p)
    cexp = cin * t
    inputs = {"x": x.astype(np.int8), "params": _params_words(p),
              "w_expand_t": np.asarray(p.w_expand, np.int8).T,
              "w_dw": np.asarray(p.w_dw, np.int8), "dw_bias": np.asarray(p.dw_bias, "<i4"),
              "dw_scale": np.asarray(p.dw_scale, "<u4"),
              "w_project_t": np.asarray(p.w_project, np.int8).T}
    shapes = {"y_expand": (h, w, cexp), "y_dw": (h, w, cexp), "y_project": (h, w, cout),
              "y": (h, w, cout)}
    outputs = {k: int(np.prod(s)) for k, s in shapes.items()}
    outputs["layer_cycles"] = 16
    r = run_app(cfg, "bottleneck_sw", defines={"H": h, "W": w, "CIN": cin, "T": t, "COUT": cout},
                inputs=inputs, outputs=outputs, env={"IMCC_MAX_CYCLES": 20_000_000,
                                                     "IMCC_ACTIVITY_STAMPS": "1"})
    r["layer_cycles"] = np.frombuffer(r["outputs"].pop("layer_cycles"), "<u4").tolist()
    r["layer_activity"] = laps_activity(cfg, r.pop("activity_stamps", []), r["layer_cycles"])
    r["arrays"] = {k: np.frombuffer(r["outputs"][k], np.int8).reshape(s) for k, s in shapes.items()}
    r["golden"] = {"y_expand": gold.y_expand, "y_dw": gold.y_dw, "y_project": gold.y_project,
                   "y": gold.y}
    macs = [h * w * cin * cexp, h * w * cexp * 9, h * w * cexp * cout, h * w * cout]
    r["macs"] = macs
    return r


def run_acc_bottleneck(cfg: ClusterConfig, h=28, w=28, cin=32, t=6, cout=32, seed=0,
                       stride=1, *, bad_params: dict | None = None,
                       prefill: int | None = None) -> dict:
    """The accelerated bottleneck driven by core 0 (sw/apps/bottleneck_acc.c) on a
    random block of this shape: the testbench only loads the program, the input,
    the packed crossbar weights and the parameters, and waits for the end of
    test.  Returns the run with ``layer_cycles`` (expand, depthwise, project,
    add; 0 for a layer the block does not have), ``program_cycles`` (both
    crossbar windows), ``job_error`` (per job of :data:`ACC_JOBS`), the
    intermediate tensors as ``arrays`` and the golden ones as ``golden``.

    ``bad_params`` (fields of sim.bottleneck.BottleneckParams -> value) replace
    parameters in what the testbench writes, not in the golden model: error
    paths, where the exit code is the caller's to check.  ``prefill``: a byte
    written to every output tensor before the start (what a job that did not
    run leaves).  ``x`` and ``params`` are the block's input and parameters."""
    shape = BottleneckShape(h=h, w=w, cin=cin, t=t, cout=cout, stride=stride)
    plan = plan_bottleneck(cfg, shape)          # refuses a block that does not fit
    x, p = random_bottleneck(h, w, cin, t, cout, stride, seed)
    gold = bottleneck(x, p)
    ho, wo = shape.out_hw
    cexp = shape.cexp
    wp = plan.windows["project"]
    written = dataclasses.replace(p, **bad_params) if bad_params else p
    inputs = {"x": x.astype(np.int8), "params": _params_words(written),
              "w_dw": np.asarray(p.w_dw, np.int8), "dw_bias": np.asarray(p.dw_bias, "<i4"),
              "dw_scale": np.asarray(p.dw_scale, "<u4"),
              "w_project_packed": pack_window(p.w_project)}
    defines = {"H": h, "W": w, "CIN": cin, "T": t, "COUT": cout, "STRIDE": stride,
               "PRJ_ROW": wp.row, "PRJ_COL": wp.col}
    shapes = {"y_dw": (ho, wo, cexp), "y_project": (ho, wo, cout)}
    golden = {"y_dw": gold.y_dw, "y_project": gold.y_project}
    words = len(inputs["w_project_packed"])
    if shape.expand:
        we = plan.windows["expand"]
        inputs["w_expand_packed"] = pack_window(p.w_expand)
        defines.update(EXP_ROW=we.row, EXP_COL=we.col)
        shapes["y_expand"] = (h, w, cexp)
        golden["y_expand"] = gold.y_expand
        words += len(inputs["w_expand_packed"])
    if shape.residual:
        shapes["y"] = (ho, wo, cout)
        golden["y"] = gold.y
    outputs = {k: int(np.prod(s)) for k, s in shapes.items()}
    if prefill is not None:
        inputs.update({k: np.full(n, prefill, np.uint8) for k, n in outputs.items()})
    outputs.update(layer_cycles=16, program_cycles=4, job_error=4 * len(ACC_JOBS))
    # a hang (an event that never comes) ends at the testbench's cycle limit:
    # the programming time plus a generous bound on inference
    limit = words * Crossbar(cfg).prog_cycles + 2_000_000
    r = run_app(cfg, "bottleneck_acc", testcase="program_any_exit" if bad_params else "program",
                defines=defines, inputs=inputs, outputs=outputs,
                env={"IMCC_MAX_CYCLES": limit, "IMCC_ACTIVITY_STAMPS": "1"})
    out = r["outputs"]
    r["layer_cycles"] = np.frombuffer(out.pop("layer_cycles"), "<u4").tolist()
    r["layer_activity"] = laps_activity(cfg, r.pop("activity_stamps", []), r["layer_cycles"])
    r["program_cycles"] = int(np.frombuffer(out.pop("program_cycles"), "<u4")[0])
    r["job_error"] = dict(zip(ACC_JOBS, np.frombuffer(out.pop("job_error"), "<u4").tolist()))
    r["arrays"] = {k: np.frombuffer(out[k], np.int8).reshape(s) for k, s in shapes.items()}
    r["golden"], r["x"], r["params"], r["plan"] = golden, x, p, plan
    r["macs"] = [h * w * cin * cexp if shape.expand else 0, ho * wo * cexp * 9,
                 ho * wo * cexp * cout, ho * wo * cout if shape.residual else 0]
    return r


def laps_activity(cfg: ClusterConfig, stamps: list[dict], laps: list[int]) -> list[dict]:
    """Per lap of a program that times its layers with consecutive CYCLE_LO
    reads (``layer_cycles``: the differences), the activity counters over that
    lap: the laps are found among the bench's snapshots as the last run of
    stamps whose differences are the laps.  [] when the counters are off or
    no such run exists."""
    at = {s["stamp"] for s in stamps}
    cum = np.cumsum([0, *laps]).tolist()
    for s in reversed(stamps):
        start = s["stamp"]
        if all((start + c) & 0xFFFF_FFFF in at for c in cum):
            return layer_activity(cfg, stamps, start, [(start + c) & 0xFFFF_FFFF for c in cum[1:]])
    return []


def layer_activity(cfg: ClusterConfig, stamps: list[dict], start: int,
                   marks: list[int]) -> list[dict]:
    """Per mark, the activity between the previous time stamp (``start`` for
    the first) and the mark's, from the snapshots the bench took at each
    CYCLE_LO read (``stamps``, each with the ``stamp`` it returned), up to the
    last mark the run reached; [] when the counters are off."""
    from imcc.tb.counters import delta
    by = {s["stamp"]: {k: v for k, v in s.items() if k != "stamp"} for s in stamps}
    if not by or start not in by:
        return []
    out, prev = [], by[start]
    for mk in marks:
        if mk not in by:        # a mark the run did not reach (it ended on an error)
            break
        cur = by[mk]
        out.append(delta(cur, prev, cfg))
        prev = cur
    return out


WALKER_PARTS = ("parse", "snapshot", "barriers", "heads", "issue_hwpe", "issue_dma", "sleep",
                "rest")


def run_network(compiled, *, max_cycles: int | None = None, progress=None, waves=False,
                trace=False, profile=False) -> dict:
    """A compiled network (gen/compiler/network.Compiled) on the cluster in RTL:
    core 0 runs sw/apps/network.c, which walks the job list; the testbench
    only loads L2 (input, parameters, job list) and the arrays' weight image,
    starts the cores and reads every tensor back from L2 after the end.

    Returns the run (as :func:`run_app`) with ``tensors`` (name -> array as the
    cluster produced it), ``marks`` (cycle counter after each layer),
    ``net_status`` (entries done, failing entry + 1, unit, error code),
    ``activity`` (the activity counters from the cores' start to the end,
    tb/counters.py) and ``layer_activity`` (per mark: the counters between the
    previous mark, or the first entry's start, and this one; snapshots taken by
    VPI when the program reads the cycle counter, so no cycle count changes).

    ``profile``: the walker built with ``WALKER_PROFILE`` (sw/apps/network.c), and
    ``walker_profile``: per part of core 0's walk (:data:`WALKER_PARTS`) its cycles
    and how often it ran (reading the cycle counter costs a few cycles a part)."""
    from imcc.gen.compiler.program import arena_bytes
    prog, cfg = compiled.program, compiled.cfg
    with tempfile.TemporaryDirectory() as d:
        image = Path(d) / "weights.npz"
        compiled.image.save(image)
        outputs = {name: (t.addr, t.nbytes) for name, t in prog.tensors.items()
                   if name not in prog.l1_tensors}
        n_marks = len(prog.marks)
        # a hang ends at a cycle limit far above any schedule's time
        limit = max_cycles or 20_000_000 + 400 * sum(
            compiled.lowered.net.macs(L) for L in compiled.lowered.net.layers) // 1000
        env = {"IMCC_WEIGHT_IMAGE": str(image), "IMCC_MAX_CYCLES": limit,
               "IMCC_L1_OUTPUTS": json.dumps({n: (a, int(np.prod(s)))
                                              for n, (a, s) in prog.l1_tensors.items()}),
               "IMCC_MARKS": "mark_count", "IMCC_MARKS_TOTAL": n_marks,
               "IMCC_ACTIVITY_STAMPS": "1"}
        if waves:
            env["WAVES"] = "1"
        if trace:
            env["IMCC_TRACE_EVENTS"] = "1"
        if prog.taps:           # intermediate bands the check reads in L1 (Program.taps)
            (Path(d) / "taps.json").write_text(json.dumps(
                [{"l1": t.l1_addr, "n": t.nbytes, "waits": t.waits} for t in prog.taps]))
            env["IMCC_TAPS"] = str(Path(d) / "taps.json")
        r = run_app(cfg, "network", testcase="program_any_exit",
                    defines={"ARENA_BYTES": arena_bytes(cfg),
                             **({"WALKER_PROFILE": 1} if profile else {}),
                             # the walker hands waits to the HWPEs' WAIT registers
                             **({"JOB_WAITS": 1} if any(prog.job_waits(u) for u in prog.units)
                                else {})},
                    outputs={"marks": 4 * n_marks, "net_status": 16, "start_cycles": 4,
                             **({"walker_profile": 64} if profile else {})}, env=env,
                    l2_inputs=prog.l2_image(compiled.x), l2_outputs=outputs, progress=progress)
    out = r["outputs"]
    r["marks"] = np.frombuffer(out.pop("marks"), "<u4").tolist()
    r["net_status"] = np.frombuffer(out.pop("net_status"), "<u4").tolist()
    r["start_cycles"] = int(np.frombuffer(out.pop("start_cycles"), "<u4")[0])
    if profile:
        w = np.frombuffer(out.pop("walker_profile"), "<u4").tolist()
        r["walker_profile"] = {p: {"cycles": w[i], "count": w[8 + i]}
                               for i, p in enumerate(WALKER_PARTS)}
    r["layer_activity"] = layer_activity(cfg, r.pop("activity_stamps", []), r["start_cycles"],
                                         r["marks"])
    r["tensors"] = {}
    for name, (a, shape) in prog.l1_tensors.items():
        r["tensors"][name] = np.frombuffer(out.pop(f"l1:{name}"), np.int8).reshape(shape).copy()
    # the taps' bands over what L2 holds of those tensors (the halo rows' copies)
    raws = {name: bytearray(raw) for name, raw in out.items()}
    got = r.pop("taps", None) or [None] * len(prog.taps)
    missed = [t.tensor for t, b in zip(prog.taps, got) if b is None]
    if missed and r["exit"] == 0:
        raise AssertionError(f"{len(missed)} check taps never read (the jobs writing "
                             f"{missed[0]}'s rows did not end)")
    for t, b in zip(prog.taps, got):
        if b is not None:
            o = t.l2_addr - prog.tensors[t.tensor].addr
            raws[t.tensor][o:o + t.nbytes] = bytes.fromhex(b)
    out = raws
    for name, raw in list(out.items()):
        t = prog.tensors[name]
        h, w, c = t.shape
        a = np.frombuffer(raw, np.int8).reshape(h + 2 * t.pad, w + 2 * t.pad, c)
        r["tensors"][name] = a[t.pad:t.pad + h, t.pad:t.pad + w].copy()
        del out[name]
    return r
