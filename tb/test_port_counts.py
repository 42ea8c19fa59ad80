"""Both accelerators elaborate and convert to Verilog for every data-port
count the configuration allows (``ima.data_ports`` 1..16), and a few counts
lint clean under Verilator (a zero-width wire, as one port used to produce in
the DW's segment port, converts but fails the lint).  The default run converts
1, 2, 3, 5, 8 and 16 ports; every other count is opt-in (``pytest -m long``)."""

import pytest
from amaranth.back import verilog

from imcc.gen.config import ClusterConfig
from imcc.rtl.dw import Dw
from imcc.rtl.ima import Ima
from imcc.tb import harness

# block: (component, its IMA settings); the sequential engine with sink ports of its
# own is the IMA's other streamer shape (two port groups)
BLOCKS = {"dw": (Dw, {}), "ima": (Ima, {}),
          "ima_separate": (Ima, {"stream_ports": "separate", "mode": "sequential"})}


def _verilog(block, ports):
    cls, ima = BLOCKS[block]
    cfg = ClusterConfig().replace(ima={"data_ports": ports, **ima})
    dut = cls(cfg)
    sinks = 2 if ima.get("stream_ports") == "separate" else 1
    assert len(dut.tcdm_masters()) == ports * sinks
    return verilog.convert(dut, name=f"imcc_{block}")


@pytest.mark.parametrize("block", ["dw", "ima"])
@pytest.mark.parametrize("ports", [p if p in (5, 8) else pytest.param(p, marks=pytest.mark.long)
                                   for p in range(1, 17) if p not in (1, 2, 3, 16)])
def test_converts(block, ports):
    assert f"module imcc_{block}" in _verilog(block, ports)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("ports", [1, 2, 3, 16])
def test_converts_and_lints_clean(block, ports, tmp_path):
    src = tmp_path / f"imcc_{block}.v"
    src.write_text(_verilog(block, ports))
    harness.lint([src], f"imcc_{block}")      # raises on any warning
