"""The in-memory accelerator (IMA) as a cluster block: HWPE controller, engine
(job check, streamer, DAC/ADC buffers, programming) and the port of the
analog crossbar macro, which the cluster lifts to its top level.

docs/ima.md describes the architecture and the job programming model;
docs/ima-registers.md (generated from :data:`IMA_REGS`) the registers.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..cluster import ClusterBlock
from ..hwpe.controller import HwpeController
from ..interconnect.protocol import TargetSignature, TcdmSignature
from .engine import Engine
from .macro import MacroSignature
from .regs import IMA_REGS

__all__ = ["Ima"]


class Ima(wiring.Component, ClusterBlock):
    ctrl_window = "ima"
    external = ("macro", "evt_done", "evt_error")
    wave_parts = {"controller": "ctrl", "engine": "engine", "job check": "engine.check",
                  "streamer": "engine.streamer", "programming": "engine.progregs"}

    def __init__(self, cfg: ClusterConfig):
        self.cfg = cfg
        ima = cfg.ima
        window_bits = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        self.master_names = [f"hwpe{i}" for i in range(ima.data_ports)]
        self.sink_names = ([f"ima_sink{i}" for i in range(ima.data_ports)]
                           if ima.stream_ports == "separate" else [])
        members = {"ctrl": In(TargetSignature(window_bits))}
        members.update({n: Out(TcdmSignature()) for n in self.master_names + self.sink_names})
        members.update(macro=Out(MacroSignature(ima.rows, ima.cols)), evt_done=Out(1),
                       evt_error=Out(1))
        self.window_bits = window_bits
        super().__init__(members)
        self._busy = Signal(name="ima_busy")
        self._quiet = Signal(name="ima_quiet")

    def tcdm_masters(self) -> dict:
        return {n: getattr(self, n) for n in self.master_names + self.sink_names}

    def port_busy(self):
        """High while a job runs: a port mux in front of the data ports must not
        hand them to another block then."""
        return self._busy

    def events(self) -> dict:
        return {"ima_done": self.evt_done, "ima_error": self.evt_error}

    def quiet(self):
        return self._quiet

    def elaborate(self, platform):
        m = Module()
        m.submodules.ctrl = ctl = HwpeController(IMA_REGS, self.cfg.ima.job_contexts,
                                                 self.window_bits)
        m.submodules.engine = eng = Engine(self.cfg)
        wiring.connect(m, wiring.flipped(self.ctrl), ctl.ctrl)
        wiring.connect(m, ctl.job, eng.job)
        wiring.connect(m, ctl.io, eng.io)
        wiring.connect(m, eng.macro, wiring.flipped(self.macro))
        for i, n in enumerate(self.master_names):
            wiring.connect(m, eng.ports[i], wiring.flipped(getattr(self, n)))
        for i, n in enumerate(self.sink_names):
            wiring.connect(m, eng.sink_ports[i], wiring.flipped(getattr(self, n)))
        m.d.comb += [self.evt_done.eq(ctl.evt_done), self.evt_error.eq(ctl.evt_error),
                     self._busy.eq(eng.busy), self._quiet.eq(ctl.quiet & eng.quiet)]
        return m
