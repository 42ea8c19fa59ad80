"""pytest options shared by every testbench: --waves, and a summary of the
simulator builds, simulation runs and waveform files of the session."""

import json
import os


def pytest_addoption(parser):
    parser.addoption("--waves", action="store_true",
                     help="dump FST waveforms (same as WAVES=1); the summary lists the files")


def pytest_configure(config):
    if config.getoption("--waves"):
        os.environ["WAVES"] = "1"


def _log():
    from imcc.tb.harness import build_dir
    return build_dir() / "timings.jsonl"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):   # the controller, not an xdist worker
        _log().unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    log = _log()
    if not log.exists():
        return
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    tr = terminalreporter
    tr.section("Simulator builds (Verilator, Icarus), simulation runs, waveforms")
    for r in rows:
        if r["kind"] == "waves":
            tr.write_line(f"waves  {r['name']}")
        else:
            tr.write_line(f"{r['kind']:<6} {r['seconds']:7.1f} s  {r['name']}")
