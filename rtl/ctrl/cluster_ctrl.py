"""Cluster control block (peripheral window ``ctrl``): identity, the
configuration readout software and testbenches discover the cluster by, a
free-running cycle counter, the accelerators' events as interrupt lines and
the activity counters (rtl/ctrl/counters.py, ``counters.enabled``).

The register description (:func:`cluster_ctrl_regmap`) is the single source of
this decode, ``imcc_ctrl.h``, the Python constants and docs/ctrl-registers.md.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..block import ClusterBlock
from ..hwpe.regs import Field, Register, RegisterMap
from .counters import ActivityCounters, counter_registers, counter_specs
from ..interconnect.protocol import TargetSignature

__all__ = ["ClusterCtrl", "cluster_ctrl_regmap", "VERSION"]

VERSION = (0, 1)


def readout(cfg: ClusterConfig, comp) -> dict[str, list]:
    """``{readout register: [ReadoutField]}``: the control block's own fields
    and those every kind of the registry contributes (present or not, so the
    offsets and fields do not depend on which blocks a cluster has)."""
    from ..block import ReadoutField
    from ..registry import REGISTRY
    out = {"CLUSTER_CFG": [ReadoutField("CLUSTER_CFG", Field("MASTERS", 5, 7, "TCDM masters"),
                                        len(comp.masters))]}
    for k in REGISTRY:
        for name, _offset, _doc in k.readout_registers:
            out.setdefault(name, [])
        for f in k.readout(cfg, comp):
            out.setdefault(f.register, []).append(f)
    return out


def cluster_ctrl_regmap(cfg: ClusterConfig, comp) -> RegisterMap:
    """``comp``: the cluster's :class:`~imcc.rtl.registry.Composition` (events,
    readout contributions of the block kinds)."""
    from ..registry import REGISTRY
    events = comp.events
    ev = ", ".join(f"bit {i}: {n}" for i, n in enumerate(events)) or "none"
    fields = readout(cfg, comp)
    R = Register

    def cfg_reg(name, offset, doc):
        return R(name, offset, "ro", doc, kind="io",
                 fields=tuple(sorted((f.field for f in fields[name]), key=lambda f: f.lsb)))
    kinds = [cfg_reg(n, o, d) for k in REGISTRY for n, o, d in k.readout_registers]
    kinds += counter_registers(cfg, comp, cfg.interconnect.periph_window_kib * 1024)
    return RegisterMap("ctrl", "Cluster control", tuple(sorted((
        R("CLUSTER_ID", 0x00, "ro", "cluster id (configuration soc.cluster_id)", kind="io"),
        R("VERSION", 0x04, "ro", "generator version", kind="io", fields=(
            Field("MINOR", 0, 16, "minor version"), Field("MAJOR", 16, 16, "major version"))),
        R("TCDM_CFG", 0x08, "ro", "TCDM geometry", kind="io", fields=(
            Field("SIZE_KIB", 0, 16, "TCDM size in KiB"), Field("BANKS", 16, 11, "number of banks"))),
        cfg_reg("CLUSTER_CFG", 0x10, "cluster composition"),
        R("CLOCK_MHZ", 0x14, "ro", "configured clock in MHz (for analog-time conversions)", kind="io"),
        R("CYCLE_LO", 0x18, "ro", "cycle counter, low word; reading it latches the high word",
          kind="io"),
        R("CYCLE_HI", 0x1C, "ro", "cycle counter, high word as latched by the last CYCLE_LO read",
          kind="io"),
        R("EVT_PENDING", 0x20, "ro", f"sticky accelerator events ({ev})", kind="io"),
        R("EVT_CLEAR", 0x24, "wo", "write ones to clear EVT_PENDING bits", kind="io"),
        R("IRQ_MASK", 0x28, "rw", "interrupt enables: irq = EVT_PENDING & IRQ_MASK", kind="io"),
        R("GATED_CYCLES", 0x2C, "ro", "cycles the idle clock gate stopped the cluster's clock "
          "(configuration clock.idle_gate; wraps at 2^32)"
          + ("; cleared by CNT_CLEAR, held by CNT_CTRL.FREEZE" if cfg.counters.enabled else ""),
          kind="io"),
        *kinds), key=lambda r: r.offset)), constants={"EVENT": [(n.upper(), i, f"bit {i} of EVT_PENDING / IRQ_MASK / irq")
                            for i, n in enumerate(events)]},
        notes="An unmapped offset or a write to a read-only register answers a bus error "
              "(SLVERR on the SoC port).")


class ClusterCtrl(wiring.Component, ClusterBlock):
    """``evt_in``: one pulse input per event of the composition (``comp.events``); ``irq``: level
    interrupt lines (pending and enabled), lifted to the top as ``ctrl_irq``."""

    ctrl_window = "ctrl"
    external = ("irq",)

    name = "ctrl"

    def __init__(self, cfg: ClusterConfig, comp):
        self.cfg = cfg
        self.regmap = cluster_ctrl_regmap(cfg, comp)
        self._readout = readout(cfg, comp)
        n_ev = max(1, len(comp.events))
        window_bits = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        super().__init__({"ctrl": In(TargetSignature(window_bits)),
                          "evt_in": In(n_ev), "irq": Out(n_ev),
                          "clock_stopped": In(1)})     # the cluster's idle gate holds the clock
        self._quiet = Signal(name="ctrl_quiet")
        self.counter_specs = counter_specs(cfg, comp)
        # built here so that the cluster can wire the blocks' activity to it
        self.counters = ActivityCounters(self.counter_specs) if self.counter_specs else None

    def quiet(self):
        return self._quiet

    def _constants(self) -> dict[str, int]:
        cfg, rm = self.cfg, self.regmap
        out = {
            "CLUSTER_ID": cfg.soc.cluster_id,
            "VERSION": rm["VERSION"].pack(MAJOR=VERSION[0], MINOR=VERSION[1]),
            "TCDM_CFG": rm["TCDM_CFG"].pack(SIZE_KIB=cfg.tcdm.size_kib, BANKS=cfg.tcdm.banks),
            "CLOCK_MHZ": int(round(cfg.clock.freq_mhz)),
        }
        for reg, fields in self._readout.items():
            out[reg] = rm[reg].pack(**{f.field.name: f.value for f in fields})
        return out

    def elaborate(self, platform):
        m = Module()
        c, rm = self.ctrl, self.regmap
        # The cycle counter counts the cluster's clock cycles on the ungated clock
        # (the cluster's ``free`` domain): it runs while the idle gate stops ``sync``.
        cycles = Signal(64, name="cycles")
        m.d.free += cycles.eq(cycles + 1)
        gated = Signal(32, name="gated_cycles")
        cnt = self.counters
        freeze = Signal(name="cnt_freeze")
        cnt_clear = Signal(name="cnt_clear")
        cnt_hi = Signal(32, name="cnt_hi_latched")
        # toggles at each CYCLE_LO read: a testbench snapshots the counters (by VPI) at
        # the time stamps software takes, without a cycle of its own (tb/counters.py)
        stamp = Signal(name="cnt_stamp")
        if cnt is not None:
            m.submodules.counters = cnt
            m.d.comb += [cnt.freeze.eq(freeze), cnt.clear.eq(cnt_clear)]
            with m.If(cnt_clear):
                m.d.free += gated.eq(0)
            with m.Elif(self.clock_stopped & ~freeze):
                m.d.free += gated.eq(gated + 1)
            # an event to count at the next edge keeps the clock running (the blocks
            # that raise them are not quiet then either: this only makes it local)
            m.d.comb += self._quiet.eq(~self.evt_in.any() & ~Cat(*cnt.events_now()).any())
        else:
            with m.If(self.clock_stopped):
                m.d.free += gated.eq(gated + 1)
            m.d.comb += self._quiet.eq(~self.evt_in.any())
        words = {}      # counter register -> (counter signal, word index)
        for s in self.counter_specs:
            sig = getattr(cnt, f"cnt_{s.ident}")
            if s.words == 1:
                words[s.reg] = (sig, 0)
            else:
                words[s.reg + "_LO"], words[s.reg + "_HI"] = (sig, 0), (sig, 1)
        cycle_hi = Signal(32, name="cycle_hi_latched")
        pending = Signal.like(self.evt_in, name="evt_pending")
        mask = Signal.like(self.evt_in, name="irq_mask")
        m.d.comb += self.irq.eq(pending & mask)

        rdata = Signal(32, name="rdata_next")
        err = Signal(name="err_next")
        clear = Signal.like(self.evt_in, name="evt_clear")
        offset = Signal(len(c.addr) - 2, name="word_offset")
        m.d.comb += offset.eq(c.addr[2:])
        be_mask = Cat(c.be[i].replicate(8) for i in range(4))
        const = self._constants()
        with m.Switch(offset):
            for r in rm.registers:
                with m.Case(r.offset // 4):
                    if r.access == "ro":
                        m.d.comb += err.eq(c.we)
                    if r.access == "wo":
                        m.d.comb += err.eq(~c.we)
                    if r.name in const:
                        m.d.comb += rdata.eq(const[r.name])
                    elif r.name == "CYCLE_LO":
                        m.d.comb += rdata.eq(cycles[:32])
                        with m.If(c.req & ~c.we):
                            m.d.sync += cycle_hi.eq(cycles[32:])
                            if cnt is not None:
                                m.d.sync += stamp.eq(~stamp)
                    elif r.name == "CYCLE_HI":
                        m.d.comb += rdata.eq(cycle_hi)
                    elif r.name == "GATED_CYCLES":
                        m.d.comb += rdata.eq(gated)
                    elif r.name == "CNT_CTRL":
                        m.d.comb += rdata.eq(freeze)
                        with m.If(c.req & c.we & c.be[0]):
                            m.d.sync += freeze.eq(c.wdata[0])
                    elif r.name == "CNT_CLEAR":
                        m.d.comb += cnt_clear.eq(c.req & c.we)
                    elif r.name in words:
                        sig, word = words[r.name]
                        if word == 0:
                            m.d.comb += rdata.eq(sig[:32])
                            if len(sig) > 32:
                                with m.If(c.req & ~c.we):
                                    m.d.sync += cnt_hi.eq(sig[32:])
                        else:
                            m.d.comb += rdata.eq(cnt_hi)
                    elif r.name == "EVT_PENDING":
                        m.d.comb += rdata.eq(pending)
                    elif r.name == "EVT_CLEAR":
                        with m.If(c.req & c.we):
                            m.d.comb += clear.eq(c.wdata & be_mask)
                    elif r.name == "IRQ_MASK":
                        m.d.comb += rdata.eq(mask)
                        with m.If(c.req & c.we):
                            m.d.sync += mask.eq((mask & ~be_mask) | (c.wdata & be_mask))
            with m.Default():
                m.d.comb += err.eq(1)
        # New events win over a clear in the same cycle: nothing is lost.
        m.d.sync += pending.eq((pending & ~clear) | self.evt_in)

        resp_data = Signal(32, name="resp_rdata")
        resp_err = Signal(name="resp_err")
        with m.If(c.req):
            m.d.sync += [resp_data.eq(rdata), resp_err.eq(err)]
        with m.Else():
            m.d.sync += [resp_data.eq(0), resp_err.eq(0)]
        m.d.comb += [c.rdata.eq(resp_data), c.r_err.eq(resp_err)]
        return m
