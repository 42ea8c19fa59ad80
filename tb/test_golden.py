"""Golden models (imcc.sim.golden, bottleneck, mobilenetv2) against independent formulations:
explicit Python loops with Python integers on small seeded random shapes."""

import io
import math

import numpy as np
import pytest

from imcc.sim import golden as g
from imcc.sim.bottleneck import (DUMP_KEYS, BottleneckParams, bottleneck, dump,
                                 random_bottleneck)
from imcc.sim import mobilenetv2 as mnv2


# -- independent references: scalar Python, the contract's formulas read literally -------------
def ref_round(v: int, shift: int) -> int:
    return v if shift == 0 else (v + 2 ** (shift - 1)) // 2 ** shift   # Python // is floor


def ref_requant(acc, gain, shift, lo, hi) -> int:
    return min(max(ref_round(int(acc) * int(gain), int(shift)), int(lo)), int(hi))


def ref_pointwise(x, w, gain, shift, lo, hi):
    *lead, cin = x.shape
    xf = x.reshape(-1, cin)
    out = np.zeros((xf.shape[0], w.shape[1]), np.int64)
    for n in range(xf.shape[0]):
        for c in range(w.shape[1]):
            acc = sum(int(xf[n, r]) * int(w[r, c]) for r in range(cin))
            out[n, c] = ref_requant(acc, gain, shift, lo, hi)
    return out.reshape(*lead, w.shape[1])


def ref_depthwise(x, w, bias, scale, shift, lo, hi, stride, pad):
    pt, pb, pl, pr = pad
    h, wd, c = x.shape
    ho, wo = (h + pt + pb - 3) // stride + 1, (wd + pl + pr - 3) // stride + 1
    out = np.zeros((ho, wo, c), np.int64)
    for oy in range(ho):
        for ox in range(wo):
            for ch in range(c):
                acc = int(bias[ch])
                for ky in range(3):
                    for kx in range(3):
                        iy, ix = oy * stride + ky - pt, ox * stride + kx - pl
                        if 0 <= iy < h and 0 <= ix < wd:
                            acc += int(x[iy, ix, ch]) * int(w[ky, kx, ch])
                out[oy, ox, ch] = ref_requant(acc, scale[ch], shift, lo, hi)
    return out


def ref_residual(a, b, sa, sb, shift, lo, hi):
    out = np.zeros(a.shape, np.int64)
    for i in np.ndindex(a.shape):
        out[i] = min(max(ref_round(int(a[i]) * sa + int(b[i]) * sb, shift), lo), hi)
    return out


def ref_conv(x, w, gain, shift, lo, hi, stride, pad):
    k, _, cin, cout = w.shape
    h, wd, _ = x.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((ho, wo, cout), np.int64)
    for oy in range(ho):
        for ox in range(wo):
            for co in range(cout):
                acc = 0
                for ky in range(k):
                    for kx in range(k):
                        iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
                        if 0 <= iy < h and 0 <= ix < wd:
                            acc += sum(int(x[iy, ix, ci]) * int(w[ky, kx, ci, co])
                                       for ci in range(cin))
                out[oy, ox, co] = ref_requant(acc, gain, shift, lo, hi)
    return out


def rand_i8(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi + 1, shape).astype(np.int8)


# -- rounding -----------------------------------------------------------------------------------
def test_requant_matches_reference_on_random_values():
    rng = np.random.default_rng(1)
    acc = rng.integers(-2**20, 2**20, 4000)
    gain = rng.integers(0, 2**12, 4000)
    shift = rng.integers(0, 24, 4000)
    lo = rng.integers(-128, 0, 4000)
    hi = lo + rng.integers(0, 256, 4000)
    got = g.requant(acc, gain, shift, lo, hi)
    want = [ref_requant(*t) for t in zip(acc, gain, shift, lo, hi)]
    assert got.tolist() == want


def test_round_shift_edge_cases():
    # half-way values round up (towards +inf), also for negatives; shift 0 has no rounding term
    v = np.arange(-40, 41)
    for s in range(0, 5):
        assert g.round_shift(v, s).tolist() == [ref_round(int(i), s) for i in v]
    assert g.round_shift([-3, -2, -1, 1, 2, 3], 1).tolist() == \
        [math.floor(-3 / 2 + 0.5), math.floor(-1 + 0.5), math.floor(-0.5 + 0.5),
         math.floor(0.5 + 0.5), math.floor(1 + 0.5), math.floor(1.5 + 0.5)]
    assert g.round_shift([5, -5, 7], 0).tolist() == [5, -5, 7]
    # the largest accumulators stay exact in the int64 intermediate
    big = 256 * 128 * 7
    assert int(g.requant(big, 2**32 - 1, 40, -2**62, 2**62)) == ref_round(big * (2**32 - 1), 40)


