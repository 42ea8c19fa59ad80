"""The IMA's entry in the block registry."""

from ..block import BlockKind, ReadoutField
from ..hwpe.port_mux import shared_port_names
from ..hwpe.regs import Field

__all__ = ["ImaKind"]


class ImaKind(BlockKind):
    """``ima.instances`` IMA subsystems (``ima``, ``ima1``, ...).  Instance k
    drives the data ports ``hwpe*`` of pair k (shared with DW k when
    ``dw.ports = "shared"``) and, with ``ima.stream_ports = "separate"``, its
    own sink ports ``<instance>_sink*``."""

    name = "ima"
    job_source = True
    window = "instance"
    events = ("done", "error")
    tcdm_class = "ima"
    readout_registers = (("IMA_CFG", 0x0C, "IMA geometry (every instance has the same)"),
                         ("IMA_ARRAYS", 0x34, "crossbar arrays of each IMA"))

    def count(self, cfg):
        return cfg.ima.instances if cfg.ima.enabled else 0

    def masters(self, cfg, k):
        sinks = ([f"{self.instance_name(k)}_sink{i}" for i in range(cfg.ima.data_ports)]
                 if cfg.ima.stream_ports == "separate" else [])
        return shared_port_names(cfg, k) + sinks

    def regmap(self, cfg, comp):
        from .regs import IMA_REGS
        return IMA_REGS

    def readout(self, cfg, comp):
        n, ima = self.count(cfg), cfg.ima
        R = "IMA_CFG"
        return [ReadoutField(R, Field("ROWS", 0, 11, "crossbar rows"), ima.rows),
                ReadoutField(R, Field("COLS", 11, 11, "crossbar columns"), ima.cols),
                ReadoutField(R, Field("PORTS", 22, 5, "streamer data ports"), ima.data_ports),
                ReadoutField(R, Field("PIPELINED", 27, 1, "1: pipelined engine"),
                             int(ima.mode == "pipelined")),
                ReadoutField(R, Field("INSTANCES", 28, 3, "IMA instances"), n),
                ReadoutField(R, Field("PRESENT", 31, 1, "an IMA is instantiated"), int(n > 0)),
                ReadoutField("IMA_ARRAYS", Field("ARRAYS", 0, 7, "crossbar arrays per IMA"),
                             ima.arrays)]

    def counters(self, cfg, inst):
        from ..ctrl.counters import CounterSpec as C
        out = [C("busy", "level", "cycles with STATUS.BUSY high (a job queued or running, or "
                                  "programming through registers)")]
        for j in range(cfg.ima.arrays):
            out += [C(f"array{j}.mvm", "event", f"analog MVMs of array {j} (macro starts)"),
                    C(f"array{j}.pcm_writes", "event", f"PCM programming writes of array {j} "
                      "(one 32-bit word: 8 weights of a row, accepted by the macro)")]
        return out

    def build(self, cfg, inst, comp):
        from .ima import Ima
        return Ima(cfg, inst.name, self.masters(cfg, inst.index), sources=len(comp.job_sources))
