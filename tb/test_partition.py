"""The partitioner (gen/compiler/partition.py): the DP is optimal for its model
(brute force over every cut set on small random networks), every group fits
its arrays, the layer order is kept, ResNet-18's shapes, the CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from imcc.gen.compiler.partition import (METHODS, Partitioner, brute_force, fit, plan,
                                         plan_all, run_method)
from imcc.gen.config import ClusterConfig
from imcc.sim.network import Layer, Network, mobilenetv2
from imcc.sim.resnet import resnet18

# small arrays so that small networks need several of them
SMALL = ClusterConfig().replace(ima={"rows": 32, "cols": 32})


def _random_net(seed: int, n: int) -> Network:
    """A chain of n layers (pw, dw, add over a skip) with random channel counts."""
    rng = random.Random(seed)
    h, c = rng.choice((4, 8)), rng.choice((8, 16, 24))
    shapes = {"x": (h, h, c)}
    layers, src, skip = [], "x", None
    while len(layers) < n:
        k = len(layers)
        op = rng.choice(("pw", "pw", "pw", "dw", "add")) if k else "pw"
        name = f"l{k}"
        if op == "add" and skip is not None and shapes[skip] == shapes[src] and skip != src:
            layers.append(Layer(name, "add", (src, skip), name, unit="dw"))
            shapes[name] = shapes[src]
        elif op == "dw":
            layers.append(Layer(name, "dw", (src,), name, k=3, unit="dw"))
            shapes[name] = shapes[src]
        else:
            c = rng.choice((8, 16, 24, 40, 64))
            layers.append(Layer(name, "pw", (src,), name))
            shapes[name] = (h, h, c)
            skip = src if rng.random() < 0.5 else skip
        src = name
    return Network(f"rand{seed}", "x", shapes, layers)


@pytest.mark.parametrize("seed", range(8))
def test_dp_is_optimal_against_brute_force(seed):
    net = _random_net(seed, 9 + seed % 3)
    arrays = 2 + seed % 3
    P = Partitioner(net, SMALL, arrays)
    for batch in (1, 5, 64):
        for fast in (False, True):
            best, ranges = brute_force(P, batch, fast)
            p = run_method(P, "dp", batch, fast)
            assert best < float("inf")
            assert p.cycles == pytest.approx(best, rel=1e-12), (seed, batch, fast, ranges, p.groups)
            for m in ("layerwise", "greedy", "ga"):
                assert run_method(P, m, batch, fast).cycles >= best * (1 - 1e-12)


def _check_plan(p, P):
    assert [u for g in p.groups for u in g] == [u.name for u in P.units]   # order kept
    assert all(g for g in p.groups)
    for names, g in zip(p.groups, p.costs):
        m = g.mapping
        assert m.arrays_used <= P.arrays
        assert all(0 <= t.array < P.arrays and t.arow + t.rows <= P.R and t.acol + t.cols <= P.C
                   for t in m.tiles)
        mats = {u.name: u.matrix for u in P.units if u.name in names and u.matrix is not None}
        assert {t.layer for t in m.tiles} == set(mats)
        for name, mat in mats.items():       # each matrix covered exactly once
            assert sum(t.rows * t.cols for t in m.tiles if t.layer == name) == mat.rows * mat.cols
    assert p.predicted_cycles() == round(p.cycles)


@pytest.mark.parametrize("seed", range(4))
def test_every_group_fits_and_the_order_is_kept(seed):
    net = _random_net(100 + seed, 14)
    P = Partitioner(net, SMALL, 2 + seed)
    for p in plan_all(net, SMALL, 2 + seed, 3, partitioner=P).values():
        _check_plan(p, P)


def test_small_mobilenetv2_plans():
    net = mobilenetv2(64, 0.35)
    cfg = ClusterConfig()
    P = Partitioner(net, cfg, 3)
    plans = plan_all(net, cfg, 3, 4, partitioner=P)
    for p in plans.values():
        _check_plan(p, P)
        assert len(p.groups) >= 2 and p.writes_per_device_per_inference > 0
    dp = plans["dp"]
    assert all(dp.cycles <= p.cycles for p in plans.values())
    # the integrator's API: layer names per group, a per-group breakdown
    b = dp.breakdown()
    assert len(b) == len(dp.groups) and sum(g["cycles"] for g in b) == pytest.approx(
        dp.predicted_cycles(), abs=len(b))
    assert plan(net, cfg, 3, 4, "dp", partitioner=P).groups == dp.groups
    # one group when the network fits: no programming per batch
    one = plan(net, cfg, 34, 4, "greedy")
    assert len(one.groups) == 1 and one.program_cycles == 0
    assert one.writes_per_device_per_inference == 0


def test_fast_writes_only_shrink_programming():
    net = mobilenetv2(64, 0.35)
    cfg = ClusterConfig()
    P = Partitioner(net, cfg, 3)
    pcm, fast = run_method(P, "greedy", 2), run_method(P, "greedy", 2, fast_write=True)
    assert pcm.groups == fast.groups and pcm.compute_cycles == fast.compute_cycles
    assert fast.program_cycles < pcm.program_cycles / 50


def test_ga_is_deterministic():
    net = _random_net(7, 12)
    P = Partitioner(net, SMALL, 3)
    assert run_method(P, "ga", 4).groups == run_method(P, "ga", 4).groups


def test_calibration_fits_the_measured_networks():
    """One fit over MobileNetV2 224x224 width 1.0 and 32x32 width 0.35 (layer
    schedule, RTL): each network's total within 6 %, a large layer within 30 %."""
    f = fit()
    for pre in ("224:", "32:"):
        e = [v for k, v in f["errors"].items() if k.startswith(pre)]
        total = sum(v["model"] for v in e) / sum(v["measured"] for v in e) - 1
        assert abs(total) < 0.06, (pre, total)
    big = [v for v in f["errors"].values() if v["measured"] > 100_000]
    assert max(abs(v["error"]) for v in big) < 0.3
    # the per-MVM cycles are the analog MVM's 65 and little more
    assert 60 < f["coef"]["ima"][0] < 70


