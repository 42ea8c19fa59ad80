"""A TCDM for amaranth.sim unit tests: a byte array behind any number of
master ports (``TcdmSignature``) that grants each request with probability
``p_grant`` (the random stalls of bank conflicts) and answers one cycle after
every grant, as docs/protocols.md requires.  It also checks rule 1 (a
request and its payload stay until granted)."""

from __future__ import annotations

import random

import numpy as np

__all__ = ["TcdmModel"]


class TcdmModel:
    """``ports``: the DUT's master ports; ``base``: byte address of ``mem[0]``.
    Call :meth:`step` once per cycle, before ``await ctx.tick()``, after the
    DUT's other inputs of the cycle are set."""

    def __init__(self, ports, size: int, base: int = 0, seed: int = 0, p_grant: float = 0.6):
        self.ports = list(ports)
        self.mem = np.zeros(size, np.uint8)
        self.base = base
        self.rng = random.Random(seed)
        self.p_grant = p_grant
        self.due: dict[int, int] = {}          # port -> rdata answered next cycle
        self.waiting: dict[int, tuple] = {}    # port -> payload of a request not yet granted
        self.grants = 0
        self.writes = 0
        self.granted = [[] for _ in self.ports]   # per port: (addr, we, rdata) in grant order

    def word(self, addr: int) -> int:
        o = addr - self.base
        return int.from_bytes(self.mem[o:o + 4].tobytes(), "little")

    def load(self, addr: int, data: bytes):
        o = addr - self.base
        self.mem[o:o + len(data)] = np.frombuffer(data, np.uint8)

    def fetch(self, addr: int, n: int) -> bytes:
        o = addr - self.base
        return self.mem[o:o + n].tobytes()

    def step(self, ctx):
        for i, p in enumerate(self.ports):
            ctx.set(p.r_valid, int(i in self.due))
            ctx.set(p.rdata, self.due.get(i, 0))
            ctx.set(p.r_err, 0)
        due = {}
        for i, p in enumerate(self.ports):
            if not ctx.get(p.req):
                assert i not in self.waiting, f"port {i} withdrew a request"
                ctx.set(p.gnt, 0)
                continue
            addr, we, be, wdata = ctx.get(p.addr), ctx.get(p.we), ctx.get(p.be), ctx.get(p.wdata)
            payload = (addr, we, be, wdata if we else None)
            if i in self.waiting:
                assert self.waiting[i] == payload, f"port {i} changed a waiting request"
            g = self.rng.random() < self.p_grant
            ctx.set(p.gnt, int(g))
            if not g:
                self.waiting[i] = payload
                continue
            self.waiting.pop(i, None)
            assert addr % 4 == 0 and 0 <= addr - self.base <= len(self.mem) - 4, hex(addr)
            self.grants += 1
            due[i] = 0 if we else self.word(addr)
            self.granted[i].append((addr, we, due[i]))
            if we:
                self.writes += 1
                o = addr - self.base
                for b in range(4):
                    if be >> b & 1:
                        self.mem[o + b] = wdata >> (8 * b) & 0xFF
        self.due = due
