"""The activity counters (rtl/ctrl/counters.py, docs/counters.md) against
independent counts: the testbench's own (the protocol checkers' count of TCDM
grants on every master port), the work of each layer (MVMs = output pixels,
DW MACs = H x W x C x 9, PCM writes = packed weight words), the bytes of the
DMA transfers issued; read through the register map and reset by software;
and absent when the configuration turns them off."""

import json

import pytest
from amaranth.back import verilog

from imcc.gen.config import ClusterConfig, ConfigError
from imcc.rtl.ctrl.cluster_ctrl import ClusterCtrl
from imcc.rtl.registry import compose
from imcc.tb import harness
from imcc.tb.configs import DEFAULT, NO_CORES
from imcc.tb.counters import counter_keys

# the keys the energy model codes against (tb/counters.py)
DEFAULT_KEYS = (["cycles", "gated_cycles"]
                + [f"core{n}.{k}" for n in range(8) for k in ("active", "sleep")]
                + ["ima0.busy", "ima0.array0.mvm", "ima0.array0.pcm_writes", "dw0.busy",
                   "dw0.macs", "dma.busy", "dma.bytes", "tcdm.cores", "tcdm.ima", "tcdm.dw",
                   "tcdm.dma", "tcdm.soc"])


def test_keys_follow_the_configuration():
    assert counter_keys(DEFAULT) == DEFAULT_KEYS
    two = DEFAULT.replace(ima={"instances": 2, "arrays": 2}, dw={"instances": 2},
                          cores={"count": 0}, dma={"enabled": False})
    keys = counter_keys(two)
    assert keys == (["cycles", "gated_cycles"]
                    + [f"ima{i}.{k}" for i in range(2) for k in
                       ("busy", "array0.mvm", "array0.pcm_writes", "array1.mvm",
                        "array1.pcm_writes")]
                    + ["dw0.busy", "dw0.macs", "dw1.busy", "dw1.macs",
                       "tcdm.ima", "tcdm.dw", "tcdm.soc"])


def _ctrl_verilog(cfg):
    return verilog.convert(ClusterCtrl(cfg, compose(cfg)), name="ctrl")


def test_counters_off_removes_them():
    """``counters.enabled = false``: no counter registers, keys, ports or logic."""
    off = DEFAULT.replace(counters={"enabled": False})
    assert counter_keys(off) == []
    rm = compose(off).instance("ctrl").kind.regmap(off, compose(off))
    assert not [r for r in rm.registers if r.name.startswith("CNT_")]
    assert "cnt_" not in _ctrl_verilog(off)
    on = _ctrl_verilog(DEFAULT)
    assert "cnt_ima0_array0_mvm" in on and "act_tcdm_soc" in on
    # GATED_CYCLES stays, as before the counters
    assert rm["GATED_CYCLES"].offset == 0x2C


def test_bad_switch_and_window_are_refused():
    with pytest.raises(ConfigError, match="counters.enabled"):
        ClusterConfig.load(None, ["counters.enabled=3"])
    # 1 KiB windows hold the counters of the default cluster, not of 64 arrays
    small = DEFAULT.replace(interconnect={"periph_window_kib": 1},
                            ima={"arrays": 64, "macro_ports": "bank", "instances": 2})
    with pytest.raises(ConfigError, match="counters.enabled"):
        compose(small)


def test_register_description_is_consistent():
    rm = compose(DEFAULT).instance("ctrl").kind.regmap(DEFAULT, compose(DEFAULT))
    names = [r.name for r in rm.registers]
    assert names[names.index("CNT_CTRL"):names.index("CNT_CTRL") + 4] == [
        "CNT_CTRL", "CNT_CLEAR", "CNT_CYCLES", "CNT_CORE0_ACTIVE"]
    assert rm["CNT_DW0_MACS_HI"].offset == rm["CNT_DW0_MACS_LO"].offset + 4
    assert rm["CNT_TCDM_SOC"].offset == max(r.offset for r in rm.registers)


