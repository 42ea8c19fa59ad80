"""``imcc sw build``: compile programs of sw/apps for a configuration
(docs/cores.md)."""

from __future__ import annotations

from pathlib import Path

from .cli import UsageError, add_config_args, load_config


def register(sub):
    p = sub.add_parser("sw", help="target software for the cluster's cores")
    ssub = p.add_subparsers(dest="sw_cmd", metavar="ACTION")
    ssub.required = True
    b = ssub.add_parser("build", help="compile sw/apps programs into ELF files")
    add_config_args(b)
    b.add_argument("apps", nargs="*", metavar="APP", help="programs of sw/apps (default: all)")
    b.add_argument("-o", "--out", default="build/sw", help="output folder (default build/sw)")
    b.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME=VALUE",
                   help="preprocessor definition, e.g. -D H=14 (repeatable)")
    b.add_argument("--list", action="store_true", help="list the programs and exit")
    b.set_defaults(run=_build)


def _build(args) -> int:
    from . import sw
    if args.list:
        print("\n".join(sw.apps()))
        return 0
    cfg = load_config(args)
    defines = {}
    for d in args.defines:
        name, sep, value = d.partition("=")
        if not name.isidentifier():
            raise UsageError(f"-D {d!r}: expected NAME=VALUE with a C identifier")
        defines[name] = value if sep else "1"
    unknown = [a for a in args.apps if a not in sw.apps()]
    if unknown:
        raise UsageError(f"unknown program(s) {', '.join(unknown)}; sw/apps has: "
                         + ", ".join(sw.apps()))
    try:
        for app in args.apps or sw.apps():
            elf = sw.build(cfg, app, Path(args.out), defines=defines)
            print(f"{elf} ({elf.stat().st_size} bytes)")
    except sw.SwBuildError as e:
        raise UsageError(f"build failed: {e}") from None
    return 0
