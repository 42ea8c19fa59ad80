#!/usr/bin/env python3
"""IMA benchmark (issue 5): steady-state cycles per MVM of streams of steps on
the RTL (the cluster with the IMA, cocotb + Verilator, behavioural crossbar),
next to the analytic model of sim/ima_perf.py, and a roofline sweep like the
paper's Fig. 7 (array utilisation x data ports, GOPS) as a table and a PNG.

    python scripts/bench_ima.py [--ports 1,2,8] [--steps 40] [--png build/bench_ima.png]

Targets: pipelined, 500 MHz / 130 ns (analog bound 65 cycles): <= 66 cycles
per MVM of full 256x256 steps; 250 MHz (33 cycles), 4 ports: within 5 % of
max(analog bound, streaming bound).  The RTL does not depend on the clock,
so the 250 MHz runs reuse the 500 MHz build with the macro model's latency
converted at 250 MHz.  Each other data-port count and the sequential engine
is its own Verilator build (a few minutes each); the port sweep builds leave
the DW accelerator out (it takes no part).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imcc.gen.config import ClusterConfig
from imcc.sim import ima_perf
from imcc.tb import harness
from imcc.tb.tops.ima_cluster import ImaCluster

UTILS = [0.05, 0.10, 0.25, 0.50, 0.75, 1.00]


def measure(cfg: ClusterConfig, utils, mhz: float, steps: int) -> dict:
    """{utilisation: result} of the stream_rate bench on ``cfg``'s build."""
    res = harness.run_bench(cfg, "ima", testcase="stream_rate", top="ima_cluster",
                            component=ImaCluster,
                            name=f"bench_ima_{cfg.ima.mode}_{cfg.ima.data_ports}p_{mhz:g}MHz",
                            env={"IMCC_UTIL": ",".join(str(u) for u in utils),
                                 "IMCC_STEPS": steps, "IMCC_CLOCK_MHZ": mhz}).result
    return {r["util"]: r for r in res["results"]}


