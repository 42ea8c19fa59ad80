"""The ``imcc`` command.

Each sub-command lives in its own module with ``register(subparsers)`` (adds
its parser and sets ``run=``) and is listed in :data:`COMMANDS`.  A handler
returns the exit status; a :class:`ConfigError` or :class:`UsageError` becomes
a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys

# Before numpy loads: its OpenBLAS threads would spin next to the simulator
# this command waits on (a core of two); the command's own products are small.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from . import __version__
from .config import ClusterConfig, ConfigError

__all__ = ["main", "UsageError", "add_config_args", "load_config", "print_json", "COMMANDS"]

# Modules under imcc.gen (or full dotted paths) that register sub-commands.
COMMANDS = ["imcc.gen.cmd_gen", "imcc.gen.cmd_config", "imcc.gen.cmd_synth", "imcc.gen.cmd_study",
            "imcc.gen.cmd_run", "imcc.gen.cmd_sw", "imcc.gen.cmd_network", "imcc.gen.cmd_partition"]


class UsageError(Exception):
    """A bad command-line value found after parsing (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage line, then one message line, exit 2
        self.print_usage(sys.stderr)
        self.exit(2, f"imcc: error: {message}\n")


def add_config_args(p: argparse.ArgumentParser):
    p.add_argument("--config", metavar="FILE", help="TOML configuration file")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override one field, e.g. --set ima.rows=128 (repeatable)")


def load_config(args) -> ClusterConfig:
    """The configuration of the command line, its structure checked too (the
    block registry lays it out: windows, masters, events)."""
    from imcc.rtl.registry import compose
    cfg = ClusterConfig.load(args.config, args.set)
    compose(cfg)
    return cfg


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="imcc", description="Generator of a heterogeneous in-memory-computing cluster.")
    ap.add_argument("--version", action="version", version=f"imcc {__version__}")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for mod in COMMANDS:
        importlib.import_module(mod).register(sub)
    return ap


_JSON_OUT = None   # where print_json writes: the command's stdout


def print_json(obj, indent: int = 1) -> None:
    """The machine-readable report of a ``--json`` command, alone on stdout."""
    print(json.dumps(obj, indent=indent), file=_JSON_OUT or sys.stdout, flush=True)


def run_json(*args: str) -> dict:
    """``imcc ARGS --json`` in a new process (a fresh Verilator run each time),
    its report parsed: for scripts that sweep commands.  Exit 1 (a run that
    is not bit-exact) still reports; anything else raises SystemExit."""
    import subprocess
    r = subprocess.run([sys.executable, "-m", "imcc.gen.cli", *args, "--json"],
                       capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"imcc {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def main(argv: list[str] | None = None) -> int:
    global _JSON_OUT
    args = _parser().parse_args(argv)
    # With --json, stdout carries only the report: any other line a command
    # or a library prints goes to stderr.
    _JSON_OUT = sys.stdout
    quiet = contextlib.redirect_stdout(sys.stderr) if getattr(args, "json", False) \
        else contextlib.nullcontext()
    try:
        with quiet:
            return args.run(args) or 0
    except (ConfigError, UsageError) as e:
        print(f"imcc: error: {e}", file=sys.stderr)
        return 2
    finally:
        _JSON_OUT = None


if __name__ == "__main__":
    # `python -m imcc.gen.cli`: the commands import imcc.gen.cli, whose
    # print_json must see this run's stdout, so run that module's main.
    from imcc.gen.cli import main as _main
    sys.exit(_main())
