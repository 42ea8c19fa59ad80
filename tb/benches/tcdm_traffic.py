"""Random traffic from every master at once through the interconnect, checked
by a scoreboard against a Python memory model (design: tb/tops/packed_tcdm).

Environment (set by tb/test_interconnect.py): IMCC_CONFIG (configuration
JSON), IMCC_TRANSACTIONS, IMCC_PATTERN.
"""

from __future__ import annotations

import os
import random

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from imcc.gen.config import ClusterConfig
from imcc.tb.monitors.tcdm import Rule, watch
from imcc.tb.bus.clock import start_clock
from imcc.tb.bus.reset import release_reset
from imcc.rtl.registry import compose
from imcc.tb.env import config

MASK32 = (1 << 32) - 1



async def _reset(dut):
    start_clock(dut, 2)
    for k in ("m_req", "m_addr", "m_we", "m_be", "m_wdata"):
        getattr(dut, k).value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    await release_reset(dut)


class Memory:
    """Byte-addressed model.  A byte nobody wrote is unknown until its first
    read, which defines it (the SRAMs start with random contents)."""

    def __init__(self):
        self.bytes: dict[int, int] = {}

    def write(self, addr, be, data):
        for b in range(4):
            if be >> b & 1:
                self.bytes[addr + b] = data >> (8 * b) & 0xFF

    def check_read(self, addr, data) -> list[int]:
        bad = []
        for b in range(4):
            got = data >> (8 * b) & 0xFF
            exp = self.bytes.setdefault(addr + b, got)
            if exp != got:
                bad.append(b)
        return bad


