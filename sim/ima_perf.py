"""Performance model of the IMA (rtl/ima, docs/ima.md "Performance"): cycles
per MVM of a stream of steps, and the GOPS that follow.

Per step the bounds are the analog MVM, ``L = ceil(mvm_ns x f)`` cycles (the
engine starts the next MVM in the cycle it sees ``done``), and the data ports: a step moves
``words(rows)`` words in and ``words(cols)`` out, each direction at most one
word per port and cycle, and shared ports carry both directions::

    pipelined  = max(L, g_in + g_out)               shared ports
                 max(L, g_in, g_out)                separate sink ports
    sequential = L + g_in + g_out + SEQ_LATENCY

with ``g = ceil(words / data_ports)``.  ``SEQ_LATENCY`` is the request,
response and slot hand-over latency that sequential mode does not hide.
scripts/bench_ima.py checks the model against the RTL; they agree to the
cycle for full-rate streams (no bank conflicts from other masters).
"""

from __future__ import annotations

import math

from imcc.gen.config import ClusterConfig

__all__ = ["SEQ_LATENCY", "ARRAY_SWITCH_CYCLES", "words", "mvm_cycles", "bounds",
           "cycles_per_mvm", "gops", "job_cycles", "cluster_mvms_per_cycle"]

SEQ_LATENCY = 7
# Cycles a job pays when it names another array than the job before: none, the
# selection changes while the job is checked (rtl/ima/arrays.py; measured by
# scripts/bench_ima_multi.py).
ARRAY_SWITCH_CYCLES = 0


def words(nbytes: int, offset: int = 0) -> int:
    """32-bit words a vector of ``nbytes`` starting at byte ``offset`` of a word touches."""
    return (offset % 4 + nbytes + 3) // 4


def mvm_cycles(cfg: ClusterConfig) -> int:
    return cfg.macro_cycles(cfg.ima.mvm_ns)


def bounds(cfg: ClusterConfig, n_rows: int, n_cols: int, offsets=(0, 0)) -> dict:
    """Analog and streaming bounds (cycles per MVM) of a step."""
    p = cfg.ima.data_ports
    g_in = math.ceil(words(n_rows, offsets[0]) / p)
    g_out = math.ceil(words(n_cols, offsets[1]) / p)
    shared = cfg.ima.stream_ports == "shared"
    return {"analog": mvm_cycles(cfg), "g_in": g_in, "g_out": g_out,
            "streaming": g_in + g_out if shared else max(g_in, g_out)}


def cycles_per_mvm(cfg: ClusterConfig, n_rows: int, n_cols: int, offsets=(0, 0)) -> int:
    """Steady-state cycles per MVM of a long stream of steps with an
    ``n_rows`` x ``n_cols`` window."""
    b = bounds(cfg, n_rows, n_cols, offsets)
    if cfg.ima.mode == "pipelined":
        return max(b["analog"], b["streaming"])
    return b["analog"] + b["g_in"] + b["g_out"] + SEQ_LATENCY


def gops(cfg: ClusterConfig, n_rows: int, n_cols: int, cycles: float | None = None) -> float:
    """Giga-operations per second (2 per weight and MVM) at the configured clock."""
    c = cycles_per_mvm(cfg, n_rows, n_cols) if cycles is None else cycles
    return 2 * n_rows * n_cols * cfg.clock.freq_mhz * 1e6 / c / 1e9


def job_cycles(cfg: ClusterConfig, steps: int, n_rows: int, n_cols: int, *,
               switch: bool = False) -> int:
    """Cycles of one job of ``steps`` MVMs (steady state; the job's check and
    pipeline fill are in scripts/bench_ima.py's measurements), plus
    :data:`ARRAY_SWITCH_CYCLES` when it names another array than the last job."""
    return steps * cycles_per_mvm(cfg, n_rows, n_cols) + (ARRAY_SWITCH_CYCLES if switch else 0)


def cluster_mvms_per_cycle(cfg: ClusterConfig, n_rows: int, n_cols: int) -> float:
    """MVMs per cycle of the whole cluster when every IMA instance streams
    ``n_rows`` x ``n_cols`` jobs: instances compute at the same time on their
    own data ports (while the TCDM banks keep up: 4 ports each of 32 banks);
    the arrays of one IMA take turns (one active array per IMA)."""
    from imcc.rtl.registry import compose
    n = len(compose(cfg).of_kind("ima"))
    return n / cycles_per_mvm(cfg, n_rows, n_cols)