def at(cfg: ClusterConfig, mhz: float) -> ClusterConfig:
    return cfg.replace(clock={"freq_mhz": mhz})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ports", default="1,2,8",
                    help="data-port counts measured on the RTL for the sweep besides the "
                         "configured one (comma list, '' for none; the model covers 1..8)")
    ap.add_argument("--steps", type=int, default=40, help="steps (MVMs) per measured stream")
    ap.add_argument("--png", default="build/bench_ima.png", help="roofline plot")
    args = ap.parse_args()
    if args.steps < 8:
        ap.error("--steps must be at least 8 (the first quarter is pipeline fill)")
    try:
        extra = [int(p) for p in args.ports.split(",") if p.strip()]
    except ValueError:
        ap.error(f"--ports: a comma list of integers, got {args.ports!r}")
    if any(not 1 <= p <= 16 for p in extra):
        ap.error("--ports: port counts from 1 to 16")

    base = ClusterConfig()
    rows, cols = base.ima.rows, base.ima.cols
    seq = base.replace(ima={"mode": "sequential"})
    runs = {}
    runs[("pipelined", 500)] = measure(base, UTILS, 500, args.steps)
    runs[("pipelined", 250)] = measure(base, [1.0], 250, args.steps)
    runs[("sequential", 500)] = measure(seq, [1.0], 500, args.steps)
    runs[("sequential", 250)] = measure(seq, [1.0], 250, args.steps)

    print(f"Cycles per MVM, stream of {args.steps} full {rows}x{cols} steps, "
          f"{base.ima.data_ports} shared 32-bit ports (steady state; RTL vs model)")
    print(f"{'mode':<11}{'clock':>8}{'analog':>8}{'stream':>8}{'RTL':>8}{'model':>7}"
          f"{'GOPS':>8}  target")
    for (mode, mhz), res in runs.items():
        cfg = at(seq if mode == "sequential" else base, mhz)
        r = res[1.0]
        b = ima_perf.bounds(cfg, rows, cols)
        model = ima_perf.cycles_per_mvm(cfg, rows, cols)
        if mode == "pipelined" and mhz == 500:
            target, ok = "<= 66", r["cycles_per_mvm"] <= 66
        elif mode == "pipelined":
            bound = max(b["analog"], b["streaming"])
            target = f"<= {1.05 * bound:.2f} (5 % over {bound})"
            ok = r["cycles_per_mvm"] <= 1.05 * bound
        else:
            target, ok = "(figure)", True
        print(f"{mode:<11}{mhz:>5g}MHz{b['analog']:>8}{b['streaming']:>8}"
              f"{r['cycles_per_mvm']:>8.2f}{model:>7}"
              f"{ima_perf.gops(cfg, rows, cols, r['cycles_per_mvm']):>8.1f}  "
              f"{target}{'' if ok else '  MISSED'}")

    # -- roofline: utilisation x data ports, at the configured clock and at half of it ------
    clocks = [base.clock.freq_mhz, base.clock.freq_mhz / 2]
    sweep = {(base.ima.data_ports, clocks[0]): runs[("pipelined", 500)]}
    port_cfgs = {base.ima.data_ports: base}
    for p in extra:
        # without the DW accelerator: it takes no part, and the builds are smaller
        port_cfgs.setdefault(p, base.replace(ima={"data_ports": p}, dw={"enabled": False}))
    for p, cfg in port_cfgs.items():
        for mhz in clocks:
            if (p, mhz) not in sweep:
                sweep[(p, mhz)] = measure(cfg, UTILS, mhz, args.steps)
    ports = list(range(1, 9))
    table = {}
    worst = 0.0
    for mhz in clocks:
        print(f"\nRoofline, pipelined, {mhz:g} MHz: GOPS by array utilisation (square window of "
              f"the {rows}x{cols} array) and 32-bit data ports; RTL, model where marked *")
        print(f"{'util':>6}{'window':>9}" + "".join(f"{p:>8}p" for p in ports))
        for u in UTILS:
            nr, nc = max(1, round(u * rows)), max(1, round(u * cols))
            line = f"{100 * u:>5.0f}%{f'{nr}x{nc}':>9}"
            for p in ports:
                cfg = at(base.replace(ima={"data_ports": p}), mhz)
                model = ima_perf.cycles_per_mvm(cfg, nr, nc)
                if (p, mhz) in sweep:
                    c = sweep[(p, mhz)][u]["cycles_per_mvm"]
                    worst = max(worst, abs(c - model) / model)
                    line += f"{ima_perf.gops(cfg, nr, nc, c):>9.1f}"
                else:
                    c = model
                    line += f"{ima_perf.gops(cfg, nr, nc, c):>8.1f}*"
                table[(u, p, mhz)] = ima_perf.gops(cfg, nr, nc, c)
            print(line)
    print(f"model vs RTL over the {sum(len(v) for v in sweep.values())} measured points: "
          f"largest difference {100 * worst:.1f} %")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    fine = [i / 100 for i in range(5, 101)]
    for ax, mhz in zip(axes, clocks):
        for p in ports:
            cfg = at(base.replace(ima={"data_ports": p}), mhz)
            ys = [ima_perf.gops(cfg, max(1, round(u * rows)), max(1, round(u * cols)))
                  for u in fine]
            line, = ax.plot([100 * u for u in fine], ys,
                            label=f"{p} port{'s' if p > 1 else ''} ({32 * p} bit)")
            if (p, mhz) in sweep:
                ax.plot([100 * u for u in UTILS], [table[(u, p, mhz)] for u in UTILS], "o",
                        color=line.get_color())
        bound = base.ns_to_cycles(base.ima.mvm_ns) if mhz == base.clock.freq_mhz else \
            at(base, mhz).ns_to_cycles(base.ima.mvm_ns)
        ax.set_title(f"{mhz:g} MHz ({bound}-cycle MVM)")
        ax.set_xlabel("array utilisation (%)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("GOPS")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"IMA roofline, {rows}x{cols} crossbar, {base.ima.mvm_ns:g} ns MVM, pipelined: "
                 "lines sim/ima_perf.py, dots RTL")
    out = Path(args.png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