def test_requant_clipping_and_per_channel_broadcast():
    acc = np.array([[-1000, -3, 0, 3, 1000]] * 2)
    assert g.requant(acc, 1, 0, -128, 127)[0].tolist() == [-128, -3, 0, 3, 127]
    assert g.requant(acc, 1, 0, 0, 6)[0].tolist() == [0, 0, 0, 3, 6]          # ReLU6-style cap
    gain, shift = np.array([1, 2, 3, 4, 5]), np.array([0, 1, 2, 3, 4])
    got = g.requant(acc, gain, shift, -128, 127)
    want = [ref_requant(a, gg, s, -128, 127) for a, gg, s in zip(acc[1], gain, shift)]
    assert got[1].tolist() == want


def test_requant_rejects_bad_arguments():
    with pytest.raises(ValueError, match="gain"):
        g.requant([1], -1, 0, -128, 127)
    with pytest.raises(ValueError, match="shift"):
        g.requant([1], 1, -1, -128, 127)
    with pytest.raises(ValueError, match="lo <= hi"):
        g.requant([1], 1, 0, 5, 4)
    with pytest.raises(TypeError):
        g.requant([1.5], 1, 0, -128, 127)
    with pytest.raises(OverflowError):
        g.requant([2**40], 2**30, 0, -128, 127)


# -- IMA ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_ima_pointwise_matches_loops(seed):
    rng = np.random.default_rng(seed)
    cin, cout = rng.integers(1, 20, 2)
    x = rand_i8(rng, (3, 2, cin))
    w = rand_i8(rng, (cin, cout), -7, 7)
    gain, shift = int(rng.integers(0, 300)), int(rng.integers(0, 12))
    lo, hi = (0, 127) if seed % 2 else (-128, int(rng.integers(0, 128)))
    got = g.ima_pointwise(x, w, gain, shift, lo, hi)
    assert got.dtype == np.int8
    assert np.array_equal(got, ref_pointwise(x, w, gain, shift, lo, hi))


def test_ima_rejects_minus_eight():
    w = np.zeros((4, 4), np.int8)
    w[2, 3] = -8
    with pytest.raises(ValueError, match=r"-8 at index \(2, 3\) is not representable"):
        g.ima_pointwise(np.zeros((1, 4), np.int8), w, 1, 0)
    w[2, 3] = 8
    with pytest.raises(ValueError, match="IMA weights"):
        g.ima_pointwise(np.zeros((1, 4), np.int8), w, 1, 0)
    with pytest.raises(ValueError, match="x must lie"):
        g.ima_pointwise(np.full((1, 4), 200), np.zeros((4, 4), np.int8), 1, 0)


@pytest.mark.parametrize("k, stride, pad", [(3, 2, 1), (3, 1, 1), (1, 1, 0), (2, 2, 0)])
def test_im2col_conv_matches_loops(k, stride, pad):
    rng = np.random.default_rng(k * 10 + stride)
    x = rand_i8(rng, (7, 6, 3))
    w = rand_i8(rng, (k, k, 3, 5), -7, 7)
    got = g.ima_conv(x, w, 37, 7, -128, 127, stride, pad)
    assert np.array_equal(got, ref_conv(x, w, 37, 7, -128, 127, stride, pad))
    cols = g.im2col(x, k, stride, pad)
    assert cols.shape[-1] == k * k * 3
    if pad == 0:   # first window is the top-left corner, [ky][kx][c] order
        assert np.array_equal(cols[0, 0], x[:k, :k].reshape(-1))