class Traffic:
    """Drives all masters through the packed ports, one request in flight per
    master, and keeps the scoreboard."""

    def __init__(self, dut, cfg: ClusterConfig, rng: random.Random):
        self.dut, self.cfg, self.rng = dut, cfg, rng
        self.names = compose(cfg).masters
        self.n = len(self.names)
        self.mem = Memory()
        self.req = [None] * self.n        # (addr, we, be, wdata, issue_cycle)
        self.expect = [None] * self.n     # response due this cycle
        self.granted = self.responses = 0
        self.max_wait = [0] * self.n
        self.cycle = 0
        t = cfg.tcdm
        self.windows = [(w.base, w.size) for w in compose(cfg).address_map()[1:]]
        self.tcdm_words = t.size_bytes // 4

    # -- address patterns ---------------------------------------------------------------
    def pool(self, pattern: str) -> list[int]:
        rng, t = self.rng, self.cfg.tcdm
        if pattern == "hot":        # a few banks, many rows: heavy conflicts
            banks = rng.sample(range(t.banks), min(2, t.banks))
            return [t.base + 4 * (row * t.banks + b)
                    for b in banks for row in rng.sample(range(t.bank_words), min(64, t.bank_words))]
        words = rng.sample(range(self.tcdm_words), min(4096, self.tcdm_words))
        return [t.base + 4 * w for w in words]

    def random_request(self, pool):
        rng = self.rng
        r = rng.random()
        if r < 0.03:        # a peripheral window (scratch RAM in this top)
            base, size = rng.choice(self.windows)
            addr = base + 4 * rng.randrange(size // 4)
        elif r < 0.05:      # a hole: must come back as a bus error
            addr = self.unmapped()
        else:
            addr = rng.choice(pool)
        we = rng.random() < 0.5
        be = rng.randrange(1, 16) if we else 0xF
        return (addr, int(we), be, rng.getrandbits(32) if we else 0, self.cycle)

    def unmapped(self):
        t, ic = self.cfg.tcdm, self.cfg.interconnect
        end = ic.periph_base + len(self.windows) * ic.periph_window_kib * 1024
        return self.rng.choice([t.base + t.size_bytes + 4 * self.rng.randrange(16),
                                end + 4 * self.rng.randrange(16),
                                0x0000_0000 + 4 * self.rng.randrange(1024)])

    def is_mapped(self, addr):
        t = self.cfg.tcdm
        return (t.base <= addr < t.base + t.size_bytes
                or any(b <= addr < b + s for b, s in self.windows))

    # -- one cycle ------------------------------------------------------------------------
    def drive(self):
        req = addr = we = be = wdata = 0
        for i, r in enumerate(self.req):
            if r is None:
                continue
            req |= 1 << i
            addr |= r[0] << (32 * i)
            we |= r[1] << i
            be |= r[2] << (4 * i)
            wdata |= r[3] << (32 * i)
        d = self.dut
        d.m_req.value = req
        d.m_addr.value = addr
        d.m_we.value = we
        d.m_be.value = be
        d.m_wdata.value = wdata

    def sample(self):
        d = self.dut
        gnt = int(d.m_gnt.value)
        rvalid = int(d.m_r_valid.value)
        rerr = int(d.m_r_err.value)
        rdata = int(d.m_rdata.value) if rvalid else 0
        for i in range(self.n):
            exp = self.expect[i]
            if rvalid >> i & 1:
                assert exp is not None, f"{self.names[i]}: response without a request (cycle {self.cycle})"
                self.responses += 1
                addr, w, _, _, _ = exp
                mapped = self.is_mapped(addr)
                assert (rerr >> i & 1) == (not mapped), (
                    f"{self.names[i]}: r_err={rerr >> i & 1} for address {addr:#010x} "
                    f"({'mapped' if mapped else 'unmapped'})")
                if mapped and not w:
                    data = rdata >> (32 * i) & MASK32
                    bad = self.mem.check_read(addr, data)
                    assert not bad, (f"{self.names[i]}: read {addr:#010x} returned {data:#010x}, "
                                     f"bytes {bad} differ from the last write (cycle {self.cycle})")
            else:
                assert exp is None, f"{self.names[i]}: granted request at {exp[0]:#010x} got no response"
            self.expect[i] = None
        # Grants after all responses: a write granted now lands after this
        # cycle's reads, which were taken from the memory one cycle ago.
        for i in range(self.n):
            r = self.req[i]
            if r is not None and gnt >> i & 1:
                self.granted += 1
                self.max_wait[i] = max(self.max_wait[i], self.cycle - r[4])
                if r[1] and self.is_mapped(r[0]):
                    self.mem.write(r[0], r[2], r[3])
                self.expect[i] = r
                self.req[i] = None


async def run_traffic(dut, transactions: int, pattern: str, seed: int, p_req=None):
    cfg = config()
    rng = random.Random(seed)
    await _reset(dut)
    watch(dut, compose(cfg).masters)
    tr = Traffic(dut, cfg, rng)
    pools = {"spread": tr.pool("spread"), "hot": tr.pool("hot")}
    # Each master gets its own appetite, so idle cycles vary between masters.
    p_req = p_req or [rng.uniform(0.2, 1.0) for _ in range(tr.n)]
    phase = pattern
    while tr.granted < transactions:
        if pattern == "mixed" and tr.cycle % 500 == 0:
            phase = rng.choice(["spread", "hot"])
        for i in range(tr.n):
            if tr.req[i] is None and rng.random() < p_req[i]:
                tr.req[i] = tr.random_request(pools["hot" if phase == "hot" else "spread"])
        tr.drive()
        await ReadOnly()
        tr.sample()
        await RisingEdge(dut.clk)
        tr.cycle += 1
    dut.m_req.value = 0
    await ReadOnly()
    tr.sample()          # the last grants' responses
    await RisingEdge(dut.clk)
    assert tr.responses == tr.granted, f"{tr.granted} granted, {tr.responses} answered"
    dut._log.info("%d transactions in %d cycles (%.2f per cycle), max wait %d cycles",
                  tr.granted, tr.cycle, tr.granted / tr.cycle, max(tr.max_wait))
    return tr


@cocotb.test()
async def random_traffic(dut):
    """All masters at once: reads and byte-enable writes over all banks and on a
    few hot banks, random idle cycles, peripheral windows and holes."""
    n = int(os.environ.get("IMCC_TRANSACTIONS", "50000"))
    await run_traffic(dut, n, os.environ.get("IMCC_PATTERN", "mixed"),
                      int(os.environ.get("IMCC_SEED", "1")))


@cocotb.test()
async def fairness_one_bank(dut):
    """Every master hammers the same bank; none waits more than N-1 cycles."""
    cfg = config()
    await _reset(dut)
    watch(dut, compose(cfg).masters)
    rng = random.Random(7)
    tr = Traffic(dut, cfg, rng)
    t = cfg.tcdm
    pool = [t.base + 4 * (row * t.banks + 3 % t.banks) for row in range(min(64, t.bank_words))]
    for _ in range(200 * tr.n):
        for i in range(tr.n):
            if tr.req[i] is None:
                tr.req[i] = (rng.choice(pool), rng.getrandbits(1), 0xF, rng.getrandbits(32), tr.cycle)
        tr.drive()
        await ReadOnly()
        tr.sample()
        await RisingEdge(dut.clk)
        tr.cycle += 1
    worst = max(tr.max_wait)
    dut._log.info("one bank, %d masters: max wait %d cycles, %d grants in %d cycles",
                  tr.n, worst, tr.granted, tr.cycle)
    assert worst <= tr.n - 1, f"a master waited {worst} cycles (bound {tr.n - 1})"
    assert tr.granted >= tr.cycle - 1, "the bank idled while masters were waiting"


@cocotb.test()
async def monitor_catches_violation(dut):
    """The protocol checker itself: a master that drops its request before the
    grant must be reported with its name and the rule."""
    cfg = config()
    await _reset(dut)
    names = compose(cfg).masters
    t = cfg.tcdm
    addr = t.base + 4 * 5
    # master 0 and master 1 ask for the same bank; one of them waits ...
    dut.m_req.value = 0b11
    dut.m_addr.value = addr | (addr + 4 * t.banks) << 32
    dut.m_we.value = 0
    dut.m_be.value = 0xFF
    await ReadOnly()
    loser = 1 if int(dut.m_gnt.value) & 1 else 0
    await RisingEdge(dut.clk)
    dut.m_req.value = 0        # ... and illegally withdraws
    await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.chk_fail.value) == 1, "the checker missed a withdrawn request"
    assert int(dut.chk_who.value) == 1 << loser, f"reported {int(dut.chk_who.value):b}, expected {names[loser]}"
    assert Rule(int(dut.chk_kind.value)) == Rule.UNSTABLE
