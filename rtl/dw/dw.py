"""The depthwise 3x3 / element-wise add accelerator (DW) as a cluster block:
the HWPE controller (shared with the IMA, built from :data:`DW_REGS`) and the
engine.

Data ports: with ``cfg.dw.ports == "shared"`` the DW claims the same
``hwpe*`` masters as the IMA and the cluster puts a
:class:`~imcc.rtl.hwpe.port_mux.PortMux` in front of them (the paper's static
mux; :meth:`port_busy` tells it when the DW holds them); with ``"own"`` it
drives ``dw0..`` of its own and runs concurrently with the IMA.
"""

from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..block import ClusterBlock
from ..hwpe.controller import HwpeController, job_counts_member
from ..interconnect.protocol import TargetSignature, TcdmSignature
from .engine import Engine
from .regs import DW_REGS

__all__ = ["Dw"]


class Dw(wiring.Component, ClusterBlock):
    """One DW accelerator, instance ``name`` (``dw``, ``dw1``, ...), answering
    the peripheral window of that name; ``masters``: its data ports
    (:class:`~imcc.rtl.dw.kind.DwKind`)."""

    wave_parts = {"controller": "ctrl", "engine": "engine", "job check": "engine.check",
                  "segment port": "engine.seg"}
    # the end-of-job interrupt lines leave the cluster too, as the IMA's and the DMA's
    external = ("evt_done", "evt_error")

    def __init__(self, cfg: ClusterConfig, name: str = "dw", masters: list[str] | None = None,
                 sources: int = 0):
        from .kind import DwKind
        self.cfg, self.name, self.ctrl_window = cfg, name, name
        self.window_bits = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        self.master_names = DwKind().masters(cfg, 0) if masters is None else masters
        members = {"ctrl": In(TargetSignature(self.window_bits))}
        members.update({n: Out(TcdmSignature()) for n in self.master_names})
        members.update(busy=Out(1), evt_done=Out(1), evt_error=Out(1))
        # job waits (dw.job_waits): every job source's count, from the cluster
        self.sources = sources
        self.wants_job_counts = cfg.dw.job_waits > 0
        members.update(job_counts_member(cfg.dw.job_waits, sources))
        super().__init__(members)
        self._count = Signal(16, name=f"{name}_job_count")
        self._quiet = Signal(name=f"{name}_quiet")
        self._act = {"busy": Signal(name=f"{name}_act_busy"),
                     "macs": Signal(16, name=f"{name}_act_macs")}

    def quiet(self):
        return self._quiet

    def activity(self) -> dict:
        return self._act

    def tcdm_masters(self) -> dict:
        return {n: getattr(self, n) for n in self.master_names}

    def events(self) -> dict:
        return {f"{self.name}_done": self.evt_done, f"{self.name}_error": self.evt_error}

    def port_busy(self):
        return self.busy

    def job_count(self):
        return self._count

    def elaborate(self, platform):
        m = Module()
        m.submodules.ctrl = ctl = HwpeController(DW_REGS, self.cfg.dw.job_contexts,
                                                 self.window_bits, waits=self.cfg.dw.job_waits,
                                                 sources=self.sources)
        m.d.comb += self._count.eq(ctl.count)
        if self.wants_job_counts:
            m.d.comb += [a.eq(b) for a, b in zip(ctl.job_counts, self.job_counts)]
        # The engine's clock is gated while it is idle, as PULP clusters gate
        # idle accelerators: it is quiescent in IDLE (no request outstanding,
        # done/error are combinational), so only reset, a start and the job
        # itself need edges.  The enable is captured on the falling edge (the
        # latch of an integrated clock-gate cell, which a synthesis flow
        # substitutes); simulators then skip the engine's logic when idle.
        m.domains.dw_gated = ClockDomain("dw_gated", local=True)
        m.domains.dw_gate = ClockDomain("dw_gate", clk_edge="neg", local=True, reset_less=True)
        eng = DomainRenamer("dw_gated")(Engine(self.cfg))
        m.submodules.engine = eng
        clk_en = Signal(init=1)
        m.d.dw_gate += clk_en.eq(ResetSignal() | ctl.job.start | ~eng.job.idle)
        m.d.comb += [ClockSignal("dw_gate").eq(ClockSignal()),
                     ClockSignal("dw_gated").eq(ClockSignal() & clk_en),
                     ResetSignal("dw_gated").eq(ResetSignal())]
        wiring.connect(m, wiring.flipped(self.ctrl), ctl.ctrl)
        wiring.connect(m, ctl.job, eng.job)
        wiring.connect(m, ctl.io, eng.io)
        for i, n in enumerate(self.master_names):
            wiring.connect(m, eng.ports[i], wiring.flipped(getattr(self, n)))
        m.d.comb += [self._act["busy"].eq(ctl.busy), self._act["macs"].eq(eng.macs)]
        m.d.comb += [self.evt_done.eq(ctl.evt_done), self.evt_error.eq(ctl.evt_error),
                     self.busy.eq(~eng.job.idle),
                     # the engine is quiescent in IDLE (the reason for its own gate)
                     self._quiet.eq(ctl.quiet & eng.job.idle)]
        return m
