"""Hardware cost of the logarithmic interconnect versus masters and banks.

Synthesizes the Interconnect alone (flattened, generic gates, see
docs/synthesis.md) for every combination of --masters and --banks and prints
cells, flip-flops, logic depth and cells per crosspoint (masters x targets;
targets = banks + peripheral slaves).  The rest of the configuration is the
default (or --config / --set).

    python scripts/synth_scaling.py                      # 8, 13, 16 masters on 32 banks
    python scripts/synth_scaling.py --masters 14 --banks 8 16 32 64 --json
"""

import argparse
import json
import sys

from imcc.gen.config import ClusterConfig, ConfigError
from imcc.gen.synth import SynthError, synthesize
from imcc.rtl.interconnect import Interconnect
from imcc.rtl.registry import compose


def measure(cfg: ClusterConfig, masters: int) -> dict:
    names = [f"m{i}" for i in range(masters)]
    rep = synthesize(cfg, "interconnect", component=Interconnect(cfg, compose(cfg), masters=names),
                     name="imcc_interconnect", flat=True)
    if not rep.ok:
        raise SynthError("; ".join(map(str, rep.problems)))
    targets = cfg.tcdm.banks + len(compose(cfg).periph_slaves)
    return {"masters": masters, "banks": cfg.tcdm.banks, "targets": targets,
            "cells": rep.total.total_cells, "ffs": rep.total.ffs, "depth": rep.total.depth,
            "cells_per_crosspoint": round(rep.total.total_cells / (masters * targets), 1),
            "seconds": round(rep.seconds, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--masters", type=int, nargs="+", default=[8, 13, 16])
    ap.add_argument("--banks", type=int, nargs="+", default=[32])
    ap.add_argument("--config", metavar="FILE")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        base = ClusterConfig.load(args.config, args.set)
        cfgs = [(base.replace(tcdm={"banks": b}), m) for b in args.banks for m in args.masters]
    except ConfigError as e:
        print(f"synth_scaling: error: {e}", file=sys.stderr)
        return 2
    rows = []
    if not args.json:
        print(f"{'masters':>7} {'banks':>5} {'targets':>7} {'cells':>8} {'FFs':>6} {'depth':>5}"
              f" {'cells/(MxT)':>11} {'yosys s':>7}", flush=True)
    for cfg, m in cfgs:
        r = measure(cfg, m)
        rows.append(r)
        if not args.json:
            print(f"{r['masters']:>7} {r['banks']:>5} {r['targets']:>7} {r['cells']:>8}"
                  f" {r['ffs']:>6} {r['depth']:>5} {r['cells_per_crosspoint']:>11}"
                  f" {r['seconds']:>7}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
