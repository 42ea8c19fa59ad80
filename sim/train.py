"""Training a small MobileNetV2-style network for the cluster, quantisation-aware,
in plain numpy (issue 25).

Why numpy and not PyTorch: the network is tiny (8x8 inputs, ~40 k weights), so a
numpy forward/backward takes milliseconds per batch; numpy is already a
dependency, the run is bit-reproducible from one seed on one machine (no
threaded-kernel nondeterminism), and the quantised forward pass *is* the
cluster's integer arithmetic (exact integers in float64), so the QAT network's
accuracy is the golden model's, not an approximation of it.

Data: scikit-learn's bundled ``load_digits`` (1 797 images of 8x8, values
0..16; no download).  A fixed seeded permutation keeps 80 % for training and
the last 20 % (360 images) as the held-out test set (:func:`digits_split`).
The int8 input is ``pixel * 7`` (0..112, scale 1/112 of the float input
``pixel / 16``).

Network (:func:`digits_net`), all tensors int8 HWC as the compiler needs::

    input 8x8x1 -> conv1 3x3 s2 (IMA) 4x4x16
    b1: expand 1x1 16->64, dw 3x3 s1, project 64->16, add conv1    4x4x16
    b2: expand 16->64, dw 3x3 s2, project 64->32                    2x2x32
    b3: expand 32->128, dw 3x3 s2, project 128->48                  1x1x48
    conv_last 1x1 48->96 (ReLU), fc 1x1 96->10 (the logits, int8)

Training (:func:`train`): Adam on float weights, first in float (``float_epochs``),
then quantisation-aware (``qat_epochs``) with activation scales calibrated once
on the training set after the float phase and then frozen:

* IMA layers (conv, pw): no bias (the IMA has none); weights fake-quantised to
  levels -7..7 with one scale per layer (max |w| / 7: the crossbar's gain is one
  per job); the output y = clip(round_shift(acc * gain, shift), lo, hi) with
  gain/shift = :func:`~imcc.sim.golden.gain_shift` of s_x s_w / s_y;
* dw layers: int8 weights with a per-channel scale, int32 bias, per-channel
  12-bit scale and one shift (the DW accelerator's requantisation);
* adds: sa, sb and one shift (8-bit gains);
* straight-through estimator: the backward pass sees the quantised weights and
  activations and passes gradients where the output was not clipped.

:func:`export` turns the trained state into a :class:`~imcc.sim.network.Network`
with integer parameters; :func:`forward` in ``"quant"`` mode computes exactly
what :meth:`Network.run` computes (the test checks it image by image).

The same engine trains with the hybrid (HIC) weight representation and a
low-precision weight-update accumulator: :mod:`imcc.sim.hic`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from imcc.sim.golden import gain_shift
from imcc.sim.network import IMA_OPS, Layer, Network

__all__ = ["digits_split", "digits_net", "TrainConfig", "State", "init_state", "forward",
           "backward", "train", "export", "accuracy", "predict", "INPUT_GAIN", "Result"]

INPUT_GAIN = 7               # int8 input = pixel (0..16) * 7; float input = pixel / 16
_ACT_PERCENTILE = 99.99      # activation scale: this percentile of |activation| -> 127
IMA_LEVELS = 7               # IMA weights -7..7
DW_LEVELS = 127
_BIAS_MAX = 2**31 - 1 - 9 * 127 * 127


# -- data ------------------------------------------------------------------------------------
def digits_split(seed: int = 0, test_fraction: float = 0.2):
    """(x_train, y_train, x_test, y_test): scikit-learn's bundled digits as int8 HWC
    images (N, 8, 8, 1) = pixel * 7, split by a permutation drawn from ``seed``."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images.astype(np.int64) * INPUT_GAIN).astype(np.int8)[..., None]
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    tr, te = perm[:-n_test], perm[-n_test:]
    return x[tr], y[tr], x[te], y[te]


