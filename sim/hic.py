"""Training with the hybrid in-memory-computing (HIC) weight representation and a
low-precision weight-update accumulator (Joshi, He, Seo, Rajendran, arXiv
2102.05271), on the digits network of :mod:`imcc.sim.train`.

Only the paper's abstract was available here; the choices where its text is
silent (or not at hand) are ours and are stated:

* **Weights on devices.** Every IMA (crossbar) weight is an integer level
  held by PCM device pairs: ``binary_pairs`` binary pairs of significance
  ``significance`` (the most significant part, one ternary digit each: G+ or G-
  at gmax) and one multi-level pair of ``levels`` levels (the least
  significant part), w = sum(sig * b) + m, decomposed as
  :class:`imcc.sim.pcm.Representation` does (binary digits first, as many as
  fit).  The default (1 binary pair of significance 4, a 4-level pair) spans
  -7..7, the cluster's 4-bit weights, on 4 devices: the representation of the
  PCM study.  There is **no FP32 master copy** of these weights; one scale per
  layer (digital, in the ADC gain) is fixed at initialisation.
* **Low-precision update accumulator.** Each weight has a signed ``acc_bits``-bit
  digital accumulator counting 1/2^(acc_bits-1) of a weight level.  The
  optimiser's update (Adam on the gradient, as the QAT run uses; its moments
  are digital state of the trainer) is converted to accumulator steps with
  stochastic rounding (seeded); when the accumulator reaches +-1 level, the
  weight level moves by one (carry into the devices) and the accumulator keeps
  the remainder; a weight at its range limit saturates (the carry is dropped).
* **Writes.** A device is written whenever its target level changes (the binary
  pair flips, or the multi-level pair moves); each write is counted as one
  write-erase cycle (conservative: PCM can increase conductance by partial SET
  without RESET).  Reported: mean and maximum cycles per device over the whole
  training against an endurance of :data:`ENDURANCE` cycles (the low end of the
  10^6..10^9 quoted for PCM; Burr et al., JVST B 28, 223 (2010)).
* **The rest of the network is digital:** depthwise weights (int8, DW
  accelerator), dw biases and the activation scales train as in QAT (float,
  quantised in the forward pass).  Activation scales are recalibrated at the
  start of every epoch (the periphery's digital gains), since there is no float
  pre-training phase: HIC trains from the random initialisation.
* **Model size.** An inference model's size is counted as IMA weights x
  ceil(log2(distinct weight values)) + depthwise weights x 8 bits (float
  baseline: 32 bits per weight); biases and gains are not counted.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from imcc.sim.network import IMA_OPS
from imcc.sim.pcm import Representation
from imcc.sim.train import (Adam, TrainConfig, _cosine, _epoch, accuracy, calibrate,
                            digits_net, digits_split, init_state, predict)

__all__ = ["HicConfig", "HicResult", "train_hic", "train_plain", "model_bits", "ENDURANCE"]

ENDURANCE = 1e6


@dataclass
class HicConfig:
    binary_pairs: int = 1
    significance: int = 4
    levels: int = 4
    acc_bits: int = 4
    epochs: int = 60
    lr: float = 3e-3
    init_range_std: float = 3.0    # the initial weights' +-3 std map onto the level range

    @property
    def representation(self) -> Representation:
        return Representation("hybrid", (2,) * self.binary_pairs + (self.levels,),
                              (float(self.significance),) * self.binary_pairs + (1.0,))

    @property
    def wmax(self) -> int:
        return self.binary_pairs * self.significance + self.levels - 1

    @property
    def devices_per_weight(self) -> int:
        return 2 * (self.binary_pairs + 1)

    def label(self) -> str:
        b = f"{self.binary_pairs} binary pair (x{self.significance}) + " if self.binary_pairs else ""
        return f"HIC hybrid: {b}{self.levels}-level pair, -{self.wmax}..{self.wmax}"


def weight_bits(wmax: int) -> int:
    """Bits of one weight of levels -wmax..wmax stored digitally."""
    return math.ceil(math.log2(2 * wmax + 1))


def model_bits(net, ima_bits: float) -> int:
    n_ima = sum(int(np.prod(_shape(net, L))) for L in net.layers if L.op in IMA_OPS)
    n_dw = sum(int(np.prod(_shape(net, L))) for L in net.layers if L.op == "dw")
    return int(round(n_ima * ima_bits + n_dw * 8))


def _shape(net, L):
    from imcc.sim.train import _wshape
    return _wshape(net, L)


@dataclass
class HicResult:
    label: str
    width: float
    wmax: int
    bits_per_weight: int
    devices_per_weight: int
    model_kbit: float
    acc: float
    train_s: float
    cycles_mean: float | None = None
    cycles_max: int | None = None
    endurance: float | None = None
    endurance_fraction_max: float | None = None
    net: object = field(default=None, repr=False)


class _Devices:
    """Integer levels, accumulators and per-device write counts of one layer."""

    def __init__(self, W0: np.ndarray, hc: HicConfig, rng: np.random.Generator):
        self.hc, self.rng = hc, rng
        self.scale = hc.init_range_std * float(W0.std()) / hc.wmax
        self.level = np.clip(np.round(W0 / self.scale), -hc.wmax, hc.wmax).astype(np.int64)
        self.acc = np.zeros(W0.shape, np.int64)
        self.one = 1 << (hc.acc_bits - 1)          # accumulator steps per weight level
        self.rep = hc.representation
        self.cycles = np.zeros((self.rep.pairs, 2) + W0.shape, np.int64)
        self._dev = self._device_levels()

    def _device_levels(self):
        d = self.rep.digits(self.level)
        return np.stack([np.maximum(d, 0), np.maximum(-d, 0)], axis=1)

    def update(self, delta_levels: np.ndarray):
        steps = delta_levels * self.one
        q = np.floor(steps + self.rng.random(steps.shape)).astype(np.int64)   # stochastic rounding
        lim = self.one - 1
        a = self.acc + q
        carry = np.trunc(a / self.one).astype(np.int64)
        a -= carry * self.one
        self.acc = np.clip(a, -lim, lim)
        if carry.any():
            self.level = np.clip(self.level + carry, -self.hc.wmax, self.hc.wmax)
            dev = self._device_levels()
            self.cycles += dev != self._dev
            self._dev = dev

    def weights(self, _W=None):
        return self.level.astype(np.float64), self.scale


def train_hic(hc: HicConfig = HicConfig(), seed: int = 0, width: float = 1.0, data=None,
              batch: int = 32, log=None) -> HicResult:
    """HIC training from the random initialisation (see the module docstring)."""
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = data if data is not None else digits_split(0)
    net = digits_net(width)
    st = init_state(net, seed)
    rng = np.random.default_rng(seed + 1)
    dev_rng = np.random.default_rng(seed + 2)
    devs = {L.name: _Devices(st.W[L.name], hc, dev_rng) for L in net.layers if L.op in IMA_OPS}
    for name, d in devs.items():
        st.ima_weights[name] = d.weights
    calibrate(st, xtr, "float")
    opt = Adam(hc.lr, 0.0)

    def on_update(upd):
        out = {}
        for (kind, k), u in upd.items():
            if kind == "W" and k in devs:
                devs[k].update(u / devs[k].scale)        # to weight levels, into the accumulator
            else:
                out[kind, k] = u
        return out

    for e in range(hc.epochs):
        calibrate(st, xtr, "quant")
        _epoch(st, opt, xtr, ytr, rng, "quant", _cosine(hc.lr, e, hc.epochs), batch, on_update)
        if log and (e + 1) % 10 == 0:
            log(f"HIC epoch {e + 1}: test {accuracy(predict(st, xte), yte):.4f}")
    acc = accuracy(predict(st, xte), yte)
    cyc = np.concatenate([d.cycles.ravel() for d in devs.values()])
    from imcc.sim.train import export
    bits = weight_bits(hc.wmax)
    return HicResult(hc.label(), width, hc.wmax, bits, hc.devices_per_weight,
                     model_bits(net, bits) / 1000, acc, round(time.perf_counter() - t0, 1),
                     float(cyc.mean()), int(cyc.max()), ENDURANCE, float(cyc.max() / ENDURANCE),
                     net=export(st))


def train_plain(wmax: int = 7, seed: int = 0, width: float = 1.0, data=None,
                cfg: TrainConfig | None = None) -> HicResult:
    """The plain differential network: QAT with FP32 master weights, IMA weights
    quantised to -wmax..wmax (2 devices per weight)."""
    from imcc.sim.train import train
    import dataclasses
    cfg = dataclasses.replace(cfg or TrainConfig(), seed=seed, width=width)
    quant = _plain_quant(wmax)
    r = train(cfg, data, ima_quant=quant if wmax != 7 else None)
    bits = weight_bits(wmax)
    from imcc.sim.train import export
    return HicResult(f"differential {bits}-bit (QAT, FP32 master)", width, wmax, bits, 2,
                     model_bits(r.state.net, bits) / 1000, r.quant_acc, round(r.train_s, 1),
                     net=export(r.state))


def _plain_quant(wmax):
    def q(W):
        s = max(float(np.abs(W).max()), 1e-12) / wmax
        return np.clip(np.round(W / s), -wmax, wmax), s
    return q