def test_resnet18_shapes_and_chunks():
    net = resnet18()
    assert net.shapes["fc"] == (1, 1, 1000) and net.shapes["l4.1.add"] == (7, 7, 512)
    ima = [L for L in net.layers if L.op in ("conv", "pw")]
    assert len(ima) == 21                      # 17 convs, 3 shortcuts, the classifier
    weights = sum(L.k * L.k * net.shapes[L.inputs[0]][2] * net.shapes[L.output][2] for L in ima)
    assert weights == 11_678_912               # ResNet-18 without biases and batch norms
    P = Partitioner(net, ClusterConfig(), 8)
    # layers beyond 8 arrays are cut in chunks that cover their matrix exactly
    for L in ima:
        us = [u for u in P.units if u.layer == L.name]
        rows = L.k * L.k * net.shapes[L.inputs[0]][2]
        assert sum(u.matrix.rows * u.matrix.cols for u in us) == rows * net.shapes[L.output][2]
        assert us[-1].output == L.output
    assert any(u.name.endswith(".c1") for u in P.units)
    assert all(P.fits(i, i) for i in range(len(P)))


def _imcc(*args):
    return subprocess.run([sys.executable, "-m", "imcc.gen.cli", *args], capture_output=True,
                          text=True)


def test_cli_json_and_table():
    r = _imcc("partition", "mobilenetv2", "--input", "64", "--width", "0.35", "--arrays", "3",
              "--batch", "4", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d["methods"]) == set(METHODS)
    for m in d["methods"].values():
        assert {"latency_ms", "throughput_ips", "groups", "program_cycles", "compute_cycles",
                "writes_per_device_per_inference"} <= set(m)
        assert m["throughput_ips"] > 0
    r = _imcc("partition", "resnet18", "--arrays", "16", "--batch", "16", "--method", "greedy",
              "--fast-write")
    assert r.returncode == 0, r.stderr
    assert "greedy" in r.stdout and "fast writes" in r.stdout


@pytest.mark.parametrize("args,text", [
    (("mobilenetv2", "--arrays", "0"), "--arrays"),
    (("mobilenetv2", "--arrays", "4", "--batch", "0"), "--batch"),
    (("resnet18", "--arrays", "4", "--width", "0.5"), "only for mobilenetv2"),
    (("mobilenetv2", "--arrays", "4", "--input", "16"), "32 to 224"),
    (("mobilenetv2", "--arrays", "4", "--method", "best"), "invalid choice"),
    (("vgg", "--arrays", "4"), "invalid choice"),
])
def test_cli_bad_input_exits_2(args, text):
    r = _imcc("partition", *args)
    assert r.returncode == 2 and text in r.stderr and "Traceback" not in r.stderr
