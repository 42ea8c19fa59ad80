"""The registry of block kinds and the cluster structure derived from it.

:data:`REGISTRY` lists the kinds in order; that order is the order of the
peripheral windows (after the TCDM), of the events and of the blocks.  The
interconnect's masters are ordered by each kind's ``master_rank`` first
(processors, accelerators, the SoC port), then by this order.

:func:`compose` turns a configuration into a :class:`Composition`: the
instances present and the cluster's master list, address map, event list and
register maps.  Nothing in it is elaborated; the cluster top
(rtl/cluster.py), the generator's outputs (gen/regmap.py, gen/elaborate.py),
the testbenches and the software's headers all read it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from imcc.gen.config import GEN_LIMITS, AddressWindow, ClusterConfig, ConfigError
from .block import BlockKind, ClusterBlock, Instance
from .ctrl.kind import CtrlKind
from .cores.kind import CoresKind
from .dma.kind import DmaKind
from .dw.kind import DwKind
from .ima.kind import ImaKind
from .soc.kind import SocKind

__all__ = ["REGISTRY", "Composition", "compose", "cluster_blocks", "build_block"]

# One entry per block kind, in window / event order.  A new kind adds one line.
REGISTRY: tuple[BlockKind, ...] = (CtrlKind(), ImaKind(), DwKind(), CoresKind(), DmaKind(),
                                   SocKind())

MAX_MASTERS = 64


@dataclass(frozen=True)
class Composition:
    """The structure of one cluster (see the module doc).

    Members: ``instances`` (every block, registry order), ``masters`` (the
    interconnect's master names in port order), ``periph_slaves`` (control
    windows in window order), ``memory_windows``, ``events`` (event names in
    the bit order of the control block's EVT_PENDING / IRQ_MASK and of
    ``ctrl_irq``)."""

    cfg: ClusterConfig
    instances: tuple[Instance, ...]
    masters: tuple[str, ...]
    periph_slaves: tuple[str, ...]
    memory_windows: tuple[AddressWindow, ...]
    events: tuple[str, ...]

    @property
    def job_sources(self) -> tuple[str, ...]:
        """The instances whose job counts HWPE job waits name (WAITk.SOURCE is an
        index into this): the kinds with ``job_source``, in instance order."""
        return tuple(i.name for i in self.instances if i.kind.job_source)

    def of_kind(self, name: str) -> list[Instance]:
        return [i for i in self.instances if i.kind.name == name]

    def instance(self, name: str) -> Instance:
        for i in self.instances:
            if i.name == name:
                return i
        raise KeyError(f"no block instance {name!r} in this configuration "
                       f"(instances: {', '.join(i.name for i in self.instances)})")

    def address_map(self) -> list[AddressWindow]:
        win = self.cfg.interconnect.periph_window_kib * 1024
        base = self.cfg.interconnect.periph_base
        amap = [AddressWindow("tcdm", self.cfg.tcdm.base, self.cfg.tcdm.size_bytes)]
        amap += [AddressWindow(s, base + i * win, win) for i, s in enumerate(self.periph_slaves)]
        return amap + list(self.memory_windows)

    def base(self, window: str) -> int:
        """Byte address of a window of the address map."""
        for w in self.address_map():
            if w.name == window:
                return w.base
        raise KeyError(window)

    def window_of(self, inst: Instance | str) -> str | None:
        inst = self.instance(inst) if isinstance(inst, str) else inst
        return inst.kind.window_name(inst)

    def register_maps(self) -> list[tuple]:
        """``(RegisterMap, {instance name: base})`` per kind that has one, in
        registry order (one C header and docs table per kind)."""
        out = []
        for k in REGISTRY:
            insts = [i for i in self.instances if i.kind is k]
            rm = k.regmap(self.cfg, self) if insts else None
            if rm is not None:
                out.append((rm, {i.name: self.base(self.window_of(i)) for i in insts}))
        return out

    def event_bits(self, inst: Instance | str) -> dict[str, int]:
        """``{suffix: bit}`` of an instance's events (``{"done": 0, "error": 1}``)."""
        name = inst if isinstance(inst, str) else inst.name
        return {e[len(name) + 1:]: i for i, e in enumerate(self.events)
                if e.startswith(name + "_") and e[len(name) + 1:] in self.instance(name).kind.events}


