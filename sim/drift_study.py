"""Drift study: the reference bottleneck with both 1x1 layers on a PCM crossbar.

The block (28x28x32, t = 6, 32 out, stride 1, residual) runs on the golden path;
expand and project are executed as IMA jobs (one per output pixel) on one
:class:`~imcc.sim.crossbar.Crossbar` in PCM mode, both layers programmed into the
same 256 x 256 array.  The block output is compared with the ideal one.

Hook for the RTL regression: :func:`evaluate` takes the executor of the 1x1 layers
(``executor(xb, windows) -> Pointwise``).  :func:`crossbar_pointwise` calls the
behavioural crossbar directly; an executor that runs the same jobs through the IMA
RTL with ``xb`` answering on its macro port gives the RTL point of the study once
the IMA RTL exists (the numbers must then match this path bit for bit at equal seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.sim.bottleneck import BottleneckParams, Pointwise, bottleneck, random_bottleneck
from imcc.sim.crossbar import Crossbar

__all__ = ["REFERENCE", "TIMES", "StudyRow", "variants", "place", "crossbar_pointwise", "metrics", "evaluate",
           "run_study", "format_table", "plot"]

REFERENCE = (28, 28, 32, 6, 32, 1)       # h, w, cin, t, cout, stride
TIMES = ("25s", "1h", "1d", "1mo", "1y", "10y")
HYBRID_DEVICES = 4                       # devices per weight of the hybrid point by default


@dataclass
class StudyRow:
    representation: str
    devices: int
    compensation: str
    t: str
    rms_lsb: float       # RMS error of the block output vs the ideal block, in output LSB
    over_1lsb: float     # share of outputs more than 1 LSB off
    snr_db: float        # 10 log10(mean(y_ideal^2) / mean(error^2))


def variants(cfg: ClusterConfig) -> list[tuple[str, dict]]:
    """(label, crossbar overrides): the paper's differential pair, and differential vs
    hybrid at the hybrid's number of devices per weight (equal device budget)."""
    xc = cfg.crossbar
    n = xc.devices_per_weight if xc.representation == "hybrid" else HYBRID_DEVICES
    return [
        ("differential", {"representation": "differential", "devices_per_weight": 2}),
        ("differential", {"representation": "differential", "devices_per_weight": n}),
        ("hybrid", {"representation": "hybrid", "devices_per_weight": n}),
    ]


def place(xb: Crossbar, p: BottleneckParams) -> dict[str, tuple[int, int]]:
    """Program expand at (0, 0) and project next to it, diagonally: (row, col) per layer."""
    we, wp = p.w_expand, p.w_project
    if we is None:
        xb.load(wp, 0, 0)
        return {"project": (0, 0)}
    if we.shape[0] + wp.shape[0] > xb.rows or we.shape[1] + wp.shape[1] > xb.cols:
        raise ValueError(f"expand {we.shape} and project {wp.shape} do not fit one "
                         f"{xb.rows} x {xb.cols} crossbar")
    xb.load(we, 0, 0)
    xb.load(wp, we.shape[0], we.shape[1])
    return {"expand": (0, 0), "project": (we.shape[0], we.shape[1])}


def crossbar_pointwise(xb: Crossbar, windows: dict[str, tuple[int, int]], *,
                       one_by_one: bool = False) -> Pointwise:
    """Executor of the 1x1 layers on ``xb``: one MVM per pixel, fresh read noise each.

    ``one_by_one`` issues the MVMs singly in pixel order, exactly as the IMA does
    at the macro port, so the random draws match the RTL run's even with ADC
    noise (a batch draws all read noise first, then all ADC noise)."""
    def run(layer, x, w, gain, shift, lo, hi):
        r0, c0 = windows[layer]
        cin, cout = w.shape
        if not np.array_equal(xb.w[r0:r0 + cin, c0:c0 + cout], w):
            raise ValueError(f"{layer} weights are not the ones programmed at ({r0}, {c0})")
        flat = x.reshape(-1, cin)
        if one_by_one:
            y = np.stack([xb.mvm(v, r0, cin, c0, cout, gain, shift, lo, hi) for v in flat])
        else:
            y = xb.mvm_batch(flat, r0, cin, c0, cout, gain, shift, lo, hi)
        return y.reshape(x.shape[:-1] + (cout,))
    return run


