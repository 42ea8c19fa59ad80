"""How fast can MobileNetV2 run on this cluster's IMAs at a given array budget?
The floors below which no schedule goes, per configuration, beside the
performance model's latency and what it says bounds the run.

Usage: python scripts/bench_floor.py [--input 224] [--width 1.0] [--budget 34]
       [--target-ms 2.0] [--configs 1x34,2x17,3x11,...] [--config FILE] [--set KEY=VALUE ...]

Prints one JSON object (figures are analytic or the performance model's,
gen/compiler/perf.py; none is an RTL run):

* ``weight_arrays``: arrays the network's weights fill at the very least
  (cells / array cells, no replication);
* ``mvm_cycles``: an IMA's cycles per MVM (the analog latency + 1; sim/ima_perf.py);
* ``min_mvms``: the network's MVMs with every layer at its largest in-array
  replication (copies on the diagonal, ``lower.rep_options``) whatever space that
  takes; ``engines_for_target``: IMA instances that must compute at the same
  time for those MVMs to fit in ``target_ms`` (each instance runs one MVM at a
  time, arrays of one instance take turns);
* per configuration ``I x A`` (``points``): ``within_budget``; the compiled
  fused job list's ``mvms`` (its replication, in the space the budget leaves);
  ``ima_floor_ms`` = its busiest IMA instance's MVMs back to back (``I x A:pool``,
  I IMAs sharing a pool of A arrays: the MVMs spread over the I engines, or the
  busiest array's, whichever is more);
  ``ideal_floor_ms`` = ``min_mvms`` spread evenly over the I instances;
  ``dma_floor_ms`` = its L2 bytes at the DMA's width; ``model_ms`` and the
  model's ``saving_if_2x`` per unit (``ima*``: every IMA instance at once).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from imcc.gen.cli import add_config_args, load_config
from imcc.gen.config import ConfigError
from imcc.gen.mapping import MappingError
from imcc.gen.compiler.lower import IMA_OPS, rep_shape
from imcc.gen.compiler.network import compile_network
from imcc.gen.compiler.perf import sensitivity
from imcc.gen.compiler.utilisation import job_list_mvms, min_mvms, unit_work
from imcc.sim.ima_perf import mvm_cycles
from imcc.sim.network import mobilenetv2, randomize

DEFAULT_CONFIGS = "1x34,2x17,3x11,4x8,2x17:dma128,3x12,4x9,2x34:pool,4x34:pool"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", type=int, default=224)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--budget", type=int, default=34, help="arrays in all (the paper's 34)")
    ap.add_argument("--target-ms", type=float, default=2.0)
    ap.add_argument("--configs", default=DEFAULT_CONFIGS,
                    help="IxA[:dma128|:pool] points: I IMA instances of A arrays each (dma128: "
                         "a 128-bit DMA), or I IMAs sharing one pool of A arrays (pool: with a "
                         "128-bit DMA and 2 DWs)")
    add_config_args(ap)
    a = ap.parse_args(argv)
    try:
        base = load_config(a)
    except ConfigError as e:
        print(f"bench_floor: error: {e}", file=sys.stderr)
        return 2
    try:
        net, x = randomize(mobilenetv2(a.input, a.width), 0)
    except ValueError as e:
        print(f"bench_floor: error: --input/--width: {e}", file=sys.stderr)
        return 2
    R, C = base.ima.rows, base.ima.cols
    cells = sum(math.prod(rep_shape(net, L, 1)) for L in net.layers if L.op in IMA_OPS)
    mvm = mvm_cycles(base)     # (the engine starts MVMs back to back: sim/ima_perf.py)
    mhz = base.clock.freq_mhz
    least = min_mvms(net, R, C)
    target = a.target_ms * mhz * 1000
    report = {"network": f"mobilenetv2 {a.input}/{a.width}", "budget_arrays": a.budget,
              "target_ms": a.target_ms, "clock_mhz": mhz,
              "weight_arrays": round(cells / (R * C), 2), "mvm_cycles": mvm,
              "min_mvms": least, "engines_for_target": math.ceil(least * mvm / target),
              "source": "analytic floors and the performance model (gen/compiler/perf.py), no RTL",
              "points": []}
    for spec in a.configs.split(","):
        shape, _, opt = spec.partition(":")
        try:
            n, k = (int(v) for v in shape.lower().split("x"))
        except ValueError:
            print(f"--configs: {spec!r} is not IxA[:dma128|:pool]", file=sys.stderr)
            return 2
        pool = opt == "pool"       # I IMAs sharing one pool of A arrays
        ima = {"instances": n, "arrays": k, "macro_ports": "pool" if pool else "bank"}
        # the DW on its own ports beside several IMAs, as `imcc run` gives it
        dw = {"ports": "own"} if n > 1 else {}
        if pool:
            dw["instances"] = 2
        cfg = base.replace(ima=ima, dw=dw, l2={"size_kib": 8192},
                           **({"dma": {"data_width": 128}} if opt in ("dma128", "pool") else {}))
        try:
            c = compile_network(net, x, cfg, schedule="fused", arrays="config")
        except MappingError as e:      # the weights do not fit I x A arrays
            report["points"].append({"config": spec, "ima.instances": n, "ima.arrays": k,
                                     "arrays": k if pool else n * k, "fits": False, "why": str(e)})
            print(json.dumps(report["points"][-1]), file=sys.stderr, flush=True)
            continue
        prog = c.program
        busy, arrays = unit_work(prog)
        mvms = job_list_mvms(prog)
        per_inst = max(v for u, v in busy.items() if u.startswith("ima"))
        if pool:    # the engines share the MVMs; an array computes one at a time
            per_inst = max(sum(v for u, v in busy.items() if u.startswith("ima")) / n,
                           max(arrays.values()))
        dma = sum(v for u, v in busy.items() if u.startswith("dma"))
        s = sensitivity(prog)
        ms = lambda cyc: round(cyc / mhz / 1000, 3)   # noqa: E731
        report["points"].append({
            "config": spec, "ima.instances": n, "ima.arrays": k, "arrays": cfg.ima.total_arrays,
            "fits": True, "within_budget": cfg.ima.total_arrays <= a.budget,
            "dma.data_width": cfg.dma.data_width,
            "mvms": mvms, "ima_floor_ms": ms(per_inst), "ideal_floor_ms": ms(least * mvm / n),
            "dma_floor_ms": ms(dma), "model_ms": ms(s["cycles"]),
            "model_bound": s["bound"], "saving_if_2x": s["saving"],
            "replication": {"in_tile": dict(c.mapping.reps),
                            "instances": {l: len(v) for l, v in c.mapping.replicas.items()}}})
        print(json.dumps({k2: v for k2, v in report["points"][-1].items() if k2 != "replication"}),
              file=sys.stderr, flush=True)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
