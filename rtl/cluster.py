"""The cluster top: TCDM banks behind the logarithmic interconnect, and the
blocks that use them.

A *block* (the SoC port, an IMA, a DW accelerator, ...) is a component that
follows :class:`~imcc.rtl.block.ClusterBlock`: it names the interconnect
masters it drives, the peripheral window it answers (if any), and the members
the cluster lifts to its own top level (interrupts, the analog macro port, the
AXI port).  Which blocks exist, and the masters, windows and events they
bring, come from the block registry (rtl/registry.py).  Masters and windows
that no block claims stay on the top level, so the cluster is simulable at
every stage, and adding a block touches neither the interconnect nor the
other blocks.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockDomain, ClockSignal, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from .block import ClusterBlock
from .interconnect import Interconnect, TcdmSignature, TargetSignature
from .interconnect.crossbar import in_window
from .hwpe.port_mux import connect_masters
from .registry import cluster_blocks, compose
from .tcdm import TcdmBank

__all__ = ["Cluster", "ClusterBlock", "cluster_blocks"]


class Cluster(wiring.Component):
    """``port_checker``: optional factory ``f(name) -> checker`` (testbenches pass
    the protocol checker of tb/monitors); every master port of the
    interconnect, driven from inside or outside, then gets one, and the top
    level gains a sticky report of the first violation: ``chk_fail`` rises,
    ``chk_who`` has one bit per failing master and ``chk_kind`` the rule code,
    so a testbench waits on one edge instead of sampling every cycle.

    ``sram_macros=False`` inlines the bank SRAMs (for amaranth.sim).

    ``clk`` and ``rst`` are the cluster's clock and asynchronous reset (active
    high).  The cluster owns its ``sync`` domain: a two-flop reset synchronizer
    asserts the internal reset at once and releases it on the second clock edge
    after ``rst`` falls (as PULP's rstgen does).  Besides being what silicon
    needs, it keeps every register's next-state logic off the top-level inputs,
    which roughly halves Verilator's work per clock edge (docs/debugging.md).

    Idle clock gate (``cfg.clock.idle_gate``): ``sync`` is ``clk`` through a
    clock gate that stops it while every block is quiet (:meth:`ClusterBlock.quiet`)
    and no master requests the interconnect, two cycles after the last
    activity.  The enable is captured on the falling edge (the latch of an
    integrated clock-gate cell), so an input that changes after a rising edge
    (an AXI valid, a macro strobe) is seen at the next rising edge as without
    the gate; the SoC port is ready only while the clock runs, so an AXI
    transfer offered later in a cycle waits for the next one.  The gate and the cycle counters run on the ungated clock
    (domain ``free``, with a reset synchronizer of its own).  Cycle counts do not change; a
    simulator skips the whole cluster while it waits, e.g. for PCM writes
    (docs/architecture.md, "Clock gating")."""

    RESET_STAGES = 2
    GATE_TAIL = 2       # edges after the last activity: response and pulse registers settle

    def __init__(self, cfg: ClusterConfig, *, port_checker=None, sram_macros: bool = True,
                 blocks: dict[str, ClusterBlock] | None = None):
        self.cfg = cfg
        self.comp = comp = compose(cfg)
        self.port_checker = port_checker
        self.sram_macros = sram_macros
        self.blocks = cluster_blocks(cfg) if blocks is None else blocks
        self.master_names = list(comp.masters)
        claimed_m = {n for b in self.blocks.values() for n in b.tcdm_masters()}
        claimed_s = {b.ctrl_window for b in self.blocks.values() if b.ctrl_window}
        self.external_masters = [n for n in self.master_names if n not in claimed_m]
        self.external_slaves = [s for s in comp.periph_slaves if s not in claimed_s]
        claimed_w = {b.mem_window for b in self.blocks.values() if b.mem_window}
        self.external_mems = [w for w in comp.memory_windows if w.name not in claimed_w]

        members = {"clk": In(1), "rst": In(1)}
        members.update({name: In(TcdmSignature()) for name in self.external_masters})
        window_bits = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        for s in self.external_slaves:
            members[f"periph_{s}"] = Out(TargetSignature(window_bits))
        for w in self.external_mems:
            members[f"mem_{w.name}"] = Out(TargetSignature(w.size.bit_length() - 1))
        for bname, block in self.blocks.items():
            for mname in block.external:
                members[f"{bname}_{mname}"] = block.signature.members[mname]
        if port_checker is not None:
            members["chk_fail"] = Out(1)
            members["chk_who"] = Out(len(self.master_names))
            members["chk_kind"] = Out(port_checker.KIND_WIDTH)
        super().__init__(members)

    def external_sources(self) -> dict:
        """``{file name: path or text}`` of non-Amaranth RTL the blocks instantiate
        (e.g. the cores' SystemVerilog), in compile order."""
        out = {}
        for block in self.blocks.values():
            out.update(block.external_sources())
        return out

    def synth_stubs(self) -> dict:
        """``{file name: Verilog}`` port-only stand-ins for external RTL (synthesis)."""
        out = {}
        for block in self.blocks.values():
            out.update(block.synth_stubs())
        return out

    def macro_modules(self) -> dict:
        """``{module name: factory}`` of macros the blocks instantiate by name."""
        out = {}
        for block in self.blocks.values():
            out.update(block.macro_modules())
        return out

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        m.domains.free = free = ClockDomain("free", local=True)
        m.domains.sync = cd = ClockDomain("sync", local=True)
        m.d.comb += free.clk.eq(self.clk)
        # One synchronizer per domain (they release at the same edge): a reset taken
        # from the ungated domain would make the simulator re-evaluate every
        # register's next-state logic at each edge of the ungated clock.
        m.submodules.rst_sync = ResetSynchronizer(self.rst, domain="sync",
                                                  stages=self.RESET_STAGES)
        m.submodules.rst_sync_free = ResetSynchronizer(self.rst, domain="free",
                                                       stages=self.RESET_STAGES)
        m.submodules.interconnect = ic = Interconnect(cfg, self.comp)
        for k in range(cfg.tcdm.banks):
            bank = TcdmBank(cfg.tcdm.bank_words, macro=self.sram_macros)
            m.submodules[f"bank{k}"] = bank
            wiring.connect(m, ic.banks[k], bank.port)

        for name in self.external_masters:
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(ic, name))
        for s in self.external_slaves:
            wiring.connect(m, getattr(ic, f"periph_{s}"), wiring.flipped(getattr(self, f"periph_{s}")))
        for w in self.external_mems:
            wiring.connect(m, getattr(ic, f"mem_{w.name}"), wiring.flipped(getattr(self, f"mem_{w.name}")))

        for bname, block in self.blocks.items():
            m.submodules[bname] = block
            if block.ctrl_window:
                wiring.connect(m, getattr(ic, f"periph_{block.ctrl_window}"), block.ctrl)
            if block.mem_window:
                wiring.connect(m, getattr(ic, f"mem_{block.mem_window}"), block.mem)
            for mname in block.external:
                _lift(m, block, mname, getattr(self, f"{bname}_{mname}"))

        muxes = connect_masters(m, self.blocks, ic)   # shared masters through a PortMux

        ctrl = self.blocks.get("ctrl")
        events = self.comp.events
        if events:
            sources = {k: v for b in self.blocks.values() for k, v in b.events().items()}
            for block in self.blocks.values():
                if block is ctrl or block.wants_events:
                    m.d.comb += block.evt_in.eq(Cat(sources.get(n, 0) for n in events))

        # job waits: every job source's count to the HWPEs that have waits
        counts = [self.blocks[n].job_count() if n in self.blocks else None
                  for n in self.comp.job_sources]
        for block in self.blocks.values():
            if block.wants_job_counts:
                for port, cnt in zip(block.job_counts, counts):
                    if cnt is not None:
                        m.d.comb += port.eq(cnt)

        if ctrl is not None and getattr(ctrl, "counters", None) is not None:
            self._wire_counters(m, ctrl.counters)
        if self.port_checker is not None:
            self._attach_checkers(m, ic)
        quiet = self._quiet_terms(ic, muxes)
        if quiet is None:
            m.d.comb += cd.clk.eq(self.clk)
        else:
            self._clock_gate(m, cd, quiet)
        return m

    def _wire_counters(self, m, counters):
        """The blocks' activity and the TCDM accesses per master class (granted
        requests to a bank, counted at the block's own port, before any port
        mux) into the control block's activity counters."""
        keys = {s.key for s in counters.specs}
        grants: dict[str, list] = {}
        t = self.cfg.tcdm
        for inst in self.comp.instances:
            block = self.blocks.get(inst.name)
            if block is None:
                continue
            prefix = inst.kind.counter_prefix(inst)
            for key, sig in block.activity().items():
                assert prefix + key in keys, f"{inst.name}: no counter {prefix + key}"
                m.d.comb += counters.act(prefix + key).eq(sig)
            if inst.kind.tcdm_class:
                for name, port in block.tcdm_masters().items():
                    g = Signal(name=f"{name}_tcdm_access")
                    m.d.comb += g.eq(port.req & port.gnt & in_window(port.addr, t.base,
                                                                       t.size_bytes))
                    grants.setdefault(inst.kind.tcdm_class, []).append(g)
        for cls, gs in grants.items():
            m.d.comb += counters.act(f"tcdm.{cls}").eq(sum(gs))

    @property
    def idle_gate(self) -> bool:
        """The cluster has the idle clock gate: configured, every block can tell
        when it is quiet, and no master or target lives outside the cluster
        (their activity is not visible here)."""
        return (self.cfg.clock.idle_gate and not (self.external_masters or self.external_slaves
                                                  or self.external_mems)
                and all(b.quiet() is not None for b in self.blocks.values()))

    def _quiet_terms(self, ic, muxes):
        """All quiet: every block, the interconnect and the port muxes; None
        without the gate."""
        if not self.idle_gate:
            return None
        terms = [ic.quiet] + [b.quiet() for b in self.blocks.values()]
        terms += [mux.quiet for mux in muxes]
        return Cat(*terms).all()

    def _clock_gate(self, m, cd, quiet):
        active = Signal(name="cluster_active")
        m.d.comb += active.eq(~quiet | ResetSignal("sync"))
        tail = Signal(self.GATE_TAIL, name="cluster_active_tail")
        m.d.free += tail.eq(Cat(active, tail[:-1]))
        m.domains.gate = ClockDomain("gate", clk_edge="neg", reset_less=True, local=True)
        clk_en = Signal(init=1, name="cluster_clk_en")
        m.d.comb += ClockSignal("gate").eq(self.clk)
        m.d.gate += clk_en.eq(active | tail.any())
        gated = Signal(name="clk_gated")
        m.d.comb += [gated.eq(self.clk & clk_en), cd.clk.eq(gated)]
        if "ctrl" in self.blocks:       # counts the stopped cycles (GATED_CYCLES)
            m.d.comb += self.blocks["ctrl"].clock_stopped.eq(~clk_en)
        if "soc" in self.blocks:        # takes AXI transfers only while the clock runs
            m.d.comb += self.blocks["soc"].clock_on.eq(clk_en)

    def wave_groups(self, scope: str, module_ports=None) -> dict[str, list[tuple[str, int]]]:
        """Signals worth a first look in a waveform, grouped per block:
        ``{group: [(hierarchical name under scope, width)]}`` (tb/waves.py).
        ``module_ports(instance path) -> [(port, width)]`` reads the generated
        Verilog; with it, each block's ``wave_parts`` get groups of their own."""
        groups: dict[str, list[tuple[str, int]]] = {}
        if "soc" in self.blocks:
            groups["SoC port"] = [(f"{scope}.soc_axi__{n}", len(v)) for n, v in
                                  _flat(self.blocks["soc"].axi) if "valid" in n or "ready" in n
                                  or n in ("awaddr", "araddr", "wdata", "rdata", "bresp", "rresp",
                                           "awlen", "arlen")]
        for name in self.master_names:
            groups[f"interconnect/{name}"] = [
                (f"{scope}.interconnect.{name}__{k}", w) for k, w in
                (("req", 1), ("gnt", 1), ("addr", 32), ("we", 1), ("be", 4), ("wdata", 32),
                 ("r_valid", 1), ("r_err", 1), ("rdata", 32))]
        for bname, block in self.blocks.items():
            if bname != "soc":
                groups[f"blocks/{bname}"] = [(f"{scope}.{bname}.{n}", len(v))
                                             for n, v in _flat(block)]
            for mname in block.external if bname != "soc" else ():
                member = getattr(block, mname)
                if hasattr(member, "signature") and not block.signature.members[mname].dimensions:
                    groups[f"{bname}/{mname} port"] = [
                        (f"{scope}.{bname}_{mname}__{n}", len(v)) for n, v in _flat(member)]
            for label, path in (block.wave_parts.items() if module_ports else ()):
                ports = module_ports(f"{bname}.{path}")
                if ports:
                    groups[f"{bname}/{label}"] = [(f"{scope}.{bname}.{path}.{n}", w)
                                                  for n, w in ports]
        if self.idle_gate:
            groups["clock gate"] = [(f"{scope}.{n}", 1) for n in
                                    ("clk", "clk_gated", "cluster_clk_en", "cluster_active")]
            groups["clock gate"] += [(f"{scope}.{b.quiet().name}", 1) for b in self.blocks.values()]
        if self.port_checker is not None:
            groups["protocol checkers"] = [(f"{scope}.chk_fail", 1),
                                           (f"{scope}.chk_who", len(self.master_names)),
                                           (f"{scope}.chk_kind", 2)]
        return groups

    def _attach_checkers(self, m, ic):
        errors, kinds = [], []
        for name in self.master_names:
            chk = self.port_checker(name)
            m.submodules[f"chk_{name}"] = chk
            chk.observe(m, getattr(ic, name))
            errors.append(chk.error)
            kinds.append(chk.kind)
        kind = Signal.like(self.chk_kind, name="chk_kind_now")
        for err, k in reversed(list(zip(errors, kinds))):
            with m.If(err):
                m.d.comb += kind.eq(k)   # the lowest failing master's rule
        with m.If(~self.chk_fail & Cat(errors).any()):
            m.d.sync += [self.chk_fail.eq(1), self.chk_who.eq(Cat(errors)),
                         self.chk_kind.eq(kind)]


def _lift(m, block, mname, outer):
    """Connect a block's member to the cluster's copy of it on the top level."""
    inner = getattr(block, mname)
    member = block.signature.members[mname]
    if member.dimensions:
        for i in range(member.dimensions[0]):
            _lift_one(m, member, inner[i], outer[i])
    else:
        _lift_one(m, member, inner, outer)


def _lift_one(m, member, inner, outer):
    if member.is_signature:
        wiring.connect(m, inner, wiring.flipped(outer))
    elif member.flow == Out:
        m.d.comb += outer.eq(inner)
    else:
        m.d.comb += inner.eq(outer)


def _flat(iface):
    """(Verilog port name, signal) of every member of an interface, as Amaranth
    names the ports of the module that owns it."""
    return [("__".join(str(p) for p in path), v)
            for path, _flow, v in iface.signature.flatten(iface)]
