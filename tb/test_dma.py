"""The cluster DMA with the simulated L2 (tb/benches/dma.py): random transfers
scoreboarded against a model of both memories, refused launches, AXI error
responses, and its throughput bound (the measured figures are
scripts/bench_dma.py's)."""

import pytest

from imcc.tb import harness
from imcc.tb.configs import NO_CORES
from imcc.tb.tops.cluster_l2 import ClusterL2


def _run(cfg, testcase, **env):
    return harness.run_bench(cfg, "dma", testcase=testcase, top="cluster_l2",
                             component=ClusterL2, env=env).result


@pytest.mark.parametrize("testcase", ["bad_launches", "axi_errors"])
def test_dma(testcase):
    _run(NO_CORES, testcase)


def test_dma_random_transfers():
    _run(NO_CORES, "random_transfers", IMCC_TRANSFERS=20_000)


@pytest.mark.long
def test_dma_random_soak():
    """About a million AXI beats of random transfers."""
    _run(NO_CORES, "random_transfers", IMCC_TRANSFERS=60_000, IMCC_SEED=7)


def test_dma_throughput():
    """Long transfers move close to one beat per cycle (the issue's target is
    0.9; the bound stated here leaves room for the model's first-beat latency)."""
    r = _run(NO_CORES, "throughput")
    for kind in ("l2_to_tcdm", "tcdm_to_l2", "two_d"):
        assert r[kind]["beats_per_cycle"] >= 0.85, r
