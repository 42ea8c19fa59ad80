"""The imcc command: gen outputs, lint-clean Verilog, exit statuses."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import amaranth
import pytest

from imcc.gen.cli import main
from imcc.tb import harness
from imcc.tb.waves import module_port_dirs


def _imcc(*args):
    return subprocess.run([sys.executable, "-m", "imcc.gen.cli", *args],
                          capture_output=True, text=True)


def test_gen_writes_outputs_and_lints_clean(tmp_path):
    assert main(["gen", "-o", str(tmp_path)]) == 0
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["top"] == "imcc_cluster"
    assert man["config"]["tcdm"]["banks"] == 32
    assert {p["name"] for p in man["ports"]} >= {"clk", "rst", "cores_eoc", "cores_putc_data"}
    assert [w["name"] for w in man["address_map"]] == ["tcdm", "ctrl", "ima", "dw", "eu", "dma",
                                                       "imem"]
    listed = [ln for ln in (tmp_path / "files.f").read_text().splitlines()
              if ln and not ln.startswith("//")]
    assert listed[-1] == "imcc_cluster.v" and [s["file"] for s in man["sources"]] == listed
    assert (tmp_path / "imcc_cluster.h").read_text().count("#define IMCC_TCDM_BASE") == 1
    # Every port with the direction and width the Verilog declares (36 inputs, 11 of
    # them the DMA's AXI manager port).
    decl = {name: (d[:-3] if d == "output" else "in", w) for d, name, w in
            module_port_dirs((tmp_path / "imcc_cluster.v").read_text(), "imcc_cluster")}
    assert {p["name"]: (p["dir"], p["width"]) for p in man["ports"]} == decl
    assert sum(p["dir"] == "in" for p in man["ports"]) == 36
    harness.lint([tmp_path / f for f in listed], "imcc_cluster")   # raises on any warning


def test_gen_component_top(tmp_path):
    assert main(["gen", "--top", "interconnect", "--set", "cores.count=2", "-o", str(tmp_path)]) == 0
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["top"] == "imcc_interconnect" and man["tcdm_masters"][:2] == ["core0", "core1"]
    harness.lint([tmp_path / s["file"] for s in man["sources"]], "imcc_interconnect")


def test_generation_independent_of_folders(tmp_path):
    """Two copies of the project (and of Amaranth, as in another virtualenv),
    run from different folders into different output folders, write the same
    bytes: source locations are relative, so the source hash and build key
    are too (and generating one configuration twice gives one source hash)."""
    repo = Path(__file__).resolve().parent.parent
    site = str(Path(amaranth.__file__).resolve().parent.parent)
    outs = []
    for where in ("a", "b/deeper"):
        root = tmp_path / where / "checkout"
        for pkg in ("gen", "rtl", "sim", "tb"):
            shutil.copytree(repo / pkg, root / "imcc" / pkg,
                            ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(Path(amaranth.__file__).parent, root / "amaranth",
                        ignore=shutil.ignore_patterns("__pycache__"))
        out = tmp_path / where / "out"
        # -S: no site hook, so neither the editable install nor the virtualenv's
        # Amaranth is found before the copy.
        code = (f"import sys; sys.path[:0] = [{str(root)!r}, {site!r}]; "
                "import imcc.gen, amaranth; assert imcc.gen.__file__.startswith(sys.path[0]) "
                "and amaranth.__file__.startswith(sys.path[0]); from imcc.gen.cli import main; "
                f"sys.exit(main(['gen', '--set', 'cores.count=1', '-o', {str(out)!r}]))")
        r = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path / where,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    text = (outs[0] / "imcc_cluster.v").read_text()
    assert str(tmp_path) not in text and '(* src = "rtl/cluster.py:' in text


def test_run_json_alone_on_stdout_and_no_paper_ratio_for_other_blocks():
    """`imcc run bottleneck --json` on a small block (the default run's build
    without cores): stdout parses as JSON and, the block not being the
    paper's reference block, carries no comparison with its figure; neither
    does the table."""
    cmd = ["run", "bottleneck", "--set", "cores.count=0", "--h", "9", "--w", "7", "--cin", "12",
           "--t", "3", "--cout", "12", "--seed", "4"]
    r = _imcc(*cmd, "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert report["bit_exact"] and "paper_cycles" not in report and "ratio_to_paper" not in report
    r = _imcc(*cmd)
    assert r.returncode == 0 and "bit-exact check" in r.stdout, r.stderr[-3000:]
    assert "paper" not in r.stdout and "ratio" not in r.stdout, r.stdout


@pytest.mark.parametrize("args, needle", [
    (["gen", "--set", "tcdm.banks=3", "-o", "x"], "tcdm.banks"),
    (["gen", "--set", "nonsense", "-o", "x"], "KEY=VALUE"),
    (["gen", "--top", "nope", "-o", "x"], "--top"),
    (["gen"], "-o"),
    (["frobnicate"], "invalid choice"),
    (["config", "show", "--config", "/nonexistent.toml"], "--config"),
    (["config", "show", "--config", sys.executable], "--config"),     # a binary file
    (["gen", "-o", __file__], "-o"),                                 # an existing file
    (["gen", "-o", f"{__file__}/sub"], "-o"),                        # under a file
    (["gen", "-o", "/proc/imcc-out"], "-o"),                         # not writable
    (["gen", "--set", "tcdm.size_kib=65536", "-o", "x"], "tcdm.size_kib"),
    (["run", "bottleneck", "--seed", "-1"], "--seed"),
    (["demo", "--seed", "-1"], "--seed"),
    (["run", "bottleneck", "--w", "70000"], "SIZE.W"),                # before any build
    (["run", "bottleneck", "--h", "1", "--w", "70000", "--cin", "1", "--t", "1", "--cout", "1"],
     "SIZE.W"),
])
def test_usage_and_config_errors_exit_2_with_one_line(args, needle):
    r = _imcc(*args)
    assert r.returncode == 2
    msg = [ln for ln in r.stderr.splitlines() if ln.startswith("imcc: error:")]
    assert len(msg) == 1 and needle in msg[0], r.stderr
    assert "Traceback" not in r.stderr


def test_config_show_and_version():
    r = _imcc("config", "show", "--set", "ima.rows=128")
    assert r.returncode == 0 and "rows = 128" in r.stdout and "[tcdm]" in r.stdout
    r = _imcc("--version")
    assert r.returncode == 0 and r.stdout.startswith("imcc ")
