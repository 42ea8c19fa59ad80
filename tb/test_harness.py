"""The harness's own behaviour around a build: the build key hashes what
shapes a model and nothing else (editing a command, a bench, a golden model or
a test reuses every cached build), and a build reports its progress."""

import re
import time
from pathlib import Path

from imcc.tb import harness
from imcc.tb.configs import NO_CORES

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


def test_build_reports_elapsed_and_expected_time(tmp_path, monkeypatch):
    """A build says it started, its elapsed time while it runs, and, the next
    time the same configuration is built, how long the last build took."""
    monkeypatch.setenv("IMCC_BUILD_DIR", str(tmp_path))
    monkeypatch.setattr(harness._BuildClock, "PERIOD", 0.2)
    monkeypatch.setattr(harness, "_verilate", lambda *a, **k: time.sleep(1.1))
    said = []
    b = harness.build(NO_CORES, "tcdm_sram", progress=said.append)
    assert not b.reused and "first build of this configuration" in said[0]
    ticks = [float(m[1]) for s in said[1:] if (m := re.search(r": (\d+) s$", s))]
    assert len(ticks) >= 3 and ticks == sorted(ticks) and ticks[-1] >= 1, said
    (b.path / ".built").unlink()            # the same configuration again
    said.clear()
    harness.build(NO_CORES, "tcdm_sram", progress=said.append)
    last = re.search(r"the last build of this configuration took (\d+) s\)$", said[0])
    assert last and int(last[1]) >= 1, said
    assert any(s.endswith(f"of about {last[1]} s last time") for s in said[1:]), said
    said.clear()
    assert harness.build(NO_CORES, "tcdm_sram", progress=said.append).reused and not said
