"""amaranth.sim unit tests of the data-mover library (rtl/stream): strided
address sequences against a Python model of the pattern, the TCDM request
ports and the segment port under random grant stalls, every stream with
random valid/ready stalls, checked against docs/protocols.md."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.lib import data
from amaranth.sim import Simulator

from imcc.rtl.stream import (POS_BITS, SegmentPort, StridedAddressGenerator, TcdmPortGroup,
                             TcdmRequestPort)
from imcc.tb.tcdm_sim import TcdmModel

M32 = (1 << 32) - 1


def _run(dut, body):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(body)
    sim.run()


# -- strided address generation ---------------------------------------------------------------------

def pattern_groups(p: dict, lanes: int) -> list[tuple]:
    """The model: (words, masks, positions, vec_end) of every group of pattern ``p``."""
    out = []
    for j1 in range(p["outer"]):
        for j0 in range(p["inner"]):
            vpos = 0
            segs = [(i2, i1) for i2 in range(p["c2"]) for i1 in range(p["c1"])]
            for k, (i2, i1) in enumerate(segs):
                a = (p["base"] + j0 * p["step0"] + j1 * p["step1"] + i2 * p["stride2"]
                     + i1 * p["stride1"]) & M32
                first, last = a >> 2, (a + p["length"] - 1 & M32) >> 2
                words = list(range(first, last + 1)) if last >= first else []
                for g in range(0, len(words), lanes):
                    ws = words[g:g + lanes]
                    masks = []
                    for w in ws:
                        m = 0
                        for b in range(4):
                            if 0 <= ((w << 2) + b - a) < p["length"]:
                                m |= 1 << b
                        masks.append(m)
                    pos = [vpos + (w << 2) - a for w in ws]
                    end = k == len(segs) - 1 and g + lanes >= len(words)
                    out.append((ws, masks, pos, end))
                vpos += p["length"]
    return out


def _random_pattern(rng: random.Random):
    length = rng.randint(1, 23)
    c1, c2 = rng.randint(1, 3), rng.randint(1, 3)
    s = lambda: rng.choice([-1, 1]) * rng.randint(length, 200)   # noqa: E731 (segments apart)
    return dict(base=rng.randint(4096, 8192), length=length, c1=c1, c2=c2, stride1=s() & M32,
                stride2=s() & M32, step0=s() & M32, step1=s() & M32, inner=rng.randint(1, 3),
                outer=rng.randint(1, 3))


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_address_sequences(lanes):
    """Random three-level patterns (unaligned, negative strides, segments
    shorter and longer than a group), taken with random stalls: the groups
    are exactly the model's, back to back, and ``busy`` ends with the last."""
    rng = random.Random(lanes)
    patterns = [_random_pattern(rng) for _ in range(12)]
    dut = StridedAddressGenerator(lanes)
    stalls = [0]

    async def body(ctx):
        for p in patterns:
            expect = pattern_groups(p, lanes)
            for k, v in p.items():
                ctx.set(getattr(dut.pattern, k), v)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            got, offered = [], None
            while ctx.get(dut.busy):
                ready = rng.random() < 0.7
                ctx.set(dut.words.ready, int(ready))
                if ctx.get(dut.words.valid):
                    g = ctx.get(dut.words.payload)
                    n = sum(g.en >> i & 1 for i in range(lanes))
                    assert g.en == (1 << n) - 1, "lanes fill from lane 0"
                    item = ([g.word[i] for i in range(n)], [g.mask[i] for i in range(n)],
                            [g.pos[i] for i in range(n)], bool(g.vec_end))
                    if offered is not None:
                        assert item == offered, "a group changed before it was taken"
                    offered = None if ready else item
                    if ready:
                        got.append(item)
                    stalls[0] += not ready
                else:
                    assert offered is None, "a group was withdrawn"
                await ctx.tick()
            assert got == expect, p
        assert stalls[0] > 10

    _run(dut, body)


