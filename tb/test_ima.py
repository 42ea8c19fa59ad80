"""The IMA subsystem in the cluster (cocotb + Verilator), bit-exact against the
golden IMA arithmetic: tb/benches/ima.py.

* The generated cluster without cores (tb/configs.NO_CORES, a build shared
  with other testbenches; pipelined, 4 shared ports, 256x256), registers over
  the SoC port.
* A variant on tb/tops/ima_cluster.py: sequential engine, 3 ports with
  separate sink ports, a 32x128 crossbar; registers through core0, with bank
  conflicts from hardware traffic on the other core ports.
"""

import pytest

from imcc.gen.config import ClusterConfig
from imcc.tb import harness
from imcc.tb.configs import NO_CORES
from imcc.tb.tops.ima_cluster import ImaCluster

VARIANT = ClusterConfig().replace(ima={"mode": "sequential", "stream_ports": "separate",
                                       "data_ports": 3, "rows": 32, "cols": 128})


def _run(cfg, testcase, top="cluster_tb", **env):
    component = None if top == "cluster_tb" else ImaCluster
    return harness.run_bench(cfg, "ima", testcase=testcase, top=top, component=component,
                             env=env).result


@pytest.mark.parametrize("testcase", ["pointwise_layers", "packed_layers", "conv_first_layer",
                                      "job_contexts", "soft_clear", "bad_jobs",
                                      "program_registers", "program_bulk"])
def test_ima(testcase):
    _run(NO_CORES, testcase)


@pytest.mark.parametrize("testcase", ["pointwise_layers", "conv_first_layer", "soft_clear",
                                      "bad_jobs", "program_registers", "job_contexts"])
def test_ima_variant(testcase):
    _run(VARIANT, testcase, top="ima_cluster", IMCC_LAYERS=5, IMCC_CONV_SIZE=10)


@pytest.mark.long
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_ima_layers_long(seed):
    """Opt-in sweep: many more random layers per seed, with bank-conflict traffic."""
    _run(ClusterConfig(), "pointwise_layers", top="ima_cluster", IMCC_LAYERS=40, IMCC_SEED=seed)


@pytest.mark.long
def test_ima_mobilenet_first_layer_full():
    """MobileNetV2's first layer at full size: 224x224x3 -> 112x112x32."""
    _run(NO_CORES, "conv_first_layer", IMCC_CONV_SIZE=224)
