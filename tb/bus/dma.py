"""The cluster DMA driven as software drives it (docs/dma.md): the transfer's
registers, a read of NEXT_ID to launch it, DONE_ID to see it end.  Register
offsets, fields and error codes come from its register description; the
ends of transfers are counted on the DMA's event lines
(``<instance>_evt_done`` / ``_evt_error`` on the top)."""

from __future__ import annotations

from imcc.gen.config import ClusterConfig
from imcc.rtl.dma.regs import DMA_REGS
from imcc.rtl.registry import compose
from imcc.tb.bus.hwpe import PinEvents

__all__ = ["DmaDriver"]


class DmaDriver:
    """Members: ``ERR`` (error codes), ``events`` (one error flag per transfer
    end or refused launch), ``launched`` (ids in launch order)."""

    def __init__(self, dut, cfg: ClusterConfig, regs, instance: str = "dma"):
        comp = compose(cfg)
        self.regs, self.rm, self.base = regs, DMA_REGS, comp.base(instance)
        self.ERR = {n: v for n, v, _ in DMA_REGS.constants["ERR"]}
        self.pins = PinEvents(getattr(dut, f"{instance}_evt_done"),
                              getattr(dut, f"{instance}_evt_error"))
        self.launched: list[int] = []
        self._done_at = 0           # index in ``launched`` of the last id seen done, + 1
        self._shadow: dict[str, int] = {}

    @property
    def events(self) -> list[bool]:
        return self.pins.events

    async def write(self, reg: str, value: int):
        value &= 0xFFFF_FFFF
        if self._shadow.get(reg) != value:      # registers keep their values: skip repeats
            await self.regs.write(self.base + self.rm[reg].offset, value)
            self._shadow[reg] = value

    async def read(self, reg: str) -> int:
        return await self.regs.read(self.base + self.rm[reg].offset)

    async def status(self) -> dict:
        return self.rm["STATUS"].unpack(await self.read("STATUS"))

    async def launch(self, src: int, dst: int, nbytes: int, *, reps: int | None = None,
                     src_stride: int = 0, dst_stride: int = 0) -> int:
        """Describe and launch one transfer (2-D with ``reps``): its id, 0 when refused."""
        await self.write("SRC_ADDR", src)
        await self.write("DST_ADDR", dst)
        await self.write("NUM_BYTES", nbytes)
        await self.write("CONF", self.rm["CONF"].pack(TWO_D=int(reps is not None)))
        if reps is not None:
            await self.write("SRC_STRIDE", src_stride)
            await self.write("DST_STRIDE", dst_stride)
            await self.write("NUM_REPS", reps)
        tid = await self.read("NEXT_ID")
        if tid:
            self.launched.append(tid)
        return tid

    async def wait(self, tid: int):
        """Until transfer ``tid`` (and every one launched before it) has ended."""
        want = len(self.launched) - self.launched[::-1].index(tid)
        while self._done_at < want:
            token = self.pins.mark()
            done = await self.read("DONE_ID")
            # the done id is the latest of the launched ids still open
            for k in range(len(self.launched) - 1, self._done_at - 1, -1):
                if self.launched[k] == done:
                    self._done_at = k + 1
                    break
            if self._done_at < want:
                await self.pins.wait(token)

    async def run(self, src: int, dst: int, nbytes: int, **kw) -> int:
        """Launch (it must be accepted) and wait; returns STATUS.ERROR if this
        transfer failed, else 0."""
        tid = await self.launch(src, dst, nbytes, **kw)
        assert tid, f"launch refused: {await self.status()}"
        await self.wait(tid)
        st = await self.status()
        return st["ERROR"] if st["ERROR_ID"] == tid else 0
