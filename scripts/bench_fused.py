"""The fused schedule's figures (issue 22): the reference bottleneck 28x28x32,
t=6 in RTL, layer after layer (the paper's execution) and fused on two IMA
instances with one or two DW accelerators, and optionally MobileNetV2 at
224x224 fused (--network, a few minutes).  Prints JSON: per run the cycles,
the configuration it ran on and the bit-exact check.

    python scripts/bench_fused.py [--network]
"""

from __future__ import annotations

import json
import sys

from imcc.gen.cli import run_json as imcc


def main() -> None:
    out = {"paper_cycles": 177_000, "bound_cycles": 784 * 65}
    layer = imcc("demo")
    out["layer"] = {"total_cycles": layer["total_cycles"], "bit_exact": layer["bit_exact"],
                    "config": "default (1 IMA, 1 DW sharing its data ports)"}
    for name, sets in (("fused_2ima_1dw", ["ima.instances=2"]),
                       ("fused_2ima_2dw", ["ima.instances=2", "dw.instances=2"])):
        args = ["demo", "--schedule", "fused"] + [a for s in sets for a in ("--set", s)]
        r = imcc(*args)
        out[name] = {k: r.get(k) for k in ("total_cycles", "bit_exact", "bound_cycles", "config",
                                           "jobs", "l2_traffic_bytes", "model_cycles",
                                           "model_error", "utilisation")}
        out[name]["speedup_vs_layer"] = round(layer["total_cycles"] / r["total_cycles"], 2)
    if "--network" in sys.argv:
        for sched, sets in (("layer", []), ("fused", ["ima.instances=2"])):
            args = ["run", "mobilenetv2", "--schedule", sched] + \
                [a for s in sets for a in ("--set", s)]
            r = imcc(*args)
            out[f"mobilenetv2_224_{sched}"] = {
                k: r.get(k) for k in ("total_cycles", "latency_ms", "bit_exact", "arrays_used",
                                      "total_arrays", "config", "l2_traffic_bytes", "sim_wall_s",
                                      "model_cycles", "model_error", "replication", "utilisation")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
