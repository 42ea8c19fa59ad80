"""What a cluster block is: the component side (:class:`ClusterBlock`, what an
elaborated block tells the cluster top) and the declaration side
(:class:`BlockKind`, what a kind of block contributes to the cluster's
structure before anything is built: instances, interconnect masters, windows,
events, register map, configuration readout).

Every block kind lives in its own folder of rtl/ with one :class:`BlockKind`
subclass; rtl/registry.py lists the kinds in order and derives the cluster's
master list, address map, event list and register maps from them
(docs/architecture.md, "Adding an accelerator").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imcc.gen.config import AddressWindow, ClusterConfig

if TYPE_CHECKING:
    from .hwpe.regs import Field, RegisterMap
    from .registry import Composition

__all__ = ["ClusterBlock", "BlockKind", "Instance", "ReadoutField"]


class ClusterBlock:
    """What a block tells the cluster (a mixin for a ``wiring.Component``).

    * ``name``: the instance name (``ima``, ``ima1``, ...), set by the kind.
    * ``tcdm_masters()``: ``{master name: port}`` with ``Out(TcdmSignature())``
      ports, names as its kind declared them (:meth:`BlockKind.masters`).
    * ``ctrl_window``: the name of its peripheral window with the
      ``In(TargetSignature)`` member ``ctrl``; ``None`` if it has none.
    * ``external``: member names lifted to the cluster top as ``<instance>_<member>``.
    * ``events()``: end-of-job / error pulses for the cluster control block.
    * ``port_busy()``: a 1-bit signal, high while the block must keep the masters
      it shares with other blocks (a running job), or ``None``.  A master
      claimed by several blocks (an IMA's and a DW's ``hwpe*`` ports) goes
      through a :class:`~imcc.rtl.hwpe.port_mux.PortMux` that hands the ports
      over only when the holder has no request and is not busy.
    * ``mem_window``: the name of a memory window it answers with the
      ``In(TargetSignature)`` member ``mem``; ``None`` if none.
    * ``wants_events``: the block has an ``evt_in`` input that receives the
      events of all blocks in the composition's event order (as the control block).
    * ``wave_parts``: ``{label: instance path under the block}`` of the
      sub-blocks whose ports get their own group in waveform layouts.
    * ``quiet()``: a 1-bit signal, high only while no register of the block
      would change at the next clock edge as long as nothing reaches it
      (no bus request, event or input change); registers that merely settle
      within two edges of the last activity (response and pulse registers)
      need not count.  ``None``: the block cannot tell, and the cluster's
      clock never stops.
    * ``activity()``: ``{counter key: signal}`` for the activity counters its
      kind declares (:meth:`BlockKind.counters`, keys without the instance
      prefix): a 1-bit condition for a ``level`` counter, an amount per clock
      edge for an ``event`` counter.  Signals made in ``__init__`` and driven
      by the block's elaboration; the cluster wires them to the control block.
    * ``job_count()``: a 16-bit count of the block's ended jobs that other
      blocks' job waits compare against (an HWPE's FINISHED_JOBS, the DMA's
      DONE_ID), for kinds with ``job_source``; ``None`` otherwise.
    * ``job_counts``: with ``wants_job_counts``, an input array receiving every
      job source's count in ``Composition.job_sources`` order (HWPE job waits).
    * ``external_sources()``, ``synth_stubs()``, ``macro_modules()``: non-Amaranth
      RTL the block instantiates, its port-only stand-ins for synthesis, and
      macros instantiated by module name (empty by default).
    """

    name: str = ""
    ctrl_window: str | None = None
    mem_window: str | None = None
    wants_events: bool = False
    wants_job_counts: bool = False
    external: tuple[str, ...] = ()
    wave_parts: dict[str, str] = {}

    def tcdm_masters(self) -> dict:
        return {}

    def port_busy(self):
        return None

    def quiet(self):
        return None

    def activity(self) -> dict:
        return {}

    def job_count(self):
        return None

    def events(self) -> dict:
        """``{event name: 1-bit pulse}``, names ``<instance>_<event>`` as the
        kind declared them; the cluster control block turns them into interrupt lines."""
        return {}

    def external_sources(self) -> dict:
        return {}

    def synth_stubs(self) -> dict:
        return {}

    def macro_modules(self) -> dict:
        return {}


@dataclass(frozen=True)
class Instance:
    """One block of the cluster: instance ``index`` of kind ``kind``.

    Instance 0 carries the kind's name, instance k > 0 the name followed by k
    (``ima``, ``ima1``, ``ima2``): adding a second instance renames nothing of
    the first, so software and waveforms written for one keep working."""
    kind: "BlockKind"
    index: int
    name: str

    def __repr__(self):
        return f"Instance({self.name})"


@dataclass(frozen=True)
class ReadoutField:
    """A field a kind contributes to the cluster control block's configuration
    readout: ``register`` (an existing readout register such as ``CLUSTER_CFG``
    or one the kind declares in :attr:`BlockKind.readout_registers`), the
    field and its value for the configuration."""
    register: str
    field: "Field"
    value: int


class BlockKind:
    """A kind of cluster block: everything the cluster's structure needs to
    know about it, from the configuration alone (nothing is elaborated).

    Override what the kind has; the defaults describe a block with one
    instance, no masters, no window and no events.

    Class attributes:

    * ``name``: the kind's name (instance names derive from it).
    * ``window``: ``"instance"``: each instance has a peripheral control window
      named after it; a string: one window of that name (e.g. the cores' ``eu``);
      ``None``: no window.
    * ``master_rank``: where its interconnect masters go in port order (0
      processors, 1 accelerators, 2 the SoC port).  Port order is the
      interconnect's round-robin order, hence part of the cluster's timing.
    * ``events``: event suffixes of each instance (``done`` gives ``<instance>_done``).
    * ``readout_registers``: ``(name, offset, doc)`` of configuration readout
      registers the kind adds to the cluster control block.
    * ``tcdm_class``: the master class its interconnect masters' TCDM accesses
      count in (``tcdm.<class>``, rtl/ctrl/counters.py); ``None``: not counted.
    * ``job_source``: its instances count ended jobs that HWPE job waits may
      name (``Composition.job_sources``).
    """

    name: str = ""
    window: str | None = None
    master_rank: int = 1
    events: tuple[str, ...] = ()
    readout_registers: tuple[tuple[str, int, str], ...] = ()
    tcdm_class: str | None = None
    job_source: bool = False

    def count(self, cfg: ClusterConfig) -> int:
        """Instances of the kind in ``cfg``."""
        return 1

    def instance_name(self, k: int) -> str:
        return self.name if k == 0 else f"{self.name}{k}"

    def masters(self, cfg: ClusterConfig, k: int) -> list[str]:
        """Interconnect master names of instance ``k``, in port order.  A name
        two kinds both declare is one master they share through a port mux."""
        return []

    def window_name(self, inst: Instance) -> str | None:
        return inst.name if self.window == "instance" else self.window

    def mem_windows(self, cfg: ClusterConfig) -> list[AddressWindow]:
        """Memory windows (outside the TCDM and the peripherals) the kind answers."""
        return []

    def regmap(self, cfg: ClusterConfig, comp: "Composition") -> "RegisterMap | None":
        """The register map of the kind's control window (one per kind: every
        instance has the same layout at its own base)."""
        return None

    def readout(self, cfg: ClusterConfig, comp: "Composition") -> list[ReadoutField]:
        """Fields of the cluster control block's configuration readout."""
        return []

    def counters(self, cfg: ClusterConfig, inst: Instance) -> list:
        """Activity counters of instance ``inst``
        (:class:`~imcc.rtl.ctrl.counters.CounterSpec`, keys without the
        prefix); its block's ``activity()`` drives them."""
        return []

    def counter_prefix(self, inst: Instance) -> str:
        """What precedes the keys of :meth:`counters`: ``<kind><index>.``."""
        return f"{self.name}{inst.index}."

    def build(self, cfg: ClusterConfig, inst: Instance, comp: "Composition") -> ClusterBlock:
        """The component of instance ``inst`` (imports its RTL lazily, so the
        structure is known without elaborating anything)."""
        raise NotImplementedError(self.name)

    def __repr__(self):
        return f"<block kind {self.name}>"
