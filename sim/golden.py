"""Integer golden models of the cluster's arithmetic (system contract, "Numbers and layouts").

The RTL, the behavioural crossbar (ideal mode) and the software kernels are all
checked bit-exactly against these functions.

The one rounding rule (:func:`round_shift`), on exact integers::

    round_shift(v, s) = floor((v + 2^(s-1)) / 2^s)   for s > 0   (round half up)
                      = v                             for s = 0   (no rounding term)

Every requantisation is ``clip(round_shift(...), lo, hi)``:

* IMA job (:func:`requant`):     y = clip(round_shift(acc * gain, shift), lo, hi)
* depthwise (:func:`depthwise3x3`): y = clip(round_shift((acc + bias) * scale, shift), lo, hi)
* residual add (:func:`residual_add`): y = clip(round_shift(a*sa + b*sb, shift), lo, hi)

Intermediates are int64; ``gain``/``scale`` are unsigned integers, ``shift`` >= 0;
per-channel values broadcast over the last (channel) axis.
"""

from __future__ import annotations

import numpy as np

from imcc.gen.config import IMA_WEIGHT_MAX

__all__ = [
    "round_shift", "requant", "check_ima_weights", "ima_pointwise", "depthwise3x3",
    "dw_output_size", "residual_add", "im2col", "ima_conv", "gain_shift", "INT8",
]

INT8 = (-128, 127)
_MAX_SHIFT = 62
_PROD_LIMIT = 2**62   # |acc * gain| must stay inside int64 with room for the rounding term


