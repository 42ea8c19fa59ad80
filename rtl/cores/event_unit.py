"""Event unit and core control (peripheral window ``eu``).

Global registers (offsets below 0x800) are reached through the interconnect,
from the SoC port and from the cores alike: fetch enable and boot address per
core, software events, the barrier's member set, the end-of-test register.
The *private* registers (0x800 and up) are per core: a core's access there is
answered by the event unit directly (the PULP cluster's core-private demux),
which tells it who is asking and lets it withhold the grant - the ``cv.elw``
path: a core that loads EVT_WAIT or BARRIER_WAIT sleeps, clock-gated, until
its event arrives.  Through the interconnect those offsets answer a bus error.

Every core has an event buffer (sticky bits, :data:`EVENT` constants):
software events 0-7, the barrier, and the accelerators' events
(the composition's events) from bit 16.  :func:`eu_regmap` is the single source
of this decode, ``imcc_eu.h``, the Python constants and docs/eu-registers.md.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..hwpe.regs import Field, Register, RegisterMap
from ..interconnect.protocol import TargetSignature, TcdmSignature

__all__ = ["EventUnit", "eu_regmap", "PRIVATE", "EVT_SW", "EVT_BARRIER", "EVT_ACC"]

PRIVATE = 0x800         # first private (core-local) offset of the window
EVT_SW = 0              # software events: bits 0..7
N_SW = 8
EVT_BARRIER = 8
EVT_ACC = 16            # accelerator events: bit 16 + index in the cluster's event list
MAX_ACC_EVENTS = 32 - EVT_ACC
BOOT_ADDR0 = 0x040


def eu_regmap(cfg: ClusterConfig, acc_events) -> RegisterMap:
    """``acc_events``: the accelerators' event names (the composition's events)."""
    n = cfg.cores.count
    R = Register
    regs = [
        R("FETCH_EN", 0x000, "rw", "bit i: core i fetches (from BOOT_ADDR<i>); a core ignores "
          "it once started, until the next reset", kind="io"),
        R("SW_EVENT", 0x004, "wo", "raise software event EVENT in the buffers of CORES", kind="io",
          fields=(Field("CORES", 0, 16, "target cores, one bit each"),
                  Field("EVENT", 16, 3, "software event number 0..7"))),
        R("BARRIER_MASK", 0x008, "rw", "cores the hardware barrier waits for (reset: all)",
          kind="io", reset=(1 << n) - 1),
        R("BARRIER_ARRIVED", 0x00C, "ro", "cores waiting at the barrier now", kind="io"),
        R("SLEEPING", 0x010, "ro", "bit i: core i sleeps (clock-gated) in a cv.elw", kind="io"),
        R("EOC", 0x014, "wo", "end of test: the exit code (0: success); the testbench stops",
          kind="io"),
    ]
    regs += [R(f"BOOT_ADDR{i}", BOOT_ADDR0 + 4 * i, "rw", f"boot address of core {i}",
               kind="io", reset=cfg.cores.imem_base) for i in range(n)]
    regs += [
        R("CORE_ID", PRIVATE + 0x00, "ro", "private: the asking core's index (= mhartid)",
          kind="io"),
        R("EVT_MASK", PRIVATE + 0x04, "rw", "private: events that wake this core", kind="io"),
        R("EVT_BUFFER", PRIVATE + 0x08, "ro", "private: this core's pending events", kind="io"),
        R("EVT_CLEAR", PRIVATE + 0x0C, "wo", "private: write ones to clear EVT_BUFFER bits",
          kind="io"),
        R("EVT_WAIT", PRIVATE + 0x10, "ro", "private, cv.elw: sleep until EVT_BUFFER & EVT_MASK "
          "is not 0; returns it", kind="io"),
        R("EVT_WAIT_CLEAR", PRIVATE + 0x14, "ro", "private, cv.elw: as EVT_WAIT, and clear the "
          "returned bits", kind="io"),
        R("BARRIER_WAIT", PRIVATE + 0x18, "ro", "private, cv.elw: arrive at the barrier and "
          "sleep until every core of BARRIER_MASK has arrived", kind="io"),
        R("PUTC", PRIVATE + 0x1C, "wo", "private: one character (bits 7:0) to the testbench "
          "console, tagged with the core", kind="io"),
    ]
    events = [(f"SW{k}", EVT_SW + k, f"software event {k}") for k in range(N_SW)]
    events.append(("BARRIER", EVT_BARRIER, "the barrier released this core"))
    events += [(e.upper(), EVT_ACC + i, f"accelerator event {e}")
               for i, e in enumerate(acc_events)]
    return RegisterMap("eu", "Event unit and core control", tuple(regs),
                       constants={"EVENT": events,
                                  "LAYOUT": [("PRIVATE", PRIVATE, "first private offset"),
                                             ("BOOT_ADDR_STRIDE", 4, "bytes between BOOT_ADDR<i>")]},
                       notes="Offsets from 0x800 are private to each core (answered without the "
                             "interconnect, so the event unit knows the core); through the "
                             "interconnect (SoC port) they, an unmapped offset, a write to a "
                             "read-only or a read of a write-only register answer a bus error.")


class EventUnit(wiring.Component):
    """``ctrl``: the window's target port (global registers); ``local``: one
    core-private port per core (offsets from :data:`PRIVATE`, TCDM protocol,
    the grant withheld while a wait is pending); ``sleep``: the cores'
    ``core_sleep_o``; ``clock_en``: their ``pulp_clock_en_i``."""

    def __init__(self, cfg: ClusterConfig, acc_events=()):
        self.cfg = cfg
        self.n = n = cfg.cores.count
        self.acc_events = list(acc_events)
        self.regmap = eu_regmap(cfg, acc_events)
        self.n_ev = max(1, len(acc_events))
        wb = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        super().__init__({
            "ctrl": In(TargetSignature(wb)),
            "local": In(TcdmSignature()).array(n),
            "evt_in": In(self.n_ev),
            "sleep": In(n), "clock_en": Out(n),
            "fetch_en": Out(n), "boot_addr": Out(32).array(n),
            "putc": Out(1), "putc_data": Out(16),
            "eoc": Out(1), "eoc_code": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, rm, n = self.cfg, self.regmap, self.n
        c = self.ctrl
        be_mask = Cat(c.be[k].replicate(8) for k in range(4))

        barrier_mask = Signal(n, init=(1 << n) - 1)
        arrived = Signal(n)
        bar_pending = Signal(n)
        # -- global registers (interconnect side) --------------------------------------------
        boot = [Signal(32, name=f"boot_addr{i}", init=cfg.cores.imem_base) for i in range(n)]
        fetch_en = Signal(n)
        m.d.comb += self.fetch_en.eq(fetch_en)
        for i in range(n):
            m.d.comb += self.boot_addr[i].eq(boot[i])
        sw_cores = Signal(16)
        sw_event = Signal(3)
        sw_fire = Signal()
        rdata, err = Signal(32), Signal()
        wr = c.req & c.we
        with m.Switch(c.addr[2:]):
            for r in rm.registers:
                if r.offset >= PRIVATE:
                    continue
                with m.Case(r.offset // 4):
                    if r.access == "ro":
                        m.d.comb += err.eq(c.we)
                    if r.access == "wo":
                        m.d.comb += err.eq(~c.we)
                    if r.name == "FETCH_EN":
                        m.d.comb += rdata.eq(fetch_en)
                        with m.If(wr):
                            m.d.sync += fetch_en.eq(c.wdata)
                    elif r.name == "SW_EVENT":
                        with m.If(wr):
                            m.d.comb += [sw_fire.eq(1), sw_cores.eq(c.wdata[:16]),
                                         sw_event.eq(c.wdata[16:19])]
                    elif r.name == "BARRIER_MASK":
                        m.d.comb += rdata.eq(barrier_mask)
                        with m.If(wr):
                            m.d.sync += barrier_mask.eq(c.wdata)
                    elif r.name == "BARRIER_ARRIVED":
                        m.d.comb += rdata.eq(arrived)
                    elif r.name == "SLEEPING":
                        m.d.comb += rdata.eq(self.sleep)
                    elif r.name == "EOC":
                        with m.If(wr):
                            m.d.sync += [self.eoc.eq(1), self.eoc_code.eq(c.wdata)]
                    elif r.name.startswith("BOOT_ADDR"):
                        k = int(r.name[len("BOOT_ADDR"):])
                        m.d.comb += rdata.eq(boot[k])
                        with m.If(wr):
                            m.d.sync += boot[k].eq((boot[k] & ~be_mask) | (c.wdata & be_mask))
            with m.Default():
                m.d.comb += err.eq(1)
        resp_data, resp_err = Signal(32), Signal()
        m.d.sync += [resp_data.eq(Mux(c.req, rdata, 0)), resp_err.eq(c.req & err)]
        m.d.comb += [c.rdata.eq(resp_data), c.r_err.eq(resp_err)]

        # -- per-core private registers and the event buffers -----------------------------------
        off = {r.name: (r.offset - PRIVATE) // 4 for r in rm.registers if r.offset >= PRIVATE}
        acc = Signal(32)
        m.d.comb += acc.eq(self.evt_in[:len(self.acc_events)] << EVT_ACC
                           if self.acc_events else 0)
        gnt = Signal(n)
        putc_req = Signal(n)
        new_arr = Signal(n)
        bar_gnt = Signal(n)
        arrived_next = Signal(n)
        release = Signal()
        m.d.comb += [arrived_next.eq(arrived | new_arr),
                     release.eq(barrier_mask.any() & ((barrier_mask & ~arrived_next) == 0))]
        with m.If(release):
            m.d.sync += arrived.eq(0)
        with m.Else():
            m.d.sync += arrived.eq(arrived_next)
        m.d.sync += bar_pending.eq((bar_pending | new_arr) & ~bar_gnt)
        putc_win = Signal(n)
        m.d.comb += putc_win.eq(putc_req & -putc_req)        # lowest requesting core
        with m.If(putc_win.any()):
            m.d.sync += [self.putc.eq(~self.putc)]
        for i in range(n):
            p = self.local[i]
            word = Signal(range(PRIVATE // 4), name=f"c{i}_word")
            m.d.comb += word.eq(p.addr[2:(PRIVATE - 1).bit_length()])
            buf = Signal(32, name=f"evt_buffer{i}")
            mask = Signal(32, name=f"evt_mask{i}")
            pending = Signal(32, name=f"evt_ready{i}")
            m.d.comb += pending.eq(buf & mask)
            clr, setb = Signal(32, name=f"evt_clr{i}"), Signal(32, name=f"evt_set{i}")
            rd = Signal(32, name=f"c{i}_rdata")
            with m.If(p.req):
                with m.Switch(word):
                    with m.Case(off["CORE_ID"]):
                        m.d.comb += [gnt[i].eq(1), rd.eq(i)]
                    with m.Case(off["EVT_MASK"]):
                        m.d.comb += [gnt[i].eq(1), rd.eq(mask)]
                        with m.If(p.we):
                            m.d.sync += mask.eq(p.wdata)
                    with m.Case(off["EVT_BUFFER"]):
                        m.d.comb += [gnt[i].eq(1), rd.eq(buf)]
                    with m.Case(off["EVT_CLEAR"]):
                        m.d.comb += gnt[i].eq(1)
                        with m.If(p.we):
                            m.d.comb += clr.eq(p.wdata)
                    with m.Case(off["EVT_WAIT"], off["EVT_WAIT_CLEAR"]):
                        m.d.comb += [gnt[i].eq(pending.any()), rd.eq(pending)]
                        with m.If(pending.any() & (word == off["EVT_WAIT_CLEAR"])):
                            m.d.comb += clr.eq(pending)
                    with m.Case(off["BARRIER_WAIT"]):
                        m.d.comb += [gnt[i].eq(buf[EVT_BARRIER]), rd.eq(barrier_mask),
                                     new_arr[i].eq(~bar_pending[i]),
                                     bar_gnt[i].eq(buf[EVT_BARRIER])]
                        with m.If(buf[EVT_BARRIER]):
                            m.d.comb += clr.eq(1 << EVT_BARRIER)
                    with m.Case(off["PUTC"]):
                        m.d.comb += [putc_req[i].eq(1), gnt[i].eq(putc_win[i])]
                        with m.If(putc_win[i]):
                            m.d.sync += self.putc_data.eq(Cat(p.wdata[:8], Const(i, 8)))
                    with m.Default():
                        m.d.comb += gnt[i].eq(1)
            sw = Signal(N_SW, name=f"sw_set{i}")
            m.d.comb += sw.eq(Mux(sw_fire & sw_cores[i], (Const(1, N_SW) << sw_event)[:N_SW], 0))
            m.d.comb += setb.eq(sw | acc | (release & arrived_next[i]) << EVT_BARRIER)
            # A new event wins over a clear of the same bit: nothing is lost.
            m.d.sync += buf.eq((buf & ~clr) | setb)
            rvalid, rdata_q = Signal(name=f"c{i}_rvalid"), Signal(32, name=f"c{i}_rdata_q")
            m.d.sync += [rvalid.eq(gnt[i]), rdata_q.eq(Mux(gnt[i], rd, 0))]
            m.d.comb += [p.gnt.eq(gnt[i]), p.r_valid.eq(rvalid), p.rdata.eq(rdata_q),
                         p.r_err.eq(0),
                         # the clock runs unless the core sleeps in a wait not yet answered
                         self.clock_en[i].eq(~self.sleep[i] | gnt[i] | rvalid)]
        return m
