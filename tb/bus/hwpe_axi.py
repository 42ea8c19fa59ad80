"""Register accesses through the SoC port (cocotbext-axi), as a SoC makes
them: what tb/bus/hwpe.HwpeDriver uses to drive an accelerator over AXI."""

from __future__ import annotations

from cocotbext.axi import AxiMaster, AxiResp

from imcc.tb.bus.hwpe import ALL_ONES

__all__ = ["AxiRegs", "ALL_ONES"]


class AxiRegs:
    """32-bit register reads and writes through the SoC port."""

    def __init__(self, axi: AxiMaster):
        self.axi = axi

    async def write(self, addr: int, value: int, *, check: bool = True) -> int:
        r = await self.axi.write(addr, (value & ALL_ONES).to_bytes(4, "little"), size=2)
        if check and r.resp != AxiResp.OKAY:
            raise AssertionError(f"write {addr:#010x}: {r.resp.name}")
        return int(r.resp)

    async def read(self, addr: int, *, check: bool = True) -> int:
        r = await self.axi.read(addr, 4, size=2)
        if check and r.resp != AxiResp.OKAY:
            raise AssertionError(f"read {addr:#010x}: {r.resp.name}")
        return int.from_bytes(r.data, "little")