def test_bottleneck_layers_count_exactly():
    """The odd-sized block on the default cluster (the bottleneck tests' build):
    per layer, the counters equal the layer's work and the checkers' counts."""
    blk = dict(h=9, w=7, cin=12, t=3, cout=12, stride=1, seed=4)
    r = harness.run_bench(DEFAULT, "bottleneck", env={"IMCC_BLOCK": json.dumps(blk)}).result
    assert r["bit_exact"], r["mismatches"]
    h, w, cexp, cout = 9, 7, 36, 12
    idle = [f"core{n}.{k}" for n in range(8) for k in ("active", "sleep")]
    idle += ["tcdm.cores", "tcdm.dma", "dma.bytes", "dma.busy", "tcdm.soc"]
    expect = {"expand 1x1": {"ima0.array0.mvm": h * w, "dw0.macs": 0},
              "depthwise 3x3": {"ima0.array0.mvm": 0, "dw0.macs": h * w * cexp * 9},
              "project 1x1": {"ima0.array0.mvm": h * w, "dw0.macs": 0},
              "residual add": {"ima0.array0.mvm": 0, "dw0.macs": h * w * cout * 2}}
    assert [L["name"] for L in r["layers"]] == list(expect)
    for L, act in zip(r["layers"], r["layer_activity"]):
        assert act == L["activity"]
        ima = L["unit"] == "IMA"
        for k, v in expect[L["name"]].items():
            assert act[k] == v, (L["name"], k, act[k], v)
        assert act["ima0.array0.pcm_writes"] == 0
        assert all(act[k] == 0 for k in idle), (L["name"], {k: act[k] for k in idle})
        # the window: the layer's cycles and stopped cycles as the bench measured them
        assert act["cycles"] == L["cycles"] and act["gated_cycles"] == L["stopped_cycles"]
        # TCDM grants: the shared hwpe ports' checkers saw exactly the running unit's
        mon = L["monitor_tcdm"]
        assert act["tcdm.ima" if ima else "tcdm.dw"] == mon["hwpe"] > 0, (L["name"], act, mon)
        assert act["tcdm.dw" if ima else "tcdm.ima"] == 0
        assert mon["soc"] == mon["cores"] == mon["dma"] == 0
        busy, other = ("ima0.busy", "dw0.busy") if ima else ("dw0.busy", "ima0.busy")
        assert 0 < act[busy] <= act["cycles"] and act[other] == 0
    total = r["activity"]
    assert total["ima0.array0.mvm"] == 2 * h * w
    assert total["dw0.macs"] == h * w * cexp * 9 + h * w * cout * 2
    # programming: one PCM write per packed weight word, the SoC's loads per word written
    prog = r["program_activity"]
    assert prog["ima0.array0.pcm_writes"] == r["program_words"] > 0
    assert prog["ima0.array0.mvm"] == 0
    load = r["load_activity"]
    assert load["tcdm.soc"] == r["load_monitor_tcdm"]["soc"] == sum(
        (n + 3) // 4 for n in r["loaded_bytes"])


def test_registers_clear_and_dma_count_exactly():
    """Through the register map over the SoC port (the DMA tests' build): a
    frozen snapshot, CNT_CLEAR, and exact SoC and DMA counts."""
    from imcc.tb.tops.cluster_l2 import ClusterL2
    r = harness.run_bench(NO_CORES, "dma", testcase="counters", top="cluster_l2",
                          component=ClusterL2).result
    assert r["via_bus"] == r["frozen"] and r["frozen"]["dma.bytes"] == 4096
    assert set(r["after_clear"].values()) == {0}, r["after_clear"]
    win, mon, exp = r["window"], r["monitor"], r["expected"]
    for k, v in exp.items():
        assert win[k] == v, (k, win[k], v)
    assert win["tcdm.soc"] == mon["soc"] and win["tcdm.dma"] == mon["dma"]
    assert win["tcdm.ima"] == win["tcdm.dw"] == mon["hwpe"] == 0
    assert 0 < win["dma.busy"] < win["cycles"]


def test_core_cycles_and_accesses_count_exactly():
    """sw/apps/barrier.c on the eight cores (the core tests' build): each
    core's sleep cycles equal the cycles the event unit held its clock enable
    low (the testbench integrates the enable's changes), active + sleep is the
    same window for every core (they start together), and the cores' TCDM
    accesses equal the protocol checkers' count."""
    from imcc.tb.programs import run_app
    r = run_app(DEFAULT, "barrier", env={"IMCC_WATCH_CLOCK_EN": 1})
    assert r["exit"] == 0, r["console"]
    act, low = r["activity"], r["clock_en_low_cycles"]
    assert [act[f"core{n}.sleep"] for n in range(8)] == low
    assert low[0] > 0
    spans = {act[f"core{n}.active"] + act[f"core{n}.sleep"] for n in range(8)}
    assert len(spans) == 1 and 0 < spans.pop() <= act["cycles"]
    assert act["tcdm.cores"] == r["monitor_tcdm"]["cores"] > 0
    assert act["ima0.busy"] == act["dw0.busy"] == act["dma.busy"] == 0


def check_network_activity(compiled, res):
    """A network run's counters (tb/programs.run_network) against its job
    list, per mark: MVMs and PCM writes of every array exactly, the DMA's bytes
    at least those of its transfer jobs (the walker's job-list fetches add to
    them); the per-layer dicts add up to the run's window."""
    from imcc.tb.counters import network_expected
    layers, expected = res["layer_activity"], network_expected(compiled)
    assert len(layers) == len(expected) == len(compiled.program.marks)
    for name, act, exp in zip(compiled.program.marks, layers, expected):
        for k, v in act.items():
            if k.endswith((".mvm", ".pcm_writes")):
                assert v == exp.get(k, 0), (name, k, v, exp.get(k, 0))
        assert act.get("dma.bytes", 0) >= exp.get("dma.bytes", 0), (name, act, exp)
    total = res["activity"]
    for k in total:
        assert sum(a[k] for a in layers) <= total[k], k
    assert sum(a["cycles"] for a in layers) == res["marks"][-1] - res["start_cycles"]
