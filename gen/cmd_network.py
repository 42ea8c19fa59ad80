"""``imcc run mobilenetv2`` and ``imcc map mobilenetv2``: a whole network
compiled for the configured cluster (gen/compiler/) and run in RTL
simulation by core 0 walking the job list, checked bit-exactly at every
layer; or its mapping onto the arrays alone."""

from __future__ import annotations

import sys
import time

from .cli import UsageError, add_config_args, load_config, print_json

NETWORKS = ("mobilenetv2",)
# The paper's Fig. 12a latencies (ms at 500 MHz, ../shared/reference/paper-numbers.md) of
# MobileNetV2 224x224 width 1.0 in our layer order (the paper's 000-PW, an expand layer
# of the first block that the reference network does not have, left out).
PAPER_MS = (1.63, 0.24, 1.63, 1.63, 0.18, 0.41, 0.41, 0.27, 0.41, 0.18, 0.41, 0.07, 0.10, 0.10,
            0.09, 0.10, 0.06, 0.10, 0.09, 0.10, 0.06, 0.10, 0.02, 0.03, 0.05, 0.05, 0.05, 0.03,
            0.05, 0.05, 0.05, 0.03, 0.05, 0.05, 0.05, 0.03, 0.05, 0.05, 0.05, 0.08, 0.07, 0.08,
            0.05, 0.08, 0.07, 0.08, 0.05, 0.08, 0.02, 0.02, 0.03, 0.03, 0.03, 0.02, 0.03, 0.03,
            0.03, 0.02, 0.03, 0.03, 0.05, 0.06)
PAPER_TOTAL_MS = 10.1


