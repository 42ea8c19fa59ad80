"""Calibration of the energy model against the paper's per-layer energies
(arXiv 2201.01089, Fig. 12a): model vs paper per layer, with the error, for
the paper's own schedule, the reference bottleneck as this cluster runs it
(rows 14-17) and MobileNetV2 224x224 (0.482 mJ), as JSON on stdout.

The activity is a MODEL (imcc.sim.energy.estimate_activity) from the layer
shapes and the per-layer cycles measured in RTL (sim/data/*_layer_cycles.json),
not the RTL's activity counters; docs/energy.md explains the derivation.

    python scripts/bench_energy.py                      # the calibration, JSON
    python scripts/bench_energy.py --text               # the same as tables
    python scripts/bench_energy.py --fit                # least-squares values of the fitted fields
    python scripts/bench_energy.py --set energy.tcdm_access_pj=5
"""

import argparse
import json
import sys

from imcc.gen.config import ClusterConfig, ConfigError
from imcc.sim.energy_calib import FIT_FIELDS, calibrate, fit


def _table(title, rows):
    print(title)
    print(f"  {'layer':<16} {'paper uJ':>9} {'model uJ':>9} {'error':>7}")
    for r in rows:
        p = f"{r['paper_uj']:9.1f}" if "paper_uj" in r else f"{'-':>9}"
        e = f"{100 * r['error']:+6.0f}%" if r.get("error") is not None else f"{'-':>7}"
        print(f"  {r['layer']:<16} {p} {r['model_uj']:9.2f} {e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="TOML configuration")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--fit", action="store_true", help=f"print the least-squares values of "
                    f"{', '.join(FIT_FIELDS)} beside the configuration's")
    ap.add_argument("--text", action="store_true", help="tables instead of JSON")
    a = ap.parse_args(argv)
    try:
        cfg = ClusterConfig.load(a.config, a.set)
    except ConfigError as e:
        print(f"bench_energy: error: {e}", file=sys.stderr)
        return 2
    if a.fit:
        f = fit(cfg)
        print(json.dumps({k: {"fit": round(v, 3), "config": getattr(cfg.energy, k)}
                          for k, v in f.items()}, indent=1))
        return 0
    c = calibrate(cfg)
    if not a.text:
        print(json.dumps(c, indent=1))
        return 0
    ps, b, m = c["paper_schedule"], c["bottleneck"], c["mobilenetv2"]
    _table("paper schedule (the paper's layers and latencies), model vs Fig. 12a", ps["layers"])
    print(f"  total: model {ps['model_uj']} uJ, paper rows {ps['paper_rows_uj']} uJ, "
          f"headline {ps['paper_headline_uj']} uJ; {ps['gops_per_w']} GOPS/W")
    _table("reference bottleneck, this cluster's measured cycles, vs rows 14-17", b["layers"])
    print(f"  total: model {b['model_uj']} uJ, paper {b['paper_uj']} uJ; {b['gops_per_w']} GOPS/W")
    _table("MobileNetV2 224, this cluster's measured cycles, vs Fig. 12a", m["layers"])
    print(f"  total: model {m['model_uj']} uJ, paper (same rows) {m['paper_same_rows_uj']} uJ, "
          f"headline {m['paper_headline_uj']} uJ; {m['gops_per_w']} GOPS/W")
    return 0


if __name__ == "__main__":
    sys.exit(main())
