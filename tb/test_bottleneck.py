"""The MobileNetV2 bottleneck on the whole generated cluster, bit-exact
against the golden model (intermediate tensors included), driven through the
SoC port as a SoC would."""

import json

import pytest

from imcc.gen.mapping import BottleneckShape, MappingError, plan_bottleneck
from imcc.tb import harness

from imcc.tb.configs import DEFAULT, SMALL   # SMALL: 16 banks, 64x64 crossbar (tb/configs.py)


def run_block(cfg, tmp_path, env=None, **blk):
    """The bottleneck bench's report; ``env``: further variables (IMCC_WEIGHTS)."""
    return harness.run_bench(cfg, "bottleneck",
                             env={"IMCC_BLOCK": json.dumps(blk), **(env or {})}).result


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


def test_pcm_crossbar_at_the_macro_port_matches_the_golden_path(tmp_path):
    """The RTL point of the drift study: with the PCM model answering at the
    macro port (one day after programming, global drift compensation) the
    cluster matches the golden path on the same model and seed bit for bit,
    and the error against the ideal block is the drift study's: clearly
    non-zero, and bounded (RMS under 16 LSB, SNR above 6 dB)."""
    cfg = DEFAULT.replace(crossbar={"model": "pcm", "t_inference": "1d",
                                    "drift_compensation": "global", "seed": 7})
    r = run_block(cfg, tmp_path, h=9, w=7, cin=12, t=3, cout=12, stride=1, seed=7)
    assert r["bit_exact"], r["mismatches"]
    xc = r["crossbar"]
    assert xc["model"] == "pcm" and 0 < xc["rms_lsb"] < 16 and xc["snr_db"] > 6, xc