# -- depthwise ----------------------------------------------------------------------------------
@pytest.mark.parametrize("stride, pad, hw", [
    (1, (1, 1, 1, 1), (6, 5)), (2, (1, 1, 1, 1), (7, 6)), (2, (0, 1, 0, 1), (8, 8)),
    (1, (0, 0, 0, 0), (5, 4)), (2, (2, 0, 1, 0), (5, 7)),
])
def test_depthwise_matches_loops(stride, pad, hw):
    rng = np.random.default_rng(hw[0] * 7 + stride)
    c = 5
    x = rand_i8(rng, hw + (c,))
    w = rand_i8(rng, (3, 3, c))
    bias = rng.integers(-5000, 5000, c).astype(np.int32)
    scale = rng.integers(0, 200, c)
    got = g.depthwise3x3(x, w, bias, scale, 9, -100, 90, stride, pad)
    want = ref_depthwise(x, w, bias, scale, 9, -100, 90, stride, pad)
    assert got.shape == want.shape == g.dw_output_size(*hw, stride, pad) + (c,)
    assert np.array_equal(got, want)


def test_depthwise_output_size_is_pytorch_convention():
    for h in range(3, 12):
        for s in (1, 2):
            assert g.dw_output_size(h, h, s, 1) == ((h + 2 - 3) // s + 1,) * 2
    with pytest.raises(ValueError, match="stride"):
        g.depthwise3x3(np.zeros((4, 4, 1), np.int8), np.zeros((3, 3, 1), np.int8), [0], [1], 0,
                       stride=3)
    with pytest.raises(ValueError, match=r"shape \(3, 3, 2\)"):
        g.depthwise3x3(np.zeros((4, 4, 2), np.int8), np.zeros((3, 3, 1), np.int8), [0], [1], 0)


# -- residual -----------------------------------------------------------------------------------
def test_residual_add_matches_loops():
    rng = np.random.default_rng(5)
    a, b = rand_i8(rng, (4, 3, 6)), rand_i8(rng, (4, 3, 6))
    for sa, sb, shift, lo, hi in [(1, 1, 0, -128, 127), (90, 85, 7, -128, 127), (3, -2, 1, 0, 60)]:
        assert np.array_equal(g.residual_add(a, b, sa, sb, shift, lo, hi),
                              ref_residual(a, b, sa, sb, shift, lo, hi))


# -- bottleneck -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 6, 4, 6, 4, 1), (6, 5, 4, 6, 8, 2), (5, 5, 8, 1, 8, 1),
                                   (4, 4, 3, 1, 5, 1)])
def test_bottleneck_matches_loop_composition(shape):
    h, w, cin, t, cout, stride = shape
    x, p = random_bottleneck(h, w, cin, t, cout, stride, seed=sum(shape))
    r = bottleneck(x, p)
    a = x
    if t != 1:
        a = ref_pointwise(x, p.w_expand, p.expand_gain, p.expand_shift, p.expand_lo, p.expand_hi)
        assert np.array_equal(r.y_expand, a)
    else:
        assert r.y_expand is None and p.w_expand is None
    d = ref_depthwise(a, p.w_dw, p.dw_bias, p.dw_scale, p.dw_shift, p.dw_lo, p.dw_hi, stride,
                      (1,) * 4)
    assert np.array_equal(r.y_dw, d)
    pr = ref_pointwise(d, p.w_project, p.project_gain, p.project_shift, p.project_lo, p.project_hi)
    assert np.array_equal(r.y_project, pr)
    if stride == 1 and cin == cout:
        assert p.residual
        pr = ref_residual(pr, x, p.add_sa, p.add_sb, p.add_shift, p.add_lo, p.add_hi)
    else:
        assert not p.residual
    assert np.array_equal(r.y, pr)


def test_bottleneck_dump_round_trips_through_savez():
    x, p = random_bottleneck(6, 6, 8, 6, 8, 1, seed=3)
    d = dump(x, p)
    assert tuple(d) == DUMP_KEYS
    assert d["w_expand"].dtype == d["w_dw"].dtype == d["w_project"].dtype == np.int8
    assert d["w_expand"].shape == (8, 48) and d["w_dw"].shape == (3, 3, 48)
    assert d["w_project"].shape == (48, 8)
    buf = io.BytesIO()
    np.savez(buf, **d)
    buf.seek(0)
    with np.load(buf) as f:
        loaded = {k: f[k] for k in f.files}
        p2 = BottleneckParams.from_dict(loaded)
    r2 = bottleneck(loaded["x"], p2)
    assert np.array_equal(r2.y, d["y"]) and np.array_equal(r2.y_expand, d["y_expand"])
    with pytest.raises(ValueError, match="incomplete"):
        BottleneckParams.from_dict({k: v for k, v in d.items() if k != "expand_gain"})


