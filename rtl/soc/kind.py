"""The SoC port's entry in the block registry."""


from ..block import BlockKind, ReadoutField
from ..hwpe.regs import Field

__all__ = ["SocKind"]


class SocKind(BlockKind):
    """The AXI4 subordinate port from the SoC: one TCDM master per 32-bit lane
    (``soc0``, ``soc1``), last in port order."""

    name = "soc"
    master_rank = 2
    tcdm_class = "soc"

    def masters(self, cfg, k):
        return [f"soc{i}" for i in range(cfg.soc.lanes)]

    def readout(self, cfg, comp):
        return [ReadoutField("CLUSTER_CFG", Field("SOC_LANES", 12, 3, "32-bit lanes of the SoC port"),
                             cfg.soc.lanes)]

    def build(self, cfg, inst, comp):
        from .axi_port import SocPort
        return SocPort(cfg, self.masters(cfg, 0), comp.address_map())