def _ints(name: str, a, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """``a`` as an int64 array; integer dtypes only (no silent float truncation)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size:
        out = np.zeros(arr.shape, bool)
        if lo is not None:
            out |= arr < lo
        if hi is not None:
            out |= arr > hi
        if out.any():
            raise ValueError(f"{name} must lie in [{lo}, {hi}], found {int(arr[out].flat[0])}")
    return arr


def _bounds(lo, hi, lo_min=-2**63, hi_max=2**63 - 1):
    lo_a, hi_a = _ints("lo", lo, lo_min, hi_max), _ints("hi", hi, lo_min, hi_max)
    if np.any(lo_a > hi_a):
        raise ValueError(f"clip bounds need lo <= hi, got lo={lo}, hi={hi}")
    return lo_a, hi_a


def round_shift(v, shift) -> np.ndarray:
    """THE rounding rule: floor((v + 2^(shift-1)) / 2^shift), or v when shift == 0.

    ``(1 << s) >> 1`` is the rounding term (0 for s = 0); ``>>`` on int64 is an
    arithmetic shift, i.e. floor division by 2^s also for negative values."""
    v = _ints("value", v)
    s = _ints("shift", shift, 0, _MAX_SHIFT)
    return (v + ((np.int64(1) << s) >> 1)) >> s


def requant(acc, gain, shift, lo, hi) -> np.ndarray:
    """y = clip(round_shift(acc * gain, shift), lo, hi) with an int64 intermediate (int64 out).

    ``gain`` (unsigned) and ``shift`` broadcast against ``acc`` (per-channel values
    along the last axis)."""
    acc = _ints("acc", acc)
    gain = _ints("gain", gain, 0, 2**32 - 1)
    lo, hi = _bounds(lo, hi)
    if acc.size and gain.size and int(np.abs(acc).max()) * int(gain.max()) >= _PROD_LIMIT:
        raise OverflowError("acc * gain does not fit the int64 intermediate")
    return np.clip(round_shift(acc * gain, shift), lo, hi)


def check_ima_weights(w) -> np.ndarray:
    """``w`` as int64 after checking the 4-bit IMA levels -7..7 (-8 has no differential pair)."""
    arr = np.asarray(w)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"IMA weights must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and np.any(arr == -IMA_WEIGHT_MAX - 1):
        idx = tuple(int(i) for i in np.argwhere(arr == -IMA_WEIGHT_MAX - 1)[0])
        raise ValueError(f"IMA weight -{IMA_WEIGHT_MAX + 1} at index {idx} is not representable: "
                         f"weights are 4-bit levels -{IMA_WEIGHT_MAX}..{IMA_WEIGHT_MAX} "
                         "(one differential PCM pair)")
    return _ints("IMA weights", arr, -IMA_WEIGHT_MAX, IMA_WEIGHT_MAX)


def ima_pointwise(x, w, gain, shift, lo=INT8[0], hi=INT8[1]) -> np.ndarray:
    """One IMA job per vector: x int8 (..., Cin), w (Cin, Cout) in -7..7 -> int8 (..., Cout).

    acc = x @ w exactly (int64), then :func:`requant`."""
    x = _ints("x", x, *INT8)
    w = check_ima_weights(w)
    if w.ndim != 2 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"x (..., {x.shape[-1] if x.ndim else '?'}) does not match "
                         f"weights of shape {w.shape} (Cin, Cout)")
    lo, hi = _bounds(lo, hi, *INT8)
    return requant(x @ w, gain, shift, lo, hi).astype(np.int8)


def _pads(pad) -> tuple[int, int, int, int]:
    p = (pad,) * 4 if np.isscalar(pad) else tuple(pad)
    if len(p) != 4 or any(not isinstance(v, (int, np.integer)) or v < 0 for v in p):
        raise ValueError(f"pad must be an int >= 0 or (top, bottom, left, right), got {pad!r}")
    return tuple(int(v) for v in p)


def dw_output_size(h: int, w: int, stride: int = 1, pad=1, k: int = 3) -> tuple[int, int]:
    """Output size floor((H + pt + pb - k) / s) + 1 (PyTorch convention)."""
    pt, pb, pl, pr = _pads(pad)
    return (h + pt + pb - k) // stride + 1, (w + pl + pr - k) // stride + 1


def _windows(x: np.ndarray, k: int, stride: int, pad):
    """Zero-padded input and the output size of a k x k window sweep over HWC ``x``."""
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    if x.ndim != 3:
        raise ValueError(f"input must be HWC (3 axes), got shape {x.shape}")
    pt, pb, pl, pr = _pads(pad)
    ho, wo = dw_output_size(x.shape[0], x.shape[1], stride, (pt, pb, pl, pr), k)
    if ho < 1 or wo < 1:
        raise ValueError(f"input {x.shape[:2]} with pad {pad} is smaller than the {k}x{k} kernel")
    return np.pad(x, ((pt, pb), (pl, pr), (0, 0))), ho, wo


def _tap(xp: np.ndarray, ky: int, kx: int, stride: int, ho: int, wo: int) -> np.ndarray:
    return xp[ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]


def depthwise3x3(x, w, bias, scale, shift, lo=INT8[0], hi=INT8[1], stride: int = 1,
                 pad=1) -> np.ndarray:
    """Depthwise 3x3 on HWC int8 ``x`` with weights w[ky][kx][C] (int8), int32 bias (C,),
    unsigned per-channel ``scale`` (the gain of :func:`requant`), layer ``shift``.

    acc = sum of the 9 taps + bias in an int32 accumulator (overflow is an error);
    y = clip(round_shift(acc * scale, shift), lo, hi) as int8.  ``pad`` is one int or
    (top, bottom, left, right) zero padding; ``stride`` 1 or 2."""
    if stride not in (1, 2):
        raise ValueError(f"depthwise stride must be 1 or 2, got {stride!r}")
    x = _ints("x", x, *INT8)
    w = _ints("depthwise weights", w, *INT8)
    c = x.shape[-1] if x.ndim == 3 else None
    if w.shape != (3, 3, c):
        raise ValueError(f"depthwise weights must have shape (3, 3, {c}), got {w.shape}")
    bias = _ints("bias", bias, -2**31, 2**31 - 1)
    scale = _ints("scale", scale, 0, 2**32 - 1)
    xp, ho, wo = _windows(x, 3, stride, pad)
    acc = np.zeros((ho, wo, c), np.int64) + bias
    for ky in range(3):
        for kx in range(3):
            acc += _tap(xp, ky, kx, stride, ho, wo) * w[ky, kx]
    if acc.size and (acc.min() < -2**31 or acc.max() > 2**31 - 1):
        raise OverflowError("depthwise accumulator leaves the int32 range")
    lo, hi = _bounds(lo, hi, *INT8)
    return requant(acc, scale, shift, lo, hi).astype(np.int8)


def residual_add(a, b, sa, sb, shift, lo=INT8[0], hi=INT8[1]) -> np.ndarray:
    """y = clip(round_shift(a*sa + b*sb, shift), lo, hi) on int8 tensors (int8 out)."""
    a, b = _ints("a", a, *INT8), _ints("b", b, *INT8)
    if a.shape != b.shape:
        raise ValueError(f"residual operands differ in shape: {a.shape} vs {b.shape}")
    sa, sb = _ints("sa", sa, -2**31, 2**31 - 1), _ints("sb", sb, -2**31, 2**31 - 1)
    lo, hi = _bounds(lo, hi, *INT8)
    return np.clip(round_shift(a * sa + b * sb, shift), lo, hi).astype(np.int8)


def im2col(x, k: int, stride: int = 1, pad=0) -> np.ndarray:
    """Virtual im2col of an HWC tensor for a k x k conv: (Ho, Wo, k*k*C), ordered
    [ky][kx][c] (tap-major, channels contiguous), as the IMA streamer reads it."""
    x = np.asarray(x)
    xp, ho, wo = _windows(x, k, stride, pad)
    taps = [_tap(xp, ky, kx, stride, ho, wo) for ky in range(k) for kx in range(k)]
    return np.concatenate(taps, axis=-1)


def ima_conv(x, w, gain, shift, lo=INT8[0], hi=INT8[1], stride: int = 1, pad=0) -> np.ndarray:
    """A k x k conv on the IMA: w (k, k, Cin, Cout) in -7..7 becomes k*k*Cin crossbar rows
    (same [ky][kx][c] order as :func:`im2col`); one job per output pixel."""
    w = check_ima_weights(w)
    if w.ndim != 4 or w.shape[0] != w.shape[1]:
        raise ValueError(f"conv weights must have shape (k, k, Cin, Cout), got {w.shape}")
    k, _, cin, cout = w.shape
    cols = im2col(x, k, stride, pad)
    return ima_pointwise(cols, w.reshape(k * k * cin, cout), gain, shift, lo, hi)


def gain_shift(ratio, gain_bits: int = 8, max_shift: int = 31, common_shift: bool = False):
    """Unsigned ``gain`` <= 2^gain_bits - 1 and ``shift`` <= max_shift with gain / 2^shift
    closest to ``ratio`` (>= 0): the largest shift that keeps the gain in range.

    ``common_shift`` uses one shift for all channels (the depthwise layer shift),
    the one of the largest ratio.  Returns int64 arrays (numpy scalars for scalar input)."""
    r = np.asarray(ratio, dtype=np.float64)
    if np.any(~np.isfinite(r)) or np.any(r < 0):
        raise ValueError("scale ratios must be finite and >= 0")
    gmax = (1 << gain_bits) - 1
    if np.any(np.round(r) > gmax):
        raise ValueError(f"scale ratio {r.max():g} exceeds the largest gain {gmax} at shift 0")
    basis = np.max(r) if common_shift and r.size else r
    with np.errstate(divide="ignore"):
        s = np.where(basis > 0, np.floor(np.log2((gmax + 0.5) / np.where(basis > 0, basis, 1))),
                     max_shift)
    s = np.clip(s, 0, max_shift).astype(np.int64)
    s = np.where(np.round(basis * np.exp2(s)) > gmax, s - 1, s)   # round-half-even edge
    shift = np.broadcast_to(s, r.shape).astype(np.int64)
    gain = np.round(r * np.exp2(shift)).astype(np.int64)
    return gain[()], shift[()]
