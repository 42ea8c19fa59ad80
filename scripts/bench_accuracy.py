#!/usr/bin/env python3
"""Accuracy study benchmark (issue 25): the digits network trained quantisation-aware
(sim/train.py), its float / quantised / golden accuracy on the 359 held-out images,
its RTL accuracy (by default on the whole test set, one compiled program per image,
about 4 s each after the Verilator build), accuracy on PCM crossbars from 25 s to
10 years for the differential and hybrid representations with and without global
drift compensation (5 device seeds), one PCM point through RTL checked bit for bit,
and the HIC sweep (accuracy against model size, write-erase cycles).  Prints JSON;
the figures of docs/models.md section 5 come from this script.

    python scripts/bench_accuracy.py [--rtl N|all] [--seeds 5] [--png build/accuracy.png] [--no-hic]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from imcc.sim.accuracy import plot, study


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtl", default="all", help="test images in RTL: N or all (default all)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--png", default=None)
    ap.add_argument("--no-hic", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    rep = study(rtl_images=None if a.rtl == "all" else int(a.rtl), seeds=range(a.seeds),
                hic=not a.no_hic,
                progress=lambda s: print(f"bench: {s}", file=sys.stderr, flush=True))
    if a.png:
        plot(rep["pcm"], a.png, {"quantised (golden)": rep["golden_acc"]})
        rep["png"] = a.png
    rep["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
