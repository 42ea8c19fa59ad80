"""pytest options shared by every testbench: --waves, and a build/run time summary."""

import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--waves", action="store_true",
                     help="dump FST waveforms (same as WAVES=1); each test prints its file")


def pytest_configure(config):
    if config.getoption("--waves"):
        os.environ["WAVES"] = "1"


def pytest_terminal_summary(terminalreporter):
    import json
    from imcc.tb.harness import build_dir
    log = build_dir() / "timings.jsonl"
    if not log.exists():
        return
    start = terminalreporter._sessionstarttime if hasattr(terminalreporter, "_sessionstarttime") else 0
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("t", start) >= start] if rows and "t" in rows[0] else rows
    if not rows:
        return
    tr = terminalreporter
    tr.section("Verilator builds and simulation runs")
    for r in rows:
        tr.write_line(f"{r['kind']:<6} {r['seconds']:8.1f} s  {r['name']}")
    log.unlink()


@pytest.fixture(autouse=True)
def _no_stale_waves_env(monkeypatch):
    yield
