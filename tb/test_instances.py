"""Accelerator instances (``ima.instances``, ``dw.instances``): two IMAs and two
DWs in one cluster run jobs at the same time, each bit-exact, each with its own
interrupt bits (tb/benches/instances.py); configurations with instances
generate and lint clean; configurations without an accelerator still generate.
"""

import pytest

from imcc.gen.config import ConfigError
from imcc.gen.elaborate import generate
from imcc.rtl.registry import compose
from imcc.tb import harness
from imcc.tb.configs import NO_CORES

# Small crossbars keep the build and the jobs short; the DWs have ports of their
# own, so all four accelerators compute at once.
TWO_EACH = NO_CORES.replace(ima={"instances": 2, "rows": 64, "cols": 64},
                            dw={"instances": 2, "ports": "own"})


def test_two_imas_two_dws_at_once():
    res = harness.run_bench(TWO_EACH, "instances", testcase="concurrent_jobs").result
    assert set(res["cycles_to_end"]) == {"ima", "ima1", "dw", "dw1"}


def test_instance_structure():
    comp = compose(TWO_EACH)
    assert [i.name for i in comp.instances] == ["ctrl", "ima", "ima1", "dw", "dw1", "dma", "soc"]
    assert comp.periph_slaves == ("ctrl", "ima", "ima1", "dw", "dw1", "dma")
    assert comp.events == ("ima_done", "ima_error", "ima1_done", "ima1_error",
                           "dw_done", "dw_error", "dw1_done", "dw1_error", "dma_done", "dma_error")
    assert comp.masters == tuple([f"hwpe{i}" for i in range(4)] + [f"hwpe1_{i}" for i in range(4)]
                                 + [f"dw{i}" for i in range(4)] + [f"dw1_{i}" for i in range(4)]
                                 + [f"dma{i}" for i in range(4)] + ["soc0", "soc1"])
    # shared ports pair IMA k with DW k: one port mux per pair
    shared = compose(TWO_EACH.replace(dw={"ports": "shared"}))
    assert shared.masters[:8] == comp.masters[:8] and len(shared.masters) == 14


@pytest.mark.parametrize("cfg, lint", [
    (TWO_EACH, True),
    pytest.param(TWO_EACH.replace(dw={"ports": "shared"},
                                  ima={"instances": 3, "stream_ports": "separate"}), True,
                 marks=pytest.mark.long),
    (NO_CORES.replace(ima={"instances": 0}), False),
    (NO_CORES.replace(dw={"instances": 0}), False),
    (NO_CORES.replace(ima={"enabled": False}, dw={"instances": 0}), True),
], ids=["2ima_2dw_own", "3ima_2dw_shared_separate", "no_ima", "no_dw", "none"])
def test_instances_generate_and_lint(cfg, lint, tmp_path):
    """Instances generate and lint clean; without an IMA or a DW the cluster still
    generates (the lint of those is the random-configuration test's)."""
    gen = generate(cfg, tmp_path)
    if lint:
        harness.lint(gen.all_sources, gen.top_module)
    ports = {p["name"] for p in gen.manifest["ports"]}
    for inst in compose(cfg).of_kind("ima"):
        assert f"{inst.name}_macro__start" in ports and f"{inst.name}_evt_done" in ports
    header = (tmp_path / "imcc_cluster.h").read_text()
    for s in compose(cfg).periph_slaves:
        assert f"IMCC_{s.upper()}_BASE" in header


def test_too_many_events_for_the_event_unit():
    with pytest.raises(ConfigError) as e:      # 7 + 7 instances and the DMA: 30 events
        compose(NO_CORES.replace(cores={"count": 2}, ima={"instances": 7}, dw={"instances": 7}))
    assert e.value.field == "ima.instances"


@pytest.mark.parametrize("kind", ["ima", "dw"])
def test_bottleneck_refuses_without_an_accelerator(kind, capsys):
    from imcc.gen.cli import main
    assert main(["run", "bottleneck", "--set", f"{kind}.instances=0"]) == 2
    err = capsys.readouterr().err
    assert f"{kind}.instances = 0" in err and err.count("\n") == 1, err
