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
from ..block import ClusterBlock
from ..hwpe.controller import HwpeController, job_counts_member
from ..interconnect.protocol import TargetSignature, TcdmSignature
from .engine import Engine
from .arrays import ArrayMux
from .macro import MacroSignature
from .regs import IMA_REGS

__all__ = ["Ima"]


class Ima(wiring.Component, ClusterBlock):
    external = ("macro", "evt_done", "evt_error")
    wave_parts = {"controller": "ctrl", "engine": "engine", "job check": "engine.check",
                  "streamer": "engine.streamer", "programming": "engine.progregs"}

    """One IMA subsystem, instance ``name`` (``ima``, ``ima1``, ...), answering
    the peripheral window of that name; ``masters``: its interconnect master
    names (:class:`~imcc.rtl.ima.kind.ImaKind`), data ports first, then the
    separate sink ports if configured."""

    def __init__(self, cfg: ClusterConfig, name: str = "ima", masters: list[str] | None = None,
                 sources: int = 0):
        from .kind import ImaKind
        self.cfg, self.name = cfg, name
        ima = cfg.ima
        window_bits = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        names = ImaKind().masters(cfg, 0) if masters is None else masters
        self.master_names = names[:ima.data_ports]
        self.sink_names = names[ima.data_ports:]
        self.ctrl_window = name
        members = {"ctrl": In(TargetSignature(window_bits))}
        members.update({n: Out(TcdmSignature()) for n in self.master_names + self.sink_names})
        # one macro port per crossbar array (an array member when there are several),
        # or one port for a bank of arrays and the index of the array it reaches
        macro = Out(MacroSignature(ima.rows, ima.cols))
        # (a pool: every instance's port reaches the same bank of arrays, rtl/ima/macro.py)
        self.bank = ima.bank_port
        if self.bank:
            members.update(macro=macro, macro_array=Out(range(max(2, ima.arrays))))
            self.external = self.external + ("macro_array",)
        else:
            members.update(macro=macro.array(ima.arrays) if ima.arrays > 1 else macro)
        members.update(evt_done=Out(1), evt_error=Out(1))
        # job waits (ima.job_waits): every job source's count, from the cluster
        self.sources = sources
        self.wants_job_counts = ima.job_waits > 0
        members.update(job_counts_member(ima.job_waits, sources))
        self._count = Signal(16, name=f"{name}_job_count")
        self.window_bits = window_bits
        super().__init__(members)
        self._busy = Signal(name=f"{name}_busy")
        self._act = {"busy": Signal(name=f"{name}_act_busy")}
        for j in range(ima.arrays):
            self._act[f"array{j}.mvm"] = Signal(name=f"{name}_act_array{j}_mvm")
            self._act[f"array{j}.pcm_writes"] = Signal(name=f"{name}_act_array{j}_pcm_writes")
        self._quiet = Signal(name=f"{name}_quiet")

    def tcdm_masters(self) -> dict:
        return {n: getattr(self, n) for n in self.master_names + self.sink_names}

    def port_busy(self):
        """High while a job runs: a port mux in front of the data ports must not
        hand them to another block then."""
        return self._busy

    def events(self) -> dict:
        return {f"{self.name}_done": self.evt_done, f"{self.name}_error": self.evt_error}

    def job_count(self):
        return self._count

    def quiet(self):
        return self._quiet

    def activity(self) -> dict:
        return self._act

    def elaborate(self, platform):
        m = Module()
        m.submodules.ctrl = ctl = HwpeController(IMA_REGS, self.cfg.ima.job_contexts,
                                                 self.window_bits, waits=self.cfg.ima.job_waits,
                                                 sources=self.sources)
        m.d.comb += self._count.eq(ctl.count)
        if self.wants_job_counts:
            m.d.comb += [a.eq(b) for a, b in zip(ctl.job_counts, self.job_counts)]
        m.submodules.engine = eng = Engine(self.cfg)
        wiring.connect(m, wiring.flipped(self.ctrl), ctl.ctrl)
        wiring.connect(m, ctl.job, eng.job)
        wiring.connect(m, ctl.io, eng.io)
        if self.bank:
            wiring.connect(m, eng.macro, wiring.flipped(self.macro))
            m.d.comb += self.macro_array.eq(eng.array)
        elif self.cfg.ima.arrays > 1:
            ima = self.cfg.ima
            m.submodules.arrays = mux = ArrayMux(ima.arrays, ima.rows, ima.cols)
            wiring.connect(m, eng.macro, mux.engine)
            m.d.comb += mux.sel.eq(eng.array)
            for k in range(ima.arrays):
                wiring.connect(m, mux.arrays[k], wiring.flipped(self.macro[k]))
        else:
            wiring.connect(m, eng.macro, wiring.flipped(self.macro))
        for i, n in enumerate(self.master_names):
            wiring.connect(m, eng.ports[i], wiring.flipped(getattr(self, n)))
        for i, n in enumerate(self.sink_names):
            wiring.connect(m, eng.sink_ports[i], wiring.flipped(getattr(self, n)))
        # activity: MVM starts and accepted programming writes of the array the engine reaches
        act = self._act
        m.d.comb += act["busy"].eq(ctl.busy)
        for j in range(self.cfg.ima.arrays):
            here = eng.array == j
            m.d.comb += [act[f"array{j}.mvm"].eq(eng.macro.start & here),
                         act[f"array{j}.pcm_writes"].eq(eng.pcm_write & here)]
        m.d.comb += [self.evt_done.eq(ctl.evt_done), self.evt_error.eq(ctl.evt_error),
                     self._busy.eq(eng.busy), self._quiet.eq(ctl.quiet & eng.quiet)]
        return m
