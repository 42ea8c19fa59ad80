"""``imcc run bottleneck`` and ``imcc demo``: a MobileNetV2 bottleneck on the
generated cluster in RTL simulation, driven through the SoC port, checked
bit-exactly against the golden model, with the cycle counts next to the
paper's."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .cli import UsageError, add_config_args, load_config, print_json

# The paper's end-to-end latency of the reference block (Fig. 12, 0.35 ms at
# 500 MHz; ../shared/reference/paper-numbers.md).
PAPER_CYCLES = 177_000
PAPER_MHZ = 500
REFERENCE = dict(h=28, w=28, cin=32, t=6, cout=32, stride=1)


def register(sub):
    r = sub.add_parser("run", help="run a workload on the generated cluster (RTL simulation)")
    rsub = r.add_subparsers(dest="workload", metavar="WORKLOAD")
    rsub.required = True
    b = rsub.add_parser("bottleneck", help="one MobileNetV2 bottleneck block")
    for k, v in REFERENCE.items():
        b.add_argument(f"--{k}", type=int, default=v, help=f"(default {v})")
    b.add_argument("--seed", type=int, default=0, help="random input and weights (default 0)")
    _common(b)
    b.set_defaults(run=run_bottleneck)
    from .cmd_network import register_run
    register_run(rsub)

    d = sub.add_parser("demo", help="the reference bottleneck on the configured cluster, "
                                    "with the paper's figures beside it")
    d.add_argument("--seed", type=int, default=0)
    _common(d)
    d.set_defaults(run=run_bottleneck, **REFERENCE)


def _common(p):
    add_config_args(p)
    p.add_argument("--dump", metavar="FILE.npz", help="save inputs, parameters, intermediate "
                   "tensors and the cluster's output for an independent check")
    p.add_argument("--waves", action="store_true", help="dump FST waveforms and a GTKWave layout")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--energy-png", metavar="FILE", help="draw the run's energy breakdown by "
                   "unit (per layer when the run has per-layer activity; docs/energy.md)")
    p.add_argument("--schedule", choices=("layer", "fused"), default="layer",
                   help="layer: one layer after another, driven through the SoC port (the "
                        "paper's); fused: core 0 runs the network compiler's job list, the "
                        "layers on row bands at the same time, the IMA layers on different "
                        "IMA instances when the configuration has them (docs/compiler.md)")


def _say(args, text):
    if not args.json or sys.stderr.isatty():
        print(f"imcc: {text}", file=sys.stderr, flush=True)


def run_bottleneck(args) -> int:
    from .mapping import BottleneckShape, MappingError, plan_bottleneck
    if args.schedule == "fused":
        from .cmd_network import run_block_fused
        return run_block_fused(args, {k: getattr(args, k) for k in REFERENCE}, REFERENCE,
                               PAPER_CYCLES)
    cfg = load_config(args)
    blk = {k: getattr(args, k) for k in REFERENCE}
    try:
        shape = BottleneckShape(**blk)
        plan = plan_bottleneck(cfg, shape)
    except MappingError as e:
        raise UsageError(str(e)) from None
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed {args.seed}: an integer from 0 to 2^63 - 1 is needed")
    if args.dump and not args.dump.endswith(".npz"):
        raise UsageError(f"--dump {args.dump}: the file name must end in .npz")
    if args.waves:
        os.environ["WAVES"] = "1"

    try:
        r = simulate(cfg, blk, args.seed, dump=args.dump, progress=lambda s: _say(args, s))
    except AssertionError as e:
        print(f"imcc: the simulation failed:\n{e}", file=sys.stderr)
        return 1
    r.update(tcdm_kib=round(plan.tcdm_bytes / 1024, 1))
    if blk == REFERENCE:   # the paper measured this block only: compare like with like
        r.update(paper_cycles=PAPER_CYCLES, ratio_to_paper=r["total_cycles"] / PAPER_CYCLES)
    energy = block_energy(r, cfg, args.energy_png)
    if args.json:
        print_json(r)
    else:
        _table(r, cfg, shape)
        if energy:
            print(energy.text())
    return 0 if r["bit_exact"] else 1


def block_energy(r: dict, cfg, png: str | None = None):
    """The energy report of a bottleneck run that carries activity counts
    (``r["activity"]``, per layer ``r["layer_activity"]``), its figures added
    to ``r``; None (and a word on stderr if a PNG was asked) without them."""
    from imcc.sim.energy import attach
    from imcc.sim.energy_calib import bottleneck_work
    if not r.get("activity"):
        if png:
            print("imcc: this run has no activity counts: no energy PNG", file=sys.stderr)
        return None
    work = bottleneck_work(r, cfg) if r.get("layers") and "block" in r else []
    return attach(r, cfg, windows=[(w.rows, w.cols) if w.mvms else None for w in work] or None,
                  ops=[w.ops for w in work] or None, png=png)


def simulate(cfg, blk: dict, seed: int, *, dump: str | None = None, progress=None) -> dict:
    """Build (or reuse) the cluster's Verilator model and run the bottleneck
    bench (tb/benches/bottleneck.py) on it: its report plus build and
    simulation figures.  A failed simulation raises AssertionError."""
    from imcc.tb import harness
    from imcc.tb.tops.cluster_tb import cluster_tb
    say = progress or (lambda s: None)
    t0 = time.monotonic()
    say("building the Verilator model of the cluster (cached after the first run)...")
    b = harness.build(cfg, "cluster_tb", component=cluster_tb, progress=say)
    build_s = time.monotonic() - t0
    say(f"model {'reused' if b.reused else 'built'} in {build_s:.1f} s; simulating")
    env = {"IMCC_BLOCK": json.dumps({**blk, "seed": seed}), "IMCC_NO_ASSERT": "1"}
    if dump:
        env["IMCC_DUMP"] = str(Path(dump).resolve())
    bench = harness.run_bench(cfg, "bottleneck", name="imcc_run_bottleneck", env=env,
                              progress=say)
    r, run_dir, sim_s = bench.result, bench.run_dir, bench.seconds
    r.update(clock_mhz=cfg.clock.freq_mhz, build_s=round(build_s, 1), build_reused=b.reused,
             sim_wall_s=round(sim_s, 1), sim_cycles_per_s=round(r["sim_cycles"] / sim_s),
             run_dir=str(run_dir))
    if b.waves:
        r["waves"] = str(run_dir / "dump.fst")
        r["gtkw"] = str(run_dir / "dump.gtkw")
    return r


def _table(r, cfg, shape):
    us = 1.0 / cfg.clock.freq_mhz
    mvm = cfg.ns_to_cycles(cfg.ima.mvm_ns)
    print(f"MobileNetV2 bottleneck {shape.h}x{shape.w}x{shape.cin}, t={shape.t} -> {shape.cout}, "
          f"stride {shape.stride}{', residual' if shape.residual else ''}; "
          f"cluster {cfg.digest()} at {cfg.clock.freq_mhz:g} MHz")
    print(f"{'layer':<15} {'unit':<4} {'cycles':>9} {'us':>8}  figure")
    for L in r["layers"]:
        if "mvms" in L:
            fig = f"{L['cycles'] / L['mvms']:.1f} cycles/MVM (analog bound {mvm})"
        elif "macs" in L:
            fig = f"{L['macs'] / L['cycles']:.1f} MAC/cycle (peak {cfg.dw.macs})"
        else:
            fig = f"{L['elements'] / L['cycles']:.2f} elements/cycle"
        print(f"{L['name']:<15} {L['unit']:<4} {L['cycles']:>9,} {L['cycles'] * us:>8.1f}  {fig}")
    tot = r["total_cycles"]
    print(f"{'total':<20} {tot:>9,} {tot * us:>8.1f}  layers one after another")
    if "paper_cycles" in r:
        print(f"{'paper (Fig. 12)':<20} {r['paper_cycles']:>9,} {r['paper_cycles'] / PAPER_MHZ:>8.1f}  "
              f"ratio {r['ratio_to_paper']:.2f}")
    xc = r.get("crossbar", {})
    pcm = xc.get("model") == "pcm"
    what = "the golden path on the same PCM crossbar model" if pcm else "the golden model"
    print(f"bit-exact check against {what} (every intermediate tensor): "
          f"{'PASS' if r['bit_exact'] else 'FAIL'}")
    if pcm:
        print(f"PCM crossbar at t = {xc['t_inference']}, drift compensation {xc['compensation']}: "
              f"block output vs the ideal block: RMS {xc['rms_lsb']:.2f} LSB, "
              f"{100 * xc['over_1lsb']:.1f} % more than 1 LSB off, SNR {xc['snr_db']:.1f} dB")
    for m in r["mismatches"]:
        print(f"  {m}")
    print(f"before inference: loading {r['load_kib']:.1f} KiB of input and weights "
          f"{r['load_cycles']:,} cycles, programming the crossbar {r['program_cycles']:,} cycles; "
          f"TCDM in use {r['tcdm_kib']} KiB")
    if cfg.clock.idle_gate:
        lay = sum(L["stopped_cycles"] for L in r["layers"])
        print(f"idle clock gate: the cluster's clock stopped in "
              f"{100 * r['program_stopped_cycles'] / max(1, r['program_cycles']):.1f} % of the "
              f"programming cycles, {100 * lay / max(1, tot):.1f} % of the layers' and "
              f"{100 * r['sim_stopped_cycles'] / max(1, r['sim_cycles']):.1f} % of the run's")
    print(f"simulation: {r['sim_cycles']:,} cycles in {r['sim_wall_s']} s "
          f"({r['sim_cycles_per_s']:,} cycles/s); Verilator model "
          f"{'reused' if r['build_reused'] else 'built'} ({r['build_s']} s)")
    if "waves" in r:
        print(f"waves: gtkwave {r['waves']} {r['gtkw']}")
