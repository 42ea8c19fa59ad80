"""The IMA subsystem in the cluster (cocotb + Verilator), bit-exact against the
golden IMA arithmetic: tb/benches/ima.py.  Two builds: the default cluster
(pipelined, 4 shared ports, 256x256) and a variant (sequential, 3 ports with
separate sink ports, a 32x128 crossbar)."""

import pytest

from imcc.gen.config import ClusterConfig
from imcc.tb import harness
from imcc.tb.tops.ima_cluster import ImaCluster

DEFAULT = ClusterConfig()
VARIANT = ClusterConfig().replace(ima={"mode": "sequential", "stream_ports": "separate",
                                       "data_ports": 3, "rows": 32, "cols": 128})


def _run(cfg, testcase, **env):
    b = harness.build(cfg, "ima_cluster", component=ImaCluster)
    harness.run(b, "imcc.tb.benches.ima", testcase=testcase,
                extra_env={"IMCC_CONFIG": cfg.to_json(), **{k: str(v) for k, v in env.items()}})


@pytest.mark.parametrize("testcase", ["pointwise_layers", "packed_layers", "conv_first_layer",
                                      "job_contexts", "soft_clear", "bad_jobs",
                                      "program_registers", "program_bulk"])
def test_ima(testcase):
    _run(DEFAULT, testcase)


@pytest.mark.parametrize("testcase", ["pointwise_layers", "conv_first_layer", "bad_jobs",
                                      "program_bulk", "job_contexts"])
def test_ima_variant(testcase):
    _run(VARIANT, testcase, IMCC_LAYERS=5, IMCC_CONV_SIZE=10)


@pytest.mark.long
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_ima_layers_long(seed):
    """Opt-in sweep: many more random layers per seed."""
    _run(DEFAULT, "pointwise_layers", IMCC_LAYERS=40, IMCC_SEED=seed)


@pytest.mark.long
def test_ima_mobilenet_first_layer_full():
    """MobileNetV2's first layer at full size: 224x224x3 -> 112x112x32."""
    _run(DEFAULT, "conv_first_layer", IMCC_CONV_SIZE=224)