# -- the network -----------------------------------------------------------------------------
def digits_net(width: float = 1.0, classes: int = 10) -> Network:
    """The MobileNetV2-style network of the module docstring (parameters empty);
    ``width`` scales every channel count (multiples of 8, at least 8)."""
    def ch(c):
        return max(8, int(round(c * width / 8)) * 8)
    c0, c1, c2, c3, cl = ch(16), ch(32), ch(48), ch(96), ch(96)
    shapes = {"input": (8, 8, 1), "conv1": (4, 4, c0)}
    layers = [Layer("conv1", "conv", ("input",), "conv1", k=3, stride=2, pad=1, lo=0)]

    def block(b, src, cin, t, cout, stride, h):
        nonlocal layers
        ho = (h - 1) // stride + 1
        e = cin * t
        layers += [Layer(f"{b}.expand", "pw", (src,), f"{b}.expand", lo=0),
                   Layer(f"{b}.dw", "dw", (f"{b}.expand",), f"{b}.dw", k=3, stride=stride,
                         unit="dw", lo=0),
                   Layer(f"{b}.project", "pw", (f"{b}.dw",), f"{b}.project")]
        shapes.update({f"{b}.expand": (h, h, e), f"{b}.dw": (ho, ho, e),
                       f"{b}.project": (ho, ho, cout)})
        if stride == 1 and cin == cout:
            layers.append(Layer(f"{b}.add", "add", (f"{b}.project", src), f"{b}.add", unit="dw"))
            shapes[f"{b}.add"] = (ho, ho, cout)
            return f"{b}.add", ho
        return f"{b}.project", ho

    src, h = block("b1", "conv1", c0, 4, c0, 1, 4)
    src, h = block("b2", src, c0, 4, c1, 2, h)
    src, h = block("b3", src, c1, 4, c2, 2, h)
    layers.append(Layer("conv_last", "pw", (src,), "conv_last", lo=0))
    shapes["conv_last"] = (1, 1, cl)
    layers.append(Layer("fc", "pw", ("conv_last",), "fc"))
    shapes["fc"] = (1, 1, classes)
    return Network("digits", "input", shapes, layers, meta={"width": width})


# -- state -----------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    seed: int = 0
    width: float = 1.0
    float_epochs: int = 40
    qat_epochs: int = 30
    batch: int = 32
    lr: float = 3e-3
    qat_lr: float = 1e-3
    weight_decay: float = 1e-4
    split_seed: int = 0


@dataclass
class State:
    """Float parameters (``W[name]``, ``b[name]`` for dw), the activation scales
    (``s[tensor]``, float per int8 LSB) and per-layer options."""
    net: Network
    W: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    s: dict[str, float] = field(default_factory=dict)
    # layer name -> callable(W) -> (integer levels, scale): overrides the IMA
    # weight quantiser (the HIC training keeps integer device levels instead)
    ima_weights: dict = field(default_factory=dict)


def _wshape(net: Network, L: Layer):
    cin = net.shapes[L.inputs[0]][2]
    cout = net.shapes[L.output][2]
    if L.op == "conv":
        return (L.k, L.k, cin, cout)
    if L.op == "pw":
        return (cin, cout)
    return (3, 3, cout)


def init_state(net: Network, seed: int) -> State:
    """He-initialised float weights from ``seed``, zero dw biases."""
    rng = np.random.default_rng(seed)
    W, b = {}, {}
    for L in net.layers:
        if L.op in IMA_OPS or L.op == "dw":
            shape = _wshape(net, L)
            fan_in = 9 if L.op == "dw" else int(np.prod(shape[:-1]))
            W[L.name] = rng.normal(0, np.sqrt(2.0 / fan_in), shape)
        if L.op == "dw":
            b[L.name] = np.zeros(shape[-1])
    return State(net, W, b, {net.input: 1.0 / (16 * INPUT_GAIN)})


# -- quantisers (shared by the QAT forward pass and the export) -------------------------------
def ima_quant(W: np.ndarray):
    """4-bit levels -7..7 and the layer's scale (max |w| / 7)."""
    s = max(float(np.abs(W).max()), 1e-12) / IMA_LEVELS
    return np.clip(np.round(W / s), -IMA_LEVELS, IMA_LEVELS), s


def dw_quant(W: np.ndarray):
    s = np.maximum(np.abs(W).max(axis=(0, 1)), 1e-12) / DW_LEVELS
    return np.clip(np.round(W / s), -DW_LEVELS, DW_LEVELS), s


def _ima_levels(st: State, L: Layer):
    f = st.ima_weights.get(L.name)
    return f(st.W[L.name]) if f else ima_quant(st.W[L.name])


def _ima_requant(st: State, L: Layer, s_w: float):
    g, sh = gain_shift(st.s[L.inputs[0]] * s_w / st.s[L.output])
    return int(g), int(sh)


