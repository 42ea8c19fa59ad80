"""amaranth.sim unit tests of the round-robin arbiter and of one TCDM bank."""

import random

import pytest
from amaranth.sim import Simulator

from imcc.rtl.interconnect import RoundRobinArbiter
from imcc.rtl.tcdm import TcdmBank


def _sim(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("n", [1, 2, 5, 14])
def test_arbiter_grants_one_requester_fairly(n):
    dut = RoundRobinArbiter(n)
    rng = random.Random(n)
    waits = {}

    async def bench(ctx):
        model_last = -1
        pending = [0] * n            # cycles each requester has waited
        for cycle in range(400):
            req = rng.getrandbits(n) if cycle % 3 else (1 << n) - 1
            ctx.set(dut.requests, req)
            g = ctx.get(dut.grant)
            if req == 0:
                assert g == 0
            else:
                # one-hot, among the requesters, and the first one after the last grant
                assert g & (g - 1) == 0 and g & req
                order = [(model_last + 1 + k) % n for k in range(n)]
                expected = next(i for i in order if req >> i & 1)
                assert g == 1 << expected, f"cycle {cycle}: req {req:b} grant {g:b}"
                model_last = expected
            for i in range(n):
                if req >> i & 1 and not g >> i & 1:
                    pending[i] += 1
                    waits[i] = max(waits.get(i, 0), pending[i])
                else:
                    pending[i] = 0
            await ctx.tick()

    _sim(dut, bench)


def test_arbiter_wait_bound_under_full_load():
    n = 8
    dut = RoundRobinArbiter(n)

    async def bench(ctx):
        waited = [0] * n
        ctx.set(dut.requests, (1 << n) - 1)
        for _ in range(10 * n):
            g = ctx.get(dut.grant)
            for i in range(n):
                waited[i] = 0 if g >> i & 1 else waited[i] + 1
                assert waited[i] <= n - 1
            await ctx.tick()

    _sim(dut, bench)


def test_bank_byte_enables_and_read_latency():
    words = 64
    dut = TcdmBank(words, macro=False)
    rng = random.Random(3)
    model = [None] * words

    async def bench(ctx):
        p = dut.port
        for _ in range(500):
            addr = rng.randrange(words)
            we = rng.random() < 0.5 or model[addr] is None
            be = rng.randrange(1, 16) if model[addr] is not None else 0xF
            data = rng.getrandbits(32)
            ctx.set(p.req, 1)
            ctx.set(p.addr, addr)
            ctx.set(p.we, we)
            ctx.set(p.be, be)
            ctx.set(p.wdata, data)
            await ctx.tick()
            if we:
                old = model[addr] or 0
                mask = sum(0xFF << (8 * b) for b in range(4) if be >> b & 1)
                model[addr] = (old & ~mask) | (data & mask)
            else:
                ctx.set(p.req, 0)
                assert ctx.get(p.rdata) == model[addr]   # one cycle after the request
                assert ctx.get(p.r_err) == 0
        ctx.set(p.req, 0)

    _sim(dut, bench)
