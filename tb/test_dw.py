"""The depthwise 3x3 / element-wise add accelerator on the generated cluster
(tb/benches/dw.py): random shapes, MobileNetV2 layers, residual add and bad
jobs, bit-exact against imcc.sim.golden, with the TCDM protocol checkers."""

import pytest

from imcc.tb.configs import NO_CORES
from imcc.tb import harness

# No cores (they do not take part); the IMA shares its data ports with the DW.
SHARED = NO_CORES       # shared build (tb/configs.py)
OWN = SHARED.replace(dw={"ports": "own"})


def _run(cfg, testcase, **env):
    return harness.run_bench(cfg, "dw", testcase=testcase, env=env).result


@pytest.mark.parametrize("testcase", ["random_shapes", "residual_add", "bad_jobs", "mobilenet"])
def test_dw(testcase):
    _run(SHARED, testcase)


@pytest.mark.parametrize("testcase", ["overlap_and_address_checks",
                                      "in_place_add_and_wide_padding"])
def test_dw_checks(testcase):
    """OVERLAP, BIAS_ADDR / ADD DST_ADDR address checks, in-place ADD, padding
    up to 15 (tb/benches/dw_checks.py)."""
    harness.run_bench(SHARED, "dw_checks", testcase=testcase)


@pytest.mark.long
def test_dw_own_ports():
    """The DW on ports of its own (``dw.ports = "own"``)."""
    _run(OWN, "random_shapes", IMCC_SEED=5)
    _run(OWN, "bad_jobs")


@pytest.mark.long
def test_dw_mobilenet_s2():
    """56x56x144 stride 2 (two row halves: the layer does not fit 512 KiB)."""
    _run(SHARED, "mobilenet", IMCC_SHAPES="28x28x192/1,56x56x144/2")


@pytest.mark.long
def test_dw_random_soak():
    _run(SHARED, "random_shapes", IMCC_SEED=11, IMCC_JOBS=60)
