"""Golden model of one MobileNetV2 bottleneck block in the cluster's integer arithmetic.

expand 1x1 (IMA, if t != 1) -> depthwise 3x3 (DW accelerator, pad 1) -> project 1x1
(IMA) -> residual add (cores, when stride == 1 and Cin == Cout).  Rounding rules:
:mod:`imcc.sim.golden`.  :meth:`BottleneckParams.to_dict` / :func:`dump` give the
``np.savez``-ready dictionary of issue 7 (keys listed in :data:`DUMP_KEYS`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from imcc.gen.config import IMA_WEIGHT_MAX
from imcc.sim.golden import INT8, depthwise3x3, gain_shift, im2col, ima_pointwise, residual_add

__all__ = ["BottleneckParams", "BottleneckResult", "bottleneck", "random_bottleneck", "dump",
           "DUMP_KEYS", "Pointwise"]

DUMP_KEYS = (
    "x", "w_expand", "expand_gain", "expand_shift", "expand_lo", "expand_hi", "y_expand",
    "w_dw", "dw_bias", "dw_scale", "dw_shift", "dw_lo", "dw_hi", "y_dw",
    "w_project", "project_gain", "project_shift", "project_lo", "project_hi", "y_project",
    "add_sa", "add_sb", "add_shift", "add_lo", "add_hi", "stride", "y",
)
_EXPAND = ("w_expand", "expand_gain", "expand_shift", "expand_lo", "expand_hi")
_ADD = ("add_sa", "add_sb", "add_shift", "add_lo", "add_hi")

# pointwise(layer, x, w, gain, shift, lo, hi) -> int8: the executor of the two 1x1 layers
# (the golden IMA by default; a crossbar model or the IMA RTL in studies and regressions).
Pointwise = Callable[[str, np.ndarray, np.ndarray, int, int, int, int], np.ndarray]


def _golden_pointwise(layer, x, w, gain, shift, lo, hi):
    return ima_pointwise(x, w, gain, shift, lo, hi)


@dataclass
class BottleneckParams:
    """Integer parameters of one block.  Expand fields are None when t == 1, add
    fields None when the block has no residual."""

    stride: int
    w_dw: np.ndarray            # (3, 3, Cexp) int8, [ky][kx][C]
    dw_bias: np.ndarray         # (Cexp,) int32
    dw_scale: np.ndarray        # (Cexp,) unsigned
    dw_shift: int
    dw_lo: int
    dw_hi: int
    w_project: np.ndarray       # (Cexp, Cout) int8 levels -7..7
    project_gain: int
    project_shift: int
    project_lo: int
    project_hi: int
    w_expand: np.ndarray | None = None   # (Cin, Cexp) int8 levels -7..7
    expand_gain: int | None = None
    expand_shift: int | None = None
    expand_lo: int | None = None
    expand_hi: int | None = None
    add_sa: int | None = None
    add_sb: int | None = None
    add_shift: int | None = None
    add_lo: int | None = None
    add_hi: int | None = None

    @property
    def cin(self) -> int:
        return (self.w_expand if self.w_expand is not None else self.w_project).shape[0]

    @property
    def cout(self) -> int:
        return self.w_project.shape[1]

    @property
    def residual(self) -> bool:
        return self.add_sa is not None

    def to_dict(self) -> dict[str, np.ndarray]:
        """Parameters as numpy arrays under the dump keys (absent groups left out)."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, d) -> "BottleneckParams":
        """Inverse of :meth:`to_dict`; accepts a full dump (or an ``np.load`` result)."""
        kw = {}
        for f in dataclasses.fields(cls):
            if f.name in d:
                v = np.asarray(d[f.name])
                kw[f.name] = v if v.ndim else int(v)
        for group in (_EXPAND, _ADD):
            present = [k for k in group if k in kw]
            if present and len(present) != len(group):
                raise ValueError(f"incomplete parameter group: has {present} of {list(group)}")
        return cls(**kw)


@dataclass
class BottleneckResult:
    y_expand: np.ndarray | None
    y_dw: np.ndarray
    y_project: np.ndarray
    y: np.ndarray


