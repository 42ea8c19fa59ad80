"""The SoC port (AXI4 subordinate) and the cluster control block, on the
generated cluster under cocotbext-axi."""

import pytest

from imcc.tb import harness

from imcc.tb.configs import DEFAULT, SMALL as NARROW   # shared builds (tb/configs.py)


def _run(cfg, testcase, **env):
    return harness.run_bench(cfg, "soc_axi", testcase=testcase, env=env).result


@pytest.mark.parametrize("cfg", [DEFAULT, NARROW], ids=["axi64", "axi32"])
@pytest.mark.parametrize("testcase", ["random_bursts", "fixed_bursts", "error_responses",
                                      "control_registers", "backdoor_and_clock",
                                      "low_phase_manager"])
def test_soc_port(cfg, testcase):
    _run(cfg, testcase)


def test_soc_port_full_speed():
    """Long bursts without stalls move at least 0.95 beats per cycle."""
    r = _run(DEFAULT, "throughput", IMCC_LOAD_BYTES=32 * 1024)
    for kind in ("write", "read"):
        assert r[kind]["beats_per_cycle"] >= 0.95, r


@pytest.mark.long
def test_soc_port_soak():
    """Opt-in soak: pytest -m long tb/test_soc_port.py"""
    _run(DEFAULT, "random_bursts", IMCC_OPS=20000, IMCC_SEED=3)