def _dw_requant(st: State, L: Layer, s_w: np.ndarray):
    sx = st.s[L.inputs[0]]
    # a channel whose weights decayed to ~0 has a tiny scale: keep its bias (and so the
    # DW accelerator's int32 accumulator, 9 taps of 127 * 127 on top) in range
    bq = np.clip(np.round(st.b[L.name] / (sx * s_w)), -_BIAS_MAX, _BIAS_MAX)
    g, sh = gain_shift(sx * s_w / st.s[L.output], gain_bits=12, common_shift=True)
    return bq, np.asarray(g, np.int64), int(np.max(sh))


def _add_requant(st: State, L: Layer):
    r = np.array([st.s[L.inputs[0]], st.s[L.inputs[1]]]) / st.s[L.output]
    g, sh = gain_shift(r, gain_bits=8, common_shift=True)
    return int(g[0]), int(g[1]), int(np.max(sh))


def _round_shift(v: np.ndarray, shift: int) -> np.ndarray:
    """golden.round_shift on float64 holding exact integers (|v| < 2^53)."""
    return np.floor(v * 2.0 ** -shift + 0.5) if shift > 0 else v


# -- ops (batched NHWC float64) ----------------------------------------------------------------
def _im2col(x, k, stride, pad):
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    taps = [xp[:, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]
            for ky in range(k) for kx in range(k)]
    return np.concatenate(taps, axis=-1)


def _col2im(g, shape, k, stride, pad):
    n, h, w, c = shape
    ho, wo = g.shape[1:3]
    gp = np.zeros((n, h + 2 * pad, w + 2 * pad, c))
    i = 0
    for ky in range(k):
        for kx in range(k):
            gp[:, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride] += \
                g[..., i * c:(i + 1) * c]
            i += 1
    return gp[:, pad:pad + h, pad:pad + w]


def _dw_taps(x, stride):
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    return xp, ho, wo


def _dw_fwd(x, w, stride):
    xp, ho, wo = _dw_taps(x, stride)
    acc = np.zeros((x.shape[0], ho, wo, x.shape[3]))
    for ky in range(3):
        for kx in range(3):
            acc += xp[:, ky:ky + stride * (ho - 1) + 1:stride,
                      kx:kx + stride * (wo - 1) + 1:stride] * w[ky, kx]
    return acc


def _dw_bwd(x, w, stride, g):
    xp, ho, wo = _dw_taps(x, stride)
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for ky in range(3):
        for kx in range(3):
            sl = (slice(None), slice(ky, ky + stride * (ho - 1) + 1, stride),
                  slice(kx, kx + stride * (wo - 1) + 1, stride))
            gw[ky, kx] = np.einsum("nhwc,nhwc->c", xp[sl], g)
            gxp[sl] += g * w[ky, kx]
    return gxp[:, 1:-1, 1:-1], gw


# -- forward / backward ----------------------------------------------------------------------
def _mask(pre, L: Layer, mode: str):
    """Where the gradient passes: inside the clip range (quant), ReLU's positive side (float)."""
    if mode == "quant":
        return (pre >= L.lo) & (pre <= L.hi)
    return pre >= 0 if L.lo == 0 else np.ones(pre.shape, bool)


