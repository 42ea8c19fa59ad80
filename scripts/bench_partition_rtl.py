"""The partitioner's RTL check (issue 23): MobileNetV2 32x32, width 0.5 on a chip of
5 arrays (it needs 10) with fast writes, planned greedily into groups, run in RTL
group after group with real reprogramming (PROGRAM jobs from L2) and every layer
checked bit-exactly; prints the model's cycles beside the measured ones (JSON).

    python scripts/bench_partition_rtl.py [--method greedy|dp|ga|layerwise]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from imcc.gen.compiler.partition import plan
from imcc.gen.compiler.partitioned import compile_partitioned
from imcc.gen.config import ClusterConfig
from imcc.sim.network import mobilenetv2, randomize
from imcc.tb.programs import run_network


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="greedy")
    a = ap.parse_args()
    arrays = 5
    cfg = ClusterConfig().replace(ima={"arrays": arrays, "prog_ns": 4.0})   # fast writes
    net, x = randomize(mobilenetv2(32, 0.5), 0)
    p = plan(net, cfg, arrays, 1, a.method, fast_write=True)
    c = compile_partitioned(net, x, cfg, p)
    t0 = time.monotonic()
    r = run_network(c)
    bad = [k for k, v in c.golden.items() if not np.array_equal(r["tensors"][k], v)]
    m = [r["start_cycles"]] + r["marks"]
    total = m[-1] - m[0]
    prog = sum(m[i + 1] - m[i] for i, n in enumerate(c.program.marks) if n.startswith("program:"))
    model = p.predicted_cycles()
    print(json.dumps({
        "network": "mobilenetv2 32x32 width 0.5", "arrays": arrays, "needs_arrays": 10,
        "method": a.method, "groups": len(p.groups), "exit": r["exit"], "bit_exact": not bad,
        "mismatches": bad, "measured_cycles": total, "model_cycles": model,
        "model_error": round(model / total - 1, 4), "measured_program_cycles": prog,
        "model_program_cycles": p.program_cycles, "measured_compute_cycles": total - prog,
        "model_compute_cycles": p.compute_cycles, "writes": sum(g.writes for g in p.costs),
        "tiles": sum(g.tiles for g in p.costs), "sim_wall_s": round(time.monotonic() - t0, 1),
        "note": "programming constants (PROG_WRITE_EXTRA, PROG_JOB_CYCLES) were measured on "
                "this run; the compute model is fitted to other networks (224x224 width 1.0 and "
                "32x32 width 0.35)"}, indent=1))


if __name__ == "__main__":
    main()
