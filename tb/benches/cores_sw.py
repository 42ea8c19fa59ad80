"""Programs on the cluster's cores (design: Cluster with protocol checkers,
tb/test_cores.py).  The testbench only does what a host would: load the ELF
and the inputs through the SoC port, start the cores through the event unit's
FETCH_EN / BOOT_ADDR<i>, print the cores' console (PUTC) and wait for the
end-of-test register (EOC); a few tests also raise events or watch the cores'
sleep lines.  When the cluster has an IMA, the behavioural crossbar
(tb/bus/crossbar_macro.py, ideal or with the configuration's non-idealities)
answers its macro port, so that programs can drive the IMA.

Environment: IMCC_CONFIG, IMCC_ELF, IMCC_CORES (mask of cores to start,
default all), IMCC_MAX_CYCLES, IMCC_INPUTS (npz: symbol -> bytes to write
before the start), IMCC_OUTPUTS (json {symbol: nbytes} to read back after
EOC, through the TCDM backdoor), IMCC_RESULT (json written: exit code, cycles,
console, outputs as hex), IMCC_L1_OUTPUTS (json {name: [address, bytes]} read from
the TCDM after EOC, as ``l1:<name>``), IMCC_WEIGHT_IMAGE (an .npz weight image the
crossbar models start from: sim/weight_image.py), IMCC_MARKS (a symbol
counting the program's progress marks: a ``[progress]`` line now and then
with the count, of IMCC_MARKS_TOTAL, and the simulation speed).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiResp

from imcc.gen.config import ClusterConfig
from imcc.gen.regmap import register_maps
from imcc.tb.benches.soc_axi import setup
from imcc.tb.bus.crossbar_macro import attach_crossbars
from imcc.tb.bus.elf import Elf
from imcc.tb.bus.tcdm_backdoor import L2Backdoor, TcdmBackdoor
from imcc.tb.counters import counter_keys, delta, monitor_grants, read_vpi
from imcc.sim.weight_image import WeightImage
from imcc.tb.env import config, write_result





class Host:
    """The SoC side of a program run."""

    def __init__(self, dut, cfg: ClusterConfig, axi):
        self.dut, self.cfg, self.axi = dut, cfg, axi
        rm, self.eu_base = next((rm, b) for rm, b in register_maps(cfg) if rm.name == "eu")
        self.eu = rm.namespace(self.eu_base)
        self.lines: dict[int, str] = {}
        self.console: list[tuple[int, str]] = []
        cocotb.start_soon(self._console())

    async def _console(self):
        while True:
            await self.dut.cores_putc.value_change
            v = int(self.dut.cores_putc_data.value)
            core, ch = v >> 8, chr(v & 0xFF)
            if ch == "\n":
                line = self.lines.pop(core, "")
                self.console.append((core, line))
                self.dut._log.info("[core %d] %s", core, line)
            else:
                self.lines[core] = self.lines.get(core, "") + ch

    async def write(self, addr: int, data: bytes, size: int | None = None):
        resp = await self.axi.write(addr, bytes(data), size=size)
        assert resp.resp == AxiResp.OKAY, f"write {addr:#x}+{len(data)}: {resp.resp}"

    async def read(self, addr: int, n: int, size: int | None = None) -> bytes:
        resp = await self.axi.read(addr, n, size=size)
        assert resp.resp == AxiResp.OKAY, f"read {addr:#x}+{n}: {resp.resp}"
        return bytes(resp.data)

    async def reg(self, name: str, value: int | None = None) -> int:
        addr = self.eu_base + getattr(self.eu, name)
        if value is None:        # one 32-bit beat: a wider one would touch the next register
            return int.from_bytes(await self.read(addr, 4, size=2), "little")
        await self.write(addr, value.to_bytes(4, "little"), size=2)
        return value

    async def load(self, elf: Elf):
        for seg in elf.segments:
            if seg.data:
                await self.write(seg.addr, seg.data)

    async def start(self, elf: Elf, mask: int):
        for i in range(self.cfg.cores.count):
            if mask >> i & 1:
                await self.reg(f"BOOT_ADDR{i}", elf.entry)
        await self.reg("FETCH_EN", mask)

    async def wait_eoc(self, max_cycles: int) -> int:
        if not int(self.dut.cores_eoc.value):
            # a Timer, not ClockCycles: Python must not wake every cycle
            timeout = Timer(max_cycles * self.cfg.clock.period_ns, unit="ns")
            done = await First(RisingEdge(self.dut.cores_eoc), timeout)
            assert done is not timeout, (f"no end of test within {max_cycles} cycles; "
                                         f"console: {self.console} {self.lines}")
        await ReadOnly()
        return int(self.dut.cores_eoc_code.value)


async def _progress(dut, cfg, backdoor, addr: int, total: str, every: int = 250_000):
    """A ``[progress]`` line every ``every`` cycles (a Timer: Python sleeps in between)."""
    root = dut.cluster if hasattr(dut, "cluster") else dut
    c0, w0 = _cycle(root), time.monotonic()
    while True:
        await Timer(every * cfg.clock.period_ns, unit="ns")
        n = int.from_bytes(backdoor.read(addr, 4), "little")
        c, w = _cycle(root) - c0, time.monotonic() - w0
        dut._log.info("[progress] layer %d of %s done; %d cycles simulated, %.0f cycles/s",
                      n, total, c, c / max(w, 1e-9))


async def _trace(pin, root, log: list):
    while True:
        await RisingEdge(pin)
        log.append(_cycle(root))


def _start_taps(dut, backdoor, taps: list, got: dict):
    """The check's taps (gen/compiler/program.Tap): each tap's L1 bytes read the
    cycle after the last job writing them ends (the done event of each unit it
    waits for, counted), before any job may overwrite them (a later writer of the
    rows waits for their readers, which start after that end).  ``got``: tap
    index -> bytes.  Wakes on the units' done events only."""
    waiting: dict[tuple[str, int], list[int]] = {}
    unmet = [len(t["waits"]) for t in taps]
    for i, t in enumerate(taps):
        for u, n in t["waits"].items():
            waiting.setdefault((u, n), []).append(i)

    async def unit(u, pin):
        n = 0
        while True:
            await RisingEdge(pin)
            n += 1
            ready = []
            for i in waiting.pop((u, n), ()):
                unmet[i] -= 1
                if not unmet[i]:
                    ready.append(i)
            if ready:
                await RisingEdge(dut.clk)       # (the job's last write is in its bank)
                for i in ready:
                    got[i] = backdoor.read(taps[i]["l1"], taps[i]["n"])

    for u in sorted({u for t in taps for u in t["waits"]}):
        cocotb.start_soon(unit(u, getattr(dut, f"{u}_evt_done")))