def metrics(y: np.ndarray, ideal: np.ndarray) -> tuple[float, float, float]:
    """(RMS error in LSB, share of outputs more than 1 LSB off, SNR in dB)."""
    d = y.astype(np.float64) - ideal
    mse = float(np.mean(d * d))
    sig = float(np.mean(ideal.astype(np.float64) ** 2))
    snr = math.inf if mse == 0 else 10 * math.log10(sig / mse)
    return math.sqrt(mse), float(np.mean(np.abs(d) > 1)), snr


def evaluate(xb: Crossbar, windows, x, p: BottleneckParams, ideal: np.ndarray,
             executor: Callable = crossbar_pointwise) -> tuple[float, float, float]:
    """(RMS in LSB, share > 1 LSB off, SNR dB) of one block run at xb's time/compensation."""
    return metrics(bottleneck(x, p, pointwise=executor(xb, windows)).y, ideal)


def run_study(cfg: ClusterConfig, times=TIMES, compensations=("none", "global"),
              seed: int | None = None, shape=REFERENCE, sampling: str = "column",
              variant_list: list[tuple[str, dict]] | None = None) -> list[StudyRow]:
    seed = cfg.crossbar.seed if seed is None else seed
    x, p = random_bottleneck(*shape, seed=seed)
    ideal = bottleneck(x, p).y
    rows = []
    for label, over in variant_list or variants(cfg):
        c = cfg.replace(crossbar={**over, "model": "pcm", "read_noise_sampling": sampling})
        xb = Crossbar(c, seed=seed)
        windows = place(xb, p)
        for t in times:
            xb.set_time(t)
            for comp in compensations:
                xb.set_compensation(comp)
                rows.append(StudyRow(label, c.crossbar.devices_per_weight, comp, str(t),
                                     *evaluate(xb, windows, x, p, ideal)))
    return rows


def format_table(rows: list[StudyRow]) -> str:
    head = f"{'representation':<14} {'dev':>3} {'compensation':<12} {'t':>5} " \
           f"{'RMS [LSB]':>9} {'>1 LSB':>7} {'SNR [dB]':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.representation:<14} {r.devices:>3} {r.compensation:<12} {r.t:>5} "
                     f"{r.rms_lsb:>9.2f} {100 * r.over_1lsb:>6.1f}% {r.snr_db:>8.1f}")
    return "\n".join(lines)


def plot(rows: list[StudyRow], path, title: str = ""):
    """Both metrics against time since programming, ticked at the study's
    times in the units they were given (25s, 1h, 1d, ...); returns the figure."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from imcc.gen.config import parse_duration
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    keys = list(dict.fromkeys((r.representation, r.devices, r.compensation) for r in rows))
    for rep, dev, comp in keys:
        sel = [r for r in rows if (r.representation, r.devices, r.compensation) == (rep, dev, comp)]
        t = [max(parse_duration("t", r.t), 1.0) for r in sel]
        style = "-" if comp != "none" else "--"
        label = f"{rep} x{dev}, {comp}"
        ax1.plot(t, [r.rms_lsb for r in sel], style, marker="o", label=label)
        ax2.plot(t, [r.snr_db for r in sel], style, marker="o", label=label)
    ticks = {max(parse_duration("t", r.t), 1.0): r.t for r in rows}
    for ax, yl in ((ax1, "RMS error of block output [LSB]"), (ax2, "SNR [dB]")):
        ax.set_xscale("log")
        ax.set_xticks(list(ticks), list(ticks.values()))
        ax.minorticks_off()
        ax.set_xlabel("time since programming")
        ax.set_ylabel(yl)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    ax1.set_yscale("log")
    fig.suptitle(title or "PCM drift: reference bottleneck (28x28x32, t=6), "
                 "1x1 layers on the crossbar")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig
