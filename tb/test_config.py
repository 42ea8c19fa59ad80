"""ClusterConfig: defaults, validation messages, TOML and --set overrides."""

import pytest

from imcc.gen.config import ClusterConfig, ConfigError
from imcc.rtl.registry import compose


def test_defaults_are_the_papers_cluster():
    c = ClusterConfig()
    assert (c.cores.count, c.tcdm.size_kib, c.tcdm.banks) == (8, 512, 32)
    assert (c.ima.rows, c.ima.cols, c.ima.data_ports, c.ima.mode) == (256, 256, 4, "pipelined")
    assert c.dw.ports == "shared" and c.clock.freq_mhz == 500.0 and c.ima.mvm_ns == 130.0
    assert c.ns_to_cycles(c.ima.mvm_ns) == 65
    assert c.tcdm.bank_words == 4096
    comp = compose(c)
    assert comp.masters == (tuple(f"core{i}" for i in range(8)) + tuple(f"hwpe{i}" for i in range(4))
                            + tuple(f"dma{i}" for i in range(4)) + ("soc0", "soc1"))
    assert [w.name for w in comp.address_map()] == ["tcdm", "ctrl", "ima", "dw", "eu", "dma",
                                                    "imem"]
    assert comp.address_map()[1].base == 0x1020_0000 and comp.address_map()[2].base == 0x1020_1000
    assert comp.base("dma") == 0x1020_4000
    assert comp.events == ("ima_done", "ima_error", "dw_done", "dw_error", "dma_done", "dma_error")


@pytest.mark.parametrize("override, field", [
    ("tcdm.banks=3", "tcdm.banks"),
    ("tcdm.banks=0", "tcdm.banks"),
    ("tcdm.size_kib=0", "tcdm.size_kib"),
    ("ima.rows=100", "ima.rows"),
    ("ima.cols=2048", "ima.cols"),
    ("ima.data_ports=17", "ima.data_ports"),
    ("ima.data_ports=0", "ima.data_ports"),
    ("ima.mode=fast", "ima.mode"),
    ("ima.mvm_ns=0", "ima.mvm_ns"),
    ("ima.mvm_ns=-3", "ima.mvm_ns"),
    ("clock.freq_mhz=0", "clock.freq_mhz"),
    ("clock.freq_mhz=nan", "clock.freq_mhz"),
    ("soc.data_width=48", "soc.data_width"),
    ("cores.count=17", "cores.count"),
    ("dw.macs=35", "dw.macs"),
    ("ima.rows=abc", "ima.rows"),
    ("ima.rowz=8", "ima.rowz"),
    ("imx.rows=8", "imx.rows"),
    ("tcdm.size_kib=4096", "interconnect.periph_base"),   # TCDM would cover the peripherals
    ("tcdm.size_kib=65536", "tcdm.size_kib"),     # TCDM_CFG.SIZE_KIB is 16 bits
    ("tcdm.banks=1 tcdm.size_kib=1024", "tcdm.size_kib"),   # 1 MiB in one bank: over 512 KiB
    ("tcdm.base=0xfffff000 tcdm.size_kib=384", "tcdm.base"),  # past 4 GiB
    # the simulator's 1 ps step: periods of 3000.3 and 3003.003 ps, and no period at all
    ("clock.freq_mhz=333.3", "clock.freq_mhz"),
    ("clock.freq_mhz=333", "clock.freq_mhz"),
    ("clock.freq_mhz=1e300", "clock.freq_mhz"),
    ("clock.freq_mhz=1e-300", "clock.freq_mhz"),
    ("clock.freq_mhz=inf", "clock.freq_mhz"),
])
def test_bad_values_name_the_field(override, field):
    with pytest.raises(ConfigError) as e:
        compose(ClusterConfig.load(None, override.split()))   # values, then the structure
    assert e.value.field == field
    assert str(e.value).startswith(field)


@pytest.mark.parametrize("mhz", [500, 400, 250, 125, 100, 1000, 5000, 1, 2.5])
def test_clock_periods_the_simulator_represents(mhz):
    c = ClusterConfig.load(None, [f"clock.freq_mhz={mhz}"])
    half_ps = c.clock.period_ns * 500
    assert abs(half_ps - round(half_ps)) < 1e-6


def test_toml_and_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[tcdm]\nbanks = 16\nsize_kib = 256\n[ima]\nrows = 128\nmode = "sequential"\n')
    c = ClusterConfig.load(f, ["ima.rows=64", "clock.freq_mhz=250"])
    assert (c.tcdm.banks, c.tcdm.size_kib, c.ima.rows, c.ima.mode) == (16, 256, 64, "sequential")
    assert c.clock.freq_mhz == 250.0 and c.ns_to_cycles(130) == 33
    assert ClusterConfig.from_dict(c.to_dict()) == c


def test_toml_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[tcdm\nbanks=")
    with pytest.raises(ConfigError, match="valid TOML"):
        ClusterConfig.load(bad)
    typed = tmp_path / "typed.toml"
    typed.write_text('[tcdm]\nbanks = "many"\n')
    with pytest.raises(ConfigError) as e:
        ClusterConfig.load(typed)
    assert e.value.field == "tcdm.banks"
    with pytest.raises(ConfigError, match="readable"):
        ClusterConfig.load(tmp_path / "missing.toml")


@pytest.mark.parametrize("override", ["tcdm.banks=256", "tcdm.size_kib=32768",
                                      "cores.imem_kib=2048"])
def test_limits_of_what_generates_in_reasonable_time(override):
    """Past GEN_LIMITS `imcc gen` ran for minutes with no output (1024 banks,
    a 16 MiB instruction memory): refused, naming the field."""
    with pytest.raises(ConfigError) as e:
        ClusterConfig.load(None, [override, "tcdm.base=0x40000000"])
    assert e.value.field == override.partition("=")[0] and "to " in str(e.value)


def test_interconnect_size_limit():
    """14 masters x 128 banks generate in under a minute; 64 x 128 took over 5."""
    compose(ClusterConfig.load(None, ["tcdm.banks=128"]))      # 18 masters with the DMA
    big = ["cores.count=14", "ima.data_ports=16", "ima.stream_ports=separate", "dw.ports=own",
           "dma.enabled=false"]
    compose(ClusterConfig.load(None, big))                     # 64 masters x 32 banks
    with pytest.raises(ConfigError) as e:
        compose(ClusterConfig.load(None, big + ["tcdm.banks=64"]))
    assert e.value.field == "tcdm.banks" and "at most 40 banks with 64 TCDM masters" in str(e.value)
