"""Reset of a cluster top in a cocotb simulation.

The cluster's reset is asynchronous with a synchronized release
(rtl/cluster.py): registers leave reset ``Cluster.RESET_STAGES`` clock edges
after ``rst`` falls.  Traffic started earlier would meet a cluster that
still ignores it, so testbenches release the reset through here.
"""

from cocotb.triggers import ClockCycles

from imcc.rtl.cluster import Cluster

__all__ = ["release_reset"]


async def release_reset(dut):
    """Drop ``rst`` and return once the cluster's registers run (after a
    clock edge, so the caller may drive inputs for the next one)."""
    dut.rst.value = 0
    await ClockCycles(dut.clk, Cluster.RESET_STAGES + 1)