def test_random_parameters_are_well_scaled():
    """Stated bound: every layer's output spreads over > 10 LSB and < 2 % of it clips."""
    x, p = random_bottleneck(28, 28, 32, 6, 32, 1, seed=0)
    r = bottleneck(x, p)
    for name, y, lo, hi in [("expand", r.y_expand, p.expand_lo, p.expand_hi),
                            ("dw", r.y_dw, p.dw_lo, p.dw_hi),
                            ("project", r.y_project, p.project_lo, p.project_hi),
                            ("add", r.y, p.add_lo, p.add_hi)]:
        assert y.std() > 10, name
        clipped = np.mean(y == hi) + (np.mean(y == lo) if lo < 0 else 0)
        assert clipped < 0.02, name


def test_bottleneck_checks_residual_consistency():
    x, p = random_bottleneck(4, 4, 4, 6, 4, 1, seed=0)
    p.add_sa = None
    with pytest.raises(ValueError, match="residual"):
        bottleneck(x, p)


# -- MobileNetV2 and quantisation -------------------------------------------------------------------
def test_mobilenetv2_table_chains():
    bs = mnv2.blocks()
    assert len(bs) == 17 and mnv2.first_conv().out_hw == (112, 112)
    prev_hw, prev_c = mnv2.first_conv().out_hw, mnv2.FIRST_CHANNELS
    for b in bs:
        assert ((b.h, b.w), b.cin) == (prev_hw, prev_c)
        prev_hw, prev_c = b.out_hw, b.cout
    assert prev_hw == (7, 7) and prev_c == 320
    assert (mnv2.last_conv().cin, mnv2.last_conv().cout) == (320, 1280)
    ref = [b for b in bs if (b.h, b.cin, b.t, b.cout, b.stride) == (28, 32, 6, 32, 1)]
    assert ref and ref[0].residual and ref[0].cexp == 192    # the project's reference block
    # paper-numbers.md: weight count alone needs 33 arrays of 256 x 256 (34 after Tile&Pack)
    assert math.ceil(mnv2.ima_weight_count() / (256 * 256)) == 33


def test_gain_shift_best_approximation():
    rng = np.random.default_rng(2)
    ratios = np.exp(rng.uniform(np.log(1e-5), np.log(100), 500))
    gain, shift = g.gain_shift(ratios, gain_bits=8)
    assert gain.max() <= 255 and shift.min() >= 0
    approx = gain / np.exp2(shift)
    # with the largest shift the gain is >= 128 (unless shift hit 0), so rel. error <= 1/256
    assert np.all(np.abs(approx - ratios) <= ratios / 256 + 1e-12)
    # and no other (gain, shift) pair in range is closer: check exhaustively on a few ratios
    for r in ratios[:20]:
        best = min(abs(gg / 2**s - r) for s in range(32)
                   for gg in (math.floor(r * 2**s), math.ceil(r * 2**s)) if gg <= 255)
        gg, s = g.gain_shift(r)
        assert abs(gg / 2**s - r) <= best * (1 + 1e-12)
    gc, sc = g.gain_shift(ratios[:8], common_shift=True)
    assert np.all(sc == sc[0]) and gc.max() <= 255
    with pytest.raises(ValueError):
        g.gain_shift(300.0)


def test_quantize_layer_reproduces_float_layer():
    """Stated bound: the integer layer's error std is below 20 % of the float output's std
    (4-bit weights), and gain / 2^shift is within 1/128 of the wanted ratio."""
    rng = np.random.default_rng(4)
    wf = rng.normal(0, 0.1, (64, 16))
    xf = rng.normal(0, 1.0, (200, 64))
    x_scale = mnv2.activation_scale(xf)
    xq, _ = mnv2.quantize(xf, 8, x_scale)
    yf = xf @ wf
    y_scale = mnv2.activation_scale(yf)
    for per_channel in (False, True):
        q = mnv2.quantize_layer(wf, x_scale, y_scale, per_channel=per_channel)
        assert q["w"].min() >= -7 and q["w"].max() <= 7
        y = g.ima_pointwise(xq, q["w"], q["gain"], q["shift"])   # per-channel gain broadcasts
        err = y * y_scale - yf
        assert np.std(err) < 0.2 * np.std(yf), per_channel
        assert np.all(np.abs(q["gain"] / np.exp2(q["shift"]) - q["ratio"]) <= q["ratio"] / 128)
