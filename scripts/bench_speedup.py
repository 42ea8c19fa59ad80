"""Speedup of the accelerated MobileNetV2 bottleneck over software, both on
the cluster's cores in the same run: the 8-core software bottleneck
(sw/apps/bottleneck_sw.c) and the accelerated one driven by core 0 through the
HAL (sw/apps/bottleneck_acc.c: IMA and DW jobs, core 0 asleep on their
events), on the same generated cluster under Verilator and the same random
block, both checked bit-exact against the golden model.

    python scripts/bench_speedup.py                  # reference block 28x28x32, t=6, 32 out
    python scripts/bench_speedup.py --h 14 --w 14

The speedup is software / accelerated inference cycles (expand, depthwise,
project, residual add); programming the crossbar is reported separately, as
it is done once before inference.  The paper: 11.5x over 8-core software.

Energy: the activity counters of each run, per layer (snapshots at the
programs' own layer timers, tb/programs.laps_activity), priced by the
configuration's energy model (sim/energy.py, docs/energy.md); the ratio is
software / accelerated inference energy.  The paper: 9.5x.
"""

import argparse
import sys
import time

import numpy as np

from imcc.gen.cmd_run import PAPER_CYCLES
from imcc.gen.config import ClusterConfig
from imcc.sim.energy import add_windows, energy_ratio, energy_report
from imcc.tb import harness
from imcc.tb.programs import BOTTLENECK_LAYERS, run_acc_bottleneck, run_sw_bottleneck

PAPER_SPEEDUP = 11.5
PAPER_ENERGY_RATIO = 9.5
UNITS = ("IMA", "DW", "IMA", "DW")


def _exact(r) -> bool:
    return r["exit"] == 0 and all(np.array_equal(r["arrays"][k], g) for k, g in r["golden"].items())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k, v in (("h", 28), ("w", 28), ("cin", 32), ("t", 6), ("cout", 32), ("seed", 0)):
        ap.add_argument(f"--{k}", type=int, default=v, help=f"(default {v})")
    ap.add_argument("--config", help="TOML configuration")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args(argv)
    if a.cin != a.cout or a.t == 1:
        ap.error("the software bottleneck needs an expand layer (--t > 1) and a residual add "
                 "(--cin = --cout)")
    cfg = ClusterConfig.load(a.config, a.set)
    block = dict(h=a.h, w=a.w, cin=a.cin, t=a.t, cout=a.cout, seed=a.seed)

    wall0 = time.monotonic()
    print("running the software bottleneck (8 cores) ...", file=sys.stderr, flush=True)
    sw = run_sw_bottleneck(cfg, **block)
    print("running the accelerated bottleneck (core 0 + IMA + DW) ...", file=sys.stderr, flush=True)
    acc = run_acc_bottleneck(cfg, **block)
    exact_sw, exact_acc = _exact(sw), _exact(acc) and not any(acc["job_error"].values())

    mhz = cfg.clock.freq_mhz
    print(f"MobileNetV2 bottleneck {a.h}x{a.w}x{a.cin}, t={a.t}, {a.cout} out, stride 1, seed "
          f"{a.seed}; cluster {cfg.digest()}, {cfg.cores.count} cores, {mhz:g} MHz for times")
    print(f"{'layer':<15} {'software':>10} {'accelerated':>12} {'unit':>5} {'speedup':>8}")
    for name, unit, s, c in zip(BOTTLENECK_LAYERS, UNITS, sw["layer_cycles"], acc["layer_cycles"]):
        print(f"{name:<15} {s:>10,} {c:>12,} {unit:>5} {s / max(c, 1):>7.1f}x")
    ts, ta = sum(sw["layer_cycles"]), sum(acc["layer_cycles"])
    print(f"{'total':<15} {ts:>10,} {ta:>12,} {'':>5} {ts / ta:>7.1f}x   "
          f"({ts / mhz:.0f} us vs {ta / mhz:.0f} us)")
    print(f"speedup {ts / ta:.1f}x, accelerated inference {ta:,} cycles (the paper, reference "
          f"block: {PAPER_SPEEDUP}x, {PAPER_CYCLES:,} cycles)")
    energy = _energy(cfg, a, sw, acc)
    if energy:
        (esw, eacc) = energy
        print(f"{'energy (uJ)':<15} {'software':>10} {'accelerated':>12}")
        for L_sw, L_acc in zip(esw.layers, eacc.layers):
            print(f"{L_sw.name:<15} {L_sw.total_uj:>10.2f} {L_acc.total_uj:>12.2f}")
        print(f"{'total':<15} {esw.inference_pj / 1e6:>10.2f} {eacc.inference_pj / 1e6:>12.2f}   "
              f"ratio {energy_ratio(esw, eacc):.1f}x (the paper: {PAPER_ENERGY_RATIO}x); "
              f"{esw.gops_per_w or 0:.0f} vs {eacc.gops_per_w or 0:.0f} GOPS/W")
        print("energy: RTL activity counters x the energy model's per-event energies "
              "(docs/energy.md), inference layers only")
    print(f"before inference (once): programming the crossbar {acc['program_cycles']:,} cycles "
          f"({acc['program_cycles'] / mhz:.0f} us), core 0 asleep")
    print("accelerated layer cycles: from the previous layer's end to this job's end-of-job "
          "event, as core 0 sees them (the next job is configured while one runs)")
    print(f"bit-exact with sim/golden.py, every intermediate tensor: software "
          f"{'yes' if exact_sw else 'NO'}, accelerated {'yes' if exact_acc else 'NO'}")
    if not exact_acc:
        print(f"  accelerated: exit {acc['exit']}, job errors {acc['job_error']}")
    b = sw      # the first run: it built the Verilator model if it had to
    where = harness.build_dir() / "verilator" / b["build_key"]
    build = (f"built in {b['build_s']:.0f} s" if not b["build_reused"] else
             f"reused from {where} (to time a build: IMCC_BUILD_DIR=<an empty folder>)")
    print(f"Verilator model {b['build_key']}: {build}")
    for what, r in (("software", sw), ("accelerated", acc)):
        print(f"simulation, {what}: {r['cycles']:,} cycles in {r['wall_s']:.1f} s wall "
              f"({r['cycles'] / r['wall_s']:,.0f} simulated cycles/s)")
    print(f"whole bench {time.monotonic() - wall0:.0f} s wall")
    return 0 if exact_sw and exact_acc else 1


def _energy(cfg, a, sw, acc):
    """(software, accelerated) energy reports of the inference layers, or None
    when the cluster has no activity counters (counters.enabled = false)."""
    if not (sw.get("layer_activity") and acc.get("layer_activity")):
        return None
    cexp = a.cin * a.t
    ops = [2 * m for m in sw["macs"]]
    # the IMA layers' crossbar windows (rows, cols) give the analog energy its size
    windows = {0: (a.cin, cexp), 2: (cexp, a.cout)}
    lacc = [add_windows(la, {"ima0.array0": windows[k]}) if k in windows else la
            for k, la in enumerate(acc["layer_activity"])]
    esw = energy_report(sw["activity"], cfg, sw["layer_activity"], ops, name="software",
                        layer_names=list(BOTTLENECK_LAYERS))
    eacc = energy_report(acc["activity"], cfg, lacc, ops, name="accelerated",
                         layer_names=list(BOTTLENECK_LAYERS))
    return esw, eacc


if __name__ == "__main__":
    sys.exit(main())
