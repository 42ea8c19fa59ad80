"""The generated cluster with the SoC's L2 behind its DMA (tb/tops/l2_memory.py):
every top-level port of the cluster except the DMA's AXI manager port, which
the L2 model answers inside the simulated design, plus the L2's
error-injection window ``l2_err_lo`` / ``l2_err_hi``.  Protocol checkers on
every TCDM master, as in tb/tops/cluster_tb.py."""

from amaranth.hdl import DomainRenamer, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from imcc.gen.config import ClusterConfig
from imcc.rtl.cluster import Cluster
from imcc.tb.tops import drive_cluster_clock, pass_through
from imcc.tb.tops.l2_memory import L2Memory, l2_sram_verilog

__all__ = ["ClusterL2"]

L2_PORT = "dma_axi"


class ClusterL2(wiring.Component):
    def __init__(self, cfg: ClusterConfig):
        self.cfg = cfg
        from .cluster_tb import counting_checker
        self._cluster = c = Cluster(cfg, port_checker=counting_checker(cfg))
        if L2_PORT not in c.signature.members:
            raise ValueError("the configuration has no DMA (dma.enabled = false): no L2 to attach")
        self.l2_model = L2Memory(cfg)
        members = {k: v for k, v in c.signature.members.items() if k != L2_PORT}
        members.update(l2_err_lo=In(32), l2_err_hi=In(32))
        super().__init__(members)

    def external_sources(self):
        name, text = l2_sram_verilog(self.l2_model.words)
        return {**self._cluster.external_sources(), f"{name}.v": text}

    def macro_modules(self):
        return self._cluster.macro_modules()

    def wave_groups(self, scope, module_ports=None):
        return self._cluster.wave_groups(f"{scope}.cluster", module_ports and (
            lambda p: module_ports(f"cluster.{p}")))

    def elaborate(self, platform):
        m = Module()
        m.submodules.cluster = c = self._cluster
        tb = drive_cluster_clock(m, self, c)
        m.submodules.l2 = l2 = DomainRenamer(tb)(self.l2_model)
        wiring.connect(m, getattr(c, L2_PORT), l2.axi)
        m.d.comb += [l2.err_lo.eq(self.l2_err_lo), l2.err_hi.eq(self.l2_err_hi)]
        pass_through(m, self, c, [n for n in self.signature.members
                                  if n not in ("clk", "rst", "l2_err_lo", "l2_err_hi")])
        return m
