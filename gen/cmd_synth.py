"""``imcc synth``: generic Yosys synthesis, hardware cost per component, structural checks."""

import sys
from pathlib import Path

from .cli import UsageError, add_config_args, load_config, print_json


def register(sub):
    p = sub.add_parser(
        "synth", help="synthesize with Yosys: cells, flip-flops and logic depth per component; "
                      "fails (status 1) on a latch, combinational loop or undriven signal")
    add_config_args(p)
    p.add_argument("--top", default="cluster", metavar="NAME",
                   help="component to synthesize (default: cluster; see `imcc gen --top`)")
    p.add_argument("--flat", action="store_true",
                   help="report the whole top as one flattened block")
    p.add_argument("--verilog", metavar="FILE", action="append", default=[],
                   help="extra Verilog source the design instantiates (repeatable)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="keep the Verilog, Yosys script, log and JSON netlist in DIR")
    p.set_defaults(run=run)


def run(args) -> int:
    from .synth import SynthError, synth_tops, synthesize
    tops = synth_tops()
    if args.top not in tops:
        raise UsageError(f"--top {args.top!r} is not allowed: one of {', '.join(tops)}")
    cfg = load_config(args)
    if args.out is not None:
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"--out {args.out!r}: {e.strerror}") from None
    for f in args.verilog:
        if not Path(f).is_file():
            raise UsageError(f"--verilog {f!r}: no such file")
    try:
        report = synthesize(cfg, args.top, flat=args.flat, out_dir=args.out,
                            extra_sources=args.verilog)
    except SynthError as e:
        print(f"imcc: synth failed: {e}", file=sys.stderr)
        return 1
    if args.json:
        print_json(report.to_dict(), indent=2)
    else:
        print(report.text())
    for p in report.problems:
        print(f"imcc: synth check failed: {p}", file=sys.stderr)
    return 0 if report.ok else 1
