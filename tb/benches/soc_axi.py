"""The SoC port under cocotbext-axi, on the whole cluster (design: Cluster
with protocol checkers, tb/test_soc_port.py).  Environment: IMCC_CONFIG,
IMCC_SEED, IMCC_OPS (random operations), IMCC_RESULT (throughput run).
"""

from __future__ import annotations

import os
import random
import time

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiBurstType, AxiBus, AxiMaster, AxiResp

from imcc.gen.config import ClusterConfig
from imcc.gen.regmap import register_maps
from amaranth.lib.wiring import In
from imcc.tb.monitors.tcdm import watch
from imcc.tb.bus.clock import clock_mode, start_clock
from imcc.tb.bus.reset import release_reset
from imcc.tb.bus.tcdm_backdoor import TcdmBackdoor
from imcc.rtl.registry import compose
from imcc.tb.env import config, write_result



async def setup(dut, cfg: ClusterConfig, *, manager: bool = True) -> AxiMaster | None:
    """Clock, idle the ports no block drives yet, reset, attach the monitor;
    the cocotbext-axi manager on the SoC port (``manager=False``: the AXI
    inputs idle, for a test that drives them itself)."""
    # The macro ports' inputs are 0 until a crossbar model takes them over (after
    # reset): a 2-state simulator starts them there, a 4-state one at Z.
    tie_off_macros(dut, cfg, missing_ok=True)
    start_clock(dut, cfg.clock.period_ns)
    if not hasattr(dut, "l2"):
        tie_off_l2(dut, cfg)
    # Ports of masters and windows no block claims (a configuration that lacks them).
    comp = compose(cfg)
    for name in comp.masters:
        if hasattr(dut, f"{name}__req"):
            getattr(dut, f"{name}__req").value = 0
    for s in comp.periph_slaves:
        if hasattr(dut, f"periph_{s}__rdata"):
            getattr(dut, f"periph_{s}__rdata").value = 0
            getattr(dut, f"periph_{s}__r_err").value = 0
    axi = None
    if manager:
        # No reset handle: the master is idle while rst is high, and its reset
        # watchers would add value callbacks the simulator checks at every step.
        axi = AxiMaster(AxiBus.from_prefix(dut, "soc_axi_"), dut.clk)
        axi.write_if.log.setLevel("WARNING")
        axi.read_if.log.setLevel("WARNING")
    else:
        for ch in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
            getattr(dut, f"soc_axi__{ch}").value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    await release_reset(dut)
    watch(dut, compose(cfg).masters)
    return axi


def tie_off_l2(dut, cfg: ClusterConfig):
    """The DMA's AXI inputs idle: no L2 answers (a top without tb/tops/l2_memory.py)."""
    for inst in compose(cfg).of_kind("dma"):
        for ch in ("awready", "wready", "bvalid", "arready", "rvalid"):
            getattr(dut, f"{inst.name}_axi__{ch}").value = 0


def tie_off_macros(dut, cfg: ClusterConfig, missing_ok: bool = False):
    """Every IMA instance's macro inputs at 0 (each array's port, or the bank's):
    no crossbar model answers (a bench that does not use the IMA).
    ``missing_ok``: skip ports the top does not have."""
    from imcc.rtl.ima.macro import MacroSignature
    from imcc.tb.bus.crossbar_macro import macro_prefix
    sig = MacroSignature(cfg.ima.rows, cfg.ima.cols)
    for inst in compose(cfg).of_kind("ima"):
        for prefix in dict.fromkeys(macro_prefix(cfg, inst.name, k) for k in range(cfg.ima.arrays)):
            # flatten() gives members (In(1), ...), not flows: compare the member's flow.
            for path, member, _ in sig.flatten(sig.create()):
                name = f"{prefix}__" + "__".join(map(str, path))
                if member.flow == In and (not missing_ok or hasattr(dut, name)):
                    getattr(dut, name).value = 0


def _pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


def backpressure(axi: AxiMaster, rng: random.Random, p: float = 0.3):
    """Random stalls on all five channels (the manager's and the subordinate's side)."""
    for ch in (axi.write_if.aw_channel, axi.write_if.w_channel, axi.write_if.b_channel,
               axi.read_if.ar_channel, axi.read_if.r_channel):
        ch.set_pause_generator(_pauses(random.Random(rng.random()), p))


