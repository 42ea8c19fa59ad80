"""Testbench tops: Amaranth wrappers that give cocotb wide, packed ports."""

from amaranth.hdl import ClockDomain
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CLOCK_PORTS", "drive_cluster_clock", "pass_through"]

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


def pass_through(m, top, cluster, names):
    """Connect each member of ``names`` of the wrapped ``cluster`` to ``top``'s
    member of the same name and flow (a wrapper top exposing the cluster's ports)."""
    def one(member, inner, outer):
        if isinstance(inner, (list, tuple)):      # an array member (ima.arrays > 1: macro ports)
            for i, o in zip(inner, outer):
                one(member, i, o)
        elif member.is_signature:
            if member.flow == In:
                wiring.connect(m, wiring.flipped(outer), inner)
            else:
                wiring.connect(m, inner, wiring.flipped(outer))
        elif member.flow == Out:
            m.d.comb += outer.eq(inner)
        else:
            m.d.comb += inner.eq(outer)

    for k in names:
        one(cluster.signature.members[k], getattr(cluster, k), getattr(top, k))
