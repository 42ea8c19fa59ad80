"""The Verilator build key hashes what shapes a model and nothing else: editing
a command, a bench, a golden model or a test reuses every cached build."""

from pathlib import Path

from imcc.tb import harness

ROOT = Path(harness.__file__).resolve().parent.parent


def test_build_key_sources():
    files = {p.relative_to(ROOT).as_posix() for p in harness.shaping_files()}
    for must in ("rtl/cluster.py", "rtl/registry.py", "rtl/ima/engine.py", "gen/config.py",
                 "gen/elaborate.py", "tb/tops/cluster_tb.py", "tb/monitors/tcdm.py",
                 "tb/csrc/verilator_main.cpp", "tb/csrc/public.vlt"):
        assert must in files, must
    for never in ("gen/cli.py", "gen/cmd_run.py", "tb/benches/bottleneck.py", "tb/env.py",
                  "tb/bus/hwpe.py", "tb/harness.py", "sim/golden.py", "tb/test_harness.py"):
        assert never not in files, never
