"""``imcc gen``: Verilog, file list, manifest and register maps."""

from .cli import add_config_args, load_config


def register(sub):
    from .elaborate import TOPS
    g = sub.add_parser("gen", help="write Verilog, file list, manifest and register maps")
    add_config_args(g)
    g.add_argument("--top", default="cluster", choices=sorted(TOPS),
                   help="component to emit (default: cluster)")
    g.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    g.set_defaults(run=run)


def run(args) -> int:
    from .elaborate import generate
    cfg = load_config(args)
    g = generate(cfg, args.out, args.top)
    print(f"imcc: wrote {g.top_module} ({len(g.sources)} Verilog files, "
          f"source hash {g.manifest['source_hash'][:16]}) to {g.out_dir}/")
    for p in g.outputs:
        print(f"  {p}")
    return 0
