"""An IMA with several crossbar arrays (tb/benches/ima_arrays.py), and a block
run from a preloaded weight image against the same block programmed through
the IMA."""

import pytest

from imcc.tb import harness
from imcc.tb.configs import NO_CORES
from imcc.tb.test_bottleneck import run_block

FOUR = NO_CORES.replace(ima={"arrays": 4, "rows": 64, "cols": 64}, dma={"enabled": False})


@pytest.mark.parametrize("testcase", ["alternating_arrays", "program_and_bad_arrays"])
def test_ima_arrays(testcase):
    r = harness.run_bench(FOUR, "ima_arrays", testcase=testcase).result
    if testcase == "alternating_arrays":
        # switching arrays between consecutive jobs: at most 2 cycles (the bound)
        assert r["switch_overhead_per_job"] <= 2, r


POOL = NO_CORES.replace(ima={"instances": 2, "arrays": 2, "rows": 64, "cols": 64,
                             "macro_ports": "pool"}, dma={"enabled": False}, dw={"enabled": False})


def test_pool_shared_arrays():
    """Two IMAs on a pool of two arrays: apart they compute at the same time,
    on one array the macro takes their MVMs in turn; bit-exact either way."""
    r = harness.run_bench(POOL, "ima_arrays", testcase="pool_shared_arrays").result
    # the two jobs' MVMs at the same time: within a tenth of one job more than one
    # job alone; in turn on one array: at least 1.8 times one job
    assert r["apart"] <= 1.1 * r["one"] + 20, r
    assert r["shared"] >= 1.8 * r["one"], r


def test_preloaded_weights_match_programmed(tmp_path):
    """The same block from a weight image and through programming jobs: the same
    outputs (both bit-exact) and the same layer cycles; programming cycles only
    in the second."""
    from imcc.tb.configs import SMALL
    blk = dict(h=9, w=7, cin=12, t=3, cout=12, stride=1, seed=4)
    pre = run_block(SMALL, tmp_path, env={"IMCC_WEIGHTS": "preload"}, **blk)
    prog = run_block(SMALL, tmp_path, **blk)
    assert pre["bit_exact"] and prog["bit_exact"]
    assert (pre["weights"], prog["weights"]) == ("preloaded", "programmed")
    assert [(x["name"], x["cycles"]) for x in pre["layers"]] == \
        [(x["name"], x["cycles"]) for x in prog["layers"]]
    assert pre["program_cycles"] == 0 < prog["program_cycles"]
