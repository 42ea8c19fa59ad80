"""An accelerator driven as a SoC drives it: register accesses over the SoC
port (cocotbext-axi), job offload (ACQUIRE, job registers, TRIGGER) and the
end of a job seen on the cluster's interrupt line ``ctrl_irq``.

Register offsets and fields come from the accelerator's register
description (what the generated header gives software).
"""

from __future__ import annotations

from cocotb.triggers import ValueChange
from cocotbext.axi import AxiMaster, AxiResp

from imcc.gen.config import ClusterConfig
from imcc.gen.regmap import register_maps

__all__ = ["AxiRegs", "HwpeAxi", "ALL_ONES"]

ALL_ONES = 0xFFFF_FFFF


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


class HwpeAxi:
    """One accelerator (``name`` in the address map, e.g. "ima" or "dw")."""

    def __init__(self, dut, cfg: ClusterConfig, regs: AxiRegs, name: str):
        self.dut, self.cfg, self.regs, self.name = dut, cfg, regs, name
        maps = {rm.name: (rm, base) for rm, base in register_maps(cfg)}
        self.rm, self.base = maps[name]
        self.ctrl_rm, self.ctrl_base = maps["ctrl"]
        events = cfg.event_names()
        self.bit_done, self.bit_err = events.index(f"{name}_done"), events.index(f"{name}_error")

    async def write(self, reg: str, value) -> None:
        r = self.rm[reg]
        word = r.pack(**value) if isinstance(value, dict) else value
        await self.regs.write(self.base + r.offset, word)

    async def read(self, reg: str) -> int:
        return await self.regs.read(self.base + self.rm[reg].offset)

    async def ctrl_write(self, reg: str, value: int):
        await self.regs.write(self.ctrl_base + self.ctrl_rm[reg].offset, value)

    async def ctrl_read(self, reg: str) -> int:
        return await self.regs.read(self.ctrl_base + self.ctrl_rm[reg].offset)

    async def enable_irq(self):
        mask = await self.ctrl_read("IRQ_MASK")
        await self.ctrl_write("IRQ_MASK", mask | 1 << self.bit_done | 1 << self.bit_err)

    async def configure(self, job: dict) -> int:
        """ACQUIRE a context and write the job registers (no TRIGGER yet)."""
        jid = await self.read("ACQUIRE")
        if jid == ALL_ONES:
            raise AssertionError(f"{self.name}: ACQUIRE found no free job context")
        for reg, value in job.items():
            await self.write(reg, value)
        return jid

    async def trigger(self):
        await self.write("TRIGGER", 0)

    async def wait_done(self) -> int:
        """Sleep until the done interrupt, clear it; returns the job's error code."""
        while not int(self.dut.ctrl_irq.value) >> self.bit_done & 1:
            await ValueChange(self.dut.ctrl_irq)
        pend = await self.ctrl_read("EVT_PENDING")
        await self.ctrl_write("EVT_CLEAR", pend & (1 << self.bit_done | 1 << self.bit_err))
        return self.rm["STATUS"].unpack(await self.read("STATUS"))["ERROR"]