def bottleneck(x, p: BottleneckParams, pointwise: Pointwise | None = None) -> BottleneckResult:
    """Run one block on HWC int8 ``x``; ``pointwise`` executes the 1x1 layers."""
    pw = pointwise or _golden_pointwise
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != p.cin:
        raise ValueError(f"input must be HWC with {p.cin} channels, got shape {x.shape}")
    if p.residual != (p.stride == 1 and p.cin == p.cout):
        raise ValueError("residual add parameters must be given exactly when stride == 1 "
                         f"and Cin == Cout (stride {p.stride}, {p.cin} -> {p.cout})")
    y_exp = None
    if p.w_expand is not None:
        y_exp = pw("expand", x, p.w_expand, p.expand_gain, p.expand_shift, p.expand_lo, p.expand_hi)
    y_dw = depthwise3x3(x if y_exp is None else y_exp, p.w_dw, p.dw_bias, p.dw_scale, p.dw_shift,
                        p.dw_lo, p.dw_hi, stride=p.stride, pad=1)
    y_proj = pw("project", y_dw, p.w_project, p.project_gain, p.project_shift, p.project_lo,
                p.project_hi)
    y = y_proj
    if p.residual:
        y = residual_add(y_proj, x, p.add_sa, p.add_sb, p.add_shift, p.add_lo, p.add_hi)
    return BottleneckResult(y_exp, y_dw, y_proj, y)


def dump(x, p: BottleneckParams, r: BottleneckResult | None = None) -> dict[str, np.ndarray]:
    """Input, parameters and every intermediate under :data:`DUMP_KEYS` (np.savez-ready)."""
    r = r or bottleneck(x, p)
    d = {"x": np.asarray(x, np.int8), **p.to_dict(), "y_dw": r.y_dw, "y_project": r.y_project,
         "y": r.y}
    if r.y_expand is not None:
        d["y_expand"] = r.y_expand
    return {k: d[k] for k in DUMP_KEYS if k in d}


# -- random, well-scaled parameters -------------------------------------------------------------
_TARGET_STD = 40.0   # wanted std of the pre-clip outputs in LSB: uses int8, rarely clips


def _ima_weights(rng, shape):
    """Bell-shaped 4-bit weights (most small, some at +-7), like quantised trained weights."""
    w = np.clip(np.round(rng.normal(0, 3.0, shape)), -IMA_WEIGHT_MAX, IMA_WEIGHT_MAX)
    return w.astype(np.int8)


def _scale_for(acc, gain_bits=8, per_channel=False):
    std = acc.reshape(-1, acc.shape[-1]).std(axis=0) if per_channel else acc.std()
    return gain_shift(_TARGET_STD / np.maximum(std, 1.0), gain_bits, common_shift=per_channel)


def random_bottleneck(h: int, w: int, cin: int, t: int, cout: int, stride: int, seed: int = 0):
    """(x, params) for a block of this shape: random int8 input and weights, with gains
    and shifts calibrated on the data so that every layer's output std is about
    40 LSB (int8 range used, little clipping)."""
    rng = np.random.default_rng(seed)
    x = np.clip(np.round(rng.normal(0, 32.0, (h, w, cin))), *INT8).astype(np.int8)
    kw = {"stride": stride}
    a, cexp = x, cin * t
    if t != 1:
        we = _ima_weights(rng, (cin, cexp))
        g, s = _scale_for(x.astype(np.int64) @ we.astype(np.int64))
        kw.update(w_expand=we, expand_gain=int(g), expand_shift=int(s), expand_lo=0,
                  expand_hi=INT8[1])
        a = ima_pointwise(x, we, int(g), int(s), 0, INT8[1])
    w_dw = np.clip(np.round(rng.normal(0, 24.0, (3, 3, cexp))), *INT8).astype(np.int8)
    acc = _dw_acc(a, w_dw, stride)
    bias = np.round(-0.5 * acc.reshape(-1, cexp).mean(axis=0)).astype(np.int32)   # centre for ReLU
    sc, sh = _scale_for(acc + bias, gain_bits=8, per_channel=True)
    kw.update(w_dw=w_dw, dw_bias=bias, dw_scale=sc, dw_shift=int(sh.max(initial=0)), dw_lo=0,
              dw_hi=INT8[1])
    y_dw = depthwise3x3(a, w_dw, bias, sc, kw["dw_shift"], 0, INT8[1], stride)
    wp = _ima_weights(rng, (cexp, cout))
    g, s = _scale_for(y_dw.astype(np.int64) @ wp.astype(np.int64))
    kw.update(w_project=wp, project_gain=int(g), project_shift=int(s), project_lo=INT8[0],
              project_hi=INT8[1])
    if stride == 1 and cin == cout:   # (a + b) * ~0.7 keeps the sum's std near the operands'
        kw.update(add_sa=int(rng.integers(80, 100)), add_sb=int(rng.integers(80, 100)),
                  add_shift=7, add_lo=INT8[0], add_hi=INT8[1])
    return x, BottleneckParams(**kw)


def _dw_acc(a: np.ndarray, w_dw: np.ndarray, stride: int) -> np.ndarray:
    """Depthwise accumulators without bias (for calibration only)."""
    cols = im2col(a.astype(np.int64), 3, stride, 1)                    # (Ho, Wo, 9*C)
    c = a.shape[-1]
    return (cols.reshape(cols.shape[:2] + (9, c)) * w_dw.reshape(9, c).astype(np.int64)).sum(axis=2)
