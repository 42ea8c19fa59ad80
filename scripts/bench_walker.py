"""Where core 0's time goes while it walks a job list (sw/apps/network.c): the
network run twice in RTL, as built (its cycles) and with the walker built with
``WALKER_PROFILE``, which reads the cycle counter between the parts of each
scan and adds up per part (parse, snapshot of the end counts, barriers, unit
heads looked at without issuing, HWPE issues, DMA issues, sleeping, the rest).
Reading the counter costs a few cycles a part, so the profiled run is longer;
the shares are what to read.  Beside them the performance model's estimate of
the walker's busy cycles (gen/compiler/perf.py).

    python scripts/bench_walker.py [--input 32] [--width 0.35] [--schedule fused]
        [--config FILE] [--set KEY=VALUE ...]

Default: MobileNetV2 32x32/0.35 fused on two IMAs sharing a pool of 8 arrays and
two DWs (tb/test_network.py's POOL), where the walker bounds the run.  Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from imcc.gen.cli import add_config_args, load_config
from imcc.gen.compiler.network import compile_network
from imcc.gen.compiler.perf import predict
from imcc.gen.config import ConfigError
from imcc.gen.mapping import MappingError
from imcc.sim.network import mobilenetv2, randomize

POOL = ["ima.instances=2", "ima.arrays=8", "ima.macro_ports=pool", "dw.instances=2",
        "dw.ports=own"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", type=int, default=32)
    ap.add_argument("--width", type=float, default=0.35)
    ap.add_argument("--schedule", choices=("fused", "layer"), default="fused")
    add_config_args(ap)
    a = ap.parse_args(argv)
    if not a.config and not a.set:
        a.set = list(POOL)
    try:        # a bad field, size or mapping: one line, exit 2
        net, x = randomize(mobilenetv2(a.input, a.width), 0)
        c = compile_network(net, x, load_config(a), schedule=a.schedule)
    except (ConfigError, ValueError, MappingError) as e:
        print(f"bench_walker: error: {e}", file=sys.stderr)
        return 2
    from imcc.tb.programs import run_network
    runs = {}
    for profile in (False, True):
        res = run_network(c, profile=profile)
        if res["exit"] != 0:
            print(f"bench_walker: the run failed: {c.program.failure(res['net_status'])}",
                  file=sys.stderr)
            return 1
        runs[profile] = res
    cycles = (runs[False]["marks"][-1] - runs[False]["start_cycles"]) & 0xFFFF_FFFF
    prof = runs[True]["walker_profile"]
    total = sum(p["cycles"] for p in prof.values())
    model = predict(c.program)
    print(json.dumps({
        "network": f"mobilenetv2 {a.input}/{a.width} {a.schedule}", "config": a.set,
        "jobs": len(c.program.jobs), "cycles": cycles,
        "profiled_cycles": (runs[True]["marks"][-1] - runs[True]["start_cycles"]) & 0xFFFF_FFFF,
        "model_cycles": model["cycles"], "model_walker_busy": model["walker"],
        "parts": {k: {**v, "per": round(v["cycles"] / max(v["count"], 1), 1),
                      "share": round(v["cycles"] / max(total, 1), 3)} for k, v in prof.items()},
        "source": "RTL (Verilator), the profiled walker; model: gen/compiler/perf.py"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
