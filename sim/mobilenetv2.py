"""MobileNetV2 (224 x 224 input, width 1.0) as data, and float -> integer quantisation.

The layer table follows Sandler et al. 2018, Table 2: a 3x3 stride-2 conv to 32
channels, 17 bottleneck blocks from the (t, c, n, s) rows below, and a 1x1 conv to
1280 channels.  Sizes are those seen by each layer for a 224 x 224 input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcc.gen.config import IMA_WEIGHT_BITS
from imcc.sim.golden import gain_shift

__all__ = ["ConvLayer", "Block", "STAGES", "first_conv", "blocks", "last_conv", "ima_weight_count",
           "quantize", "quantize_layer", "activation_scale", "IMA_WEIGHT_BITS"]

# (expansion t, output channels c, repeats n, first stride s)
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))
INPUT = (224, 224, 3)
FIRST_CHANNELS = 32
LAST_CHANNELS = 1280


@dataclass(frozen=True)
class ConvLayer:
    name: str
    h: int          # input height and width
    w: int
    cin: int
    cout: int
    k: int
    stride: int

    @property
    def out_hw(self) -> tuple[int, int]:
        pad = self.k // 2
        return ((self.h + 2 * pad - self.k) // self.stride + 1,
                (self.w + 2 * pad - self.k) // self.stride + 1)

    @property
    def weights(self) -> int:
        return self.k * self.k * self.cin * self.cout


class BlockShape:
    """Derived sizes of a bottleneck block that has the fields h, w, cin, t,
    cout and stride (the table's :class:`Block`, the mapper's shape)."""

    @property
    def cexp(self) -> int:
        return self.cin * self.t

    @property
    def expand(self) -> bool:
        return self.t != 1

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.cin == self.cout

    @property
    def out_hw(self) -> tuple[int, int]:
        """Output size of the 3x3 depthwise layer (padding 1)."""
        return (self.h - 1) // self.stride + 1, (self.w - 1) // self.stride + 1


@dataclass(frozen=True)
class Block(BlockShape):
    index: int      # 1..17
    h: int          # input height and width
    w: int
    cin: int
    t: int
    cout: int
    stride: int

    def pointwise_layers(self) -> list[ConvLayer]:
        """The 1x1 layers that run on the IMA (expand only when t != 1)."""
        ho, wo = self.out_hw
        layers = [ConvLayer(f"b{self.index}.expand", self.h, self.w, self.cin, self.cexp, 1, 1)] \
            if self.t != 1 else []
        return layers + [ConvLayer(f"b{self.index}.project", ho, wo, self.cexp, self.cout, 1, 1)]


def first_conv() -> ConvLayer:
    return ConvLayer("conv1", INPUT[0], INPUT[1], INPUT[2], FIRST_CHANNELS, 3, 2)


def blocks() -> list[Block]:
    h, w = first_conv().out_hw
    cin, out, i = FIRST_CHANNELS, [], 1
    for t, c, n, s in STAGES:
        for j in range(n):
            b = Block(i, h, w, cin, t, c, s if j == 0 else 1)
            out.append(b)
            h, w = b.out_hw
            cin, i = c, i + 1
    return out


def last_conv() -> ConvLayer:
    b = blocks()[-1]
    return ConvLayer("conv_last", *b.out_hw, b.cout, LAST_CHANNELS, 1, 1)


def ima_weight_count() -> int:
    """Weights of every layer the paper maps on IMA arrays: both standard convs and all
    pointwise layers (depthwise runs on the DW accelerator, the classifier is not counted)."""
    layers = [first_conv(), last_conv()] + [l for b in blocks() for l in b.pointwise_layers()]
    return sum(l.weights for l in layers)


# -- quantisation -------------------------------------------------------------------------------
def quantize(a, bits: int, scale=None, axis: int | None = None):
    """Symmetric quantisation: q = clip(round(a / scale), -(2^(bits-1) - 1), 2^(bits-1) - 1).

    Without ``scale`` it maps max |a| (per slice along ``axis`` if given) to the top
    level.  Returns (q as int8, scale).  bits = 4 gives IMA levels -7..7; bits = 8
    gives -127..127 (-128 stays unused, as in symmetric int8)."""
    a = np.asarray(a, np.float64)
    top = 2 ** (bits - 1) - 1
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be 2..8, got {bits}")
    if scale is None:
        red = tuple(i for i in range(a.ndim) if axis is None or i != axis % a.ndim)
        m = np.max(np.abs(a), axis=red, keepdims=axis is not None) if a.size else np.float64(0)
        scale = np.where(m > 0, m / top, 1.0)
    q = np.clip(np.round(a / scale), -top, top).astype(np.int8)
    return q, (np.squeeze(scale) if axis is not None else float(scale))


def quantize_layer(w, x_scale: float, y_scale: float, weight_bits: int = IMA_WEIGHT_BITS,
                   gain_bits: int = 8,
                   per_channel: bool = False):
    """Float weights (..., Cout) of a layer with input scale ``x_scale`` and wanted output
    scale ``y_scale`` -> integer weights and the requant gain/shift.

    y_float = acc * x_scale * w_scale, so y_int = acc * ratio with
    ratio = x_scale * w_scale / y_scale; gain / 2^shift approximates the ratio
    (one gain per output channel if ``per_channel``, sharing one shift).
    Returns dict(w, w_scale, gain, shift, ratio)."""
    q, w_scale = quantize(w, weight_bits, axis=-1 if per_channel else None)
    ratio = np.asarray(x_scale * np.asarray(w_scale) / y_scale)
    gain, shift = gain_shift(ratio, gain_bits, common_shift=per_channel)
    return {"w": q, "w_scale": w_scale, "gain": gain, "shift": shift, "ratio": ratio}


def activation_scale(a, bits: int = 8) -> float:
    """Scale that maps max |a| of sample activations to the top int8 level."""
    m = float(np.max(np.abs(a))) if np.size(a) else 0.0
    return m / (2 ** (bits - 1) - 1) if m > 0 else 1.0

