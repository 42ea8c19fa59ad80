"""Networks as data: layers over named int8 HWC tensors, their integer
parameters and the golden model that runs them.

A :class:`Network` is a list of :class:`Layer` in execution order.  Each layer
is one op of the system contract's arithmetic (sim/golden.py):

* ``conv``: a k x k convolution on the IMA (virtual im2col; ``pad`` zero rows and
  columns around the input), weights (k, k, cin, cout) in -7..7;
* ``pw``: a 1x1 convolution on the IMA, weights (cin, cout); ``cin`` = (first,
  last + 1) when the layer reads only those input channels (a row tile of a
  layer the compiler split: its partial result is requantised on its own and
  ``add`` layers combine the partials);
* ``dw``: the depthwise 3x3 of the DW accelerator (pad 1), int8 weights
  (3, 3, C), int32 bias, per-channel scale and a layer shift;
* ``add``: y = clip(round_shift(a*sa + b*sb, shift), lo, hi), on the DW
  accelerator (or the cores).

:func:`mobilenetv2` describes MobileNetV2 (Sandler et al. 2018) for any input
size and width multiplier; :func:`randomize` gives a description random
integer weights from a seed and requantisation parameters calibrated on a
random input, so that every layer's outputs use the int8 range (a trained
network is dropped in by filling the same fields).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np

from imcc.sim.golden import INT8, depthwise3x3, gain_shift, ima_conv, ima_pointwise, residual_add

__all__ = ["Layer", "Network", "mobilenetv2", "randomize", "make_divisible", "STAGES",
           "IMA_OPS"]

# MobileNetV2's inverted-residual stages: (expansion t, channels c, repeats n, stride s).
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))
IMA_OPS = ("conv", "pw")
# Calibration: the requantisation maps this percentile of |acc| to TARGET, so
# outputs use most of the int8 range and saturate rarely.
_TARGET, _PERCENTILE = 100, 99.9


@dataclass
class Layer:
    """One op.  Parameters are None until :func:`randomize` (or a trained
    network) fills them."""
    name: str
    op: str                         # conv | pw | dw | add
    inputs: tuple[str, ...]
    output: str
    k: int = 1
    stride: int = 1
    pad: int = 0                    # conv: zero padding on every side
    cin: tuple[int, int] | None = None   # pw/conv: input channels read [first, last + 1)
    unit: str = "ima"               # ima | dw | cores
    w: np.ndarray | None = None
    gain: int | None = None         # conv/pw
    shift: int = 0
    lo: int = INT8[0]
    hi: int = INT8[1]
    bias: np.ndarray | None = None  # dw
    scale: np.ndarray | None = None  # dw
    sa: int | None = None           # add
    sb: int | None = None

    @property
    def rows(self) -> int:
        """Crossbar rows of an IMA layer (k*k*input channels)."""
        return int(np.prod(self.w.shape[:-1])) if self.w is not None else 0

    def describe(self) -> dict:
        """The layer's entry in a dump's ``layers`` list."""
        d = {"name": self.name, "op": self.op, "k": self.k, "stride": self.stride,
             "inputs": list(self.inputs), "output": self.output, "unit": self.unit}
        if self.op == "conv":
            d["pad"] = self.pad
        if self.cin is not None:
            d["cin"] = list(self.cin)
        return d

    def params(self) -> dict[str, np.ndarray]:
        """The layer's parameters under the dump's ``<name>/<key>`` keys."""
        keys = {"conv": ("w", "gain", "shift", "lo", "hi"), "pw": ("w", "gain", "shift", "lo", "hi"),
                "dw": ("w", "bias", "scale", "shift", "lo", "hi"),
                "add": ("sa", "sb", "shift", "lo", "hi")}[self.op]
        return {f"{self.name}/{k}": np.asarray(getattr(self, k)) for k in keys}


@dataclass
class Network:
    """Layers in execution order over named HWC tensors (``shapes``)."""
    name: str
    input: str
    shapes: dict[str, tuple[int, int, int]]
    layers: list[Layer]
    meta: dict = field(default_factory=dict)

    def layer(self, name: str) -> Layer:
        return next(L for L in self.layers if L.name == name)

    def producer(self) -> dict[str, Layer]:
        return {L.output: L for L in self.layers}

    @property
    def output(self) -> str:
        return self.layers[-1].output

    def macs(self, L: Layer) -> int:
        h, w, c = self.shapes[L.output]
        if L.op in IMA_OPS:
            return h * w * c * L.rows
        return h * w * c * (9 if L.op == "dw" else 1)

    def run(self, x, pointwise=None) -> dict[str, np.ndarray]:
        """Every tensor of the network for input ``x`` (int8 HWC), by the golden model.

        ``pointwise(layer, x, w, gain, shift, lo, hi)`` executes the IMA layers
        (1x1 on im2col'd input); the golden IMA by default."""
        x = np.asarray(x)
        if x.shape != tuple(self.shapes[self.input]):
            raise ValueError(f"the input must have shape {self.shapes[self.input]}, got {x.shape}")
        t = {self.input: x.astype(np.int8)}
        for L in self.layers:
            a = [t[n] for n in L.inputs]
            t[L.output] = run_layer(L, *a, pointwise=pointwise)
            if t[L.output].shape != tuple(self.shapes[L.output]):
                raise AssertionError(f"{L.name}: output {t[L.output].shape}, described "
                                     f"{self.shapes[L.output]}")
        return t

    def dump(self, path, tensors: dict[str, np.ndarray]) -> None:
        """The .npz of an independent check: ``layers`` (JSON), ``t/<tensor>``
        and ``<layer>/<param>`` (docs/compiler.md)."""
        d = {"layers": np.array(json.dumps([L.describe() for L in self.layers]))}
        d.update({f"t/{k}": np.asarray(v) for k, v in tensors.items()})
        for L in self.layers:
            d.update(L.params())
        np.savez_compressed(path, **d)


def run_layer(L: Layer, *a, pointwise=None) -> np.ndarray:
    """One layer on its input tensors (golden arithmetic)."""
    if L.op in IMA_OPS:
        x = a[0]
        if L.cin is not None:
            x = x[..., L.cin[0]:L.cin[1]]
        if pointwise is not None:
            cols = x if L.op == "pw" else _im2col(x, L)
            return pointwise(L.name, cols, L.w.reshape(-1, L.w.shape[-1]), L.gain, L.shift,
                             L.lo, L.hi)
        if L.op == "pw":
            return ima_pointwise(x, L.w, L.gain, L.shift, L.lo, L.hi)
        return ima_conv(x, L.w, L.gain, L.shift, L.lo, L.hi, stride=L.stride, pad=L.pad)
    if L.op == "dw":
        return depthwise3x3(a[0], L.w, L.bias, L.scale, L.shift, L.lo, L.hi, stride=L.stride,
                            pad=1)
    if L.op == "add":
        return residual_add(a[0], a[1], L.sa, L.sb, L.shift, L.lo, L.hi)
    raise ValueError(f"{L.name}: unknown op {L.op!r}")


def _im2col(x, L):
    from imcc.sim.golden import im2col
    return im2col(x, L.k, L.stride, L.pad)


# -- MobileNetV2 -------------------------------------------------------------------------------
def make_divisible(v: float, divisor: int = 8) -> int:
    """Channels rounded to a multiple of 8 as in the reference MobileNetV2
    (never below 8, never more than 10 % below ``v``)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def mobilenetv2(resolution: int = 224, width: float = 1.0, residual_unit: str = "dw") -> Network:
    """MobileNetV2 up to its last 1x1 convolution (the layers of the paper's
    Fig. 12; the classifier is left to the cores), for a square input of
    ``resolution`` (32..224) and width multiplier ``width`` (0.35..1.0).

    The first 3x3 stride-2 convolution and every 1x1 layer run on the IMA,
    the depthwise layers on the DW accelerator, the residual adds on
    ``residual_unit`` ("dw" or "cores")."""
    if not isinstance(resolution, int) or not 32 <= resolution <= 224:
        raise ValueError(f"input resolution {resolution!r}: a square size from 32 to 224 is needed")
    if not 0.35 <= width <= 1.0:
        raise ValueError(f"width multiplier {width!r}: 0.35 to 1.0 is needed")
    if residual_unit not in ("dw", "cores"):
        raise ValueError(f"residual unit {residual_unit!r}: dw or cores")
    c0 = make_divisible(32 * width)
    h = (resolution + 2 - 3) // 2 + 1
    shapes = {"input": (resolution, resolution, 3), "conv1": (h, h, c0)}
    layers = [Layer("conv1", "conv", ("input",), "conv1", k=3, stride=2, pad=1, lo=0)]
    cin, src, i = c0, "conv1", 1
    for t, c, n, s in STAGES:
        cout = make_divisible(c * width)
        for j in range(n):
            stride = s if j == 0 else 1
            b, x_in = f"b{i}", src
            if t != 1:
                layers.append(Layer(f"{b}.expand", "pw", (src,), f"{b}.expand", lo=0))
                shapes[f"{b}.expand"] = (h, h, cin * t)
                src = f"{b}.expand"
            ho = (h - 1) // stride + 1
            layers.append(Layer(f"{b}.dw", "dw", (src,), f"{b}.dw", k=3, stride=stride,
                                unit="dw", lo=0))
            shapes[f"{b}.dw"] = (ho, ho, cin * t)
            layers.append(Layer(f"{b}.project", "pw", (f"{b}.dw",), f"{b}.project"))
            shapes[f"{b}.project"] = (ho, ho, cout)
            src = f"{b}.project"
            if stride == 1 and cin == cout:
                layers.append(Layer(f"{b}.add", "add", (src, x_in), f"{b}.add",
                                    unit=residual_unit))
                shapes[f"{b}.add"] = (ho, ho, cout)
                src = f"{b}.add"
            h, cin, i = ho, cout, i + 1
    last = make_divisible(1280 * max(1.0, width))
    layers.append(Layer("conv_last", "pw", (src,), "conv_last", lo=0))
    shapes["conv_last"] = (h, h, last)
    return Network("mobilenetv2", "input", shapes, layers,
                   meta={"resolution": resolution, "width": width})


# -- random integer parameters -----------------------------------------------------------------
def _ratio(acc) -> float:
    m = float(np.percentile(np.abs(acc), _PERCENTILE)) if np.size(acc) else 0.0
    return _TARGET / m if m > 0 else 1.0


def randomize(net: Network, seed: int = 0) -> tuple[Network, np.ndarray]:
    """A copy of ``net`` with random integer weights (IMA levels -7..7, int8
    depthwise weights, small biases) and requantisation calibrated layer by
    layer on a random input; returns (network, that input)."""
    rng = np.random.default_rng(seed)
    h, w, c = net.shapes[net.input]
    x = np.clip(np.round(rng.normal(0, 40, (h, w, c))), -128, 127).astype(np.int8)
    t = {net.input: x}
    out = []
    for L in net.layers:
        L = dataclasses.replace(L)
        a = [t[n].astype(np.int64) for n in L.inputs]
        if L.op in IMA_OPS:
            cin = net.shapes[L.inputs[0]][2] if L.cin is None else L.cin[1] - L.cin[0]
            cout = net.shapes[L.output][2]
            shape = (L.k, L.k, cin, cout) if L.op == "conv" else (cin, cout)
            L.w = rng.integers(-7, 8, shape).astype(np.int8)
            L.gain, L.shift = 1, 0
            acc = run_layer(dataclasses.replace(L, lo=-2**62, hi=2**62), *t_inputs(t, L),
                            pointwise=_acc_pointwise)
            g, s = gain_shift(_ratio(acc))
            L.gain, L.shift = int(g), int(s)
        elif L.op == "dw":
            ch = net.shapes[L.output][2]
            L.w = rng.integers(-48, 49, (3, 3, ch)).astype(np.int8)
            L.bias = rng.integers(-2000, 2001, ch).astype(np.int32)
            xp = np.pad(a[0], ((1, 1), (1, 1), (0, 0)))
            ho = net.shapes[L.output][0]
            acc = np.zeros((ho, net.shapes[L.output][1], ch), np.int64) + L.bias
            for ky in range(3):
                for kx in range(3):
                    acc += xp[ky:ky + L.stride * (ho - 1) + 1:L.stride,
                              kx:kx + L.stride * (acc.shape[1] - 1) + 1:L.stride] * L.w[ky, kx]
            r = [_ratio(acc[..., j]) for j in range(ch)]
            g, s = gain_shift(np.array(r), gain_bits=12, common_shift=True)
            L.scale, L.shift = np.asarray(g, np.uint32), int(np.max(s))
        elif L.op == "add":
            g, s = gain_shift(_ratio(a[0] + a[1]), gain_bits=6)
            L.sa = L.sb = int(g)
            L.shift = int(s)
        t[L.output] = run_layer(L, *t_inputs(t, L))
        out.append(L)
    return dataclasses.replace(net, layers=out), x


def t_inputs(t, L):
    return [t[n] for n in L.inputs]


def _acc_pointwise(name, x, w, gain, shift, lo, hi):
    """The exact accumulator of an IMA layer (calibration only)."""
    return x.astype(np.int64) @ w.astype(np.int64)


def bottleneck_network(shape, p) -> Network:
    """One MobileNetV2 bottleneck (sim/bottleneck.py's parameters ``p`` for a block of
    ``shape``: h, w, cin, t, cout, stride) as a network: the reference block of
    ``imcc demo`` for the network compiler."""
    h, w, cin = shape.h, shape.w, shape.cin
    ho, wo = shape.out_hw
    cexp = cin * shape.t
    shapes = {"x": (h, w, cin)}
    layers, src = [], "x"
    if p.w_expand is not None:
        layers.append(Layer("block.expand", "pw", ("x",), "block.expand", w=np.asarray(p.w_expand, np.int8),
                            gain=int(p.expand_gain), shift=int(p.expand_shift),
                            lo=int(p.expand_lo), hi=int(p.expand_hi)))
        shapes["block.expand"], src = (h, w, cexp), "block.expand"
    layers.append(Layer("block.dw", "dw", (src,), "block.dw", k=3, stride=shape.stride, unit="dw",
                        w=np.asarray(p.w_dw, np.int8), bias=np.asarray(p.dw_bias, np.int32),
                        scale=np.asarray(p.dw_scale, np.uint32), shift=int(p.dw_shift),
                        lo=int(p.dw_lo), hi=int(p.dw_hi)))
    shapes["block.dw"] = (ho, wo, cexp)
    layers.append(Layer("block.project", "pw", ("block.dw",), "block.project", w=np.asarray(p.w_project, np.int8),
                        gain=int(p.project_gain), shift=int(p.project_shift),
                        lo=int(p.project_lo), hi=int(p.project_hi)))
    shapes["block.project"] = (ho, wo, shape.cout)
    if p.residual:
        layers.append(Layer("block.add", "add", ("block.project", "x"), "block.add", unit="dw", sa=int(p.add_sa),
                            sb=int(p.add_sb), shift=int(p.add_shift), lo=int(p.add_lo),
                            hi=int(p.add_hi)))
        shapes["block.add"] = (ho, wo, shape.cout)
    return Network("bottleneck", "x", shapes, layers, meta={"block": True})