def _network_args(p, positional: bool = True):
    """The network's options (``imcc map NETWORK``; ``imcc run mobilenetv2`` names it
    in the sub-command)."""
    if positional:
        p.add_argument("network", choices=NETWORKS, help="the network")
    p.add_argument("--input", type=int, default=224, help="input resolution, 32..224 (default 224)")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier, 0.35..1.0 "
                   "(default 1.0)")
    p.add_argument("--seed", type=int, default=0, help="random weights and input (default 0)")
    p.add_argument("--residual", choices=("dw", "cores"), default="dw",
                   help="unit of the residual adds: dw (the DW's element-wise add, default) "
                        "or cores (the 8 cores, as the paper)")
    p.add_argument("--arrays", choices=("auto", "config"), default="auto",
                   help="auto: as many IMA arrays (and as much L2) as the mapping needs; "
                        "config: the configuration's, refusing a network that does not fit")
    add_config_args(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def register(sub):
    m = sub.add_parser("map", help="map a network onto the IMA arrays (Tile&Pack), no simulation")
    _network_args(m)
    m.add_argument("--png", metavar="FILE", help="draw the packed arrays")
    m.set_defaults(run=run_map)


def register_run(rsub):
    r = rsub.add_parser("mobilenetv2", help="MobileNetV2 end to end, core 0 walking the job list")
    r.set_defaults(network="mobilenetv2")
    _network_args(r, positional=False)
    r.add_argument("--schedule", choices=("layer", "fused"), default="layer",
                   help="layer: one layer after another, one array active, as the paper "
                        "(default); fused: a block's layers at the same time on row bands, "
                        "IMA layers alternating over the IMA instances")
    r.add_argument("--replicate", choices=("auto", "on", "off"), default="auto",
                   help="copies of the layers that bound the latency in the arrays left "
                        "free (inside their tiles, on other IMA instances): auto = with the "
                        "fused schedule (default), on, off")
    r.add_argument("--merge", choices=("auto", "off"), default="auto",
                   help="fused: blocks merged into the segment after them where the "
                        "performance model says that is faster (auto, default), or every "
                        "block a segment of its own (off)")
    r.add_argument("--dump", metavar="FILE.npz", help="layers, parameters and every tensor as "
                   "the cluster produced it, for an independent check")
    r.add_argument("--waves", action="store_true", help="dump FST waveforms")
    r.add_argument("--energy-png", metavar="FILE", help="draw the run's energy breakdown by "
                   "unit (per layer when the run has per-layer activity; docs/energy.md)")
    r.set_defaults(run=run_network)


def _say(args, text):
    if not args.json or sys.stderr.isatty():
        print(f"imcc: {text}", file=sys.stderr, flush=True)


def _compile(args):
    from imcc.gen.compiler.network import compile_network
    from imcc.gen.mapping import MappingError
    from imcc.sim.network import mobilenetv2, randomize
    cfg = load_config(args)
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed {args.seed}: an integer from 0 to 2^63 - 1 is needed")
    try:
        net = mobilenetv2(args.input, args.width, args.residual)
    except ValueError as e:
        raise UsageError(f"--input/--width: {e}") from None
    net, x = randomize(net, args.seed)
    try:
        rep = {"on": True, "off": False}.get(getattr(args, "replicate", "auto"))
        return compile_network(net, x, cfg, arrays=args.arrays,
                               schedule=getattr(args, "schedule", "layer"), replicate=rep,
                               merge=getattr(args, "merge", "auto") != "off")
    except MappingError as e:
        raise UsageError(str(e)) from None


def _weight_bound(c) -> int:
    cells = sum(t.rows * t.cols for t in c.mapping.tiles)
    return -(-cells // (c.cfg.ima.rows * c.cfg.ima.cols))


def run_map(args) -> int:
    t0 = time.monotonic()
    c = _compile(args)
    m = next(iter(c.mapping.maps.values()))      # the layer schedule: one IMA
    util = m.utilisation()
    r = {"network": args.network, "input": args.input, "width": args.width,
         "arrays_used": m.arrays_used, "weight_bound": _weight_bound(c), "method": m.method,
         "array": [m.rows, m.cols], "tiles": [t.__dict__ for t in m.tiles],
         "utilisation": [round(u, 4) for u in util],
         "layers_split": sorted({c.lowered.origin[L.name] for L in c.lowered.net.layers
                                 if L.cin is not None}),
         "map_s": round(time.monotonic() - t0, 2)}
    if args.png:
        from imcc.gen.compiler.tiling import render_png
        render_png(m, args.png)
        r["png"] = args.png
    if args.json:
        print_json(r)
        return 0
    print(f"{args.network} {args.input}x{args.input}, width {args.width}: {m.arrays_used} arrays of "
          f"{m.rows}x{m.cols} (weight bound {r['weight_bound']}; the paper: 34 at 224/1.0), "
          f"{len(m.tiles)} tiles, {m.method}")
    print(f"{'array':>5} {'util':>6}  tiles (layer rows x cols at row, col)")
    for a in range(m.arrays_used):
        ts = [t for t in m.tiles if t.array == a]
        desc = ", ".join(f"{t.layer}[{t.row0}:{t.row0 + t.rows}, {t.col0}:{t.col0 + t.cols}]"
                         for t in ts)
        print(f"{a:>5} {100 * util[a]:>5.1f}%  {desc}")
    if r["layers_split"]:
        print(f"split along input rows (partial sums added on the DW): "
              f"{', '.join(r['layers_split'])}")
    if args.png:
        print(f"wrote {args.png}")
    return 0


def _layer_rows(c, res) -> list[dict]:
    """Per mark (a layer, or a fused block): unit, input size, MACs, cycles
    between the walker's marks, the paper's latency of the same layers."""
    net, low, cfg = c.net, c.lowered, c.cfg
    marks, start = res["marks"], res["start_cycles"]
    rows, prev = [], start
    paper = dict(zip([L.name for L in net.layers], PAPER_MS)) \
        if (net.meta.get("resolution"), net.meta.get("width")) == (224, 1.0) else None
    for i, name in enumerate(c.program.marks):
        # (a segment of merged blocks: "conv1+b1")
        layers = [L for L in net.layers for n in name.split("+")
                  if L.name == n or L.name.startswith(n + ".")]
        ops = [op for L in layers for op in low.ops_of(L.name)]
        units = sorted({op.unit.upper() for op in ops}, key=["IMA", "DW", "CORES"].index)
        h, w, ch = net.shapes[layers[0].inputs[0]]
        cyc = (marks[i] - prev) & 0xFFFF_FFFF
        prev = marks[i]
        row = {"name": name, "unit": "+".join(units), "input": f"{h}x{w}x{ch}",
               "macs": sum(low.net.macs(op) for op in ops), "cycles": cyc,
               "ms": round(cyc / cfg.clock.freq_mhz / 1000, 4), "bands": c.program.bands[name]}
        tiles = sum(len(c.mapping.of(L.name)) for L in layers if L.op in ("conv", "pw"))
        if tiles:
            row["tiles"] = tiles
        if paper:
            row["paper_ms"] = round(sum(paper[L.name] for L in layers), 3)
        rows.append(row)
    return rows


def run_network(args) -> int:
    import os
    from imcc.tb.programs import run_network as simulate
    if args.dump and not args.dump.endswith(".npz"):
        raise UsageError(f"--dump {args.dump}: the file name must end in .npz")
    t0 = time.monotonic()
    c = _compile(args)
    p = c.program
    _say(args, f"{args.network} {args.input}x{args.input} width {args.width}: "
               f"{len(c.lowered.net.layers)} ops, {len(p.jobs)} jobs, {c.mapping.arrays_used} "
               f"arrays, L2 {c.cfg.l2.size_kib} KiB; compiled in {time.monotonic() - t0:.1f} s")
    if args.waves:
        os.environ["WAVES"] = "1"
    res = simulate(c, progress=lambda s: _say(args, s))
    mism = _mismatches(c, res)
    layers = _layer_rows(c, res) if res["exit"] == 0 else []
    total = sum(L["cycles"] for L in layers)
    r = {"network": args.network, "input": args.input, "width": args.width, "seed": args.seed,
         "schedule": c.schedule, "total_cycles": total,
         "latency_ms": round(total / c.cfg.clock.freq_mhz / 1000, 4),
         "clock_mhz": c.cfg.clock.freq_mhz, "bit_exact": not mism, "mismatches": mism,
         "arrays_used": c.mapping.arrays_used, "weight_bound": _weight_bound(c),
         "tiles": len(c.mapping.tiles), "jobs": len(p.jobs),
         "l2_traffic_bytes": p.l2_traffic, "l1_peak_bytes": p.l1_peak,
         "config": _config_summary(c.cfg), "total_arrays": c.mapping.total_arrays,
         "layers": layers, "sim_cycles": res["cycles"], "sim_wall_s": round(res["sim_wall_s"], 1),
         "sim_cycles_per_s": round(res["cycles"] / max(res["sim_wall_s"], 1e-9)),
         "build_s": round(res["build_s"], 1), "build_reused": res["build_reused"]}
    if c.cfg.ima.pooled:    # MVM cycles spent waiting for an array another IMA was using
        r["pool_wait_cycles"] = res.get("pool_wait_cycles", 0)
    if res["exit"] == 0:
        from imcc.gen.compiler.utilisation import utilisation
        r["utilisation"] = utilisation(p, total)
    _model(r, c)
    if c.net.meta.get("resolution") == 224 and c.net.meta.get("width") == 1.0:
        r["paper_ms"] = PAPER_TOTAL_MS
    if args.dump:
        tensors = {c.net.input: c.x, **res["tensors"]}
        c.lowered.net.dump(args.dump, tensors)
        r["dump"] = args.dump
    energy = network_energy(r, res, c.cfg, args.energy_png)
    if args.json:
        print_json(r)
    else:
        _table(r)
        if energy:
            print(energy.text())
    return 0 if r["bit_exact"] else 1


def network_energy(r: dict, res: dict, cfg, png: str | None = None):
    """The energy report of a network run whose simulation result ``res``
    carries activity counts (``activity``, per mark ``layer_activity``), its
    figures added to ``r``; None without them."""
    from imcc.sim.energy import attach
    from imcc.sim.energy_calib import mobilenetv2_work
    if not res.get("activity"):
        if png:
            print("imcc: this run has no activity counts: no energy PNG", file=sys.stderr)
        return None
    r["activity"] = res["activity"]
    if res.get("layer_activity") is not None:
        r["layer_activity"] = res["layer_activity"]
    try:        # windows and operations per layer, when the marks are the network's layers
        work = mobilenetv2_work(r, cfg) if r.get("layers") else []
    except (KeyError, StopIteration, ValueError):
        work = []
    return attach(r, cfg, windows=[(w.rows, w.cols) if w.mvms else None for w in work] or None,
                  ops=[w.ops for w in work] or None, png=png)


def run_block_fused(args, blk: dict, reference: dict, paper_cycles: int) -> int:
    """``imcc demo/run bottleneck --schedule fused``: the block as a one-segment
    network through the compiler's fused schedule, core 0 walking the job list."""
    from imcc.gen.compiler.network import compile_network
    from imcc.gen.mapping import BottleneckShape, MappingError
    from imcc.sim.bottleneck import random_bottleneck
    from imcc.sim.network import bottleneck_network
    from imcc.tb.programs import run_network as simulate
    cfg = load_config(args)
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed {args.seed}: an integer from 0 to 2^63 - 1 is needed")
    if args.dump and not args.dump.endswith(".npz"):
        raise UsageError(f"--dump {args.dump}: the file name must end in .npz")
    try:
        shape = BottleneckShape(**blk)
        x, p = random_bottleneck(shape.h, shape.w, shape.cin, shape.t, shape.cout, shape.stride,
                                 args.seed)
        c = compile_network(bottleneck_network(shape, p), x, cfg, schedule="fused")
    except MappingError as e:
        raise UsageError(str(e)) from None
    if args.waves:
        import os
        os.environ["WAVES"] = "1"
    res = simulate(c, progress=lambda s: _say(args, s))
    mism = _mismatches(c, res)
    total = (res["marks"][-1] - res["start_cycles"]) & 0xFFFF_FFFF if res["exit"] == 0 else 0
    mvm = c.cfg.ns_to_cycles(c.cfg.ima.mvm_ns)
    ho, wo = shape.out_hw
    # the analytic bound: every IMA layer's MVMs on its own instance at the same time
    per_inst = {}
    for L in c.lowered.net.layers:
        if L.op in ("pw", "conv"):
            insts = c.mapping.instances(c.lowered.origin[L.name])
            h, w, _ = c.lowered.net.shapes[L.output]
            for inst in insts:        # replicas share the layer's MVMs
                per_inst[inst] = per_inst.get(inst, 0) + \
                    h * w * len(c.mapping.of(L.name)) * mvm / len(insts)
    r = {"block": {**blk, "seed": args.seed}, "schedule": "fused", "total_cycles": total,
         "latency_us": round(total / c.cfg.clock.freq_mhz, 2), "bit_exact": not mism,
         "mismatches": mism, "bound_cycles": round(max(per_inst.values())),
         "config": _config_summary(c.cfg), "jobs": len(c.program.jobs),
         "l2_traffic_bytes": c.program.l2_traffic, "sim_cycles": res["cycles"],
         "sim_wall_s": round(res["sim_wall_s"], 1), "build_s": round(res["build_s"], 1)}
    if res["exit"] == 0:
        from imcc.gen.compiler.utilisation import utilisation
        r["utilisation"] = utilisation(c.program, total)
    _model(r, c)
    if blk == reference:
        r.update(paper_cycles=paper_cycles, ratio_to_paper=round(total / paper_cycles, 3))
    if args.dump:
        c.lowered.net.dump(args.dump, {c.net.input: c.x, **res["tensors"]})
    energy = network_energy(r, res, c.cfg, getattr(args, "energy_png", None))
    if args.json:
        print_json(r)
    else:
        print(f"MobileNetV2 bottleneck {shape.h}x{shape.w}x{shape.cin}, t={shape.t} -> "
              f"{shape.cout}, fused schedule on {r['config']}")
        print(f"total {total:,} cycles ({r['latency_us']} us at {c.cfg.clock.freq_mhz:g} MHz); "
              f"bound {r['bound_cycles']:,} (the busiest IMA instance's MVMs back to back)"
              + (f"; the paper ~{paper_cycles:,}" if "paper_cycles" in r else ""))
        print(f"{r['jobs']} jobs walked by core 0; L2 traffic {r['l2_traffic_bytes']:,} bytes")
        for line in _util_lines(r["utilisation"]) if "utilisation" in r else []:
            print(line)
        print(f"bit-exact check of every tensor: {'PASS' if not mism else 'FAIL'}")
        for m in mism[:20]:
            print(f"  {m}")
        if energy:
            print(energy.text())
    return 0 if not mism else 1


def _model(r: dict, c) -> None:
    """The performance model's prediction beside the measurement (a model, not RTL:
    gen/compiler/perf.py, core 0's walker replayed over the units' job times)."""
    import hashlib
    r["job_list_sha1"] = hashlib.sha1(c.program.encode()).hexdigest()[:16]
    m = c.program.model
    u = r.get("utilisation")
    if u and m.get("walker") is not None:
        # core 0 walking the job list: its scanning and issuing time from the model
        # (the run records no trace of it), over the measured cycles
        u["core0_walker_model"] = round(m["walker"] / max(r["total_cycles"], 1), 4)
        # the bound: what a twice-as-fast unit (or walker) would save, by the model
        from imcc.gen.compiler.perf import WALKER, sensitivity
        s = sensitivity(c.program)
        u["saving_if_2x_model"] = s["saving"]
        u["bound"] = "core0 (walking the job list)" if s["bound"] == WALKER else s["bound"]
    if "dw_split" in m:     # fused, several DWs: depthwise bands cut over them (the model's choice)
        r["dw_bands_split"] = m["dw_split"]
    if "ima_split" in m:    # fused on a pool: bands of layers with copies cut over the copies
        r["ima_bands_split"] = m["ima_split"]
    if "merged" in m:       # fused: blocks merged into the segment after them (the choice)
        r["segments_merged"] = m["merged"]
    if "job_waits_used" in m:   # HWPEs with job waits: the walker hands waits over (the choice)
        r["job_waits_used"] = m["job_waits_used"]
    if m.get("cycles"):
        r["model_cycles"] = m["cycles"]
        if r["total_cycles"]:
            r["model_error"] = round(m["cycles"] / r["total_cycles"] - 1, 4)
    if c.mapping.reps or c.mapping.replicas:
        r["replication"] = {"in_tile": dict(c.mapping.reps),
                            "instances": {k: v for k, v in c.mapping.replicas.items()}}


def _util_lines(u: dict) -> list[str]:
    units = ", ".join(f"{k} {100 * v:.0f}%" for k, v in u["units"].items())
    if "core0_walker_model" in u:
        units += f", core 0 walking {100 * u['core0_walker_model']:.0f}% (model)"
    top = sorted(u["arrays"].items(), key=lambda kv: -kv[1])[:4]
    lines = [f"utilisation ({u['source']}): {units}; bound: {u['bound']}"]
    if "saving_if_2x_model" in u:
        sv = ", ".join(f"{k} {100 * v:.1f}%" for k, v in
                       sorted(u["saving_if_2x_model"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  the run, shortened by one unit twice as fast (model): {sv}")
    return [*lines,
            "  busiest arrays: " + ", ".join(f"{a} {100 * v:.0f}%" for a, v in top)]


def _config_summary(cfg) -> dict:
    return {"ima.instances": cfg.ima.instances, "ima.arrays": cfg.ima.arrays,
            "ima.macro_ports": cfg.ima.macro_ports, "dw.instances": cfg.dw.instances,
            "dw.ports": cfg.dw.ports, "ima.data_ports": cfg.ima.data_ports,
            "l2.size_kib": cfg.l2.size_kib, "digest": cfg.digest()}


def _mismatches(c, res) -> list[str]:
    mism = []
    for name, exp in c.golden.items():
        got = res["tensors"].get(name)
        if got is None or not (got == exp).all():
            n = -1 if got is None else int((got != exp).sum())
            mism.append(f"{name}: {n} of {exp.size} values differ")
    if res["exit"] != 0:
        mism.insert(0, f"core 0 stopped (exit code {res['exit']}): "
                       f"{c.program.failure(res['net_status'])}")
    return mism


def _table(r):
    print(f"{r['network']} {r['input']}x{r['input']}, width {r['width']}, schedule {r['schedule']}; "
          f"{r['arrays_used']} arrays (weight bound {r['weight_bound']}), {r['jobs']} jobs, "
          f"{r['clock_mhz']:g} MHz")
    paper = "paper_ms" in r
    print(f"{'layer':<13} {'unit':<7} {'input':<12} {'MMAC':>7} {'cycles':>10} {'ms':>7}"
          + (f" {'paper':>6}" if paper else ""))
    for L in r["layers"]:
        print(f"{L['name']:<13} {L['unit']:<7} {L['input']:<12} {L['macs'] / 1e6:>7.2f} "
              f"{L['cycles']:>10,} {L['ms']:>7.3f}" + (f" {L['paper_ms']:>6.2f}" if paper else ""))
    print(f"{'total':<42} {r['total_cycles']:>10,} {r['latency_ms']:>7.3f}"
          + (f" {r['paper_ms']:>6.2f}" if paper else ""))
    print(f"L2 traffic {r['l2_traffic_bytes'] / 2**20:.2f} MiB (every tensor in and out of L2, "
          f"included in the cycles); L1 in use at most {r['l1_peak_bytes'] / 1024:.0f} KiB")
    if "utilisation" in r:
        for line in _util_lines(r["utilisation"]):
            print(line)
    if "model_cycles" in r:
        print(f"performance model (gen/compiler/perf.py): {r['model_cycles']:,} cycles "
              f"({100 * r.get('model_error', 0):+.1f} % against the run)")
    print(f"bit-exact check of every tensor against the golden model: "
          f"{'PASS' if r['bit_exact'] else 'FAIL'}")
    for m in r["mismatches"][:20]:
        print(f"  {m}")
    print(f"simulation: {r['sim_cycles']:,} cycles in {r['sim_wall_s']} s "
          f"({r['sim_cycles_per_s']:,} cycles/s); Verilator model "
          f"{'reused' if r['build_reused'] else 'built'} ({r['build_s']} s)")
