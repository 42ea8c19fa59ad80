"""The depthwise accelerator's entry in the block registry."""

from ..block import BlockKind, ReadoutField
from ..hwpe.port_mux import shared_port_names
from ..hwpe.regs import Field

__all__ = ["DwKind"]


class DwKind(BlockKind):
    """``dw.instances`` DW accelerators (``dw``, ``dw1``, ...).  With
    ``dw.ports = "shared"`` DW k drives the data ports ``hwpe*`` of pair k
    (a port mux shares them with IMA k, if there is one); with ``"own"`` it has
    ports of its own (``dw0..`` for the first, ``dw<k>_0..`` for the others)."""

    name = "dw"
    job_source = True
    window = "instance"
    events = ("done", "error")
    tcdm_class = "dw"

    def count(self, cfg):
        return cfg.dw.instances if cfg.dw.enabled else 0

    def masters(self, cfg, k):
        if cfg.dw.ports == "shared":
            return shared_port_names(cfg, k)
        prefix = "dw" if k == 0 else f"dw{k}_"
        return [f"{prefix}{i}" for i in range(cfg.ima.data_ports)]

    def regmap(self, cfg, comp):
        from .regs import DW_REGS
        return DW_REGS

    def readout(self, cfg, comp):
        n = self.count(cfg)
        R = "CLUSTER_CFG"
        return [ReadoutField(R, Field("DW_CHANNELS", 15, 7, "DW channels per block"), cfg.dw.channels),
                ReadoutField(R, Field("DW_OWN_PORTS", 22, 1, "1: the DW has its own data ports"),
                             int(cfg.dw.ports == "own")),
                ReadoutField(R, Field("DW_INSTANCES", 23, 3, "DW instances"), n),
                ReadoutField(R, Field("DW_PRESENT", 31, 1, "a DW accelerator is instantiated"),
                             int(n > 0))]

    def counters(self, cfg, inst):
        from ..ctrl.counters import CounterSpec as C
        # 48 bits: at 36 MACs per cycle 32 bits wrap after 119 M busy cycles, within
        # reach of a few 224x224 inferences between two reads
        per_cycle = max(cfg.dw.macs, 2 * cfg.dw.channels)
        return [C("busy", "level", "cycles with STATUS.BUSY high (a job queued or running)"),
                C("macs", "event", "multiply-accumulates of valid channels: 9 per output "
                  "value of DW3X3, 2 per element of ADD", width=48,
                  inc=per_cycle.bit_length())]

    def build(self, cfg, inst, comp):
        from .dw import Dw
        return Dw(cfg, inst.name, self.masters(cfg, inst.index), sources=len(comp.job_sources))
