"""Design-space sweep (issue 22): IMA instances x arrays per IMA x DW instances x
IMA data ports -> latency of the reference bottleneck (28x28x32, t=6) and of
MobileNetV2 224x224 width 1.0, both on the fused schedule, with the synthesis
cell count of each configuration (`imcc synth`, generic cells).

Every latency comes from the fused list scheduler's estimate (the compiler's
model, gen/compiler/fused.py: each job's MVMs at the IMA's cycles per MVM,
DW MACs, DMA bytes, plus the per-job costs fitted to RTL runs, see
``program.model``); where an RTL measurement of the same configuration and
the same job list exists (``--rtl`` runs them, or the measurements file keeps
them) the table shows it beside the model and says which one the Pareto plot
uses ("source": "rtl" or "model").

    python scripts/dse.py [--grid small|full|pool|arrays] [--rtl none|block|network|all]
                          [--rtl-only KEY=VALUE,...] [--synth cached|all] [--out build/dse]

Writes OUT/dse.json (one row per point) and OUT/dse.png (latency vs cells,
Pareto front marked); synthesis results and RTL measurements are cached in
OUT/synth.json (by the configuration's digest) and OUT/rtl.json (by the point);
a rerun only does what is new, and an RTL figure is used only for the job
list it ran (its SHA-1, `job_list_sha1` in `imcc run --json`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from imcc.gen.cli import run_json
from imcc.gen.config import ClusterConfig
from imcc.gen.compiler.network import compile_network, reference_block
from imcc.sim.network import mobilenetv2, randomize

# 34 arrays in all at 224/1.0 (the paper's chip), split over the instances
ARRAY_BUDGET = 34


def grid(which: str) -> list[dict]:
    """small: every instance count with 4 ports and one DW, and around the 2-instance
    point one DW more and 2 or 8 ports; full: the whole cross product; pool: 2 to 4
    IMAs sharing one pool of the 34 arrays (ima.macro_ports = "pool", docs/ima.md)
    x 1 or 2 DWs x a 64- or 128-bit DMA; arrays: the fastest pool (4 IMAs, 2 DWs, a
    128-bit DMA, job waits) on 34 to 40 arrays, what each array over the paper's
    34 buys (the arrays are macros: the cell count hardly moves, the crossbar
    area grows with ``total_arrays``)."""
    if which == "arrays":
        return [{"ima.instances": 4, "ima.arrays": n, "ima.macro_ports": "pool",
                 "dw.instances": 2, "ima.data_ports": 4, "dma.data_width": 128,
                 "ima.job_waits": 2, "dw.job_waits": 2} for n in (34, 35, 36, 37, 38, 40)]
    if which == "pool":
        return [{"ima.instances": inst, "ima.arrays": ARRAY_BUDGET, "ima.macro_ports": "pool",
                 "dw.instances": dw, "ima.data_ports": 4, "dma.data_width": width}
                for inst in (2, 3, 4) for dw in (1, 2) for width in (64, 128)]
    pts = []
    for inst in (1, 2, 3, 4):
        arrays = max(ARRAY_BUDGET // inst, 1)
        for dw in (1, 2):
            for ports in (2, 4, 8):
                if which == "small" and not (ports == 4 and dw == 1 or inst == 2
                                             and (ports == 4 or dw == 1)):
                    continue
                pts.append({"ima.instances": inst, "ima.arrays": arrays, "dw.instances": dw,
                            "ima.data_ports": ports})
    return pts


def point_key(p: dict) -> str:
    return json.dumps(p, sort_keys=True)


def config(p: dict) -> ClusterConfig:
    ima = {"instances": p["ima.instances"], "arrays": p["ima.arrays"],
           "data_ports": p["ima.data_ports"]}
    if "ima.macro_ports" in p:
        ima["macro_ports"] = p["ima.macro_ports"]
    elif p["ima.instances"] * p["ima.arrays"] > 28:       # the top-level input limit
        ima["macro_ports"] = "bank"
    if "ima.job_waits" in p:
        ima["job_waits"] = p["ima.job_waits"]
    dw = {"instances": p["dw.instances"]}
    if "dw.job_waits" in p:
        dw["job_waits"] = p["dw.job_waits"]
    more = {"dma": {"data_width": p["dma.data_width"]}} if "dma.data_width" in p else {}
    return ClusterConfig().replace(ima=ima, dw=dw, **more)


def synth_cells(cfg: ClusterConfig, cache: dict, run: bool) -> int | None:
    """Cells of a synthesis of ``cfg`` (cached; run Yosys when ``run``)."""
    key = cfg.digest()
    if key not in cache and run:
        from imcc.gen.synth import synthesize
        t0 = time.monotonic()
        rep = synthesize(cfg)
        cache[key] = {"cells": rep.total.total_cells, "ffs": rep.total.ffs,
                      "seconds": round(time.monotonic() - t0, 1),
                      "components": {c.name: c.total_cells for c in rep.components},
                      "sets": {"ima": {"instances": cfg.ima.instances, "arrays": cfg.ima.arrays}}}
    return cache[key]["cells"] if key in cache else None


def _masters(ima: dict, dw_own: bool, dw_instances: int) -> int:
    """Data-port masters of the accelerators on the interconnect."""
    ports = ima.get("data_ports", 4) * ima.get("instances", 1)
    return ports + (dw_instances * ima.get("data_ports", 4) if dw_own else 0)


def estimate_cells(cfg: ClusterConfig, cache: dict) -> int | None:
    """Cells of ``cfg`` from the components of synthesized configurations (an
    estimate, labelled as such): the default cluster with its IMA and DW replaced
    by cfg's instances (an IMA's cells linear in its arrays between synthesized
    points) and the interconnect grown by the cells per accelerator master that
    the synthesized points show (an IMA's own cells do not follow its ports)."""
    ref = cache.get(ClusterConfig().digest())
    if not ref or "components" not in ref:
        return None
    d = ClusterConfig()
    comps = ref["components"]
    pts = {d.ima.arrays: comps["ima"] / d.ima.instances}   # arrays per IMA -> one IMA's cells
    base_m = _masters({"instances": d.ima.instances, "data_ports": d.ima.data_ports},
                      d.dw.ports == "own", d.dw.instances)
    per_master = None
    for v in cache.values():
        sets = v.get("sets", {})
        if "ima" not in sets or "components" not in v:
            continue
        ima = {"instances": d.ima.instances, "data_ports": d.ima.data_ports, **sets["ima"]}
        pts[ima.get("arrays", d.ima.arrays)] = v["components"]["ima"] / ima["instances"]
        m = _masters(ima, sets.get("dw", {}).get("ports", d.dw.ports) == "own",
                     sets.get("dw", {}).get("instances", d.dw.instances))
        if m != base_m:
            per_master = (v["components"]["interconnect"] - comps["interconnect"]) / (m - base_m)
    xs = sorted(pts)
    # a bank or pool port has no array mux in the cluster (the arrays' switch is the macro's)
    a = 1 if cfg.ima.bank_port else cfg.ima.arrays
    ima = pts[xs[0]] if len(xs) == 1 else \
        pts[xs[0]] + (a - xs[0]) * (pts[xs[-1]] - pts[xs[0]]) / (xs[-1] - xs[0])
    dw = comps.get("dw", 0) / max(d.dw.instances, 1)
    m = _masters({"instances": cfg.ima.instances, "data_ports": cfg.ima.data_ports},
                 cfg.dw.ports == "own", cfg.dw.instances)
    ic = comps["interconnect"] + (per_master or 0) * (m - base_m)
    rest = ref["cells"] - comps["ima"] - comps.get("dw", 0) - comps["interconnect"]
    return round(rest + cfg.ima.instances * ima + cfg.dw.instances * dw + ic)


def sets(p: dict) -> list[str]:
    out = []
    for k, v in p.items():
        out += ["--set", f"{k}={v}"]
    if "ima.macro_ports" not in p and p["ima.instances"] * p["ima.arrays"] > 28:
        out += ["--set", "ima.macro_ports=bank"]
    return out


def pareto(rows: list[dict], key: str) -> None:
    """Mark the points no other point beats in both latency and cells."""
    pts = [r for r in rows if r.get(key) is not None and r.get("cells")]
    for r in pts:
        r[f"{key}_pareto"] = not any(
            o is not r and o[key] <= r[key] and o["cells"] <= r["cells"]
            and (o[key] < r[key] or o["cells"] < r["cells"]) for o in pts)


def plot(rows: list[dict], path: Path, default_cells: int | None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, unit, title in ((axes[0], "block_cycles", "cycles", "reference block, fused"),
                                 (axes[1], "network_ms", "ms", "MobileNetV2 224, fused")):
        pts = [r for r in rows if r.get(key) is not None and r.get("cells")]
        for r in pts:
            rtl = r.get(f"{key}_source") == "rtl"
            ax.scatter(r["cells"], r[key], marker="o" if rtl else "x",
                       alpha=0.45 if r.get("cells_source") == "estimate" else 1.0,
                       c="C3" if r.get(f"{key}_pareto") else "C0", s=30)
            pool = r.get("ima.macro_ports") == "pool"
            ax.annotate(f"{r['ima.instances']}{' on ' if pool else 'x'}{r['ima.arrays']} "
                        f"dw{r['dw.instances']} p{r['ima.data_ports']}"
                        + (f" dma{r['dma.data_width']}" if "dma.data_width" in r else ""),
                        (r["cells"], r[key]), fontsize=5,
                        xytext=(2, 2), textcoords="offset points")
        front = sorted((r for r in pts if r.get(f"{key}_pareto")), key=lambda r: r["cells"])
        ax.plot([r["cells"] for r in front], [r[key] for r in front], c="C3", lw=0.8)
        if default_cells:
            ax.axvline(default_cells, c="grey", lw=0.6, ls="--")
        ax.set_xlabel("cells (generic synthesis, whole cluster)")
        ax.set_ylabel(f"latency ({unit})")
        ax.set_title(title + " (o RTL, x model; faint: cells estimated; red: Pareto front)",
                     fontsize=8)
        ax.set_xlabel("cells (generic synthesis of the cluster; crossbars are macros, not counted)",
                      fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", choices=("small", "full", "pool", "arrays"), default="small")
    ap.add_argument("--rtl", choices=("none", "block", "network", "all"), default="none",
                    help="run these in RTL for every point (a Verilator build per new "
                         "configuration; the network ~ minutes each)")
    ap.add_argument("--synth", choices=("cached", "all"), default="cached",
                    help="cached: cells of the configurations synthesized before (OUT/synth.json), "
                         "the others estimated from their components; all: synthesize every "
                         "point (minutes each)")
    ap.add_argument("--rtl-only", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="run RTL (--rtl) only for the points with these values, e.g. "
                         "ima.instances=4,dw.instances=2 (repeatable: any of them)")
    ap.add_argument("--out", default="build/dse")
    a = ap.parse_args(argv)
    only = []
    for spec in a.rtl_only:
        try:
            only.append(dict(kv.split("=", 1) for kv in spec.split(",")))
        except ValueError:
            print(f"dse: error: --rtl-only {spec!r}: KEY=VALUE[,KEY=VALUE]", file=sys.stderr)
            return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    synth_cache = json.loads((out / "synth.json").read_text()) if (out / "synth.json").exists() else {}
    rtl_cache = json.loads((out / "rtl.json").read_text()) if (out / "rtl.json").exists() else {}
    net, x = randomize(mobilenetv2(224, 1.0), 0)
    bnet, bx = reference_block()
    rows = []
    default_cells = synth_cells(ClusterConfig(), synth_cache, a.synth == "all")
    for p in grid(a.grid):
        row = dict(p)
        t0 = time.monotonic()
        cfg = config(p)
        c = compile_network(net, x, cfg, schedule="fused")
        b = compile_network(bnet, bx, cfg, schedule="fused")
        row["total_arrays"] = c.cfg.ima.total_arrays
        row["within_budget"] = row["total_arrays"] <= ARRAY_BUDGET
        row["network_model_cycles"] = c.program.model["cycles"]
        row["block_model_cycles"] = b.program.model["cycles"]
        row["replication"] = {"in_tile": c.mapping.reps, "pool_copies": c.mapping.copies,
                              "instances": {k: len(v) for k, v in c.mapping.replicas.items()}}
        key = point_key(p)
        meas = rtl_cache.get(key, {})
        want = {"block": ("block",), "network": ("network",), "all": ("block", "network")}.get(a.rtl, ())
        if only and not any(all(str(p.get(k)) == v for k, v in o.items()) for o in only):
            want = ()
        sha = {"block": hashlib.sha1(b.program.encode()).hexdigest()[:16],
               "network": hashlib.sha1(c.program.encode()).hexdigest()[:16]}
        if "block" in want and meas.get("block", {}).get("job_list_sha1") != sha["block"]:
            r = run_json("demo", "--schedule", "fused", *sets(p))
            meas["block"] = {k: r.get(k) for k in ("total_cycles", "bit_exact", "job_list_sha1")}
        if "network" in want and meas.get("network", {}).get("job_list_sha1") != sha["network"]:
            r = run_json("run", "mobilenetv2", "--schedule", "fused", *sets(p))
            meas["network"] = {k: r.get(k) for k in ("total_cycles", "bit_exact", "job_list_sha1")}
            meas["network"]["utilisation"] = r.get("utilisation", {}).get("units")
        if meas:
            rtl_cache[key] = meas
        mhz = cfg.clock.freq_mhz
        for what, model in (("block", row["block_model_cycles"]),
                            ("network", row["network_model_cycles"])):
            m = meas.get(what)
            # an RTL figure counts for this point only if it ran the same job list
            same = m is not None and m.get("job_list_sha1") == sha[what] and m.get("bit_exact")
            row[f"{what}_rtl_cycles"] = m["total_cycles"] if same else None
            if same:
                row[f"{what}_model_error"] = round(model / m["total_cycles"] - 1, 4)
            cyc = m["total_cycles"] if same else model
            row[f"{what}_{'cycles' if what == 'block' else 'ms'}"] = \
                cyc if what == "block" else round(cyc / mhz / 1000, 3)
            row[f"{what}_{'cycles' if what == 'block' else 'ms'}_source"] = "rtl" if same else "model"
        # the configuration the compiler ran on (arrays grown to what the mapping
        # needs, the DW on its own ports next to more than one IMA)
        row["cells"] = synth_cells(c.cfg, synth_cache, a.synth == "all")
        row["cells_source"] = "synthesis"
        if row["cells"] is None:
            row["cells"], row["cells_source"] = estimate_cells(c.cfg, synth_cache), "estimate"
        if row["cells"] and default_cells:
            row["cells_vs_default"] = round(row["cells"] / default_cells, 3)
        row["seconds"] = round(time.monotonic() - t0, 1)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "replication"}), file=sys.stderr,
              flush=True)
        (out / "synth.json").write_text(json.dumps(synth_cache, indent=1))
        (out / "rtl.json").write_text(json.dumps(rtl_cache, indent=1))
    pareto(rows, "block_cycles")
    pareto(rows, "network_ms")
    report = {"array_budget": ARRAY_BUDGET, "default_cells": default_cells,
              "clock_mhz": ClusterConfig().clock.freq_mhz, "points": rows}
    (out / "dse.json").write_text(json.dumps(report, indent=1))
    if any(r.get("cells") for r in rows):
        plot(rows, out / "dse.png", default_cells)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
