"""Testbench tops: Amaranth wrappers that give cocotb wide, packed ports."""

from amaranth.hdl import ClockDomain
from amaranth.lib.wiring import In

__all__ = ["CLOCK_PORTS", "drive_cluster_clock"]

# A top that wraps the cluster takes clk/rst as ports: the cluster owns its
# ``sync`` domain (a local one, behind its reset synchronizer), and a wrapper
# with a ``sync`` of its own would clash with it.
CLOCK_PORTS = {"clk": In(1), "rst": In(1)}


def drive_cluster_clock(m, top, cluster) -> str:
    """Clock and reset the cluster from ``top``'s ports and define a ``tb``
    domain for the wrapper's own logic; returns its name.  Reset-less: ``rst``
    reaches registers only through the cluster's synchronizer."""
    m.domains.tb = tb = ClockDomain("tb", local=True, reset_less=True)
    m.d.comb += [tb.clk.eq(top.clk), cluster.clk.eq(top.clk), cluster.rst.eq(top.rst)]
    return "tb"
