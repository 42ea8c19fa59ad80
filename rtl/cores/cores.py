"""The cores as a cluster block: ``cfg.cores.count`` CV32E40P cores, their
instruction memory and the event unit.

* Data: each core's OBI data port is the TCDM master ``core<i>`` of the
  logarithmic interconnect (OBI already keeps the TCDM protocol: hold until
  granted, one response per grant), except for the event unit's private
  offsets, which a per-core demux answers locally (and may stall: cv.elw).
  Both paths answer exactly one cycle after the grant, so responses never
  reorder.
* Instructions: from :class:`InstrMem`, one fetch per core per cycle (an ideal
  instruction cache; cycle counts assume it).  The SoC port loads it through
  the interconnect's ``imem`` window before the cores are started.
* Control: FETCH_EN / BOOT_ADDR<i> of the event unit; hart id = core index.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..block import ClusterBlock
from ..interconnect.protocol import TargetSignature, TcdmSignature
from .cv32e40p import Cv32e40p, sources, stub
from .event_unit import PRIVATE, EventUnit
from .imem import InstrMem

__all__ = ["Cores"]


class Cores(wiring.Component, ClusterBlock):
    """Lifted to the cluster top (``cores_<name>``): ``putc`` toggles once per
    character written to PUTC, ``putc_data`` = character | core << 8; ``eoc``
    rises when EOC is written, ``eoc_code`` holds the exit code; ``sleeping``
    has one bit per core in a cv.elw sleep."""

    ctrl_window = "eu"
    mem_window = "imem"
    wants_events = True
    external = ("putc", "putc_data", "eoc", "eoc_code", "sleeping")

    name = "cores"

    def __init__(self, cfg: ClusterConfig, acc_events, eu_base: int):
        """``acc_events``: the accelerators' event names; ``eu_base``: the event
        unit's window (for the cores' private offsets)."""
        self.cfg, self.acc_events, self.eu_base = cfg, list(acc_events), eu_base
        self.n = n = cfg.cores.count
        wb = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        self.imem_words = cfg.cores.imem_bytes // 4
        members = {f"core{i}": Out(TcdmSignature()) for i in range(n)}
        members.update({
            "ctrl": In(TargetSignature(wb)),
            "mem": In(TargetSignature(cfg.cores.imem_bytes.bit_length() - 1)),
            "evt_in": In(max(1, len(acc_events))),
            "putc": Out(1), "putc_data": Out(16), "eoc": Out(1), "eoc_code": Out(32),
            "sleeping": Out(n),
        })
        super().__init__(members)
        self._quiet = Signal(name="cores_quiet")
        self._act = {}
        for i in range(n):
            self._act[f"core{i}.active"] = Signal(name=f"core{i}_act_active")
            self._act[f"core{i}.sleep"] = Signal(name=f"core{i}_act_sleep")

    def quiet(self):
        return self._quiet

    def activity(self) -> dict:
        return self._act

    # -- ClusterBlock ----------------------------------------------------------------------
    def tcdm_masters(self) -> dict:
        return {f"core{i}": getattr(self, f"core{i}") for i in range(self.n)}

    def external_sources(self) -> dict:
        return sources()

    def synth_stubs(self) -> dict:
        return {"cv32e40p_stub.v": stub()}

    def macro_modules(self) -> dict:
        words, n = self.imem_words, self.n
        return {InstrMem.module_name(words, n): lambda: InstrMem(words, n)}

    # -- structure -----------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        cfg, n = self.cfg, self.n
        m.submodules.eu = eu = EventUnit(cfg, self.acc_events)
        wiring.connect(m, wiring.flipped(self.ctrl), eu.ctrl)
        m.d.comb += [eu.evt_in.eq(self.evt_in), self.putc.eq(eu.putc),
                     self.putc_data.eq(eu.putc_data), self.eoc.eq(eu.eoc),
                     self.eoc_code.eq(eu.eoc_code)]

        aw = self.imem_words.bit_length() - 1
        f_en, f_addr, f_data = Signal(n), Signal(aw * n), Signal(32 * n)
        mp = self.mem
        m.submodules.imem = Instance(
            InstrMem.module_name(self.imem_words, n),
            i_clk=ClockSignal(), i_rst=ResetSignal(),
            i_f_en=f_en, i_f_addr=f_addr, o_f_data=f_data,
            i_req=mp.req, i_we=mp.we, i_addr=mp.addr[2:], i_be=mp.be, i_wdata=mp.wdata,
            o_rdata=mp.rdata)
        m.d.comb += mp.r_err.eq(0)

        eu_base = self.eu_base
        win = cfg.interconnect.periph_window_kib * 1024
        sleeping = []
        for i in range(n):
            core = Cv32e40p(i)
            m.submodules[f"core{i}"] = core
            m.d.comb += [core.boot_addr.eq(eu.boot_addr[i]), core.fetch_enable.eq(eu.fetch_en[i]),
                         core.clock_en.eq(eu.clock_en[i]), eu.sleep[i].eq(core.sleep)]
            sleeping.append(core.sleep)
            # fetch: always granted while the clock runs, data the next cycle
            fi = core.instr
            gnt = Signal(name=f"fetch_gnt{i}")
            rvalid = Signal(name=f"fetch_rvalid{i}")
            m.d.comb += [gnt.eq(fi.req & eu.clock_en[i]), fi.gnt.eq(gnt),
                         f_en[i].eq(gnt), f_addr[aw * i:aw * (i + 1)].eq(fi.addr[2:2 + aw]),
                         fi.rvalid.eq(rvalid), fi.rdata.eq(f_data[32 * i:32 * (i + 1)])]
            m.d.sync += rvalid.eq(gnt)
            # data: the private event-unit offsets locally, the rest on the interconnect
            d, ic, loc = core.data, getattr(self, f"core{i}"), eu.local[i]
            private = Signal(name=f"core{i}_private")
            m.d.comb += private.eq((d.addr >= eu_base + PRIVATE) & (d.addr < eu_base + win))
            for k in ("addr", "we", "be", "wdata"):
                m.d.comb += [getattr(ic, k).eq(getattr(d, k)), getattr(loc, k).eq(getattr(d, k))]
            m.d.comb += [ic.req.eq(d.req & ~private), loc.req.eq(d.req & private),
                         d.gnt.eq(Mux(private, loc.gnt, ic.gnt)),
                         d.r_valid.eq(ic.r_valid | loc.r_valid),
                         d.rdata.eq(Mux(loc.r_valid, loc.rdata, ic.rdata))]
        m.d.comb += self.sleeping.eq(Cat(*sleeping))
        # A core holds still when it never started (the core's fetch enable is
        # sticky, so `started` mirrors it) or sleeps with its clock stopped.
        started = Signal(n, name="started")
        m.d.sync += started.eq(started | eu.fetch_en)
        idle = [(~started[i] & ~eu.fetch_en[i]) | (sleeping[i] & ~eu.clock_en[i]) for i in range(n)]
        for i in range(n):      # activity: a started core runs or sleeps (clock gated)
            on = started[i] | eu.fetch_en[i]
            m.d.comb += [self._act[f"core{i}.active"].eq(on & eu.clock_en[i]),
                         self._act[f"core{i}.sleep"].eq(on & ~eu.clock_en[i])]
        m.d.comb += self._quiet.eq(Cat(*idle).all() & ~self.evt_in.any())
        return m
