"""Cycles of the MobileNetV2 bottleneck in software on the cluster's cores
(sw/apps/bottleneck_sw.c on the generated cluster under Verilator), per layer
with MAC per cycle, checked bit-exact against the golden model.

    python scripts/bench_sw_bottleneck.py            # reference block 28x28x32, t=6, 32 out
    python scripts/bench_sw_bottleneck.py --h 14 --w 14

The paper's 11.5x over 8-core software for ~177 000 accelerated cycles implies
about 2.0 million cycles for this block in software.
"""

import argparse
import sys

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.tb.programs import BOTTLENECK_LAYERS, run_sw_bottleneck


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k, v in (("h", 28), ("w", 28), ("cin", 32), ("t", 6), ("cout", 32), ("seed", 0)):
        ap.add_argument(f"--{k}", type=int, default=v)
    ap.add_argument("--config", help="TOML configuration")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args(argv)
    cfg = ClusterConfig.load(a.config, a.set)
    r = run_sw_bottleneck(cfg, a.h, a.w, a.cin, a.t, a.cout, a.seed)
    exact = r["exit"] == 0 and all(np.array_equal(r["arrays"][k], g) for k, g in r["golden"].items())
    print(f"software bottleneck {a.h}x{a.w}x{a.cin}, t={a.t}, {a.cout} out, "
          f"{cfg.cores.count} cores ({cfg.clock.freq_mhz:.0f} MHz for times)")
    print(f"{'layer':<16} {'cycles':>10} {'MAC':>10} {'MAC/cycle':>10} {'us':>8}")
    for name, cyc, macs in zip(BOTTLENECK_LAYERS, r["layer_cycles"], r["macs"]):
        print(f"{name:<16} {cyc:>10} {macs:>10} {macs / max(cyc, 1):>10.2f} "
              f"{cyc / cfg.clock.freq_mhz:>8.1f}")
    total, macs = sum(r["layer_cycles"]), sum(r["macs"])
    print(f"{'total':<16} {total:>10} {macs:>10} {macs / total:>10.2f} "
          f"{total / cfg.clock.freq_mhz:>8.1f}")
    print(f"bit-exact with sim/golden.py: {'yes' if exact else 'NO'}; whole run "
          f"{r['cycles']} cycles in {r['wall_s']:.1f} s wall "
          f"({r['cycles'] / r['wall_s']:.0f} simulated cycles/s)")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
