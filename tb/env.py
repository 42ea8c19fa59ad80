"""The cluster test environment every cocotb bench on the generated cluster
(tb/tops/cluster_tb) starts from, and the bench side of running a bench.

:meth:`ClusterEnv.start`: the configuration (``IMCC_CONFIG``), the clock, the
tie-offs of ports no block drives, the reset, the TCDM protocol monitor, the
SoC port's AXI manager, the TCDM backdoor and a bump allocator, one
behavioural crossbar per IMA instance on its macro port (ideal or PCM as
configured, each array with a seed of its own), and :meth:`ClusterEnv.driver`
for any accelerator instance (tb/bus/hwpe.py).

A bench returns its figures with :func:`write_result` (JSON); the harness's
``run_bench`` reads them back (tb/harness.py).
"""

from __future__ import annotations

import json
import os

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.rtl.registry import compose

__all__ = ["config", "write_result", "record_failure", "ClusterEnv"]


def config() -> ClusterConfig:
    """The configuration the bench runs (``IMCC_CONFIG``, set by the harness)."""
    return ClusterConfig.from_dict(json.loads(os.environ["IMCC_CONFIG"]))


def write_result(data) -> None:
    """Hand the bench's figures (JSON-serialisable) to the harness."""
    path = os.environ.get("IMCC_RESULT")
    if path:
        with open(path, "w") as f:
            json.dump(data, f)


def record_failure(what: str, start_ps: float | None, event_ps: float | None) -> None:
    """Name the job a failing run failed on, for the waves layout: the harness
    opens a failed run's layout on [``start_ps``, ``event_ps``] (the job's
    start and its error event, simulated picoseconds) instead of the whole
    run.  The latest failure replaces earlier ones: benches that expect some
    jobs to fail go on, and the one that failed the run comes last
    (``IMCC_FOCUS``, set by the harness; nothing happens without it)."""
    path = os.environ.get("IMCC_FOCUS")
    if not path or start_ps is None or event_ps is None:
        return
    with open(path, "w") as f:
        json.dump({"what": what, "start_ps": start_ps, "event_ps": event_ps}, f)


class ClusterEnv:
    """Members: ``dut``, ``cfg``, ``comp`` (the composition), ``axi`` (the SoC
    port's manager), ``regs`` (32-bit register accesses over it), ``mem`` (the
    TCDM backdoor), ``l2`` (the L2 backdoor, on tb/tops/cluster_l2; else
    None), ``arrays`` (``{(IMA instance, array): Crossbar}``), ``xbars``
    (``{IMA instance: its array 0}``)."""

    def __init__(self, dut, cfg: ClusterConfig, axi):
        from imcc.tb.bus.hwpe_axi import AxiRegs
        from imcc.tb.bus.tcdm_backdoor import L2Backdoor, TcdmBackdoor
        self.dut, self.cfg, self.comp, self.axi = dut, cfg, compose(cfg), axi
        # the cluster's hierarchy: the top itself, or dut.cluster in a wrapper top
        self.cluster = dut.cluster if hasattr(dut, "cluster") else dut
        self.regs = AxiRegs(axi) if axi is not None else None
        self.mem = TcdmBackdoor(self.cluster, cfg)
        self.l2 = L2Backdoor(dut.l2, cfg) if hasattr(dut, "l2") else None
        self.xbars: dict = {}
        self.arrays: dict = {}
        self._drivers: dict = {}
        self._next = cfg.tcdm.base

    @classmethod
    async def start(cls, dut, cfg: ClusterConfig | None = None, *, crossbars: bool = True,
                    irqs: bool = True) -> "ClusterEnv":
        """Clock, tie-offs, reset, monitor and AXI manager (tb/benches/soc_axi.setup);
        with ``crossbars`` a behavioural crossbar on every IMA instance's macro
        port (otherwise the macro inputs are tied off); with ``irqs`` every
        accelerator's events enabled on the interrupt line."""
        from imcc.tb.benches.soc_axi import setup, tie_off_macros
        cfg = cfg or config()
        if hasattr(dut, "l2_err_lo"):           # no injected L2 errors unless a test asks
            dut.l2_err_lo.value = dut.l2_err_hi.value = 0
        env = cls(dut, cfg, await setup(dut, cfg))
        if crossbars:
            from imcc.tb.bus.crossbar_macro import attach_crossbars
            env.arrays = attach_crossbars(dut, cfg)
            env.xbars = {i: x for (i, k), x in env.arrays.items() if k == 0}
        else:
            tie_off_macros(dut, cfg)
        if irqs and env.comp.events:
            ctrl = env.comp.instance("ctrl")
            await env.regs.write(env.comp.base("ctrl") + ctrl.kind.regmap(cfg, env.comp)["IRQ_MASK"]
                                 .offset, (1 << len(env.comp.events)) - 1)
        return env

    def preload(self, image):
        """Start from programmed arrays: load a weight image
        (:class:`imcc.sim.weight_image.WeightImage`) into the arrays' models, as
        a deployed chip's non-volatile arrays already hold their weights."""
        image.load_into(self.arrays)

    def driver(self, instance: str):
        """The :class:`~imcc.tb.bus.hwpe.HwpeDriver` of an accelerator instance
        (register accesses over the SoC port, events on the interrupt line)."""
        from imcc.tb.bus.hwpe import hwpe_driver
        if instance not in self._drivers:
            self._drivers[instance] = hwpe_driver(self.dut, self.cfg, self.regs, instance)
        return self._drivers[instance]

    def cycle(self) -> int:
        """The cluster's cycle counter (control block, ungated clock)."""
        return int(self.cluster.ctrl.cycles.value)

    def dma(self, instance: str = "dma"):
        """The DMA's driver (tb/bus/dma.py), events counted on its lines."""
        from imcc.tb.bus.dma import DmaDriver
        if instance not in self._drivers:
            self._drivers[instance] = DmaDriver(self.dut, self.cfg, self.regs, instance)
        return self._drivers[instance]

    def alloc(self, nbytes: int, align: int = 4) -> int:
        """A fresh TCDM region of ``nbytes`` (bump allocation, ``align``-aligned)."""
        a = (self._next + align - 1) // align * align
        self._next = a + nbytes
        t = self.cfg.tcdm
        if self._next > t.base + t.size_bytes:
            raise RuntimeError(f"test data exceeds the TCDM ({nbytes} more bytes at {a:#x})")
        return a

    def put(self, array) -> int:
        """Copy ``array`` into a fresh TCDM region; returns its address."""
        data = np.ascontiguousarray(array).tobytes()
        addr = self.alloc(len(data))
        self.mem.write(addr, data)
        return addr
