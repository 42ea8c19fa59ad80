"""The cores in the cluster: boot, barrier, events and the software bottleneck
(programs of sw/apps), all on the default cluster: one Verilator build,
shared with tb/test_soc_port.py."""

import numpy as np
import pytest

from imcc.gen.config import ClusterConfig
from imcc.tb.programs import run_app, run_sw_bottleneck

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
    _check_bottleneck(run_sw_bottleneck(DEFAULT, h=7, w=9, cin=16, t=3, cout=16, seed=1))


@pytest.mark.long
def test_software_bottleneck_reference_block():
    """28x28x32, t = 6, 32 out, stride 1 (pytest -m long)."""
    _check_bottleneck(run_sw_bottleneck(DEFAULT))
