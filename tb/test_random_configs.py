"""Random valid configurations: each one that the configuration accepts must
generate and lint clean with Verilator, and a sample runs a small bottleneck
bit-exact.  A configuration the generator cannot build has to be refused when
it is made (exit 2 naming the field), never fail later in elaboration.

The default run checks a sample of 2 (generate and lint); `pytest -m long`
runs the sweep (IMCC_SWEEP configurations, default 25) and simulates every
fifth one that holds the bottleneck.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random

import pytest

from imcc.gen.config import GEN_LIMITS, ClusterConfig, ConfigError
from imcc.gen.elaborate import generate
from imcc.gen.mapping import BottleneckShape, MappingError, plan_bottleneck
from imcc.rtl.registry import compose
from imcc.tb import harness

POW2 = lambda lo, hi: [1 << k for k in range(lo.bit_length() - 1, hi.bit_length())]  # noqa: E731

# Every field `imcc config show` lists is drawn here or fixed below with the reason.
DRAW = {
    "tcdm.banks": lambda r: r.choice(POW2(1, GEN_LIMITS["tcdm.banks"])),
    "tcdm.size_kib": lambda r: r.choice([64, 128, 256, 384, 512, 1024, 2048]),
    "tcdm.base": lambda r: r.choice([0x1000_0000, 0x0, 0x8000_0000, 0xFF00_0000]),
    "interconnect.periph_base": lambda r: r.choice([0x1020_0000, 0x4000_0000, 0xFFF0_0000]),
    "interconnect.periph_window_kib": lambda r: r.choice([1, 4, 64]),
    "cores.count": lambda r: r.choice([0, 0, 0, 1, 2, 8, 16]),   # cores make lint slow
    "cores.imem_kib": lambda r: r.choice([4, 32, 128]),
    "cores.imem_base": lambda r: r.choice([0x1C00_0000, 0x2000_0000]),
    "soc.data_width": lambda r: r.choice([32, 64]),
    "soc.id_width": lambda r: r.randint(1, 16),
    "soc.cluster_id": lambda r: r.randint(0, 0xFFFF),
    "ima.enabled": lambda r: r.random() < 0.85,
    "ima.rows": lambda r: 8 * r.randint(1, 64),
    "ima.cols": lambda r: 8 * r.randint(1, 64),
    "ima.data_ports": lambda r: r.randint(1, 16),
    "ima.stream_ports": lambda r: r.choice(["shared", "separate"]),
    "ima.mode": lambda r: r.choice(["pipelined", "sequential"]),
    "ima.mvm_ns": lambda r: r.choice([10.0, 130.0, 333.0]),
    "ima.prog_ns": lambda r: r.choice([4.0, 1000.0]),
    "ima.job_contexts": lambda r: r.randint(2, 4),
    "ima.instances": lambda r: r.choice([1, 1, 1, 2, 0]),
    "ima.arrays": lambda r: r.choice([1, 1, 2, 4]),
    "ima.macro_ports": lambda r: r.choice(["array", "array", "bank"]),
    "dw.enabled": lambda r: r.random() < 0.85,
    "dw.instances": lambda r: r.choice([1, 1, 1, 2, 0]),
    "dw.channels": lambda r: r.randint(1, 64),
    "dw.macs": lambda r: 9 * r.randint(1, 16),
    "dw.ports": lambda r: r.choice(["shared", "own"]),
    "dw.job_contexts": lambda r: r.randint(2, 4),
    "clock.freq_mhz": lambda r: r.choice([500.0, 250.0, 1000.0, 125.0, 400.0]),
    "clock.idle_gate": lambda r: r.random() < 0.7,
    "dma.enabled": lambda r: r.random() < 0.8,
    "dma.data_width": lambda r: r.choice([32, 64, 128]),
    "dma.id_width": lambda r: r.randint(1, 8),
    "dma.ports": lambda r: r.randint(1, 8),
    "dma.queue": lambda r: r.randint(2, 8),
    "dma.max_burst": lambda r: r.choice([1, 4, 16, 256]),
    "dma.outstanding": lambda r: r.randint(1, 8),
    "l2.base": lambda r: r.choice([0x1C00_0000, 0x8000_0000, 0x0]),
    "l2.size_kib": lambda r: r.choice([64, 1024, 4096]),
    "l2.latency": lambda r: r.randint(1, 20),
    "counters.enabled": lambda r: r.random() < 0.8,     # the draws above stay as they were
    "ima.job_waits": lambda r: r.randint(0, 2),         # (added later: after the others)
    "dw.job_waits": lambda r: r.randint(0, 2),
}
FIXED = {
    "interconnect.arbitration": "one policy (round_robin)",
    **{f"crossbar.{f.name}": "the behavioural crossbar model, not RTL"
       for f in dataclasses.fields(ClusterConfig().crossbar)},
    **{f"energy.{f.name}": "the energy model's figures, not RTL"
       for f in dataclasses.fields(ClusterConfig().energy)},
}


def draw(rng: random.Random) -> tuple[ClusterConfig, int]:
    """A valid random configuration, and how many draws the configuration refused."""
    refused = 0
    while True:
        data: dict = {}
        for key, make in DRAW.items():
            sec, _, fld = key.partition(".")
            data.setdefault(sec, {})[fld] = make(rng)
        try:
            cfg = ClusterConfig.from_dict(data)
            compose(cfg)                    # the structure is checked there
            return cfg, refused
        except ConfigError:
            refused += 1


def test_every_listed_field_is_drawn_or_fixed():
    listed = {f"{s}.{f.name}" for s, sec in ClusterConfig().to_dict().items() for f in
              dataclasses.fields(getattr(ClusterConfig(), s))}
    assert listed == set(DRAW) | set(FIXED), listed ^ (set(DRAW) | set(FIXED))


def check(cfg: ClusterConfig, out) -> None:
    """Generate and lint (raises with the configuration on any failure)."""
    try:
        gen = generate(cfg, out)
        harness.lint(gen.all_sources, gen.top_module)
    except Exception as e:
        raise AssertionError(f"{type(e).__name__}: {e}\nconfiguration: {cfg.to_json()}") from e


def small_block(cfg: ClusterConfig) -> dict | None:
    for blk in (dict(h=6, w=5, cin=12, t=3, cout=12, stride=1),
                dict(h=5, w=4, cin=8, t=1, cout=8, stride=2)):
        try:
            plan_bottleneck(cfg, BottleneckShape(**blk))
            return blk
        except MappingError:
            continue
    return None


def run_small_block(cfg: ClusterConfig, tmp_path) -> dict:
    cfg = cfg.replace(cores={"count": 0})     # the block runs without cores
    blk = small_block(cfg)
    return harness.run_bench(cfg, "bottleneck",
                             env={"IMCC_BLOCK": json.dumps({**blk, "seed": 3})}).result


@pytest.mark.parametrize("seed", [1, 2])
def test_random_config_generates_and_lints(seed, tmp_path):
    """A sample of the sweep in the default run (without cores: their lint is
    the slow part, and the sweep covers them)."""
    cfg, _ = draw(random.Random(1000 + seed))
    check(cfg.replace(cores={"count": 0}), tmp_path)


@pytest.mark.parametrize("sets", [
    {"tcdm": {"base": 0, "size_kib": 256, "banks": 4}},
    {"tcdm": {"base": 0xFFF8_0000}, "interconnect": {"periph_base": 0}},
], ids=["tcdm-at-0", "tcdm-ends-at-4GiB-periph-at-0"])
def test_windows_at_the_ends_of_the_address_space_lint(sets, tmp_path):
    """Found by the sweep: a window at address 0 made `addr >= 0` in the
    interconnect's and the SoC port's decoders, which fails lint (UNSIGNED)."""
    cfg = ClusterConfig().replace(cores={"count": 0}, **sets)
    check(cfg, tmp_path)


@pytest.mark.long
def test_random_config_sweep(tmp_path):
    """IMCC_SWEEP configurations: all generate and lint; every fifth that holds
    a small bottleneck runs it bit-exact.  Prints the tally."""
    n = int(os.environ.get("IMCC_SWEEP", "25"))
    rng = random.Random(int(os.environ.get("IMCC_SEED", "26")))
    failures, refused, ran = [], 0, 0
    for i in range(n):
        cfg, r = draw(rng)
        refused += r
        try:
            check(cfg, tmp_path / f"c{i}")
            if i % 5 == 0 and small_block(cfg.replace(cores={"count": 0})):
                res = run_small_block(cfg, tmp_path)
                assert res["bit_exact"], res["mismatches"]
                ran += 1
        except AssertionError as e:
            failures.append(f"#{i}: {e}")
    print(f"random configurations: {n} drawn ({refused} refused draws), "
          f"{n - len(failures)} generated and linted, {ran} ran bit-exact")
    assert not failures, "\n\n".join(failures)
