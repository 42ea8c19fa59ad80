"""``imcc gen``: Verilog, file list, manifest and register maps."""

from .cli import UsageError, add_config_args, load_config


def register(sub):
    from .elaborate import TOPS
    g = sub.add_parser("gen", help="write Verilog, file list, manifest and register maps")
    add_config_args(g)
    g.add_argument("--top", default="cluster", choices=sorted(TOPS),
                   help="component to emit (default: cluster)")
    g.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    g.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path
    from .elaborate import generate
    cfg = load_config(args)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"-o {args.out}: a file exists there; give a folder")
    try:   # an unusable folder is the user's error, found before elaborating
        Path(args.out).mkdir(parents=True, exist_ok=True)
        g = generate(cfg, args.out, args.top)
    except OSError as e:
        raise UsageError(f"-o {args.out}: {e.strerror or e}"
                         + (f" ({e.filename})" if e.filename else "")) from None
    print(f"imcc: wrote {g.top_module} ({len(g.sources)} Verilog files, "
          f"source hash {g.manifest['source_hash'][:16]}) to {g.out_dir}/")
    for p in g.outputs:
        print(f"  {p}")
    return 0
