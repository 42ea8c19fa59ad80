"""The cluster's idle clock gate (cfg.clock.idle_gate, rtl/cluster.py) is
invisible to software and to the SoC: the same runs with and without it take
the same cycles and give the same results, while the gate really stops the
clock (GATED_CYCLES).  One run driven through the SoC port, one driven by the
cores (sleeping on events, woken by the accelerators; opt-in, ``pytest -m
long``, as is the second engine arrangement)."""

import numpy as np
import pytest

from imcc.tb.configs import DEFAULT, SMALL
from imcc.tb.programs import run_acc_bottleneck
from imcc.tb.test_bottleneck import run_block

BLOCK = dict(h=9, w=7, cin=12, t=3, cout=12, stride=1, seed=11)


def _ungated(cfg):
    return cfg.replace(clock={"idle_gate": False})


# the other engine and port arrangements: each has quiet states of its own
OTHER_MODES = SMALL.replace(ima={"mode": "sequential", "stream_ports": "separate"},
                            dw={"ports": "own"})


# Each configuration here costs two Verilator builds (with and without the
# gate): the default run checks the small cluster, the rest is opt-in.
@pytest.mark.parametrize("cfg", [SMALL, pytest.param(OTHER_MODES, marks=pytest.mark.long)],
                         ids=["small", "sequential-separate-own"])
def test_soc_driven_block_takes_the_same_cycles_with_and_without_the_gate(cfg, tmp_path):
    (tmp_path / "gated").mkdir()
    (tmp_path / "free").mkdir()
    gated = run_block(cfg, tmp_path / "gated", **BLOCK)
    free = run_block(_ungated(cfg), tmp_path / "free", **BLOCK)
    assert gated["bit_exact"] and free["bit_exact"], (gated["mismatches"], free["mismatches"])
    for key in ("load_cycles", "program_cycles", "total_cycles", "sim_cycles"):
        assert gated[key] == free[key], (key, gated[key], free[key])
    assert [(L["name"], L["cycles"]) for L in gated["layers"]] == \
        [(L["name"], L["cycles"]) for L in free["layers"]]
    # the gate stops the clock while PCM writes are under way, and never without it
    assert gated["program_stopped_cycles"] > 0.9 * gated["program_cycles"], gated
    assert 0 < gated["sim_stopped_cycles"] < gated["sim_cycles"]
    assert free["sim_stopped_cycles"] == 0


@pytest.mark.long   # a second build of the eight-core cluster
def test_core_driven_block_takes_the_same_cycles_with_and_without_the_gate():
    """Core 0 programs the crossbar and runs the layers, asleep on each job's
    event while the other cores sleep from boot: every wake-up must come at
    the same cycle as on the free-running clock."""
    shape = dict(h=6, w=5, cin=8, t=2, cout=8, seed=4, stride=1)
    gated = run_acc_bottleneck(DEFAULT, **shape)
    free = run_acc_bottleneck(_ungated(DEFAULT), **shape)
    for r in (gated, free):
        assert all(e == 0 for e in r["job_error"].values()), (r["job_error"], r["console"])
        for k, gold in r["golden"].items():
            assert np.array_equal(r["arrays"][k], gold), k
    assert list(gated["layer_cycles"]) == list(free["layer_cycles"])
    assert gated["program_cycles"] == free["program_cycles"]
