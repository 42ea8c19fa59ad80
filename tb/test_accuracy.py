"""A trained network on the cluster (issue 25): training reproducible from its
seed and >= 95 % quantised; its quantised training forward pass is the golden
model; RTL_IMAGES test images in RTL give exactly the golden model's logits (every
tensor bit-exact); a PCM point through RTL equals the golden PCM path bit for
bit; the PCM model path with ideal crossbars is the golden model; the HIC
trainer counts its device writes; ``imcc study accuracy --json`` has its keys.
The whole study (all 359 test images in RTL, 5 seeds) is opt-in:
``pytest -m long tb/test_accuracy.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from imcc.gen.compiler.network import compile_network
from imcc.gen.config import ClusterConfig
from imcc.tb.configs import L2_CORES
from imcc.sim import accuracy as A
from imcc.sim.train import TrainConfig, digits_split, export, forward, predict, train

RTL_IMAGES = 3      # the default run's batch (scripts/bench_accuracy.py runs all 359)


@pytest.fixture(scope="module")
def data():
    return digits_split(0)


@pytest.fixture(scope="module")
def trained(data):
    r = train(TrainConfig(seed=0), data)
    return r, export(r.state)


def test_training_reproducible_from_its_seed(data):
    """Same seed, same machine: the same integer network, the same accuracies to the
    last digit (two short trainings: every step of the long one is the same code)."""
    short = TrainConfig(seed=0, float_epochs=3, qat_epochs=2)
    r1 = train(short, data)
    net1 = export(r1.state)
    r2 = train(short, data)
    assert (r2.float_acc, r2.quant_acc) == (r1.float_acc, r1.quant_acc)
    for a, b in zip(net1.layers, export(r2.state).layers):
        for k in ("w", "gain", "shift", "bias", "scale", "sa", "sb"):
            assert np.array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k))), \
                f"{a.name}.{k} differs"


def test_quantised_accuracy_and_golden_equality(data, trained):
    """>= 95 % on the held-out set; the exported network run by the golden model
    gives the training forward pass's predictions on every test image, and the
    same tensors (checked on 20 images)."""
    r, net = trained
    _, _, xte, yte = data
    assert r.quant_acc >= 0.95, r.quant_acc
    assert r.float_acc >= 0.95, r.float_acc
    gpred, _ = A.golden_predictions(net, xte)
    assert np.array_equal(gpred, predict(r.state, xte))
    t, _ = forward(r.state, xte[:20])
    for i in range(20):
        g = net.run(xte[i])
        for L in net.layers:
            assert np.array_equal(g[L.output], t[L.output][i]), f"image {i}: {L.name}"


# The cluster of tb/test_network.py's small MobileNetV2 (6 arrays; this network uses
# one): the test files share one Verilator build (tb/configs.py).
RTL_CFG = L2_CORES


def test_pcm_model_path_with_ideal_crossbars_is_golden(data, trained):
    """The study's batched tile path on ideal crossbars (the compiler's arrays and
    windows) gives the golden logits exactly; on PCM it stays a valid prediction."""
    _, net = trained
    _, _, xte, _ = data
    c = compile_network(net, xte[0], ClusterConfig())
    _, glog = A.golden_predictions(net, xte[:64])
    assert np.array_equal(A.pcm_logits(c, xte[:64], A.crossbars(c.cfg, c.image)), glog)


def test_rtl_predictions_equal_golden(data, trained):
    """RTL_IMAGES test images through the generated cluster (one compiled program each, one
    build): every tensor bit-exact, so the logits and predictions are the golden
    model's."""
    _, net = trained
    _, _, xte, _ = data
    r = A.rtl_predictions(net, xte[:RTL_IMAGES], RTL_CFG)
    gpred, glog = A.golden_predictions(net, xte[:RTL_IMAGES])
    assert all(r["bit_exact"]), r["mismatches"]
    assert np.array_equal(r["logits"], glog)
    assert np.array_equal(r["pred"], gpred)


def test_pcm_point_through_rtl_is_bit_exact(data, trained):
    """The hybrid representation at 1 year with global compensation (device read
    noise, every device every MVM): the RTL run's tensors equal the golden PCM path
    (the job list on crossbar models seeded as the testbench seeds them, MVMs in the
    IMA's order), and they differ from the ideal ones (drift and noise are there)."""
    _, net = trained
    _, _, xte, _ = data
    pc = A.pcm_config(RTL_CFG, "hybrid", "1y", "global", seed=0, sampling="device")
    r = A.rtl_predictions(net, xte[:2], pc, golden=A.golden_pcm_tensors)
    assert all(r["bit_exact"]), r["mismatches"]
    ideal = np.stack([net.run(x)[net.output].reshape(-1) for x in xte[:2]])
    assert not np.array_equal(r["logits"], ideal)


def test_hic_training_counts_device_writes(data):
    """A short HIC run: reproducible, weights stay integer device levels in range,
    the write-erase count is positive and bounded by the updates applied."""
    from imcc.sim.hic import HicConfig, train_hic
    hc = HicConfig(epochs=3)
    a, b = train_hic(hc, data=data), train_hic(hc, data=data)
    assert (a.acc, a.cycles_max, a.cycles_mean) == (b.acc, b.cycles_max, b.cycles_mean)
    assert a.acc > 0.5 and 0 < a.cycles_max <= 3 * 45
    for L in a.net.layers:
        if L.op in ("pw", "conv"):
            assert np.abs(L.w).max() <= hc.wmax
    assert a.devices_per_weight == 4 and a.bits_per_weight == 4


def _imcc(*args):
    return subprocess.run([sys.executable, "-m", "imcc.gen.cli", *args], capture_output=True,
                          text=True)


def test_study_json_keys_and_refusals(tmp_path):
    png = tmp_path / "acc.png"
    # a short training (the full one is test_quantised_accuracy_and_golden_equality's)
    r = _imcc("study", "accuracy", "--json", "--rtl", "0", "--rtl-pcm", "off", "--seeds", "2",
              "--times", "25s,1y", "--png", str(png), "--epochs", "4,2")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for k in ("float_acc", "quant_acc", "golden_acc", "rtl_acc", "pcm"):
        assert k in d, k
    assert d["quant_acc"] == d["golden_acc"] > 0.5
    assert len(d["pcm"]) == 2 * 2 * 2
    for p in d["pcm"]:
        assert {"t", "representation", "compensation", "acc_mean", "acc_std"} <= set(p)
        assert len(p["accs"]) == 2 and 0 <= p["acc_mean"] <= 1
    assert png.stat().st_size > 0
    for bad in (("--rtl", "many"), ("--rtl-pcm", "1y:global:binary"), ("--times", "soon"),
                ("--seeds", "0"), ("--epochs", "4"), ("--epochs", "0,2")):
        r = _imcc("study", "accuracy", *bad)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (bad, r.stderr)
        assert len(r.stderr.strip().splitlines()) <= 2, r.stderr


@pytest.mark.long
def test_whole_study_in_rtl():
    """The whole test set in RTL (~25 min) and the full PCM study."""
    rep = A.study(rtl_images=None, hic=True)
    assert rep["rtl_equals_golden"] and rep["rtl_acc"] == rep["golden_acc"]
    assert rep["pcm_rtl"]["bit_exact"]
