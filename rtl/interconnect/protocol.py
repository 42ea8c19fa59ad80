"""TCDM port protocol (system contract, "TCDM port protocol"; docs/protocols.md).

Master side, as seen by a core, an accelerator data port or a SoC lane:

* ``req`` with ``addr`` (byte address), ``we``, ``be`` (byte enables), ``wdata``;
  the master keeps them stable until ``gnt``.
* ``gnt`` comes in the cycle of the request (combinational).
* Every granted request is answered by ``r_valid`` exactly one cycle later, reads
  and writes alike (as OBI does, so a core's data port plugs in unchanged);
  ``rdata`` is meaningful for reads.  ``r_err`` marks a bus error (unmapped
  address) in the same cycle as ``r_valid``.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["TcdmSignature", "TargetSignature", "DATA_WIDTH", "BE_WIDTH"]

DATA_WIDTH = 32
BE_WIDTH = DATA_WIDTH // 8


class TcdmSignature(wiring.Signature):
    """A TCDM master port (the master's view: ``Out`` flows to the interconnect)."""

    def __init__(self):
        super().__init__({
            "req": Out(1),
            "addr": Out(32),
            "we": Out(1),
            "be": Out(BE_WIDTH),
            "wdata": Out(DATA_WIDTH),
            "gnt": In(1),
            "r_valid": In(1),
            "r_err": In(1),
            "rdata": In(DATA_WIDTH),
        })


class TargetSignature(wiring.Signature):
    """What the interconnect drives into a bank or a peripheral slave.

    A target accepts every request in the cycle it is presented (arbitration
    happened before it) and answers with ``rdata``/``r_err`` one cycle later.
    ``addr`` is target-local: a word index in a bank, a byte offset in a window.
    """

    def __init__(self, addr_width: int):
        self.addr_width = addr_width
        super().__init__({
            "req": Out(1),
            "addr": Out(addr_width),
            "we": Out(1),
            "be": Out(BE_WIDTH),
            "wdata": Out(DATA_WIDTH),
            "rdata": In(DATA_WIDTH),
            "r_err": In(1),
        })

    def __eq__(self, other):
        return isinstance(other, TargetSignature) and other.addr_width == self.addr_width

    def __repr__(self):
        return f"TargetSignature({self.addr_width})"
