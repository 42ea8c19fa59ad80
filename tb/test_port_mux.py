"""The port-sharing mux (rtl/hwpe/port_mux.py) under amaranth.sim: two clients
with random traffic and busy windows; the mux never breaks the TCDM hold
rule, hands the ports over only when the holder is quiet and not busy, and
routes every response to the client that was granted."""

import random

from amaranth.hdl import Module
from amaranth.sim import Simulator

from imcc.rtl.hwpe.port_mux import PortMux

PORTS = 2


def test_port_mux_handover():
    dut = PortMux(2, PORTS)
    rng = random.Random(3)
    log = {"grants": [0, 0], "resp": [0, 0], "switches": 0}

    async def bench(ctx):
        pending = [[None] * PORTS for _ in range(2)]      # request held by client i, port p
        expect = [[False] * PORTS for _ in range(2)]      # a response due this cycle
        busy = [0, 0]
        holder_prev = 0
        for cyc in range(3000):
            for i in range(2):
                if rng.random() < 0.02:
                    busy[i] ^= 1
                ctx.set(dut.busy[i], busy[i])
                for p in range(PORTS):
                    c = dut.clients[i][p]
                    if pending[i][p] is None and rng.random() < 0.3:
                        pending[i][p] = (rng.getrandbits(32), rng.getrandbits(1))
                    req = pending[i][p]
                    ctx.set(c.req, req is not None)
                    if req is not None:
                        ctx.set(c.addr, req[0])
                        ctx.set(c.we, req[1])
            holder = ctx.get(dut.holder)
            quiet = all(pending[holder][p] is None for p in range(PORTS)) and not busy[holder]
            if holder != holder_prev:
                log["switches"] += 1
                # handed over only after a cycle in which the old holder was quiet
                assert not any(expect[holder_prev]), "switched with a response in flight"
            for p in range(PORTS):
                o = dut.ports[p]
                # what the interconnect sees is the holder's request, unchanged
                hreq = pending[holder][p]
                assert ctx.get(o.req) == (hreq is not None)
                if hreq is not None:
                    assert ctx.get(o.addr) == hreq[0]
                gnt = hreq is not None and rng.random() < 0.7
                ctx.set(o.gnt, gnt)
                ctx.set(o.r_valid, any(expect[i][p] for i in range(2)))
                ctx.set(o.rdata, cyc)
            new_expect = [[False] * PORTS for _ in range(2)]
            for i in range(2):
                for p in range(PORTS):
                    c = dut.clients[i][p]
                    assert ctx.get(c.r_valid) == expect[i][p], "response routed wrongly"
                    if ctx.get(c.gnt):
                        assert i == holder and pending[i][p] is not None
                        log["grants"][i] += 1
                        pending[i][p] = None
                        new_expect[i][p] = True
                    if expect[i][p]:
                        log["resp"][i] += 1
            await ctx.tick()
            # the old holder switched only while quiet and not busy
            nh = ctx.get(dut.holder)
            if nh != holder:
                assert quiet, "handed over while the holder had a request or was busy"
            expect = new_expect
            holder_prev = holder
        assert min(log["grants"]) > 100 and log["switches"] > 10, log

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
