"""The cores in the cluster: boot, barrier, events, the software bottleneck and
the accelerated bottleneck driven by core 0 (programs of sw/apps), all on the
default cluster: one Verilator build, shared with tb/test_soc_port.py."""

import numpy as np
import pytest

from imcc.gen.config import ClusterConfig
from imcc.rtl.dw.regs import DW_REGS
from imcc.rtl.ima.regs import IMA_REGS
from imcc.sim.golden import ima_pointwise, residual_add
from imcc.tb.programs import ACC_JOBS, run_acc_bottleneck, run_app, run_sw_bottleneck

DEFAULT = ClusterConfig()
N = DEFAULT.cores.count


def test_every_core_boots_with_its_hart_id():
    r = run_app(DEFAULT, "hello")
    assert r["exit"] == 0, r["console"]
    lines = dict(r["console"])
    assert sorted(lines) == list(range(N)), r["console"]
    for core, text in lines.items():
        assert text == f"hello from core {core} of {N} (event unit: {core})", text


def test_a_subset_of_cores_boots():
    r = run_app(DEFAULT, "hello", env={"IMCC_CORES": 0b1010_0101})
    assert r["exit"] == 0, r["console"]
    assert sorted(c for c, _ in r["console"]) == [0, 2, 5, 7]
    assert all("of 4 " in t for _, t in r["console"])


def test_barrier_releases_all_cores_together():
    r = run_app(DEFAULT, "barrier")
    assert r["exit"] == 0, r["console"]


def test_event_wakes_sleeping_cores():
    r = run_app(DEFAULT, "events", testcase="event_wakes_sleeping_cores")
    assert r["exit"] == 0, r["console"]


def _check_bottleneck(r):
    assert r["exit"] == 0, r["console"]
    for k, gold in r["golden"].items():
        got = r["arrays"][k]
        bad = np.argwhere(got != gold)
        assert bad.size == 0, f"{k}: {len(bad)} mismatches, first at {tuple(bad[0])}: " \
                              f"{got[tuple(bad[0])]} != {gold[tuple(bad[0])]}"


def test_software_bottleneck_reduced_block():
    """Every kernel on a small block (odd sizes exercise the tails)."""
    r = run_sw_bottleneck(DEFAULT, h=7, w=9, cin=16, t=3, cout=16, seed=1)
    _check_bottleneck(r)
    assert [a["cycles"] for a in r["layer_activity"]] == r["layer_cycles"]


@pytest.mark.long
def test_software_bottleneck_reference_block():
    """28x28x32, t = 6, 32 out, stride 1 (pytest -m long)."""
    _check_bottleneck(run_sw_bottleneck(DEFAULT))


def _check_acc_bottleneck(r, layers):
    assert all(e == 0 for e in r["job_error"].values()), (r["job_error"], r["console"])
    _check_bottleneck(r)
    assert sorted(r["arrays"]) == sorted(layers)
    assert r["program_cycles"] > 0
    # a layer the block has took cycles; one it does not have none
    have = [bool(m) for m in r["macs"]]
    assert [c > 0 for c in r["layer_cycles"]] == have, r["layer_cycles"]
    _check_layer_activity(r)


def _check_layer_activity(r):
    """The activity counters per layer (tb/programs.laps_activity, for the
    energy report) cover exactly the layers the program timed, and the DW's
    MACs are its layers' (depthwise: 9 per output; add: 2 per element, one
    per scaled operand)."""
    la = r["layer_activity"]
    assert [a["cycles"] for a in la] == r["layer_cycles"], (la, r["layer_cycles"])
    if "dw0.macs" in la[1]:
        assert la[1]["dw0.macs"] == r["macs"][1] and la[3]["dw0.macs"] == 2 * r["macs"][3], la


def test_accelerated_bottleneck_reference_block():
    """28x28x32, t = 6, 32 out: core 0 programs both crossbar windows with
    bulk-programming jobs, then runs expand (IMA), depthwise (DW), project
    (IMA) and the residual add (DW) through the HAL, asleep on each job's
    event; every intermediate tensor bit-exact (about 0.9 M cycles, ~30 s)."""
    r = run_acc_bottleneck(DEFAULT)
    _check_acc_bottleneck(r, ["y_expand", "y_dw", "y_project", "y"])
    # the layers run on the accelerators: far below the software's cycles
    assert sum(r["layer_cycles"]) < 400_000, r["layer_cycles"]


def test_accelerated_bottleneck_stride_2_without_expand():
    """t = 1 (no expand window), stride 2 (no residual add), odd sizes."""
    r = run_acc_bottleneck(DEFAULT, h=9, w=7, cin=16, t=1, cout=24, seed=2, stride=2)
    _check_acc_bottleneck(r, ["y_dw", "y_project"])


def test_accelerated_bottleneck_reports_job_errors():
    """Bad register values end a job with its error code (and both events),
    not a hang: ADC LO > HI on the expand job (IMA CLIP), QUANT LO > HI on the
    depthwise job (DW CLIP).  The failing jobs write nothing, the others run
    on what they find, and the exit code names the first failing job."""
    fill = 0x5A
    r = run_acc_bottleneck(DEFAULT, h=6, w=6, cin=8, t=2, cout=8, seed=3, prefill=fill,
                           bad_params={"expand_lo": 10, "expand_hi": 5, "dw_lo": 7, "dw_hi": 6})
    ima_clip = IMA_REGS.constant("ERR", "CLIP")     # the generated headers' *_ERR_CLIP
    dw_clip = DW_REGS.constant("ERR", "CLIP")
    assert r["job_error"] == {**dict.fromkeys(ACC_JOBS, 0), "expand 1x1": ima_clip,
                              "depthwise 3x3": dw_clip}, (r["job_error"], r["console"])
    assert r["exit"] == (ACC_JOBS.index("expand 1x1") + 1) << 16 | ima_clip, r["console"]
    a, p = r["arrays"], r["params"]
    assert (a["y_expand"] == fill).all() and (a["y_dw"] == fill).all()
    y_project = ima_pointwise(a["y_dw"], p.w_project, p.project_gain, p.project_shift,
                              p.project_lo, p.project_hi)
    assert np.array_equal(a["y_project"], y_project)
    assert np.array_equal(a["y"], residual_add(y_project, r["x"], p.add_sa, p.add_sb,
                                               p.add_shift, p.add_lo, p.add_hi))
