"""Performance model of the IMA (rtl/ima, docs/ima.md "Performance"): cycles
per MVM of a stream of steps, and the GOPS that follow.

Per step the bounds are the analog MVM, ``L = ceil(mvm_ns x f)`` cycles plus
one to see ``done`` and start the next, and the data ports: a step moves
``words(rows)`` words in and ``words(cols)`` out, each direction at most one
word per port and cycle, and shared ports carry both directions::

    pipelined  = max(L + 1, g_in + g_out)           shared ports
                 max(L + 1, g_in, g_out)            separate sink ports
    sequential = L + g_in + g_out + SEQ_LATENCY

with ``g = ceil(words / data_ports)``.  ``SEQ_LATENCY`` is the request,
response and slot hand-over latency that sequential mode does not hide.
scripts/bench_ima.py checks the model against the RTL; they agree to the
cycle for full-rate streams (no bank conflicts from other masters).
"""

from __future__ import annotations

import math

from imcc.gen.config import ClusterConfig

__all__ = ["SEQ_LATENCY", "words", "mvm_cycles", "bounds", "cycles_per_mvm", "gops"]

SEQ_LATENCY = 7


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
        return max(b["analog"] + 1, b["streaming"])
    return b["analog"] + b["g_in"] + b["g_out"] + SEQ_LATENCY


def gops(cfg: ClusterConfig, n_rows: int, n_cols: int, cycles: float | None = None) -> float:
    """Giga-operations per second (2 per weight and MVM) at the configured clock."""
    c = cycles_per_mvm(cfg, n_rows, n_cols) if cycles is None else cycles
    return 2 * n_rows * n_cols * cfg.clock.freq_mhz * 1e6 / c / 1e9