def forward(st: State, x_int8: np.ndarray, mode: str = "quant", cache: bool = False):
    """Run the network on a batch (N, 8, 8, 1) int8.  ``mode`` "float": float
    weights and activations (ReLU where lo = 0); "quant": the cluster's integer
    arithmetic (returns integer-valued tensors; multiply by ``st.s`` for the
    float view).  Returns (tensors, cache for :func:`backward` or None)."""
    net = st.net
    xq = x_int8.astype(np.float64)
    t = {net.input: xq if mode == "quant" else xq * st.s[net.input]}
    cc = {}
    for L in net.layers:
        a = t[L.inputs[0]]
        if L.op in IMA_OPS:
            cols = a if L.op == "pw" else _im2col(a, L.k, L.stride, L.pad)
            if mode == "quant":
                wq, s_w = _ima_levels(st, L)
                g, sh = _ima_requant(st, L, s_w)
                acc = cols @ wq.reshape(-1, wq.shape[-1])
                pre = _round_shift(acc * g, sh)
                y = np.clip(pre, L.lo, L.hi)
                wf = wq * s_w
                colsf = cols * st.s[L.inputs[0]]
            else:
                wf = st.W[L.name]
                pre = cols @ wf.reshape(-1, wf.shape[-1])
                y = np.maximum(pre, 0) if L.lo == 0 else pre
                colsf = cols
            cc[L.name] = (colsf, wf, _mask(pre, L, mode), a.shape)
        elif L.op == "dw":
            if mode == "quant":
                wq, s_w = dw_quant(st.W[L.name])
                bq, g, sh = _dw_requant(st, L, s_w)
                acc = _dw_fwd(a, wq, L.stride) + bq
                pre = _round_shift(acc * g, sh)
                y = np.clip(pre, L.lo, L.hi)
                wf, af = wq * s_w, a * st.s[L.inputs[0]]
            else:
                wf, af = st.W[L.name], a
                pre = _dw_fwd(a, wf, L.stride) + st.b[L.name]
                y = np.maximum(pre, 0) if L.lo == 0 else pre
            cc[L.name] = (af, wf, _mask(pre, L, mode))
        elif L.op == "add":
            b = t[L.inputs[1]]
            if mode == "quant":
                sa, sb, sh = _add_requant(st, L)
                pre = _round_shift(a * sa + b * sb, sh)
                y = np.clip(pre, L.lo, L.hi)
            else:
                pre = y = a + b
            cc[L.name] = (_mask(pre, L, mode),)
        else:
            raise ValueError(f"{L.name}: op {L.op!r} is not trainable here")
        t[L.output] = y
    return t, (cc if cache else None)


def backward(st: State, t: dict, cc: dict, g_out: np.ndarray, mode: str):
    """Gradients of the float parameters given dL/d(output, float view)."""
    net = st.net
    g = {net.output: g_out}
    gW, gb = {}, {}
    for L in reversed(net.layers):
        gy = g.pop(L.output, None)
        if gy is None:
            continue
        def put(name, v):
            g[name] = g[name] + v if name in g else v
        if L.op in IMA_OPS:
            colsf, wf, mask, xshape = cc[L.name]
            ga = gy * mask
            w2 = wf.reshape(-1, wf.shape[-1])
            gW[L.name] = (colsf.reshape(-1, w2.shape[0]).T @ ga.reshape(-1, w2.shape[1])
                          ).reshape(wf.shape)
            gc = ga @ w2.T
            if L.op == "conv":
                gc = _col2im(gc, xshape, L.k, L.stride, L.pad)
            if L.inputs[0] != net.input:
                put(L.inputs[0], gc)
        elif L.op == "dw":
            af, wf, mask = cc[L.name]
            ga = gy * mask
            gx, gW[L.name] = _dw_bwd(af, wf, L.stride, ga)
            gb[L.name] = ga.sum(axis=(0, 1, 2))
            put(L.inputs[0], gx)
        else:
            (mask,) = cc[L.name]
            ga = gy * mask
            put(L.inputs[0], ga)
            put(L.inputs[1], ga)
    return gW, gb


def _softmax_xent(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y] + 1e-12).mean()
    p[np.arange(n), y] -= 1
    return loss, p / n


def logits(st: State, x: np.ndarray, mode: str = "quant") -> np.ndarray:
    t, _ = forward(st, x, mode)
    out = t[st.net.output]
    return out.reshape(len(x), -1)


def predict(st: State, x: np.ndarray, mode: str = "quant", batch: int = 512) -> np.ndarray:
    return np.concatenate([np.argmax(logits(st, x[i:i + batch], mode), axis=1)
                           for i in range(0, len(x), batch)])


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y))


def calibrate(st: State, x: np.ndarray, mode: str = "float"):
    """Activation scales: the 99.99th percentile of |activation| over ``x`` maps to 127."""
    t, _ = forward(st, x, mode)
    for name, v in t.items():
        if name == st.net.input:
            continue
        f = v * st.s[name] if mode == "quant" else v
        p = float(np.percentile(np.abs(f), _ACT_PERCENTILE))
        st.s[name] = max(p, 1e-6) / 127.0


class Adam:
    def __init__(self, lr, wd=0.0, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.wd, self.b1, self.b2, self.eps = lr, wd, b1, b2, eps
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params: dict, grads: dict, lr: float | None = None) -> dict:
        """The update of every parameter (to add to it); params are not changed."""
        self.t += 1
        lr = self.lr if lr is None else lr
        out = {}
        for k, g in grads.items():
            if self.wd and params[k].ndim > 1:
                g = g + self.wd * params[k]
            m = self.m[k] = self.b1 * self.m.get(k, 0) + (1 - self.b1) * g
            v = self.v[k] = self.b2 * self.v.get(k, 0) + (1 - self.b2) * g * g
            mh, vh = m / (1 - self.b1 ** self.t), v / (1 - self.b2 ** self.t)
            out[k] = -lr * mh / (np.sqrt(vh) + self.eps)
        return out


