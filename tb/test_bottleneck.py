"""The MobileNetV2 bottleneck on the whole generated cluster, bit-exact
against the golden model (intermediate tensors included), driven through the
SoC port as a SoC would."""

import json

import pytest

from imcc.gen.mapping import BottleneckShape, MappingError, plan_bottleneck
from imcc.tb import harness
from imcc.tb.tops.cluster_tb import cluster_tb

from imcc.tb.configs import DEFAULT, SMALL   # SMALL: 16 banks, 64x64 crossbar (tb/configs.py)


def run_block(cfg, tmp_path, **blk):
    b = harness.build(cfg, "cluster_tb", component=cluster_tb)
    out = tmp_path / "result.json"
    harness.run(b, "imcc.tb.benches.bottleneck",
                extra_env={"IMCC_CONFIG": cfg.to_json(), "IMCC_BLOCK": json.dumps(blk),
                           "IMCC_RESULT": str(out)})
    return json.loads(out.read_text())


@pytest.mark.parametrize("cfg, blk", [
    (DEFAULT, dict(h=28, w=28, cin=32, t=6, cout=32, stride=1, seed=1)),   # the reference block
    (DEFAULT, dict(h=28, w=28, cin=32, t=6, cout=64, stride=2, seed=2)),   # stride 2, no residual
    (DEFAULT, dict(h=56, w=56, cin=32, t=1, cout=16, stride=1, seed=3)),   # first block's shape
    (DEFAULT, dict(h=9, w=7, cin=12, t=3, cout=12, stride=1, seed=4)),     # odd sizes
    (SMALL, dict(h=56, w=56, cin=32, t=1, cout=16, stride=1, seed=5)),
], ids=["reference", "stride2", "first-block-56", "odd", "16banks-64x64"])
def test_bottleneck_bit_exact(cfg, blk, tmp_path):
    r = run_block(cfg, tmp_path, **blk)
    assert r["bit_exact"], r["mismatches"]
    names = [layer["name"] for layer in r["layers"]]
    assert names[-1] == ("residual add" if r["block"]["residual"] else "project 1x1")


def test_layers_that_do_not_fit_are_refused():
    with pytest.raises(MappingError, match="TCDM"):
        plan_bottleneck(DEFAULT.replace(tcdm={"size_kib": 256}), BottleneckShape())
    with pytest.raises(MappingError, match="crossbar"):
        plan_bottleneck(DEFAULT.replace(ima={"rows": 128, "cols": 128}), BottleneckShape())
    with pytest.raises(MappingError, match="stride"):
        BottleneckShape(stride=3)
