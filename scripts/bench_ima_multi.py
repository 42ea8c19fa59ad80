#!/usr/bin/env python3
"""Many crossbars: two IMA instances streaming full 256 x 256 layers at once
against one (aggregate MVMs per cycle, target >= 1.95x), the cycles a job
pays for naming another array than the job before (target <= 2), and the
wall time of starting 34 arrays from a weight image against programming them
(programming extrapolated linearly from the simulated rate of the reference
block's programming jobs: the macro's time is per write).  A table, then one JSON line.

    python scripts/bench_ima_multi.py [--pixels 128]
"""

import argparse
import json
import time

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.sim.crossbar import Crossbar
from imcc.sim.weight_image import WeightImage
from imcc.tb import harness


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pixels", type=int, default=128, help="MVMs per instance")
    # (the programming rate comes from the reference block's two windows)
    args = ap.parse_args()
    base = ClusterConfig().replace(cores={"count": 0}, dw={"instances": 0},
                                   dma={"enabled": False})
    rates = {}
    for n in (1, 2):
        cfg = base.replace(ima={"instances": n})
        r = harness.run_bench(cfg, "instances", testcase="stream_all", name=f"bench_ima_x{n}",
                              env={"IMCC_PIXELS": args.pixels}).result
        rates[n] = r
    speedup = rates[2]["mvms_per_cycle"] / rates[1]["mvms_per_cycle"]
    arr_cfg = base.replace(ima={"arrays": 2})
    a = harness.run_bench(arr_cfg, "ima_arrays", testcase="alternating_arrays",
                          name="bench_ima_arrays", env={"IMCC_PIXELS": 16}).result
    # 34 arrays: the weight image against programming (the model programs 8 weights
    # per write: rows x cols / 8 writes of prog_ns each per array).
    cfg34 = base.replace(ima={"arrays": 34})
    rows, cols = cfg34.ima.rows, cfg34.ima.cols
    rng = np.random.default_rng(1)
    image = WeightImage()
    for k in range(34):
        image.place("ima", k, rng.integers(-7, 8, (rows, cols)), shape=(rows, cols))
    t0 = time.monotonic()
    for k in range(34):
        Crossbar(cfg34, seed=k).load(image.arrays["ima", k])
    preload_s = time.monotonic() - t0
    writes = rows * cols // 8
    prog_cycles = writes * cfg34.macro_cycles(cfg34.ima.prog_ns)
    # the gated simulator's measured rate while programming (the demo: 770k cycles)
    demo = harness.run_bench(ClusterConfig().replace(cores={"count": 0}), "bottleneck",
                             name="bench_ima_multi_program",
                             env={"IMCC_BLOCK": json.dumps(dict(h=28, w=28, cin=32, t=6,
                                                                cout=32, stride=1))})
    d = demo.result
    prog_rate = d["program_cycles"] / max(d["program_wall_s"], 1e-9)
    print("two IMA instances streaming full 256 x 256 layers:")
    for n, r in rates.items():
        print(f"  {n} instance(s): {r['mvms']} MVMs in {r['cycles']} cycles, "
              f"{r['mvms_per_cycle']:.4f} MVMs/cycle")
    print(f"  speedup {speedup:.3f}x (target >= 1.95)")
    print(f"array switch: {a['switch_overhead_per_job']:+.2f} cycles per job "
          f"(alternating {a['cycles']['alternating']}, same array {a['cycles']['same']}; "
          f"target <= 2)")
    print(f"34 arrays: preloading the image {preload_s:.2f} s wall; programming needs "
          f"34 x {prog_cycles} = {34 * prog_cycles} cycles")
    out = {"two_instances_speedup": round(speedup, 4),
           "array_switch_overhead_cycles": a["switch_overhead_per_job"],
           "preload_34_arrays_wall_s": round(preload_s, 3),
           "program_34_arrays_cycles": 34 * prog_cycles}
    if prog_rate:
        out["program_34_arrays_wall_s_estimate"] = round(34 * prog_cycles / prog_rate, 1)
        print(f"  at the measured {prog_rate:.0f} programming cycles per second: about "
              f"{out['program_34_arrays_wall_s_estimate']:.0f} s of simulation (extrapolated)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
