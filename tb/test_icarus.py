"""A second simulator: Icarus Verilog, 4-state, so an X that Verilator (2-state,
X resolved to 0 or 1) hides propagates and fails the run.  It reads the
generated Verilog-2005, not the cores' SystemVerilog, so it runs the cluster
without cores (tb/configs.SMALL) through the same bench and harness as
Verilator (``harness.run_bench(..., simulator="icarus")``): a small bottleneck
(crossbar programming, expand and project on the IMA, depthwise and residual
add on the DW) must take the same cycles, layer by layer, at the same
simulated times, and be bit-exact on both.

Opt-in (`pytest -m icarus`): Icarus is a system package, not a wheel.
"""

import json

import pytest

from imcc.tb import harness
from imcc.tb.configs import SMALL

# The smallest block with every layer kind: 4x4 pixels, 8 -> 16 -> 8 channels.
BLOCK = dict(h=4, w=4, cin=8, t=2, cout=8, stride=1, seed=1)


@pytest.mark.icarus
def test_icarus_matches_verilator_on_a_small_bottleneck():
    if (why := harness.icarus_missing()):
        pytest.skip(f"Icarus Verilog is needed for this test: {why}")
    env = {"IMCC_BLOCK": json.dumps(BLOCK)}
    runs = {sim: harness.run_bench(SMALL, "bottleneck", env=env, simulator=sim,
                                   name=f"icarus_vs_verilator_{sim}")
            for sim in harness.SIMULATORS}
    ver, ica = (runs[s].result for s in ("verilator", "icarus"))
    for sim, r in (("verilator", ver), ("icarus", ica)):
        assert r["bit_exact"], (sim, r["mismatches"])
        assert [layer["name"] for layer in r["layers"]] == [
            "expand 1x1", "depthwise 3x3", "project 1x1", "residual add"], sim
        assert r["weights"] == "programmed" and r["program_cycles"] > 0, sim
    # cycles, clock-gated cycles and simulated times of each layer
    cycles = lambda r: [(layer["name"], layer["cycles"], layer["stopped_cycles"],  # noqa: E731
                         layer["start_ns"], layer["end_ns"]) for layer in r["layers"]]
    assert cycles(ica) == cycles(ver)
    for key in ("total_cycles", "load_cycles", "program_cycles", "program_stopped_cycles",
                "sim_cycles", "sim_stopped_cycles"):
        assert ica[key] == ver[key], (key, ica[key], ver[key])
    assert runs["icarus"].build.simulator == "icarus"
