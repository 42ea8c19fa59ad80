"""``imcc study drift``: block error of the reference bottleneck vs PCM drift time."""

from .cli import UsageError, add_config_args, load_config
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
    d.set_defaults(run=run_drift)


def run_drift(args) -> int:
    from imcc.sim.drift_study import format_table, plot, run_study
    cfg = load_config(args)
    times = [t.strip() for t in args.times.split(",") if t.strip()]
    if not times:
        raise UsageError("--times needs at least one time")
    for t in times:
        parse_duration("--times", t)
    comps = [c.strip() for c in args.compensation.split(",") if c.strip()]
    if not comps or any(c not in ("none", "global", "column") for c in comps):
        raise UsageError(f"--compensation {args.compensation!r}: use none, global and/or column")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed {args.seed}: must be >= 0")
    rows = run_study(cfg, times, comps, args.seed, sampling=args.read_noise)
    print(format_table(rows))
    try:
        plot(rows, args.out)
    except OSError as e:
        raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from None
    print(f"imcc: wrote {args.out}")
    return 0
