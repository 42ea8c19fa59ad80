#!/usr/bin/env python3
"""Interconnect benchmark (issue 3): accepted requests per cycle under uniform
random traffic next to the analytic M(1-(1-1/M)^N), collision-free traffic,
and the simulation speed of the cocotb random-traffic test.

    python scripts/bench_interconnect.py [--cycles 100000]
"""

import argparse
import re
import time

from imcc.gen.config import ClusterConfig
from imcc.tb import harness
from imcc.tb.tops.lic_traffic import LicTraffic
from imcc.rtl.registry import compose


def throughput(n, banks, cycles):
    cfg = ClusterConfig().replace(tcdm={"banks": banks})
    return harness.run_bench(cfg, "lic_throughput", top="lic_traffic",
                             component=lambda c: LicTraffic(c, n), params={"n": n},
                             name=f"bench_lic_{n}x{banks}", env={"IMCC_CYCLES": cycles}).result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=100_000, help="cycles per measurement")
    ap.add_argument("--transactions", type=int, default=50_000,
                    help="transactions of the cocotb random-traffic run")
    args = ap.parse_args()
    if args.cycles < 1000 or args.transactions < 1000:
        ap.error("--cycles and --transactions must be at least 1000")

    print(f"Accepted requests per cycle ({args.cycles} cycles each)")
    print(f"{'N x M':>8} {'analytic':>9} {'independent':>12} {'ratio':>6} {'held':>6} "
          f"{'disjoint':>9} {'target':>7}")
    for n, m in ((8, 32), (13, 32), (16, 16)):
        r = throughput(n, m, args.cycles)
        expect = m * (1 - (1 - 1 / m) ** n)
        ratio = r["independent"] / expect
        ok = ratio >= 0.98 and abs(r["disjoint"] - min(n, m)) < 1e-9
        print(f"{n:>3} x {m:<3} {expect:9.3f} {r['independent']:12.3f} {ratio:6.3f} "
              f"{r['held']:6.3f} {r['disjoint']:9.3f} {'ok' if ok else 'MISSED':>7}")
    print("independent: a fresh random bank per master per cycle (the analytic model);")
    print("held: protocol-compliant, a refused request waits for its bank;")
    print("disjoint: masters never collide (expect exactly N per cycle, N <= M).")

    cfg = ClusterConfig()
    from imcc.tb.tops.packed_tcdm import PackedTcdm
    t0 = time.monotonic()
    run_dir = harness.run_bench(cfg, "tcdm_traffic", testcase="random_traffic", top="packed_tcdm",
                                component=PackedTcdm, name="bench_tcdm_random_traffic",
                                env={"IMCC_TRANSACTIONS": args.transactions}).run_dir
    wall = time.monotonic() - t0
    log = (run_dir / "sim.log").read_text()
    mt = re.search(r"(\d+) transactions in (\d+) cycles", log)
    sim = re.search(r"random_traffic\s+PASS\s+([\d.]+)\s+([\d.]+)", log)
    tx, cyc = int(mt.group(1)), int(mt.group(2))
    sim_wall = float(sim.group(2))
    print(f"\ncocotb random traffic, default cluster ({len(compose(cfg).masters)} masters, "
          f"{cfg.tcdm.banks} banks): {tx} transactions in {cyc} cycles")
    print(f"  simulated cycles per wall second: {cyc / sim_wall:,.0f} "
          f"({tx / sim_wall:,.0f} transactions/s; {wall:.1f} s with start-up)")


if __name__ == "__main__":
    main()
