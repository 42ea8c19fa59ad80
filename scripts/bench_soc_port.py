#!/usr/bin/env python3
"""SoC port benchmark (issue 4): beats per cycle of long 64-bit write and read
bursts into an idle TCDM, and the time to load the reference bottleneck's
350 KiB, in cycles and in wall seconds.

    python scripts/bench_soc_port.py [--kib 350] [--set soc.data_width=32]
"""

import argparse
from imcc.gen.config import ClusterConfig, ConfigError
from imcc.tb import harness


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kib", type=int, default=350, help="bytes to load, in KiB (default 350)")
    ap.add_argument("--set", action="append", default=[], metavar="K=V")
    args = ap.parse_args()
    try:
        cfg = ClusterConfig.load(None, args.set)
    except ConfigError as e:
        ap.error(str(e))
    if not 1 <= args.kib <= cfg.tcdm.size_kib:
        ap.error(f"--kib must be between 1 and the TCDM size ({cfg.tcdm.size_kib})")
    r = harness.run_bench(cfg, "soc_axi", testcase="throughput", name="bench_soc_port",
                          env={"IMCC_LOAD_BYTES": args.kib * 1024}).result
    period = cfg.clock.period_ns
    print(f"SoC port, {cfg.soc.data_width}-bit AXI, {cfg.soc.lanes} TCDM lanes, "
          f"bursts of up to 256 beats, no stalls")
    print(f"{'':6} {'bytes':>8} {'beats':>7} {'cycles':>8} {'beats/cycle':>12} {'target':>7} "
          f"{'us @' + str(int(cfg.clock.freq_mhz)) + 'MHz':>11} {'wall s':>7}")
    for kind in ("write", "read"):
        x = r[kind]
        ok = "ok" if x["beats_per_cycle"] >= 0.95 else "MISSED"
        print(f"{kind:6} {x['bytes']:8d} {x['beats']:7d} {x['cycles']:8d} {x['beats_per_cycle']:12.3f} "
              f"{ok:>7} {x['cycles'] * period / 1000:11.1f} {x['wall_s']:7.2f}")
    print(f"loading {args.kib} KiB takes {r['write']['cycles']} cycles "
          f"({r['write']['cycles'] * period / 1000:.1f} us at {cfg.clock.freq_mhz:g} MHz) and "
          f"{r['write']['wall_s']:.2f} s of simulation")


if __name__ == "__main__":
    main()
