"""Bus model of one TCDM master port (docs/protocols.md) for cocotb: single
reads and writes, one at a time, as a core's load/store unit issues them.

A transaction drives the request, waits for ``gnt`` (combinational, checked
in the read-only phase), drops the request after the granting edge and takes
``r_valid``/``rdata``/``r_err`` one cycle later.  Python awaits clock edges
only while a transaction is in flight.
"""

from __future__ import annotations

from cocotb.triggers import Lock, NextTimeStep, ReadOnly, RisingEdge

__all__ = ["TcdmMaster", "TcdmBusError"]

_SIGNALS = ("req", "addr", "we", "be", "wdata", "gnt", "r_valid", "r_err", "rdata")


class TcdmBusError(Exception):
    """The interconnect (or the target) answered with ``r_err``."""


class TcdmMaster:
    def __init__(self, dut, prefix: str, clk):
        """``prefix``: the port's name on the top level (``core0`` for ``core0__req`` ...)."""
        self.clk = clk
        self.s = {k: getattr(dut, f"{prefix}__{k}") for k in _SIGNALS}
        self.lock = Lock()
        self.s["req"].value = 0
        self.transactions = 0

    async def _xfer(self, addr: int, we: int, be: int, wdata: int) -> tuple[int, int]:
        s = self.s
        async with self.lock:
            s["req"].value = 1
            s["addr"].value = addr & 0xFFFF_FFFF
            s["we"].value = we
            s["be"].value = be
            s["wdata"].value = wdata & 0xFFFF_FFFF
            await ReadOnly()
            while not int(s["gnt"].value):
                await RisingEdge(self.clk)
                await ReadOnly()
            await RisingEdge(self.clk)          # the granting edge
            s["req"].value = 0
            await ReadOnly()
            if not int(s["r_valid"].value):
                raise AssertionError(f"no r_valid one cycle after the grant of {addr:#010x}")
            data, err = int(s["rdata"].value), int(s["r_err"].value)
            await NextTimeStep()                # leave the read-only phase for the caller
            self.transactions += 1
            return data, err

    async def read(self, addr: int, *, check: bool = True) -> int:
        data, err = await self._xfer(addr, 0, 0xF, 0)
        if err and check:
            raise TcdmBusError(f"bus error reading {addr:#010x}")
        return data

    async def write(self, addr: int, data: int, be: int = 0xF, *, check: bool = True) -> int:
        """Returns r_err (raises TcdmBusError on it when ``check``)."""
        _, err = await self._xfer(addr, 1, be, data)
        if err and check:
            raise TcdmBusError(f"bus error writing {data:#010x} to {addr:#010x}")
        return err
