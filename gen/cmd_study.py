"""``imcc study drift``: block error of the reference bottleneck vs PCM drift time;
``imcc study accuracy``: a trained network's accuracy in the golden model, in RTL
and on drifting PCM crossbars (sim/accuracy.py)."""

import dataclasses

from .cli import UsageError, add_config_args, load_config, print_json
from .config import parse_duration


def register(sub):
    from .cli import _Parser
    from imcc.sim.drift_study import TIMES
    s = sub.add_parser("study", help="model studies")
    ssub = s.add_subparsers(dest="study_cmd", metavar="STUDY", parser_class=_Parser)
    ssub.required = True
    d = ssub.add_parser("drift", help="reference bottleneck with both 1x1 layers on a PCM "
                        "crossbar: error vs time, with/without drift compensation, "
                        "differential vs hybrid weights")
    add_config_args(d)
    d.add_argument("-o", "--out", default="drift_study.png", metavar="PNG",
                   help="plot file (default: drift_study.png)")
    d.add_argument("--seed", type=int, default=None,
                   help="seed of the block data and the devices (default: crossbar.seed)")
    d.add_argument("--times", default=",".join(TIMES),
                   help=f"comma-separated times since programming (default: {','.join(TIMES)})")
    d.add_argument("--compensation", default="none,global",
                   help="comma-separated drift compensations: none, global, column "
                        "(default: none,global)")
    d.add_argument("--read-noise", choices=("column", "device"), default="column",
                   help="read-noise sampling: 'column' (same mean and variance, fast; default) "
                        "or 'device' (every device, every MVM; about 6x slower)")
    d.add_argument("--json", action="store_true",
                   help="print the rows (and the RTL point) as JSON instead of the table")
    d.add_argument("--rtl", metavar="T[:COMP]", nargs="?", const="1d:global", default=None,
                   help="also run the reference block through the generated cluster in RTL "
                        "simulation with the PCM model at its macro port, at time T and "
                        "compensation COMP (default 1d:global; takes a few minutes), and "
                        "check it against the golden path at equal seed")
    d.set_defaults(run=run_drift)
    _register_accuracy(ssub)


def _register_accuracy(ssub):
    from imcc.sim.accuracy import TIMES
    a = ssub.add_parser("accuracy", help="a MobileNetV2-style network trained on the bundled "
                        "digits: float, quantised, golden and RTL accuracy, and accuracy on PCM "
                        "crossbars from 25 s to 10 years (differential vs hybrid, with and "
                        "without drift compensation)")
    add_config_args(a)
    a.add_argument("--json", action="store_true", help="print the report as JSON")
    a.add_argument("--png", metavar="FILE", default=None,
                   help="plot accuracy against time since programming into FILE")
    a.add_argument("--seeds", type=int, default=5, metavar="N",
                   help="PCM device seeds per point (default 5)")
    a.add_argument("--train-seed", type=int, default=0, help="training seed (default 0)")
    a.add_argument("--epochs", default=None, metavar="F,Q",
                   help="float and quantisation-aware training epochs (default 40,30; fewer "
                        "train faster and less accurately)")
    a.add_argument("--times", default=",".join(TIMES),
                   help=f"comma-separated times since programming (default: {','.join(TIMES)})")
    a.add_argument("--rtl", default="16", metavar="N|all|0",
                   help="test images run through the cluster in RTL, one program each "
                        "(default 16, about 4 s each after a 1-2 min build; 'all': the "
                        "whole test set)")
    a.add_argument("--rtl-pcm", default="1y:global:hybrid", metavar="T:COMP:REP|off",
                   help="the PCM point run through RTL and checked bit for bit against the "
                        "golden PCM path (default 1y:global:hybrid on 4 images; 'off')")
    a.add_argument("--read-noise", choices=("column", "device"), default="column",
                   help="read-noise sampling of the PCM study (default column)")
    a.add_argument("--hic", action="store_true",
                   help="also train with the hybrid representation and a low-precision "
                        "update accumulator (HIC) and report accuracy against model size "
                        "and write-erase cycles (about 3 minutes)")
    a.set_defaults(run=run_accuracy)


def _times(text: str) -> list[str]:
    """The comma-separated ``--times``, each checked (a bad one exits 2 naming it)."""
    times = [t.strip() for t in text.split(",") if t.strip()]
    if not times:
        raise UsageError("--times needs at least one time")
    for t in times:
        parse_duration("--times", t)
    return times


