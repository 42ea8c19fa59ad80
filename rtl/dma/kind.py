"""The cluster DMA's entry in the block registry."""

from ..block import BlockKind, ReadoutField
from ..hwpe.regs import Field

__all__ = ["DmaKind"]


class DmaKind(BlockKind):
    """One DMA (``dma.enabled``): TCDM masters ``dma0..`` after the
    accelerators' in port order, the window ``dma`` after the existing ones,
    events ``dma_done`` / ``dma_error`` and the AXI4 manager port ``dma_axi``."""

    name = "dma"
    job_source = True
    window = "instance"
    events = ("done", "error")
    tcdm_class = "dma"
    readout_registers = (("DMA_CFG", 0x30, "cluster DMA and L2"),)

    def count(self, cfg):
        return 1 if cfg.dma.enabled else 0

    def masters(self, cfg, k):
        return [f"{self.instance_name(k)}{i}" for i in range(cfg.dma.ports)]

    def regmap(self, cfg, comp):
        from .regs import DMA_REGS
        return DMA_REGS

    def readout(self, cfg, comp):
        R = "DMA_CFG"
        return [ReadoutField(R, Field("PORTS", 0, 5, "TCDM data ports of the DMA"), cfg.dma.ports),
                ReadoutField(R, Field("AXI_BYTES", 5, 5, "bytes per beat of its AXI port"),
                             cfg.dma.data_width // 8 % 32),
                ReadoutField(R, Field("L2_MIB", 10, 12, "L2 size in MiB (rounded down)"),
                             min(cfg.l2.size_kib // 1024, 4095)),
                ReadoutField(R, Field("PRESENT", 31, 1, "the DMA is instantiated"),
                             self.count(cfg))]

    def counters(self, cfg, inst):
        from ..ctrl.counters import CounterSpec as C
        per_cycle = max(4 * cfg.dma.ports, cfg.dma.data_width // 8)
        return [C("busy", "level", "cycles with STATUS.BUSY high (a transfer queued or running)"),
                C("bytes", "event", "bytes delivered to the destination (TCDM words written, "
                  "AXI W beats accepted)", inc=per_cycle.bit_length())]

    def counter_prefix(self, inst):
        return f"{inst.name}."

    def build(self, cfg, inst, comp):
        from .dma import Dma
        return Dma(cfg, inst.name, self.masters(cfg, inst.index))
