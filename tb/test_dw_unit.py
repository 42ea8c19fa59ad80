"""amaranth.sim unit tests of the DW engine's parts (no Verilator): the
MAC array with its window ring fed column by column as the loader orders
them, the loader's read order against a Python model, the requantiser on
random MAC results and the whole engine behind a TCDM that grants at random
- against imcc.sim.golden on small shapes, with random stalls on every
handshake.  The segment port is tested with the
other data movers (tb/test_stream.py), the full-size cluster by
tb/test_dw.py."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from imcc.gen.config import ClusterConfig
from imcc.rtl.dw.engine import Engine
from imcc.rtl.dw.layer import BAND, SLOTS
from imcc.rtl.dw.loader import WindowLoader
from imcc.rtl.dw.mac import MacArray
from imcc.rtl.dw.regs import DW_REGS
from imcc.rtl.dw.requant import Requantiser
from imcc.sim.golden import depthwise3x3, requant, residual_add
from imcc.tb.tcdm_sim import TcdmModel

CB, LANES, ADD_LANES = 16, 4, 8


def _run(dut, body):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(body)
    sim.run()


def _s(v, bits):
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def _set_layer(ctx, lay, **f):
    for k, v in f.items():
        ctx.set(getattr(lay, k), v)


# -- the MAC array and its window ring -------------------------------------------------------------

def _ring_loads(x, w, bias, scale, stride, pad):
    """The load responses of one block in the loader's order: (param?, index,
    last, bytes), columns as lists so the test can track slots."""
    h, wd, c = x.shape
    pt, pb, pl, pr = pad
    ho, wo = (h + pt + pb - 3) // stride + 1, (wd + pl + pr - 3) // stride + 1
    params = [w[t // 3, t % 3].astype(np.int8).tobytes() for t in range(9)]
    b4 = bias.astype("<i4").tobytes() + bytes(4 * CB)
    s4 = scale.astype("<u4").tobytes() + bytes(4 * CB)
    params += [b4[CB * q:CB * (q + 1)] for q in range(4)] + [s4[CB * q:CB * (q + 1)] for q in range(4)]
    columns = []
    for y0 in range(0, ho, BAND):
        rows = min(BAND, ho - y0)
        hc = (rows - 1) * stride + 3
        for i in range((wo - 1) * stride + 3):
            col = []
            for j in range(hc):
                yi, xi = y0 * stride - pt + j, i - pl
                inside = 0 <= yi < h and 0 <= xi < wd
                col.append(x[yi, xi].tobytes() if inside else bytes(c))
            columns.append(col)
    return params, columns, ho, wo


@pytest.mark.parametrize("h, wd, c, stride, pad, seed", [
    (5, 6, 16, 1, (1, 1, 1, 1), 1),
    (7, 5, 11, 2, (1, 1, 1, 1), 2),
    (4, 9, 3, 1, (0, 2, 2, 0), 3),
    (6, 6, 16, 2, (0, 1, 0, 1), 4),
])
def test_window_ring_accumulators(h, wd, c, stride, pad, seed):
    """Columns arrive with random gaps, store credits come and go: every
    accumulator (bias + 9 taps) leaves the array exactly once, with its output
    address, as the golden model computes it."""
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    x = rng.integers(-128, 128, (h, wd, c), dtype=np.int8)
    w = rng.integers(-128, 128, (3, 3, c), dtype=np.int8)
    bias = rng.integers(-2**20, 2**20, c, dtype=np.int64)
    scale = rng.integers(0, 2**32, c, dtype=np.int64)
    # the golden model's accumulator (depthwise3x3 before requant)
    xp = np.pad(x.astype(np.int64), ((pad[0], pad[1]), (pad[2], pad[3]), (0, 0)))
    params, columns, ho, wo = _ring_loads(x, w, bias, scale, stride, pad)
    acc_ref = np.zeros((ho, wo, c), np.int64) + bias
    for ky in range(3):
        for kx in range(3):
            acc_ref += xp[ky:ky + stride * (ho - 1) + 1:stride,
                          kx:kx + stride * (wo - 1) + 1:stride] * w[ky, kx]
    dst = 0x1000
    dut = MacArray(CB, LANES, ADD_LANES)
    got = {}

    async def body(ctx):
        _set_layer(ctx, dut.layer, add=0, stride2=int(stride == 2), channels=c, out_height=ho,
                   out_width=wo, out_row_bytes=wo * c, dst=dst, elements=0)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.run, 1)
        loads = [(1, q, 0, d, False) for q, d in enumerate(params)]
        for col in columns:
            loads += [(0, j, int(j == len(col) - 1), d, j == 0) for j, d in enumerate(col)]
        slot, cycles = 0, 0
        while not ctx.get(dut.done) or ctx.get(dut.out.valid):
            ctx.set(dut.credit, int(prng.random() < 0.7))
            ctx.set(dut.rsp.valid, 0)
            ctx.set(dut.alloc, 0)
            if loads and prng.random() < 0.6:
                param, idx, last, data, new = loads[0]
                if not new or ctx.get(dut.slot_free):
                    loads.pop(0)
                    ctx.set(dut.rsp.valid, 1)
                    ctx.set(dut.rsp.payload.data, int.from_bytes(data, "little"))
                    ctx.set(dut.rsp.payload.tag, {"param": param, "slot": slot, "index": idx,
                                                  "last": last})
                    ctx.set(dut.alloc, int(new))
                    if last:
                        slot = (slot + 1) % SLOTS
            if ctx.get(dut.out.valid):
                o = ctx.get(dut.out.payload)
                addr, grp = o.addr, o.group
                for lane in range(LANES):
                    ch = grp * LANES + lane
                    if ch < o.n:
                        key = (addr - dst, ch)
                        assert key not in got, f"accumulator {key} twice"
                        got[key] = (o.acc[lane], o.scale[lane])
            await ctx.tick()
            cycles += 1
            assert cycles < 20_000
        assert not loads
        for _ in range(2):
            await ctx.tick()
        assert ctx.get(dut.ring_empty), "the sweep left slots allocated"

    _run(dut, body)
    assert len(got) == ho * wo * c
    for (off, ch), (acc, sc) in got.items():
        y, xo = divmod(off // c, wo)
        assert acc == acc_ref[y, xo, ch], (y, xo, ch)
        assert sc == scale[ch]


# -- the loader ----------------------------------------------------------------------------------

def loader_reads(lay: dict, cb: int) -> list[tuple]:
    """The model: (param, index, last, addr, n) of every read of a job, in order
    (``addr`` None for a null read)."""
    out = []
    if lay["add"]:
        e = lay["elements"]
        for k in range(0, e, cb):
            n = min(cb, e - k)
            out += [(0, 0, 0, lay["src"] + k, n), (0, 1, 1, lay["src2"] + k, n)]
        return out
    c, s = lay["channels"], 2 if lay["stride2"] else 1
    h, w, pt, pl = lay["height"], lay["width"], lay["pad_top"], lay["pad_left"]
    ho, wo = lay["out_height"], lay["out_width"]
    for blk in range(0, c, cb):
        n = min(cb, c - blk)
        out += [(1, q, 0, lay["weights"] + blk + q * c, n) for q in range(9)]
        for base, q0 in ((lay["bias"], 9), (lay["scale"], 13)):
            for k in range(4):
                nb = max(0, min(cb, 4 * n - k * cb))        # the last block's short tail
                out.append((1, q0 + k, 0, base + 4 * blk + k * cb if nb else None, nb))
        for y0 in range(0, ho, BAND):
            hc = (min(BAND, ho - y0) - 1) * s + 3
            for i in range((wo - 1) * s + 3):
                for j in range(hc):
                    yi, xi = y0 * s - pt + j, i - pl
                    inside = 0 <= yi < h and 0 <= xi < w
                    out.append((0, j, int(j == hc - 1),
                                lay["src"] + (yi * w + xi) * c + blk if inside else None,
                                n if inside else 0))
    return out


@pytest.mark.parametrize("shape", [(5, 7, 20, 1, (1, 1, 1, 1)), (6, 5, 3, 2, (0, 2, 2, 0)),
                                   (2, 3, 40, 1, (1, 0, 0, 1)), "add"])
def test_loader_order(shape):
    """Every read of a job in the order the MAC array consumes it (two
    channel blocks, padding, both strides, ADD), with random port stalls and a
    ring that frees slots at random: the loader never takes a slot that is not
    free, never starts a block before the ring drained, and holds an offered
    read until it is taken."""
    prng = random.Random(str(shape))
    if shape == "add":
        lay = dict(add=1, stride2=0, channels=5, elements=3 * 5 * 7, src=0x1003, src2=0x2001)
    else:
        h, w, c, s, (pt, pb, pl, pr) = shape
        lay = dict(add=0, stride2=int(s == 2), pad_top=pt, pad_left=pl, height=h, width=w,
                   channels=c, out_height=(h + pt + pb - 3) // s + 1,
                   out_width=(w + pl + pr - 3) // s + 1, row_bytes=w * c, src=0x1003,
                   weights=0x4001, bias=0x5002, scale=0x6003)
        lay["columns"] = (lay["out_width"] - 1) * s + 3
        lay["origin"] = lay["src"] - pt * w * c - pl * c
    expect = loader_reads(lay, CB)
    dut = WindowLoader(CB)
    got = []

    async def body(ctx):
        _set_layer(ctx, dut.layer, **lay)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.run, 1)
        occ, slot, offered = 0, 0, None
        drained = False             # ring and pipeline were empty since the last column read
        for _ in range(20 * len(expect) + 100):
            if occ and prng.random() < 0.08:
                occ -= 1                            # the MAC array frees a slot
            pipe_empty = occ == 0 and prng.random() < 0.5
            drained |= pipe_empty
            ctx.set(dut.slot_free, int(occ < SLOTS))
            ctx.set(dut.ring_empty, int(occ == 0))
            ctx.set(dut.pipe_empty, int(pipe_empty))
            ready = prng.random() < 0.6
            ctx.set(dut.rd.ready, int(ready))
            if ctx.get(dut.rd.valid):
                r = ctx.get(dut.rd.payload)
                item = (r.tag.param, r.tag.index, r.tag.last, r.addr if r.n else None, r.n,
                        r.tag.slot)
                if offered is not None:
                    assert item == offered, "an offered read changed"
                offered = None if ready else item
                if ready:
                    if ctx.get(dut.alloc):
                        assert occ < SLOTS
                        occ += 1
                    if item[0] and item[1] == 0 and got:
                        assert drained, "a block's parameters before the ring drained"
                    got.append(item[:5])
                    if not item[0]:
                        drained = False
                        assert item[5] == slot
                        slot = (slot + item[2]) % SLOTS
            await ctx.tick()

    _run(dut, body)
    assert got == expect


# -- requantisation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("add", [0, 1])
def test_requantiser(add):
    """Random MAC results with random gaps between groups: each output
    segment is the golden requantisation of its lanes (DW3X3:
    round_shift(acc * scale) clipped; ADD: the residual add's)."""
    prng = random.Random(7 + add)
    rng = np.random.default_rng(7 + add)
    dut = Requantiser(CB, LANES, ADD_LANES)
    lanes = ADD_LANES if add else LANES
    groups = CB // lanes
    pixels = []
    for _ in range(40):
        shift = int(rng.integers(0, 40))
        lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
        n = int(rng.integers(1, CB + 1))
        if add:
            a = rng.integers(-128, 128, CB)
            b = rng.integers(-128, 128, CB)
            sa, sb = (int(v) for v in rng.integers(-2**31, 2**31, 2))
            vals = a * sa + b * sb
            ref = residual_add(a.astype(np.int8), b.astype(np.int8), sa, sb, shift, lo, hi)
            pixels.append((shift, lo, hi, n, [int(v) for v in vals], None, ref))
        else:
            # magnitudes whose product lands near the int8 range after the shift, some clipped
            k = int(rng.integers(1, 31))
            m = int(rng.integers(1, min(33, 62 - k)))
            shift = max(0, k + m - 8 + int(rng.integers(-3, 3)))
            acc = rng.integers(-2**k, 2**k, CB)
            sc = rng.integers(0, 2**m, CB)
            ref = requant(acc, sc, shift, lo, hi).astype(np.int8)
            pixels.append((shift, lo, hi, n, [int(v) for v in acc], [int(v) for v in sc], ref))
    outs = []

    async def body(ctx):
        ctx.set(dut.layer.add, add)
        for k, (shift, lo, hi, n, vals, sc, ref) in enumerate(pixels):
            ctx.set(dut.layer.shift, shift)
            ctx.set(dut.layer.lo, lo)
            ctx.set(dut.layer.hi, hi)
            for g in range(groups):
                while prng.random() < 0.4:          # a stall between groups
                    ctx.set(dut.inp.valid, 0)
                    await ctx.tick()
                    if ctx.get(dut.out.valid):
                        outs.append(ctx.get(dut.out.payload))
                p = dut.inp.payload
                ctx.set(dut.inp.valid, 1)
                ctx.set(p.last, int(g == groups - 1))
                ctx.set(p.group, g)
                ctx.set(p.addr, 100 * k)
                ctx.set(p.n, n)
                for lane in range(lanes):
                    if add:
                        ctx.set(p.sum[lane], vals[g * lanes + lane])
                    else:
                        ctx.set(p.acc[lane], vals[g * lanes + lane])
                        ctx.set(p.scale[lane], sc[g * lanes + lane])
                await ctx.tick()
                if ctx.get(dut.out.valid):
                    outs.append(ctx.get(dut.out.payload))
            ctx.set(dut.inp.valid, 0)
            # the segment leaves two cycles after the last group: keep shift/lo/hi until then
            for _ in range(2):
                await ctx.tick()
                if ctx.get(dut.out.valid):
                    outs.append(ctx.get(dut.out.payload))

    _run(dut, body)
    assert len(outs) == len(pixels)
    for k, (o, (shift, lo, hi, n, vals, sc, ref)) in enumerate(zip(outs, pixels)):
        assert o.addr == 100 * k and o.n == n
        data = np.frombuffer(o.data.to_bytes(CB, "little") if isinstance(o.data, int)
                             else int(o.data).to_bytes(CB, "little"), np.int8)
        assert (data == ref).all(), (k, data, ref)


# -- the whole engine -------------------------------------------------------------------------------

CFG = ClusterConfig().replace(ima={"data_ports": 3})


def _reg(name, **fields):
    return DW_REGS[name].pack(**fields)


@pytest.mark.parametrize("case", ["dw_s1", "dw_s2_two_blocks", "add", "clear"])
def test_engine(case):
    """Jobs through the job interface against a TCDM that grants at random:
    bit-exact with the golden model (3 ports, unaligned tensors, two
    channel blocks); SOFT_CLEAR in the middle of a job leaves the engine idle
    and the next job right."""
    t = CFG.tcdm
    rng = np.random.default_rng(hash(case) % 1000)
    dut = Engine(CFG)
    tcdm = TcdmModel(dut.ports, 1 << 16, base=t.base, seed=3, p_grant=0.6)
    src, src2, wt, bias_a, scale_a, dst = (t.base + o for o in (0x103, 0x2001, 0x4002, 0x4100,
                                                               0x4200, 0x8005))
    jobs = []

    def dw_job(h, w, c, stride, pad):
        x = rng.integers(-128, 128, (h, w, c), dtype=np.int8)
        wts = rng.integers(-128, 128, (3, 3, c), dtype=np.int8)
        bias = rng.integers(-5000, 5000, c).astype(np.int32)
        scale = rng.integers(1, 4000, c).astype(np.uint32)
        tcdm.load(src, x.tobytes())
        tcdm.load(wt, wts.tobytes())
        tcdm.load(bias_a, bias.tobytes())
        tcdm.load(scale_a, scale.tobytes())
        pt, pb, pl, pr = pad
        ref = depthwise3x3(x, wts, bias, scale, 12, -100, 110, stride, pad)
        regs = dict(mode=_reg("MODE", OP=0, STRIDE=stride, PAD_T=pt, PAD_B=pb, PAD_L=pl,
                              PAD_R=pr),
                    size=_reg("SIZE", H=h, W=w), channels=c, src_addr=src, weight_addr=wt,
                    bias_addr=bias_a, scale_addr=scale_a, dst_addr=dst,
                    quant=_reg("QUANT", SHIFT=12, LO=-100, HI=110))
        return regs, ref

    def add_job(h, w, c):
        a = rng.integers(-128, 128, (h, w, c), dtype=np.int8)
        b = rng.integers(-128, 128, (h, w, c), dtype=np.int8)
        tcdm.load(src, a.tobytes())
        tcdm.load(src2, b.tobytes())
        ref = residual_add(a, b, 3000, -2000, 11, -128, 127)
        regs = dict(mode=_reg("MODE", OP=1), size=_reg("SIZE", H=h, W=w), channels=c,
                    src_addr=src, src2_addr=src2, dst_addr=dst, scale_a=3000,
                    scale_b=-2000 & 0xFFFFFFFF, quant=_reg("QUANT", SHIFT=11, LO=-128, HI=127))
        return regs, ref

    # each job loads its operands just before it runs (the jobs share the addresses)
    jobs = {"dw_s1": [lambda: dw_job(5, 7, 13, 1, (1, 1, 1, 1))],
            "dw_s2_two_blocks": [lambda: dw_job(7, 6, 21, 2, (1, 0, 0, 1))],
            "add": [lambda: add_job(3, 5, 7)],
            "clear": [lambda: dw_job(6, 6, 16, 1, (1, 1, 1, 1)),
                      lambda: dw_job(4, 5, 9, 1, (0, 1, 1, 0))]}[case]

    async def body(ctx):
        for k, make in enumerate(jobs):
            regs, ref = make()
            abort_at = 150 if case == "clear" and k == 0 else None
            for name, v in regs.items():
                ctx.set(getattr(dut.job, name), v)
            tcdm.mem[dst - t.base:dst - t.base + ref.size + 64] = 0
            ctx.set(dut.job.start, 1)
            tcdm.step(ctx)
            await ctx.tick()
            ctx.set(dut.job.start, 0)
            for cycles in range(20_000):
                ctx.set(dut.job.clear, int(cycles == abort_at))
                tcdm.step(ctx)
                done, err = ctx.get(dut.job.done), ctx.get(dut.job.error)
                await ctx.tick()
                if done:
                    assert abort_at is None, "the job ended before SOFT_CLEAR"
                    break
                if cycles == abort_at:
                    ctx.set(dut.job.clear, 0)
                    while not ctx.get(dut.job.idle):
                        tcdm.step(ctx)
                        await ctx.tick()
                    break
            else:
                raise AssertionError("job did not end")
            if abort_at is None:
                assert done and err == 0
                got = np.frombuffer(tcdm.fetch(dst, ref.size), np.int8).reshape(ref.shape)
                assert (got == ref).all()
                assert not tcdm.fetch(dst + ref.size, 64).strip(b"\0"), "wrote past the output"
            assert ctx.get(dut.job.idle)
            for _ in range(3):                  # quiescent in IDLE: no request
                tcdm.step(ctx)
                await ctx.tick()
            assert tcdm.waiting == {} and tcdm.due == {}

    _run(dut, body)
