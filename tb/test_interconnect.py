"""Logarithmic interconnect and TCDM under random traffic (cocotb + Verilator)."""

import pytest

from imcc.gen.config import ClusterConfig
from imcc.tb import harness
from imcc.tb.tops.packed_tcdm import PackedTcdm

DEFAULT = ClusterConfig()
SMALL = ClusterConfig().replace(tcdm={"banks": 8, "size_kib": 64}, cores={"count": 4},
                                soc={"data_width": 32})


def _run(cfg, testcase, **env):
    return harness.run_bench(cfg, "tcdm_traffic", testcase=testcase, top="packed_tcdm",
                             component=PackedTcdm, env=env).result


@pytest.mark.parametrize("cfg", [DEFAULT, SMALL], ids=["default", "8banks"])
def test_random_traffic(cfg):
    _run(cfg, "random_traffic", IMCC_TRANSACTIONS=50_000 if cfg is DEFAULT else 20_000)


@pytest.mark.parametrize("cfg", [DEFAULT, SMALL], ids=["default", "8banks"])
def test_fairness_one_bank(cfg):
    _run(cfg, "fairness_one_bank")


def test_monitor_catches_violation():
    _run(DEFAULT, "monitor_catches_violation")


@pytest.mark.long
def test_random_traffic_long():
    """Opt-in soak: pytest -m long tb/test_interconnect.py"""
    _run(DEFAULT, "random_traffic", IMCC_TRANSACTIONS=1_000_000, IMCC_SEED=2)