@functools.lru_cache(maxsize=64)
def compose(cfg: ClusterConfig) -> Composition:
    """The cluster structure of ``cfg``.  A configuration whose structure does
    not fit (windows that overlap, too many masters) raises a
    :class:`ConfigError` naming the field to change."""
    instances = tuple(Instance(k, i, k.instance_name(i)) for k in REGISTRY
                      for i in range(k.count(cfg)))
    masters: list[str] = []
    for rank in sorted({i.kind.master_rank for i in instances}):
        for inst in instances:
            if inst.kind.master_rank == rank:
                masters += [n for n in inst.kind.masters(cfg, inst.index) if n not in masters]
    slaves = tuple(w for w in (i.kind.window_name(i) for i in instances) if w)
    mems = tuple(w for k in REGISTRY if any(i.kind is k for i in instances)
                 for w in k.mem_windows(cfg))
    events = tuple(f"{i.name}_{e}" for i in instances for e in i.kind.events)
    comp = Composition(cfg, instances, tuple(masters), slaves, mems, events)
    _check(comp)
    return comp


def _check(comp: Composition):
    cfg = comp.cfg
    n = len(comp.masters)
    if not 1 <= n <= MAX_MASTERS:
        raise ConfigError("cores.count", cfg.cores.count,
                          f"a value that keeps the TCDM masters between 1 and {MAX_MASTERS} "
                          f"(now {n})")
    pairs = GEN_LIMITS["masters_x_banks"]
    if n * cfg.tcdm.banks > pairs:
        raise ConfigError("tcdm.banks", cfg.tcdm.banks,
                          f"at most {pairs // n} banks with {n} TCDM masters (the interconnect's "
                          f"master x bank pairs are limited to {pairs}, which generates in about a "
                          f"minute)")
    from .cores.event_unit import MAX_ACC_EVENTS
    if comp.of_kind("cores") and len(comp.events) > MAX_ACC_EVENTS:
        raise ConfigError("ima.instances", cfg.ima.instances,
                          f"instances whose events fit the event unit: {len(comp.events)} "
                          f"accelerator events, at most {MAX_ACC_EVENTS} (2 per instance)")
    win = cfg.interconnect.periph_window_kib * 1024
    from .ctrl.counters import counter_registers
    counter_registers(cfg, comp, win)       # the activity counters fit the control window
    pb, span = cfg.interconnect.periph_base, len(comp.periph_slaves) * win
    t = cfg.tcdm
    if pb < t.base + t.size_bytes and t.base < pb + span:
        raise ConfigError("interconnect.periph_base", hex(pb),
                          f"a window that does not overlap the TCDM [{t.base:#x}, "
                          f"{t.base + t.size_bytes:#x})")
    if pb + span > 2**32:
        raise ConfigError("interconnect.periph_base", hex(pb), "a window that ends below 4 GiB")
    others = [("TCDM", t.base, t.size_bytes), ("peripherals", pb, span)]
    for w in comp.memory_windows:
        for what, base, size in others:
            if w.base < base + size and base < w.base + w.size:
                raise ConfigError(f"{w.name}.base" if w.field is None else w.field, hex(w.base),
                                  f"a window that does not overlap the {what} "
                                  f"[{base:#x}, {base + size:#x})")


def build_block(cfg: ClusterConfig, name: str) -> ClusterBlock:
    """The component of block instance ``name`` alone (unit tests)."""
    comp = compose(cfg)
    inst = comp.instance(name)
    return inst.kind.build(cfg, inst, comp)


def cluster_blocks(cfg: ClusterConfig, *, skip: tuple[str, ...] = ()) -> dict[str, ClusterBlock]:
    """The blocks of ``cfg`` by instance name, built from the registry; kinds
    named in ``skip`` are left out (testbench tops that drive their masters
    themselves)."""
    comp = compose(cfg)
    return {i.name: i.kind.build(cfg, i, comp) for i in comp.instances
            if i.kind.name not in skip}