def run_accuracy(args) -> int:
    import sys
    from imcc.sim.accuracy import REPRESENTATIONS, format_report, plot, study
    cfg = load_config(args)
    times = _times(args.times)
    if args.seeds < 1:
        raise UsageError(f"--seeds {args.seeds}: at least 1")
    if args.train_seed < 0:
        raise UsageError(f"--train-seed {args.train_seed}: must be >= 0")
    epochs = None
    if args.epochs is not None:
        parts = args.epochs.split(",")
        if len(parts) != 2 or not all(x.strip().isdigit() and int(x) > 0 for x in parts):
            raise UsageError(f"--epochs {args.epochs!r}: two positive counts, F,Q")
        epochs = (int(parts[0]), int(parts[1]))
    if args.rtl == "all":
        rtl = None
    elif args.rtl.isdigit():
        rtl = int(args.rtl)
    else:
        raise UsageError(f"--rtl {args.rtl!r}: a number of images, 'all' or 0")
    rtl_pcm = None
    if args.rtl_pcm != "off":
        parts = args.rtl_pcm.split(":")
        if len(parts) != 3 or parts[1] not in ("none", "global", "column") \
                or parts[2] not in REPRESENTATIONS:
            raise UsageError(f"--rtl-pcm {args.rtl_pcm!r}: T:COMP:REP with COMP none, global or "
                             f"column and REP {' or '.join(REPRESENTATIONS)}, or 'off'")
        parse_duration("--rtl-pcm", parts[0])
        rtl_pcm = tuple(parts)
    say = lambda s: print(f"imcc: {s}", file=sys.stderr, flush=True)
    rep = study(cfg, train_seed=args.train_seed, seeds=range(args.seeds), times=times,
                sampling=args.read_noise, rtl_images=rtl, rtl_pcm=rtl_pcm, hic=args.hic,
                epochs=epochs, progress=say)
    if args.png:
        try:
            plot(rep["pcm"], args.png, {"quantised (golden)": rep["golden_acc"]})
        except OSError as e:
            raise UsageError(f"cannot write {args.png}: {e.strerror or e}") from None
        rep["png"] = str(args.png)
    if args.json:
        print_json(rep)
    else:
        print(format_report(rep))
        if args.png:
            print(f"imcc: wrote {args.png}")
    bad = (rep.get("rtl_images") and not rep["rtl_equals_golden"]) or \
        (rep.get("pcm_rtl") and not rep["pcm_rtl"]["bit_exact"])
    return 1 if bad else 0


def run_drift(args) -> int:
    from imcc.sim.drift_study import format_table, plot, run_study
    cfg = load_config(args)
    times = _times(args.times)
    comps = [c.strip() for c in args.compensation.split(",") if c.strip()]
    if not comps or any(c not in ("none", "global", "column") for c in comps):
        raise UsageError(f"--compensation {args.compensation!r}: use none, global and/or column")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed {args.seed}: must be >= 0")
    rtl = _rtl_point(args.rtl) if args.rtl else None
    rows = run_study(cfg, times, comps, args.seed, sampling=args.read_noise)
    report = {"rows": [dataclasses.asdict(r) for r in rows]}
    if not args.json:
        print(format_table(rows))
    if rtl:
        code, report["rtl"] = _run_rtl_point(cfg, args, *rtl)
        if code:
            return code
    try:
        plot(rows, args.out)
    except OSError as e:
        raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from None
    report["plot"] = str(args.out)
    if args.json:
        print_json(report)
    else:
        print(f"imcc: wrote {args.out}")
    return 0


def _rtl_point(text: str) -> tuple[str, str]:
    t, _, comp = text.partition(":")
    comp = comp or "global"
    parse_duration("--rtl", t)
    if comp not in ("none", "global", "column"):
        raise UsageError(f"--rtl {text!r}: compensation must be none, global or column")
    return t, comp


def _run_rtl_point(cfg, args, t: str, comp: str) -> tuple[int, dict | None]:
    """The reference block through the RTL with the PCM model at the macro port
    (the paper's differential pair), beside the golden path at the same seed:
    (exit status, the point's figures)."""
    import sys
    from imcc.sim.drift_study import REFERENCE
    from .cmd_run import simulate
    seed = cfg.crossbar.seed if args.seed is None else args.seed
    c = cfg.replace(crossbar={"model": "pcm", "t_inference": t, "drift_compensation": comp,
                              "seed": seed, "read_noise_sampling": args.read_noise,
                              "representation": "differential", "devices_per_weight": 2})
    h, w, cin, tt, cout, stride = REFERENCE
    blk = dict(h=h, w=w, cin=cin, t=tt, cout=cout, stride=stride)
    say = lambda s: print(f"imcc: {s}", file=sys.stderr, flush=True)
    say(f"RTL point: the reference block on the cluster, PCM crossbar at t = {t}, {comp} "
        f"compensation")
    try:
        r = simulate(c, blk, seed, progress=say)
    except AssertionError as e:
        print(f"imcc: the simulation failed:\n{e}", file=sys.stderr)
        return 1, None
    xc = r["crossbar"]
    print(f"\nRTL point (cluster RTL, crossbar windows of the mapper; {r['sim_cycles']:,} "
          f"cycles simulated in {r['sim_wall_s']} s):")
    print(f"{'path':<28} {'t':>5} {'compensation':<12} {'RMS [LSB]':>9} {'>1 LSB':>7} "
          f"{'SNR [dB]':>8}")
    print(f"{'cluster RTL + PCM macro':<28} {t:>5} {comp:<12} {xc['rms_lsb']:>9.2f} "
          f"{100 * xc['over_1lsb']:>6.1f}% {xc['snr_db']:>8.1f}")
    print(f"bit-exact with the golden path on the same PCM model and seed (every intermediate "
          f"tensor): {'yes' if r['bit_exact'] else 'NO'}")
    for m in r["mismatches"]:
        print(f"  {m}")
    point = {"t": t, "compensation": comp, "bit_exact": r["bit_exact"],
             "sim_cycles": r["sim_cycles"], **{k: xc[k] for k in ("rms_lsb", "over_1lsb", "snr_db")}}
    return (0 if r["bit_exact"] else 1), point
