"""GTKWave layouts point at signals that exist: every name of every group is
in the FST of a real run of that configuration (for the default cluster with
its cores: declared, with its width, in the module instance it names in the
generated Verilog), and the layout opens on the whole run."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from imcc.gen.elaborate import generate
from imcc.tb.configs import DEFAULT, NO_CORES
from imcc.tb.tops.cluster_tb import cluster_tb
from imcc.tb.waves import (TRACE_MAX_WIDTH, dump_end, dump_signals, layout, module_signals,
                           write_gtkw)

GROUPS = ("SoC port", "ima/macro port", "ima/controller", "ima/streamer", "ima/engine",
          "dw/controller", "dw/engine", "interconnect/hwpe0", "protocol checkers", "clock gate")


@pytest.mark.parametrize("cfg", [NO_CORES, DEFAULT], ids=["no-cores", "default"])
def test_wave_groups_name_real_ports(cfg, tmp_path):
    top = "imcc_cluster_tb"
    comp = cluster_tb(cfg)
    gen = generate(cfg, tmp_path / "rtl", component=comp, name=top)
    text = gen.sources[-1].read_text()
    groups = layout(comp, top, text)
    for g in GROUPS + (("blocks/cores", "interconnect/core7") if cfg.cores.count else ()):
        assert groups.get(g), g
    decls = {}
    for name, sigs in groups.items():
        for sig, width in sigs:
            inst, _, port = sig.rpartition(".")
            if inst not in decls:
                decls[inst] = module_signals(text, inst)
            assert decls[inst].get(port) == width <= TRACE_MAX_WIDTH, f"{name}: {sig} ({width} bits)"
    assert (f"{top}.ima_macro__x", cfg.ima.rows * 8) in groups["ima/macro port"]
    write_gtkw(tmp_path / "dump.gtkw", tmp_path / "dump.fst", groups)
    assert "ima" in (tmp_path / "dump.gtkw").read_text()


def _gtkw_traces(text: str) -> list[str]:
    return [re.sub(r"\[\d+:0\]$", "", ln) for ln in text.splitlines()
            if ln and ln[0] not in "[*@-"]


# Opt-in: a waves build is a Verilator build of its own (about 2 minutes
# without cores); tb/test_cli.py checks --json and the paper comparison on
# the default run's build.
@pytest.mark.long
@pytest.mark.parametrize("cfg", [NO_CORES, DEFAULT], ids=["no-cores", "default"])
def test_run_waves_json_layout_in_the_fst(cfg, tmp_path):
    """`imcc run bottleneck --waves --json` on a small (non-reference) block:
    stdout is the JSON report alone, with no comparison to the paper's
    reference block; every signal of the layout is in the run's FST with its
    width, and the layout's view spans the whole run.  In text mode the waves
    path is printed once."""
    sets = [f"--set=cores.count={cfg.cores.count}"]
    blk = ["--h", "9", "--w", "7", "--cin", "12", "--t", "3", "--cout", "12", "--seed", "4"]
    cmd = [sys.executable, "-m", "imcc.gen.cli", "run", "bottleneck", *blk, *sets, "--waves"]
    env = {**os.environ, "IMCC_BUILD_DIR": str(Path("build").resolve())}
    r = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert report["bit_exact"] and "paper_cycles" not in report and "ratio_to_paper" not in report
    fst, gtkw = Path(report["waves"]), Path(report["gtkw"])
    assert "dump.fst" not in r.stderr
    signals = dump_signals(fst)
    text = gtkw.read_text()
    traces = _gtkw_traces(text)
    assert len(traces) > 200 and "imcc_cluster_tb.ima_macro__x" in traces
    missing = [t for t in traces if t not in signals]
    assert not missing, f"{len(missing)} layout signals not in the FST: {missing[:10]}"
    # GTKWave shows 2^-zoom time units per pixel; the wave pane is ~1000 pixels.
    zoom = float(re.search(r"^\*(-?[\d.]+) ", text, re.M)[1])
    end = dump_end(fst)
    assert end > 100_000 and end / 2000 <= 2 ** -zoom <= end / 500
    assert re.search(r"^\[timestart\] 0$", text, re.M)

    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (r.stdout + r.stderr).count("dump.fst") == 1, r.stdout + r.stderr
    assert "paper" not in r.stdout and "ratio" not in r.stdout


def test_layout_of_a_failed_job_opens_on_it(tmp_path):
    """Without a dump: the view around a failed job covers its start and its
    error event, with both markers on them, and is the job's window, not the run."""
    write_gtkw(tmp_path / "dump.gtkw", tmp_path / "none.fst", {"x": [("top.clk", 1)]},
               job=(7_000_000.0, 7_400_000.0))
    first, width, marker, a = _gtkw_view((tmp_path / "dump.gtkw").read_text())
    assert first <= 7_000_000 and 7_400_000 <= first + width <= 7_000_000 + 4 * 400_000
    assert (marker, a) == (7_400_000, 7_000_000)


