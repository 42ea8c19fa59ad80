"""The ``imcc`` command."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .config import ClusterConfig, ConfigError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as argparse does, with our prefix
        self.print_usage(sys.stderr)
        self.exit(2, f"imcc: error: {message}\n")


def _config_args(p: argparse.ArgumentParser):
    p.add_argument("--config", metavar="FILE", help="TOML configuration file")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override one field, e.g. --set ima.rows=128 (repeatable)")


def _parser() -> argparse.ArgumentParser:
    from .elaborate import TOPS
    ap = _Parser(prog="imcc", description="Generator of a heterogeneous in-memory-computing cluster.")
    ap.add_argument("--version", action="version", version=f"imcc {__version__}")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    g = sub.add_parser("gen", help="write Verilog, file list, manifest and register maps")
    _config_args(g)
    g.add_argument("--top", default="cluster", choices=sorted(TOPS),
                   help="component to emit (default: cluster)")
    g.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")

    c = sub.add_parser("config", help="configuration commands")
    csub = c.add_subparsers(dest="config_cmd", metavar="ACTION", parser_class=_Parser)
    csub.required = True
    show = csub.add_parser("show", help="print the resolved configuration as TOML")
    _config_args(show)
    return ap


def _load(args) -> ClusterConfig:
    return ClusterConfig.load(args.config, args.set)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = _load(args)
        if args.cmd == "config":
            print(cfg.describe(), end="")
            return 0
        if args.cmd == "gen":
            from .elaborate import generate
            g = generate(cfg, args.out, args.top)
            print(f"imcc: wrote {g.top_module} ({len(g.sources)} Verilog files, "
                  f"source hash {g.manifest['source_hash'][:16]}) to {g.out_dir}/")
            for p in g.outputs:
                print(f"  {p}")
            return 0
    except ConfigError as e:
        print(f"imcc: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
