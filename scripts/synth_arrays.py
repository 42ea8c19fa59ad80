"""Hardware cost of crossbar arrays per IMA: synthesizes the IMA block alone
(flattened, generic gates, docs/synthesis.md; the macros stay outside) for
each --arrays count and prints cells, flip-flops and logic depth, and what
the arrays add over one.

    python scripts/synth_arrays.py                       # 1, 2, 8, 34 arrays
    python scripts/synth_arrays.py --arrays 1 4 --set ima.rows=64 --set ima.cols=64 --json
"""

import argparse
import json
import sys

from imcc.gen.config import ClusterConfig, ConfigError
from imcc.gen.synth import SynthError, synthesize
from imcc.rtl.registry import build_block


def measure(cfg: ClusterConfig) -> dict:
    rep = synthesize(cfg, "ima", component=build_block(cfg, "ima"), name="imcc_ima", flat=True)
    if not rep.ok:
        raise SynthError("; ".join(map(str, rep.problems)))
    return {"arrays": cfg.ima.arrays, "cells": rep.total.total_cells, "ffs": rep.total.ffs,
            "depth": rep.total.depth, "seconds": round(rep.seconds, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arrays", type=int, nargs="+", default=[1, 2, 8, 34])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        base = ClusterConfig.load(None, ["cores.count=0", *args.set])
        cfgs = [base.replace(ima={"arrays": n}) for n in args.arrays]
    except ConfigError as e:
        print(f"synth_arrays: error: {e}", file=sys.stderr)
        return 2
    rows = [measure(c) for c in cfgs]
    one = next((r for r in rows if r["arrays"] == 1), None)
    for r in rows:
        r["cells_over_one"] = r["cells"] - one["cells"] if one else None
        r["ffs_over_one"] = r["ffs"] - one["ffs"] if one else None
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'arrays':>6} {'cells':>8} {'FFs':>6} {'depth':>5} {'+cells':>8} {'+FFs':>5}"
              f" {'yosys s':>7}")
        for r in rows:
            print(f"{r['arrays']:>6} {r['cells']:>8} {r['ffs']:>6} {r['depth']:>5}"
                  f" {r['cells_over_one'] if one else '-':>8} {r['ffs_over_one'] if one else '-':>5}"
                  f" {r['seconds']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
