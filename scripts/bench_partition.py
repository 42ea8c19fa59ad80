"""Partitioning networks larger than the chip (gen/compiler/partition.py): the
tables of issue 23 for MobileNetV2 (224, width 1.0) and ResNet-18 (224) on
chips of 8, 16 and 34 arrays, batches 1, 16 and 256, PCM and fast writes:
each method's throughput and groups, the exact method's (dp) gain over
layer-wise and greedy, the GA's distance from the optimum, and the run time
of each method.  ``--fit`` prints the compute model's fit to the measured
per-layer cycles instead.

    python scripts/bench_partition.py [--fit] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from imcc.gen.compiler.partition import METHODS, Partitioner, fit, run_method  # noqa: E402
from imcc.gen.config import ClusterConfig  # noqa: E402
from imcc.sim.network import mobilenetv2  # noqa: E402
from imcc.sim.resnet import resnet18  # noqa: E402

ARRAYS, BATCHES = (8, 16, 34), (1, 16, 256)


def tables() -> dict:
    cfg = ClusterConfig()
    out = {"config": {"clock_mhz": cfg.clock.freq_mhz, "array": [cfg.ima.rows, cfg.ima.cols],
                      "prog_ns": cfg.ima.prog_ns, "mvm_ns": cfg.ima.mvm_ns},
           "rows": []}
    for net in (mobilenetv2(224, 1.0), resnet18()):
        for n in ARRAYS:
            t0 = time.perf_counter()
            P = Partitioner(net, cfg, n)
            fits = P.fits(0, len(P) - 1)
            for fast in (False, True):
                for b in BATCHES:
                    plans = {m: run_method(P, m, b, fast) for m in METHODS}
                    lat = {m: p.predicted_cycles() for m, p in plans.items()}
                    row = {"network": net.name, "arrays": n, "batch": b,
                           "writes": "fast" if fast else "pcm", "fits_whole": fits,
                           "throughput_ips": {m: round(p.throughput_ips, 3) for m, p in plans.items()},
                           "groups": {m: len(p.groups) for m, p in plans.items()},
                           "program_share_dp": round(plans["dp"].program_cycles / lat["dp"], 4),
                           "writes_per_device_per_inference": {
                               m: round(p.writes_per_device_per_inference, 5) for m, p in plans.items()},
                           "l2_peak_mib": {m: round(p.l2_peak_bytes / 2**20, 2) for m, p in plans.items()},
                           "dp_gain_over_layerwise": round(lat["layerwise"] / lat["dp"], 5),
                           "dp_gain_over_greedy": round(lat["greedy"] / lat["dp"], 5),
                           "ga_over_optimum": round(lat["ga"] / lat["dp"] - 1, 6),
                           "seconds": {m: round(p.seconds, 3) for m, p in plans.items()}}
                    out["rows"].append(row)
                    print(f"{net.name:<12} {n:>3} arrays B={b:<4} {row['writes']:<4} "
                          + " ".join(f"{m} {row['throughput_ips'][m]:.4g}/s ({row['groups'][m]} g)"
                                     for m in METHODS)
                          + f"  dp/layerwise {row['dp_gain_over_layerwise']:.4f}"
                          f" dp/greedy {row['dp_gain_over_greedy']:.4f}"
                          f" ga-opt {100 * row['ga_over_optimum']:.3f} %", file=sys.stderr)
            out.setdefault("partitioner_s", {})[f"{net.name}@{n}"] = round(time.perf_counter() - t0, 1)
    rows = out["rows"]
    out["summary"] = {
        "dp_gain_over_layerwise_max": max(r["dp_gain_over_layerwise"] for r in rows),
        "dp_gain_over_greedy_max": max(r["dp_gain_over_greedy"] for r in rows),
        "ga_over_optimum_max": max(r["ga_over_optimum"] for r in rows),
        "compass_reported_gain": 1.78}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="the compute model's fit, per layer")
    ap.add_argument("--out", help="also write the JSON here")
    a = ap.parse_args()
    r = fit() if a.fit else tables()
    text = json.dumps(r, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