@cocotb.test()
async def random_bursts(dut):
    """Random lengths, sizes, alignments and strobes from concurrent workers
    (reads and writes in flight together), random stalls on every channel,
    checked against a byte model."""
    cfg = config()
    rng = random.Random(int(os.environ.get("IMCC_SEED", "1")))
    axi = await setup(dut, cfg)
    backpressure(axi, rng)
    t = cfg.tcdm
    ops = int(os.environ.get("IMCC_OPS", "300"))
    bus = cfg.soc.data_width // 8
    workers = 4
    region = t.size_bytes // workers
    done = {"bytes": 0, "ops": 0}

    async def worker(k):
        wrng = random.Random(rng.random())
        base = t.base + k * region
        model = {}
        for _ in range(ops // workers):
            length = wrng.choice([1, 2, 3, 4, 7, 8, 9, 16, 63, 64, 100, 257, 1024, 2100])
            off = wrng.randrange(0, region - length)
            size = wrng.randrange(0, bus.bit_length())          # narrow transfers too
            addr = base + off
            if wrng.random() < 0.55:
                data = bytes(wrng.getrandbits(8) for _ in range(length))
                resp = await axi.write(addr, data, size=size)
                assert resp.resp == AxiResp.OKAY, f"write {addr:#x}+{length}: {resp.resp}"
                for i, b in enumerate(data):
                    model[off + i] = b
            else:
                resp = await axi.read(addr, length, size=size)
                assert resp.resp == AxiResp.OKAY, f"read {addr:#x}+{length}: {resp.resp}"
                for i, b in enumerate(resp.data):
                    if off + i in model:
                        assert b == model[off + i], (
                            f"read {addr + i:#010x} (burst {addr:#x}+{length}, size {size}): "
                            f"got {b:#04x}, last written {model[off + i]:#04x}")
            done["bytes"] += length
            done["ops"] += 1

    tasks = [cocotb.start_soon(worker(k)) for k in range(workers)]
    for task in tasks:
        await task
    dut._log.info("%d AXI operations, %d bytes, all checked", done["ops"], done["bytes"])


@cocotb.test()
async def backdoor_and_clock(dut):
    """The bulk TCDM backdoor (tb/bus/tcdm_backdoor.py) agrees with the SoC port
    both ways, unaligned ranges across every bank included; the native clock
    (tb/bus/clock.py) drives the configured period with a 50% duty cycle."""
    cfg = config()
    axi = await setup(dut, cfg)
    assert clock_mode(dut) == "native", "the harness's main loop should drive the clock"
    half_ps = round(cfg.clock.period_ns * 1000 / 2)
    edges = []
    for _ in range(4):
        await RisingEdge(dut.clk)
        edges.append(get_sim_time("ps"))
        await FallingEdge(dut.clk)
        edges.append(get_sim_time("ps"))
    assert {b - a for a, b in zip(edges, edges[1:])} == {half_ps}, edges
    backdoor = TcdmBackdoor(dut, cfg)
    rng = random.Random(5)
    t = cfg.tcdm
    for length in (1, 3, 4 * cfg.tcdm.banks + 5, 3000):
        addr = t.base + rng.randrange(4, t.size_bytes - length - 4)
        data = bytes(rng.getrandbits(8) for _ in range(length))
        assert (await axi.write(addr, data)).resp == AxiResp.OKAY
        assert backdoor.read(addr, length) == data, f"backdoor read {addr:#x}+{length}"
        around = (await axi.read(addr - 4, length + 8)).data
        data2 = bytes(rng.getrandbits(8) for _ in range(length))
        backdoor.write(addr, data2)
        got = (await axi.read(addr, length)).data
        assert got == data2, f"SoC port read after backdoor write {addr:#x}+{length}"
        after = (await axi.read(addr - 4, length + 8)).data    # its neighbours untouched
        assert after[:4] == around[:4] and after[-4:] == around[-4:], f"around {addr:#x}+{length}"


@cocotb.test()
async def fixed_bursts(dut):
    """FIXED bursts of full-width beats: every beat hits the same word."""
    cfg = config()
    axi = await setup(dut, cfg)
    bus = cfg.soc.data_width // 8
    addr = cfg.tcdm.base + 0x400
    beats = [bytes(random.Random(i).getrandbits(8) for _ in range(bus)) for i in range(8)]
    resp = await axi.write(addr, b"".join(beats), burst=AxiBurstType.FIXED)
    assert resp.resp == AxiResp.OKAY
    back = await axi.read(addr, bus)
    assert back.data == beats[-1], "a FIXED burst must leave the last beat in the word"
    rd = await axi.read(addr, 4 * bus, burst=AxiBurstType.FIXED)
    assert rd.data == beats[-1] * 4


@cocotb.test()
async def error_responses(dut):
    """DECERR for holes, SLVERR for a refused control access; nothing hangs and
    the port keeps working afterwards."""
    cfg = config()
    axi = await setup(dut, cfg)
    t, ic = cfg.tcdm, cfg.interconnect
    end = ic.periph_base + len(compose(cfg).periph_slaves) * ic.periph_window_kib * 1024
    holes = [0x0, t.base - 8, t.base + t.size_bytes, end, 0xFFFF_FF00]
    for a in holes:
        w = await axi.write(a, b"\x11" * 8)
        assert w.resp == AxiResp.DECERR, f"write {a:#x}: {w.resp}"
        r = await axi.read(a, 8)
        assert r.resp == AxiResp.DECERR, f"read {a:#x}: {r.resp}"
    ctrl = compose(cfg).address_map()[1].base
    w = await axi.write(ctrl + 0x00, b"\x01\x00\x00\x00", size=2)     # CLUSTER_ID is read-only
    assert w.resp == AxiResp.SLVERR, w.resp
    r = await axi.read(ctrl + 0xFF0, 4, size=2)                        # no register there
    assert r.resp == AxiResp.SLVERR, r.resp
    # A burst across the TCDM's end: the beats inside are written, the rest DECERR.
    w = await axi.write(t.base + t.size_bytes - 8, bytes(range(16)))
    assert w.resp == AxiResp.DECERR
    r = await axi.read(t.base + t.size_bytes - 8, 8)
    assert r.resp == AxiResp.OKAY and r.data == bytes(range(8))


@cocotb.test()
async def control_registers(dut):
    """Every cluster-control register reads what the configuration says."""
    cfg = config()
    axi = await setup(dut, cfg)
    rm, base = next((rm, b) for rm, b in register_maps(cfg) if rm.name == "ctrl")
    regs = rm.namespace(base)

    async def rd(name):
        r = await axi.read(base + getattr(regs, name), 4, size=2)
        assert r.resp == AxiResp.OKAY, f"{name}: {r.resp}"
        return int.from_bytes(r.data, "little")

    assert await rd("CLUSTER_ID") == cfg.soc.cluster_id
    assert rm["VERSION"].unpack(await rd("VERSION"))["MAJOR"] == 0
    assert rm["TCDM_CFG"].unpack(await rd("TCDM_CFG")) == {"SIZE_KIB": cfg.tcdm.size_kib,
                                                          "BANKS": cfg.tcdm.banks}
    ima = rm["IMA_CFG"].unpack(await rd("IMA_CFG"))
    assert (ima["ROWS"], ima["COLS"], ima["PORTS"]) == (cfg.ima.rows, cfg.ima.cols, cfg.ima.data_ports)
    cl = rm["CLUSTER_CFG"].unpack(await rd("CLUSTER_CFG"))
    assert (cl["CORES"], cl["MASTERS"], cl["SOC_LANES"]) == (
        cfg.cores.count, len(compose(cfg).masters), cfg.soc.lanes)
    assert await rd("CLOCK_MHZ") == round(cfg.clock.freq_mhz)
    c0 = await rd("CYCLE_LO")
    await ClockCycles(dut.clk, 100)
    c1 = await rd("CYCLE_LO")
    assert 100 <= (c1 - c0) % 2**32 < 200, (c0, c1)
    assert await rd("CYCLE_HI") == 0
    assert await rd("EVT_PENDING") == 0
    mask = (1 << len(compose(cfg).events)) - 1
    w = await axi.write(base + regs.IRQ_MASK, mask.to_bytes(4, "little"), size=2)
    assert w.resp == AxiResp.OKAY
    assert await rd("IRQ_MASK") == mask
    w = await axi.write(base + regs.EVT_CLEAR, mask.to_bytes(4, "little"), size=2)
    assert w.resp == AxiResp.OKAY
    r = await axi.read(base + regs.EVT_CLEAR, 4, size=2)                # write-only
    assert r.resp == AxiResp.SLVERR
    assert int(dut.ctrl_irq.value) == 0


@cocotb.test()
async def throughput(dut):
    """Beats per cycle of long write and read bursts into an idle TCDM (no
    stalls); the load time of ``IMCC_LOAD_BYTES``.  Results go to
    IMCC_RESULT when set (scripts/bench_soc_port.py)."""
    cfg = config()
    axi = await setup(dut, cfg)
    bus = cfg.soc.data_width // 8
    nbytes = int(os.environ.get("IMCC_LOAD_BYTES", str(64 * 1024)))
    data = bytes(random.Random(5).getrandbits(8) for _ in range(nbytes))
    addr = cfg.tcdm.base
    out = {}
    for kind in ("write", "read"):
        await RisingEdge(dut.clk)
        c0 = await _cycle(dut)
        w0 = time.monotonic()
        if kind == "write":
            resp = await axi.write(addr, data)
            assert resp.resp == AxiResp.OKAY
        else:
            resp = await axi.read(addr, nbytes)
            assert resp.resp == AxiResp.OKAY and resp.data == data
        wall = time.monotonic() - w0
        cycles = await _cycle(dut) - c0
        beats = nbytes // bus
        out[kind] = {"bytes": nbytes, "beats": beats, "cycles": cycles,
                     "beats_per_cycle": beats / cycles, "wall_s": wall}
        dut._log.info("%s %d bytes: %d beats in %d cycles = %.3f beats/cycle (%.2f s wall)",
                      kind, nbytes, beats, cycles, beats / cycles, wall)
    write_result(out)


async def _cycle(dut) -> int:
    """Current cycle from the cluster's own counter (a free-running register)."""
    return int(dut.ctrl.cycles.value)


@cocotb.test()
async def low_phase_manager(dut):
    """A manager that drives its channels at the falling edge (not as
    cocotbext-axi does, after the rising one) while the idle cluster's clock is
    stopped: each transfer waits for the clock (the port is ready only while
    it runs) and none is lost - a one-beat write, then a one-beat read of it."""
    cfg = config()
    await setup(dut, cfg, manager=False)
    await ClockCycles(dut.clk, 10)
    stopped = int(dut.ctrl.gated_cycles.value)
    await ClockCycles(dut.clk, 10)
    assert int(dut.ctrl.gated_cycles.value) - stopped == 10, "the idle cluster's clock runs"
    bus = cfg.soc.data_width // 8
    addr = cfg.tcdm.base + 0x40 * bus
    word = 0x1234_5678_9ABC_DEF0 & ((1 << 8 * bus) - 1)
    p = "soc_axi__"

    limit = 50      # cycles: a lost transfer shows as a missing response, not a hang

    async def offer(ch: str, **fields):
        """Drive one transfer at a falling edge; hold it until a rising edge sees ready."""
        await FallingEdge(dut.clk)
        for k, v in fields.items():
            getattr(dut, f"{p}{ch}{k}").value = v
        getattr(dut, f"{p}{ch}valid").value = 1
        for _ in range(limit):
            await RisingEdge(dut.clk)
            if int(getattr(dut, f"{p}{ch}ready").value):
                break
        else:
            raise AssertionError(f"{ch}: no ready in {limit} cycles")
        await FallingEdge(dut.clk)
        getattr(dut, f"{p}{ch}valid").value = 0

    async def answer(ch: str) -> dict:
        """Take one response (ready from a falling edge on)."""
        await FallingEdge(dut.clk)
        getattr(dut, f"{p}{ch}ready").value = 1
        for _ in range(limit):
            await RisingEdge(dut.clk)
            if int(getattr(dut, f"{p}{ch}valid").value):
                got = {k: int(getattr(dut, f"{p}{ch}{k}").value) for k in ("resp", "data")
                       if hasattr(dut, f"{p}{ch}{k}")}
                await FallingEdge(dut.clk)
                getattr(dut, f"{p}{ch}ready").value = 0
                return got
        raise AssertionError(f"{ch}: no response in {limit} cycles (a transfer was lost)")

    aw = dict(id=0, addr=addr, len=0, size=bus.bit_length() - 1, burst=1)
    await offer("aw", **aw)
    await offer("w", data=word, strb=(1 << bus) - 1, last=1)
    b = await answer("b")
    assert b["resp"] == AxiResp.OKAY, b
    assert TcdmBackdoor(dut, cfg).read(addr, bus) == word.to_bytes(bus, "little")
    await offer("ar", **aw)
    r = await answer("r")
    assert r["resp"] == AxiResp.OKAY and r["data"] == word, (r, hex(word))