def _gtkw_view(text: str) -> tuple[int, float, int, int]:
    """(first time shown, width shown, primary marker, marker A) of a layout."""
    first = int(re.search(r"^\[timestart\] (\d+)$", text, re.M)[1])
    m = re.search(r"^\*(-?[\d.]+) (-?\d+) (-?\d+)", text, re.M)
    # GTKWave shows 2^-zoom time units per pixel; the wave pane is ~1000 pixels.
    return first, 2 ** -float(m[1]) * 1000, int(m[2]), int(m[3])


@pytest.mark.icarus
def test_failed_run_layout_covers_the_error_event(tmp_path, monkeypatch):
    """A run that fails on a refused DW job (tb/benches/failing_job.py), with
    waves, on Icarus (its waves build takes seconds): the failure names the
    job, the layout's window covers the DW's error event as the FST has it
    (the rising edge of dw_evt_error) and the job's start, is a small part
    of the run, and every signal the layout names is in the FST."""
    from imcc.tb import harness
    from imcc.tb.configs import SMALL
    if (why := harness.icarus_missing()):
        pytest.skip(f"Icarus Verilog is needed for this test: {why}")
    monkeypatch.setenv("WAVES", "1")
    name = "waves_failed_job_icarus"
    with pytest.raises(AssertionError) as e:
        harness.run_bench(SMALL, "failing_job", simulator="icarus", name=name)
    run_dir = harness.build_dir() / "runs" / name
    r = json.loads((run_dir.parent / f"{name}.result.json").read_text())
    assert r["error"] == r["error_code"], r          # refused as ADDRESS
    assert f"dw job failed with error {r['error']}" in str(e.value)
    assert f"opens on the failed dw job (error {r['error']})" in str(e.value)
    fst, text = run_dir / "dump.fst", (run_dir / "dump.gtkw").read_text()
    first, width, marker, start = _gtkw_view(text)
    from pywellen import Waveform
    w = Waveform(str(fst), stream_only=True)
    evt = [v for v in w.all_vars() if v.full_name == "imcc_cluster_tb.dw_evt_error"]
    rises = []
    w.stream_changes(lambda t, _, v: rises.append(t) if v == 1 else None, evt)
    assert len(rises) == 1, rises                     # the refused job's event, once
    assert first <= start < rises[0] <= first + width, (first, width, start, rises)
    # the event is what the bench saw (the IRQ line's edge): within a few cycles of it
    assert 0 <= marker - rises[0] <= 10 * SMALL.clock.period_ns * 1000, (marker, rises)
    assert width < dump_end(fst) / 4, (width, dump_end(fst))
    signals = dump_signals(fst)
    traces = _gtkw_traces(text)
    missing = [t for t in traces if t not in signals]
    assert len(traces) > 200 and not missing, missing[:10]
