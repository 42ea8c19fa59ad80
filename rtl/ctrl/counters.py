"""Activity counters of the cluster control block (``counters.enabled``;
docs/counters.md).

Which counters a cluster has follows from the block registry: every kind
declares its own (:meth:`~imcc.rtl.block.BlockKind.counters`: the IMA's busy
cycles and per-array MVMs and PCM writes, the DW's busy cycles and MACs, ...)
and every kind with interconnect masters one TCDM access counter of its
master class (``tcdm.<class>``).  :func:`counter_specs` lists them in register
order; :func:`counter_registers` turns them into registers of the control
block's map (the single source of the decode, ``imcc_ctrl.h``, the Python
constants and docs/ctrl-registers.md); :class:`ActivityCounters` counts.

Two kinds of counter:

* ``level``: a condition (a block is busy, a core sleeps) counted once per
  cycle of the ungated clock (the cluster's ``free`` domain), so cycles in
  which the idle gate stops the cluster's clock count too;
* ``event``: an amount (MVMs started, bytes moved) added at each edge of the
  cluster's clock (``sync``): events happen only at edges that change state.

Counters observe and never drive: nothing of the cluster waits for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig, ConfigError
from ..hwpe.regs import Field, Register

__all__ = ["CounterSpec", "counter_specs", "counter_registers", "ActivityCounters",
           "COUNTERS_BASE", "TCDM_CLASSES"]

COUNTERS_BASE = 0x100       # CNT_CTRL; CNT_CLEAR at +4, the counters from +0x10
TCDM_CLASSES = ("cores", "ima", "dw", "dma", "soc")     # master classes, in key order


@dataclass(frozen=True)
class CounterSpec:
    """One counter.

    ``key``: its name in the testbenches' flat dict (``ima0.array1.mvm``);
    ``kind``: ``"level"`` or ``"event"`` (module doc); ``width``: counter bits
    (32, or 48 where 32 would wrap within one network); ``inc``: bits of an
    event's amount per cycle (1 for a level); ``doc``: what one count is."""
    key: str
    kind: str
    doc: str
    width: int = 32
    inc: int = 1

    @property
    def ident(self) -> str:
        """``ima0_array1_mvm``: the key as an identifier (signal and port names)."""
        return self.key.replace(".", "_")

    @property
    def reg(self) -> str:
        return "CNT_" + self.ident.upper()

    @property
    def words(self) -> int:
        return (self.width + 31) // 32


def counter_specs(cfg: ClusterConfig, comp) -> list[CounterSpec]:
    """The counters of ``cfg`` in register order: ``cycles``, the cores', the
    IMAs', the DWs', the DMA's, then the TCDM accesses per master class
    present; empty when ``counters.enabled`` is false."""
    if not cfg.counters.enabled:
        return []
    out = [CounterSpec("cycles", "level", "cycles of the counting window (since CNT_CLEAR, "
                                          "while not frozen)")]
    order = ("cores", "ima", "dw", "dma")
    for kind in order:
        for inst in comp.of_kind(kind):
            prefix = inst.kind.counter_prefix(inst)
            out += [CounterSpec(prefix + s.key, s.kind, s.doc, s.width, s.inc)
                    for s in inst.kind.counters(cfg, inst)]
    classes: dict[str, int] = {}
    for inst in comp.instances:
        c = inst.kind.tcdm_class
        if c:
            classes[c] = classes.get(c, 0) + len(inst.kind.masters(cfg, inst.index))
    for c in TCDM_CLASSES:
        if classes.get(c):
            out.append(CounterSpec(f"tcdm.{c}", "event",
                                   f"granted TCDM (bank) requests of the {c} masters",
                                   inc=classes[c].bit_length()))
    return out


def counter_registers(cfg: ClusterConfig, comp, window_bytes: int) -> list[Register]:
    """CNT_CTRL, CNT_CLEAR and one register per counter word (``_LO``/``_HI``
    for a counter wider than 32 bits); a layout that leaves the control
    block's window raises a :class:`ConfigError` on ``counters.enabled``."""
    specs = counter_specs(cfg, comp)
    if not specs:
        return []
    R = Register
    regs = [R("CNT_CTRL", COUNTERS_BASE, "rw", "activity counters: control", kind="io",
              fields=(Field("FREEZE", 0, 1, "1: every activity counter and GATED_CYCLES hold "
                                            "their values (read a consistent snapshot)"),)),
            R("CNT_CLEAR", COUNTERS_BASE + 4, "wo", "write (any value): set every activity "
              "counter and GATED_CYCLES to 0 (a new counting window)", kind="io")]
    off = COUNTERS_BASE + 0x10
    for s in specs:
        what = f"{s.kind}: {s.doc}"
        if s.words == 1:
            regs.append(R(s.reg, off, "ro", f"{what} (wraps at 2^{s.width})", kind="io"))
        else:
            regs.append(R(s.reg + "_LO", off, "ro", f"{what}, low word; reading it latches the "
                          f"high word (the counter wraps at 2^{s.width})", kind="io"))
            regs.append(R(s.reg + "_HI", off + 4, "ro", f"bits {s.width - 1}:32 of {s.reg} as "
                          "latched by the last read of a _LO counter word", kind="io"))
        off += 4 * s.words
    if off > window_bytes:
        raise ConfigError("counters.enabled", True,
                          f"false, or a larger interconnect.periph_window_kib: the {len(specs)} "
                          f"activity counters need {off} bytes of the control block's window "
                          f"({window_bytes})")
    return regs


class ActivityCounters(wiring.Component):
    """The counters of ``specs`` (the ``cycles`` counter counts by itself).

    Members
    -------
    act_<ident> : In(spec.inc)
        Per counter but ``cycles``: the condition (level) or amount (event).
    freeze : In(1)
        Hold every counter.
    clear : In(1)
        One cycle: every counter to 0 (wins over counting).
    cnt_<ident> : Out(spec.width)
        The counter registers (readable by VPI: tb/csrc/public.vlt).
    """

    def __init__(self, specs: list[CounterSpec]):
        self.specs = list(specs)
        members = {"freeze": In(1), "clear": In(1)}
        for s in self.specs:
            if s.key != "cycles":
                members[f"act_{s.ident}"] = In(s.inc)
            members[f"cnt_{s.ident}"] = Out(s.width)
        super().__init__(members)

    def act(self, key: str):
        return getattr(self, "act_" + key.replace(".", "_"))

    def events_now(self):
        """Signals of the event counters' inputs (non-zero: a count at the next edge)."""
        return [self.act(s.key) for s in self.specs if s.kind == "event"]

    def elaborate(self, platform):
        m = Module()
        for s in self.specs:
            cnt = getattr(self, f"cnt_{s.ident}")
            domain = m.d.free if s.kind == "level" else m.d.sync
            with m.If(self.clear):
                domain += cnt.eq(0)
            with m.Elif(~self.freeze):
                if s.key == "cycles":
                    domain += cnt.eq(cnt + 1)
                elif s.kind == "level":
                    with m.If(self.act(s.key)):
                        domain += cnt.eq(cnt + 1)
                else:
                    domain += cnt.eq(cnt + self.act(s.key))
        return m