def _epoch(st, opt, xtr, ytr, rng, mode, lr, batch, on_update=None):
    perm = rng.permutation(len(ytr))
    for i in range(0, len(perm), batch):
        idx = perm[i:i + batch]
        t, cc = forward(st, xtr[idx], mode, cache=True)
        out = t[st.net.output].reshape(len(idx), -1)
        if mode == "quant":
            out = out * st.s[st.net.output]
        _, gl = _softmax_xent(out, ytr[idx])
        gW, gb = backward(st, t, cc, gl.reshape(t[st.net.output].shape), mode)
        params = {**{("W", k): v for k, v in st.W.items()}, **{("b", k): v for k, v in st.b.items()}}
        grads = {**{("W", k): v for k, v in gW.items()}, **{("b", k): v for k, v in gb.items()}}
        upd = opt.step(params, grads, lr)
        if on_update is not None:          # the HIC accumulator takes the IMA updates
            upd = on_update(upd)
        for (kind, k), u in upd.items():
            (st.W if kind == "W" else st.b)[k] += u


def _cosine(lr, e, n):
    return lr * 0.5 * (1 + np.cos(np.pi * e / max(n, 1)))


@dataclass
class Result:
    state: State
    float_acc: float
    quant_acc: float
    train_s: float
    history: list = field(default_factory=list)


def train(cfg: TrainConfig = TrainConfig(), data=None, log=None, ima_quant=None) -> Result:
    """Float training, calibration, QAT; returns the state and the test accuracies.
    ``ima_quant(W) -> (levels, scale)`` replaces the IMA layers' 4-bit quantiser."""
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = data if data is not None else digits_split(cfg.split_seed)
    net = digits_net(cfg.width)
    st = init_state(net, cfg.seed)
    if ima_quant is not None:
        st.ima_weights = {L.name: ima_quant for L in net.layers if L.op in IMA_OPS}
    rng = np.random.default_rng(cfg.seed + 1)
    opt = Adam(cfg.lr, cfg.weight_decay)
    hist = []
    for e in range(cfg.float_epochs):
        _epoch(st, opt, xtr, ytr, rng, "float", _cosine(cfg.lr, e, cfg.float_epochs), cfg.batch)
        if log and (e + 1) % 10 == 0:
            log(f"float epoch {e + 1}: test {accuracy(predict(st, xte, 'float'), yte):.4f}")
    float_acc = accuracy(predict(st, xte, "float"), yte)
    calibrate(st, xtr, "float")
    opt = Adam(cfg.qat_lr, cfg.weight_decay)
    for e in range(cfg.qat_epochs):
        _epoch(st, opt, xtr, ytr, rng, "quant", _cosine(cfg.qat_lr, e, cfg.qat_epochs), cfg.batch)
        if log and (e + 1) % 10 == 0:
            log(f"QAT epoch {e + 1}: test {accuracy(predict(st, xte), yte):.4f}")
    quant_acc = accuracy(predict(st, xte), yte)
    return Result(st, float_acc, quant_acc, time.perf_counter() - t0, hist)


# -- export ----------------------------------------------------------------------------------
def export(st: State) -> Network:
    """The trained network with the cluster's integer parameters (levels, gains,
    shifts, biases, scales) exactly as :func:`forward` in "quant" mode uses them."""
    out = []
    for L in st.net.layers:
        L = dataclasses.replace(L)
        if L.op in IMA_OPS:
            wq, s_w = _ima_levels(st, L)
            L.w = wq.astype(np.int8)
            L.gain, L.shift = _ima_requant(st, L, s_w)
        elif L.op == "dw":
            wq, s_w = dw_quant(st.W[L.name])
            bq, g, sh = _dw_requant(st, L, s_w)
            L.w, L.bias = wq.astype(np.int8), bq.astype(np.int32)
            L.scale, L.shift = g.astype(np.uint32), sh
        elif L.op == "add":
            L.sa, L.sb, L.shift = _add_requant(st, L)
        out.append(L)
    return dataclasses.replace(st.net, layers=out, meta={**st.net.meta, "scales": dict(st.s)})
