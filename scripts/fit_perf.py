"""Fit the performance model's constants (gen/compiler/perf.py ``Constants``) to
RTL runs: core 0's walker costs and the units' job start-ups.

Usage: python scripts/fit_perf.py [--cases NAME[@LOOKAHEAD],...] [--rerun] [--out build/fit]

Runs each case in RTL (Verilator; cached in OUT/rtl.json by the SHA-1 of the
job list and of the walker, sw/apps/network.c, so a case runs again only
when one of them changes or with --rerun),
then fits the constants (Nelder-Mead on the squared relative error of each
case's whole run plus the mean over its segments, MARK to MARK: every case
weighs the same, a 19-layer network as much as a one-segment block) and prints one JSON object: the constants,
and per case the RTL and model cycles and the error, before and after.
Paste the constants into perf.Constants when they are better everywhere
(tb/test_network.py holds the fused runs to MODEL_TOL).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from imcc.gen.compiler.network import compile_network, reference_block
from imcc.gen.compiler.perf import CONSTANTS, Constants, predict
from imcc.gen.config import ClusterConfig
from imcc.sim.network import mobilenetv2, randomize

WALKER_SRC = Path(__file__).resolve().parents[1] / "sw" / "apps" / "network.c"
TWO_x17 = {"ima": {"instances": 2, "arrays": 17, "macro_ports": "bank"}}
POOL2 = {"ima": {"instances": 2, "arrays": 8, "macro_ports": "pool"},
         "dw": {"instances": 2, "ports": "own"}}
POOL4_224 = {"ima": {"instances": 4, "arrays": 34, "macro_ports": "pool"},
             "dw": {"instances": 2, "ports": "own"}, "dma": {"data_width": 128}}


def _waits(sets, n=2):
    """``sets`` with n job waits on the IMAs and the DWs."""
    return {**sets, "ima": {**sets["ima"], "job_waits": n}, "dw": {**sets.get("dw", {}), "job_waits": n}}


def _mnv2(res, width):
    return lambda: randomize(mobilenetv2(res, width), 0)


# name -> (network builder, configuration changes, schedule); the fused ones are the
# points tb/test_network.py and docs/compiler.md hold the model to
CASES = {
    "mnv2_224_fused_2x17": (_mnv2(224, 1.0), TWO_x17, "fused"),
    "mnv2_224_fused_2x17_2ports": (_mnv2(224, 1.0), {"ima": {**TWO_x17["ima"], "data_ports": 2}},
                                   "fused"),
    "block_fused_2ima": (reference_block, {"ima": {"instances": 2, "arrays": 4}}, "fused"),
    "block_fused_1ima": (reference_block, {"ima": {"arrays": 6}}, "fused"),
    "mnv2_32_fused_6arrays": (_mnv2(32, 0.35), {"ima": {"arrays": 6}}, "fused"),
    "mnv2_32_fused_2ima": (_mnv2(32, 0.35), {"ima": {"instances": 2, "arrays": 4}}, "fused"),
    "mnv2_32_layer_6arrays": (_mnv2(32, 0.35), {"ima": {"arrays": 6}}, "layer"),
    # a pool of arrays (ima.macro_ports = "pool"): tb/test_network.py's POOL, and the
    # 224 point of docs/compiler.md (4 IMAs on 34 arrays, 2 DWs, a 128-bit DMA)
    "block_fused_pool2": (reference_block, POOL2, "fused"),
    "mnv2_32_fused_pool2": (_mnv2(32, 0.35), POOL2, "fused"),
    "mnv2_224_fused_pool4": (_mnv2(224, 1.0), POOL4_224, "fused"),
    # the same with job waits (ima.job_waits, dw.job_waits): the walker hands waits over
    "block_fused_pool2_waits": (reference_block, _waits(POOL2), "fused"),
    "mnv2_32_fused_pool2_waits": (_mnv2(32, 0.35), _waits(POOL2), "fused"),
    "mnv2_224_fused_pool4_waits": (_mnv2(224, 1.0), _waits(POOL4_224), "fused"),
}
FIT = ("issue", "per_word", "parse", "scan", "per_unit", "skip", "wake", "ima_job", "dw_job", "dma_job",
       "gate", "gate_try", "px_beats", "px2_beats", "add_beats", "bank_load", "dma_load", "core_load")


def compiled(name):
    """Case ``name``, or ``name@W``: with the walker's lookahead W."""
    base, _, ahead = name.partition("@")
    build, sets, schedule = CASES[base]
    net, x = build()
    c = compile_network(net, x, ClusterConfig().replace(**sets), schedule=schedule)
    if base.endswith("_waits"):     # the walker hands waits over, whatever the model prefers
        c.program.use_waits = True
    if ahead:
        c.program.lookahead = int(ahead)
    return c