async def _stamps(root, cfg, log: list):
    """A snapshot of the activity counters (by VPI) at each CYCLE_LO read, with
    the cycle counter's low word as that read returned it (``stamp``)."""
    while True:
        await root.ctrl.cnt_stamp.value_change
        snap = read_vpi(root, cfg)
        snap["stamp"] = (_cycle(root) - 1) & 0xFFFF_FFFF
        log.append(snap)


async def _clock_en_low(sig, n: int, period_ps: int, low: list, since: list):
    """Per core, the cycles in which the event unit held its clock enable low
    after it had been high (so a core not started yet adds nothing): the
    testbench's own count of sleep cycles, from the enable's value changes.
    ``since[i]``: when core i's current low interval began (None: high)."""
    seen_high = [False] * n
    value = int(sig.value)
    now = get_sim_time("ps")
    for i in range(n):
        seen_high[i] = bool(value >> i & 1)
    while True:
        await sig.value_change
        now, new = get_sim_time("ps"), int(sig.value)
        for i in range(n):
            old_b, new_b = value >> i & 1, new >> i & 1
            if old_b and not new_b and seen_high[i]:
                since[i] = now
            elif new_b and not old_b:
                if since[i] is not None:
                    low[i] += int((now - since[i]) // period_ps)
                    since[i] = None
                seen_high[i] = True
        value = new


def _cycle(dut) -> int:
    return int(dut.ctrl.cycles.value)


async def run_program(dut, cfg=None, elf_path=None, mask=None, during=None):
    """Load, start, wait for EOC; ``during(host)`` runs concurrently (events)."""
    cfg = cfg or config()
    root = dut.cluster if hasattr(dut, "cluster") else dut    # tb/tops/cluster_l2 wraps it
    axi = await setup(dut, cfg)
    if hasattr(dut, "l2_err_lo"):
        dut.l2_err_lo.value = dut.l2_err_hi.value = 0
    xbars = attach_crossbars(dut, cfg)      # the analog macros live outside the Verilog
    if os.environ.get("IMCC_WEIGHT_IMAGE"):
        WeightImage.load(os.environ["IMCC_WEIGHT_IMAGE"]).load_into(xbars)
    host = Host(dut, cfg, axi)
    elf = Elf(elf_path or os.environ["IMCC_ELF"])
    mask = mask if mask is not None else int(os.environ.get("IMCC_CORES", "0"), 0) or \
        (1 << cfg.cores.count) - 1
    await host.load(elf)
    inputs = os.environ.get("IMCC_INPUTS")
    if inputs:
        with np.load(inputs) as z:
            for name in z.files:
                await host.write(elf.symbol(name), z[name].tobytes())
    l2 = L2Backdoor(dut.l2, cfg) if hasattr(dut, "l2") else None
    if os.environ.get("IMCC_L2_INPUTS"):
        with np.load(os.environ["IMCC_L2_INPUTS"]) as z:
            for addr in z.files:
                l2.write(int(addr, 16), z[addr].tobytes())
    c0, w0 = _cycle(root), time.monotonic()
    counted = bool(counter_keys(cfg))
    a0 = read_vpi(root, cfg) if counted else {}
    monitored = hasattr(root, "chk_soc0") and hasattr(root.chk_soc0, "tcdm_grants")
    g0 = monitor_grants(root, cfg) if monitored else {}
    stamps: list = []
    if counted and os.environ.get("IMCC_ACTIVITY_STAMPS"):     # run_network's layer activity
        cocotb.start_soon(_stamps(root, cfg, stamps))
    clock_en_low, low_since = [0] * cfg.cores.count, [None] * cfg.cores.count
    period_ps = round(cfg.clock.period_ns * 1000)
    if os.environ.get("IMCC_WATCH_CLOCK_EN"):                   # tb/test_counters.py
        cocotb.start_soon(_clock_en_low(root.cores.eu.clock_en, cfg.cores.count, period_ps,
                                        clock_en_low, low_since))
    await host.start(elf, mask)
    if during is not None:
        cocotb.start_soon(during(host))
    trace = {}
    if os.environ.get("IMCC_TRACE_EVENTS"):     # end-of-job cycles per unit, for schedule studies
        from imcc.rtl.registry import compose
        for inst in compose(cfg).instances:
            pin = getattr(dut, f"{inst.name}_evt_done", None)
            if pin is not None:
                trace[inst.name] = []
                cocotb.start_soon(_trace(pin, root, trace[inst.name]))
    taps, tapped = [], {}
    if os.environ.get("IMCC_TAPS"):             # run_network's check of L1 bands
        taps = json.loads(Path(os.environ["IMCC_TAPS"]).read_text())
        _start_taps(dut, TcdmBackdoor(root, cfg), taps, tapped)
    if os.environ.get("IMCC_MARKS"):
        cocotb.start_soon(_progress(dut, cfg, TcdmBackdoor(root, cfg),
                                    elf.symbol(os.environ["IMCC_MARKS"]),
                                    os.environ.get("IMCC_MARKS_TOTAL", "?")))
    code = await host.wait_eoc(int(os.environ.get("IMCC_MAX_CYCLES", "2000000")))
    cycles, wall = _cycle(root) - c0, time.monotonic() - w0
    dut._log.info("exit code %d after %d cycles (%.1f s wall, %.0f cycles/s)", code, cycles,
                  wall, cycles / max(wall, 1e-9))
    out = {"exit": code, "cycles": cycles, "wall_s": wall, "console": host.console,
           "outputs": {}, "trace": trace,
           # a pool's arrays: cycles MVMs waited for an array another IMA was using
           "pool_wait_cycles": sum(getattr(x, "pool_wait_cycles", 0)
                                   for x in {id(x): x for x in xbars.values()}.values()),
           # activity counters from the start of the cores to EOC, and their values at
           # each CYCLE_LO read of the program (tb/counters.py; empty when off)
           "activity": delta(read_vpi(root, cfg), a0, cfg) if counted else {},
           "clock_en_low_cycles": [
               c + (0 if s is None else int((get_sim_time("ps") - s) // period_ps))
               for c, s in zip(clock_en_low, low_since)],
           "activity_stamps": stamps,
           # the protocol checkers' count of TCDM grants per class over the same window
           "monitor_tcdm": ({k: v - g0[k] for k, v in monitor_grants(root, cfg).items()}
                            if monitored else {})}
    # Results are read through the TCDM backdoor (zero simulated time): large
    # outputs would otherwise cost more simulation than the program itself.
    backdoor = TcdmBackdoor(root, cfg)
    for name, n in json.loads(os.environ.get("IMCC_OUTPUTS", "{}")).items():
        out["outputs"][name] = backdoor.read(elf.symbol(name), n).hex()
    for name, (addr, n) in json.loads(os.environ.get("IMCC_L1_OUTPUTS", "{}")).items():
        out["outputs"][f"l1:{name}"] = backdoor.read(addr, n).hex()
    for name, (addr, n) in json.loads(os.environ.get("IMCC_L2_OUTPUTS", "{}")).items():
        out["outputs"][name] = l2.read(addr, n).hex()
    if taps:        # every tap read (a missing one: its jobs never ended)
        out["taps"] = [tapped[i].hex() if i in tapped else None
                       for i in range(len(taps))]
    write_result(out)
    return host, out


@cocotb.test()
async def program(dut):
    """Run IMCC_ELF to its end; the exit code must be 0."""
    _, out = await run_program(dut)
    assert out["exit"] == 0, f"exit code {out['exit']}; console {out['console']}"


@cocotb.test()
async def program_any_exit(dut):
    """Run IMCC_ELF to its end; the caller checks the exit code (error paths)."""
    await run_program(dut)


@cocotb.test()
async def event_wakes_sleeping_cores(dut):
    """sw/apps/events.c: the cores sleep in cv.elw (clock-gated: the sleep lines
    rise and stay up), an event written by the host wakes exactly them."""
    cfg = config()
    n = cfg.cores.count
    others = ((1 << n) - 1) & ~1

    async def host_event(host):
        # phase 1: every core waits for software event 2 from the host
        while int(dut.cores_sleeping.value) != (1 << n) - 1:
            await dut.cores_sleeping.value_change
        await ClockCycles(dut.clk, 500)
        assert int(dut.cores_sleeping.value) == (1 << n) - 1, "a core woke without an event"
        assert await host.reg("SLEEPING") == (1 << n) - 1
        await host.reg("SW_EVENT", ((1 << n) - 1) << host.eu.SW_EVENT_CORES[0]
                       | 2 << host.eu.SW_EVENT_EVENT[0])
        # phase 2: cores 1.. sleep until core 0's software event 1
        while int(dut.cores_sleeping.value) & others != others:
            await dut.cores_sleeping.value_change

    _, out = await run_program(dut, during=host_event)
    assert out["exit"] == 0, f"exit code {out['exit']}; console {out['console']}"
