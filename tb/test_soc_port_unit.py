"""amaranth.sim unit tests of the SoC port's burst engine (the cocotbext-axi
tests in tb/test_soc_port.py cover INCR and FIXED on the whole cluster; WRAP
and illegal bursts are driven here beat by beat).  The lanes see a TCDM model
that grants at random and answers one cycle after each grant."""

import random

import pytest
from amaranth.sim import Simulator

from imcc.gen.config import ClusterConfig
from imcc.rtl.registry import build_block
from imcc.rtl.soc import AxiBurst, AxiResp

CFG = ClusterConfig()
BUS = CFG.soc.data_width // 8


class Harness:
    def __init__(self, seed=0, p_grant=0.6):
        self.dut = build_block(CFG, "soc")
        self.rng = random.Random(seed)
        self.p_grant = p_grant
        self.mem = {}                 # byte address -> value
        self.due = {}                 # lane -> (rdata, r_err) answered in the next cycle

    def expected_addrs(self, addr, size, burst, length):
        """AXI4 beat addresses (A3.4.1)."""
        step = 1 << size
        out, a = [], addr
        for _ in range(length + 1):
            out.append(a)
            aligned = a & ~(step - 1)
            if burst == AxiBurst.FIXED:
                continue
            if burst == AxiBurst.WRAP:
                span = (length + 1) * step
                a = (a // span) * span + ((aligned + step) % span)
            else:
                a = aligned + step
        return out

    async def cycle(self, ctx, axi_drive):
        """One clock: drive the AXI inputs, let the lanes be granted, return the
        AXI outputs seen before the edge."""
        d = self.dut
        for k, v in axi_drive.items():
            ctx.set(getattr(d.axi, k), v)
        for i, lane in enumerate(d.lanes):        # answers to last cycle's grants
            rdata, err = self.due.get(i, (0, 0))
            ctx.set(lane.r_valid, int(i in self.due))
            ctx.set(lane.rdata, rdata)
            ctx.set(lane.r_err, err)
        due = {}
        for i, lane in enumerate(d.lanes):
            g = int(ctx.get(lane.req) and self.rng.random() < self.p_grant)
            ctx.set(lane.gnt, g)
            if g:
                addr, we, be = ctx.get(lane.addr), ctx.get(lane.we), ctx.get(lane.be)
                mapped = CFG.tcdm.base <= addr < CFG.tcdm.base + CFG.tcdm.size_bytes
                if we and mapped:
                    wdata = ctx.get(lane.wdata)
                    for b in range(4):
                        if be >> b & 1:
                            self.mem[addr + b] = wdata >> (8 * b) & 0xFF
                rdata = sum(self.mem.get(addr + b, 0) << (8 * b) for b in range(4)) if mapped else 0
                due[i] = (0 if we else rdata, int(not mapped))
        out = {k: ctx.get(getattr(d.axi, k)) for k in
               ("awready", "wready", "bvalid", "bresp", "arready", "rvalid", "rdata", "rresp", "rlast")}
        await ctx.tick()
        self.due = due
        return out

    async def write(self, ctx, addr, size, burst, length, beats):
        """beats: [(data, strb)]; returns BRESP."""
        aw = dict(awvalid=1, awaddr=addr, awsize=size, awburst=burst, awlen=length, awid=3)
        while not (await self.cycle(ctx, aw))["awready"]:
            pass
        idle = dict(awvalid=0)
        for k, (data, strb) in enumerate(beats):
            w = dict(idle, wvalid=1, wdata=data, wstrb=strb, wlast=int(k == len(beats) - 1))
            while not (await self.cycle(ctx, w))["wready"]:
                pass
        for _ in range(100):
            o = await self.cycle(ctx, dict(wvalid=0, bready=1))
            if o["bvalid"]:
                return o["bresp"]
        raise AssertionError("no write response")

    async def read(self, ctx, addr, size, burst, length):
        ar = dict(arvalid=1, araddr=addr, arsize=size, arburst=burst, arlen=length, arid=1, rready=1)
        beats = []
        while True:
            o = await self.cycle(ctx, ar)
            if o["rvalid"]:
                beats.append((o["rdata"], o["rresp"], o["rlast"]))
            if o["arready"]:
                break
        ar = dict(arvalid=0, rready=1)
        for _ in range(100 + 4 * length):
            if len(beats) == length + 1:
                break
            o = await self.cycle(ctx, ar)
            if o["rvalid"]:
                beats.append((o["rdata"], o["rresp"], o["rlast"]))
        assert len(beats) == length + 1, f"{len(beats)} of {length + 1} read beats"
        assert [b[2] for b in beats] == [0] * length + [1]
        return beats


def _run(h, bench):
    sim = Simulator(h.dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("length", [1, 3, 7, 15])
def test_wrap_bursts(length):
    h = Harness(seed=length)
    size = 3                                    # full 64-bit beats
    span = (length + 1) * BUS
    start = CFG.tcdm.base + 0x100 * span + BUS * (length // 2 + 1)   # unaligned to the wrap
    addrs = h.expected_addrs(start, size, AxiBurst.WRAP, length)
    assert min(addrs) // span == max(addrs) // span and len(set(addrs)) == length + 1
    data = [h.rng.getrandbits(64) for _ in addrs]

    async def bench(ctx):
        resp = await h.write(ctx, start, size, AxiBurst.WRAP, length, [(d, 0xFF) for d in data])
        assert resp == AxiResp.OKAY
        for a, d in zip(addrs, data):
            got = sum(h.mem[a + b] << (8 * b) for b in range(BUS))
            assert got == d, f"beat at {a:#x}"
        beats = await h.read(ctx, start, size, AxiBurst.WRAP, length)
        assert [b[0] for b in beats] == data and all(b[1] == AxiResp.OKAY for b in beats)

    _run(h, bench)


def test_narrow_incr_and_fixed_beats():
    h = Harness(seed=9)

    async def bench(ctx):
        base = CFG.tcdm.base + 0x2000
        # 8 narrow (2-byte) beats from an address in the upper half of a bus word
        addrs = h.expected_addrs(base + 6, 1, AxiBurst.INCR, 7)
        beats = []
        for a in addrs:
            lane = a % BUS
            beats.append(((0xA0 + a % 256) << (8 * lane) | (0xB0 + a % 256) << (8 * lane + 8), 0b11 << lane))
        assert await h.write(ctx, base + 6, 1, AxiBurst.INCR, 7, beats) == AxiResp.OKAY
        for a in addrs:
            assert h.mem[a] == 0xA0 + a % 256 and h.mem[a + 1] == 0xB0 + a % 256
        assert base + 4 not in h.mem, "a strobe-less byte was written"
        # FIXED: four reads of one 32-bit word only touch its lane
        rd = await h.read(ctx, base + 8, 2, AxiBurst.FIXED, 3)
        word = sum(h.mem.get(base + 8 + b, 0) << (8 * b) for b in range(4))
        assert all((b[0] & 0xFFFF_FFFF) == word and b[1] == AxiResp.OKAY for b in rd)

    _run(h, bench)


@pytest.mark.parametrize("kind", ["wrap_len_3", "size_too_wide", "unmapped"])
def test_error_bursts_consume_every_beat(kind):
    h = Harness(seed=2)
    base = CFG.tcdm.base + 0x3000
    if kind == "wrap_len_3":
        args, want = (base, 3, AxiBurst.WRAP, 2), AxiResp.SLVERR
    elif kind == "size_too_wide":
        args, want = (base, 4, AxiBurst.INCR, 1), AxiResp.SLVERR
    else:
        args, want = (0x0000_1000, 3, AxiBurst.INCR, 2), AxiResp.DECERR
    n = args[3] + 1

    async def bench(ctx):
        resp = await h.write(ctx, *args, [(0x1122334455667788, 0xFF)] * n)
        assert resp == want
        if kind != "unmapped":
            assert not h.mem, "an illegal burst wrote memory"
        beats = await h.read(ctx, *args)
        assert all(b[1] == want for b in beats)
        # and the port still works
        assert await h.write(ctx, base, 3, AxiBurst.INCR, 0, [(42, 0xFF)]) == AxiResp.OKAY
        assert (await h.read(ctx, base, 3, AxiBurst.INCR, 0))[0][:2] == (42, AxiResp.OKAY)

    _run(h, bench)