def segments(marks: list[float]) -> np.ndarray:
    m = np.asarray([0.0, *marks])
    return np.diff(m)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--rerun", action="store_true", help="run every case in RTL again")
    ap.add_argument("--out", default="build/fit")
    ap.add_argument("--iterations", type=int, default=600)
    ap.add_argument("--fit", default=",".join(FIT), help="the constants to fit (the rest kept)")
    a = ap.parse_args(argv)
    names = a.cases.split(",")
    fit = a.fit.split(",")
    if any(f not in FIT for f in fit):
        print(f"--fit: no constant {next(f for f in fit if f not in FIT)!r} (have {', '.join(FIT)})",
              file=sys.stderr)
        return 2
    bad = [n for n in names if n.partition("@")[0] not in CASES
           or not (n.partition("@")[2] or "1").isdigit()]
    if bad:
        print(f"--cases: no case {bad[0]!r} (have {', '.join(CASES)})", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "rtl.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    progs, rtl = {}, {}
    from imcc.tb.programs import run_network
    for n in names:
        c = compiled(n)
        # the job list and the walker that runs it
        sha = hashlib.sha1(c.program.encode() + WALKER_SRC.read_bytes()).hexdigest()[:16]
        hit = cache.get(n)
        if a.rerun or not hit or hit["job_list_sha1"] != sha:
            print(f"[fit] {n}: RTL run", file=sys.stderr, flush=True)
            res = run_network(c)
            if res["exit"] != 0:
                raise SystemExit(f"{n}: the run failed (net_status {res['net_status']})")
            marks = [(m - res["start_cycles"]) & 0xFFFF_FFFF for m in res["marks"]]
            hit = cache[n] = {"job_list_sha1": sha, "marks": marks}
            cache_path.write_text(json.dumps(cache, indent=1))
        progs[n], rtl[n] = c.program, segments(hit["marks"])

    def errors(k: Constants) -> dict:
        out = {}
        for n in names:
            seg = segments(predict(progs[n], k)["marks"])
            out[n] = (seg / rtl[n] - 1, seg.sum() / rtl[n].sum() - 1)
        return out

    def loss(v):
        if np.any(v < 0):
            return 1e9
        k = dataclasses.replace(CONSTANTS, **dict(zip(fit, v)))
        tot = 0.0
        for seg, whole in errors(k).values():      # every case weighs the same
            tot += float(np.mean(seg ** 2)) + whole ** 2
        return tot

    from scipy.optimize import minimize
    x0 = np.array([getattr(CONSTANTS, f) for f in fit])
    best = minimize(loss, x0, method="Nelder-Mead",
                    options={"maxiter": a.iterations, "xatol": 0.5, "fatol": 1e-6})
    k = dataclasses.replace(CONSTANTS, **{f: round(float(v), 2) for f, v in zip(fit, best.x)})
    before, after = errors(CONSTANTS), errors(k)
    report = {"constants": dataclasses.asdict(k), "loss_before": round(loss(x0), 4),
              "loss_after": round(float(best.fun), 4), "cases": {}}
    for n in names:
        report["cases"][n] = {
            "rtl_cycles": int(rtl[n].sum()),
            "model_before": int(round(rtl[n].sum() * (1 + before[n][1]))),
            "error_before": round(float(before[n][1]), 4),
            "model_after": int(round(rtl[n].sum() * (1 + after[n][1]))),
            "error_after": round(float(after[n][1]), 4),
            "worst_segment_after": round(float(np.max(np.abs(after[n][0]))), 4)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