def test_stop_abandons_the_pattern():
    dut = StridedAddressGenerator(2)

    async def body(ctx):
        p = dict(base=4096, length=40, c1=2, c2=2, stride1=64, stride2=256, step0=1024,
                 step1=4096, inner=3, outer=2)
        for k, v in p.items():
            ctx.set(getattr(dut.pattern, k), v)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.words.ready, 1)
        for _ in range(5):
            await ctx.tick()
        ctx.set(dut.stop, 1)
        await ctx.tick()
        ctx.set(dut.stop, 0)
        assert not ctx.get(dut.busy) and not ctx.get(dut.words.valid)
        for _ in range(3):
            await ctx.tick()
            assert not ctx.get(dut.words.valid)

    _run(dut, body)


# -- TCDM request ports -------------------------------------------------------------------------------

TAG = data.StructLayout({"seq": 12, "pos": signed(POS_BITS)})


@pytest.mark.parametrize("ports", [1, 3, 4])
def test_port_group_under_grant_stalls(ports):
    """Groups of random reads and writes (random lane enables and byte masks)
    against a TCDM that grants at random: every write lands with its byte
    enables, every read answers its word with the request's tag and byte
    enables, in request order per port; rule 1 (hold until granted) is
    checked by the model; the group's ready never depends on its valid."""
    rng = random.Random(ports)
    dut = TcdmPortGroup(ports, TAG)
    tcdm = TcdmModel(dut.bus, 4096, seed=ports, p_grant=0.5)
    tcdm.mem[:] = np.random.default_rng(ports).integers(0, 256, 4096, dtype=np.uint8)
    ref = tcdm.mem.copy()
    pending = [[] for _ in range(ports)]    # per port: (tag, be, word, we) accepted
    counts = {"issued": 0, "answered": 0}

    async def body(ctx):
        seq = 0
        for cycle in range(600):
            offer = cycle < 500 and rng.random() < 0.8
            ctx.set(dut.req.valid, int(offer))
            lanes = []
            if offer:
                en = rng.randint(1, (1 << ports) - 1)
                ctx.set(dut.req.payload.en, en)
                for i in range(ports):
                    word = rng.randrange(1024 // ports) * ports + i     # port i's own words
                    we, be, wdata = rng.random() < 0.4, rng.randint(1, 15), rng.getrandbits(32)
                    lane = dut.req.payload.lane[i]
                    for k, v in dict(word=word, we=int(we), be=be, wdata=wdata).items():
                        ctx.set(getattr(lane, k), v)
                    ctx.set(lane.tag, {"seq": seq & 0xFFF, "pos": -3 + i})
                    lanes.append((en >> i & 1, word, we, be, wdata))
            ready_before = ctx.get(dut.req.ready)
            tcdm.step(ctx)
            assert ctx.get(dut.req.ready) == ready_before, "ready depends on valid"
            if offer and ready_before:
                for i, (on, word, we, be, wdata) in enumerate(lanes):
                    if on:
                        counts["issued"] += 1
                        pending[i].append(((seq & 0xFFF, -3 + i), be, word, we))
                        if we:
                            for b in range(4):
                                if be >> b & 1:
                                    ref[4 * word + b] = wdata >> (8 * b) & 0xFF
                seq += 1
            for i in range(ports):
                if ctx.get(dut.rsp[i].valid):
                    tag, be, word, we = pending[i].pop(0)
                    p = ctx.get(dut.rsp[i].payload)
                    addr, g_we, rdata = grants[i].pop(0)
                    assert (addr, g_we) == (4 * word, we), "requests left out of order"
                    assert ((p.tag.seq, p.tag.pos), p.be, p.err) == (tag, be, 0)
                    assert p.data == rdata
                    counts["answered"] += 1
            await ctx.tick()
        assert ctx.get(dut.idle)

    grants = tcdm.granted
    _run(dut, body)
    assert counts["issued"] > 200 and counts["answered"] == counts["issued"]
    assert (tcdm.mem == ref).all()


def test_request_port_holds_its_head_until_granted():
    """One port: two requests queue, a third waits (ready low); nothing
    granted, nothing answered; the head stays on the bus."""
    dut = TcdmRequestPort(8)

    async def body(ctx):
        ctx.set(dut.req.valid, 1)
        for k in range(3):
            ctx.set(dut.req.payload, {"word": 100 + k, "we": 0, "be": 0xF, "wdata": 0, "tag": k})
            assert ctx.get(dut.req.ready) == (k < 2)
            await ctx.tick()
        ctx.set(dut.req.valid, 0)
        assert ctx.get(dut.bus.req) and ctx.get(dut.bus.addr) == 400
        ctx.set(dut.bus.gnt, 1)
        await ctx.tick()
        ctx.set(dut.bus.gnt, 0)
        ctx.set(dut.bus.r_valid, 1)
        ctx.set(dut.bus.rdata, 0x1234)
        assert ctx.get(dut.rsp.valid) and ctx.get(dut.rsp.payload.tag) == 0
        assert ctx.get(dut.rsp.payload.data) == 0x1234 and ctx.get(dut.bus.addr) == 404
        await ctx.tick()
        ctx.set(dut.bus.r_valid, 0)
        assert not ctx.get(dut.rsp.valid) and not ctx.get(dut.idle)

    _run(dut, body)


# -- the segment port -------------------------------------------------------------------------------

CB = 16


@pytest.mark.parametrize("ports", [1, 3, 4, 8])
def test_segment_port(ports):
    """Random reads and writes of 0..16 bytes at any alignment, random grant
    stalls and random offers: reads come back in order, re-aligned and zero
    beyond their length; writes touch exactly their bytes."""
    prng = random.Random(ports)
    rng = np.random.default_rng(ports)
    dut = SegmentPort(ports, CB, 8)
    tcdm = TcdmModel(dut.bus, 4096, seed=ports)
    tcdm.mem[:] = rng.integers(0, 256, 4096, dtype=np.uint8)
    ref = tcdm.mem.copy()
    ops = []
    for k in range(120):
        n, addr = int(rng.integers(0, CB + 1)), int(rng.integers(0, 4096 - CB))
        if rng.random() < 0.4:
            ops.append(("w", addr, n, rng.integers(0, 256, CB, dtype=np.uint8).tobytes(), k))
        else:
            ops.append(("r", addr, n, None, k))
    expect, got = [], []

    async def body(ctx):
        pending = list(ops)
        cycles = 0
        while pending or len(got) < len(expect) or not ctx.get(dut.idle):
            kind = pending[0][0] if pending and prng.random() < 0.7 else None
            ctx.set(dut.rd.valid, int(kind == "r"))
            ctx.set(dut.wr.valid, int(kind == "w"))
            if kind:
                _, addr, n, data, k = pending[0]
                s = dut.rd.payload if kind == "r" else dut.wr.payload
                ctx.set(s.addr, addr)
                ctx.set(s.n, n)
                if kind == "r":
                    ctx.set(s.tag, k & 0xFF)
                else:
                    ctx.set(s.data, int.from_bytes(data, "little"))
            tcdm.step(ctx)
            if kind and ctx.get((dut.rd if kind == "r" else dut.wr).ready):
                _, addr, n, data, k = pending.pop(0)
                if kind == "r":
                    expect.append((k & 0xFF, ref[addr:addr + n].tobytes() + bytes(CB - n)))
                else:
                    ref[addr:addr + n] = np.frombuffer(data[:n], np.uint8)
            if ctx.get(dut.rsp.valid):
                got.append((ctx.get(dut.rsp.payload.tag),
                            ctx.get(dut.rsp.payload.data).to_bytes(CB, "little")))
            await ctx.tick()
            cycles += 1
            assert cycles < 10_000

    _run(dut, body)
    assert got == expect
    assert (tcdm.mem == ref).all()
