"""Backdoor to the TCDM: reads and writes the bank SRAM arrays through VPI,
in zero simulated time, a whole range of rows per bank in one VPI call
(tb/bus/vpi_array.py).

For tests that need data in memory but do not test how it got there (the SoC
port's own tests load through AXI).  Word w of the TCDM lives in bank
``w % banks`` at row ``w // banks`` (word interleaving of the contract).
"""

from __future__ import annotations

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.tb.bus.vpi_array import VpiArray

__all__ = ["WordBackdoor", "TcdmBackdoor", "L2Backdoor"]


class WordBackdoor:
    """A memory of 32-bit words interleaved over ``banks`` (word w in bank
    ``w % len(banks)``, row ``w // len(banks)``) at ``base``: byte-level
    reads and writes of any range inside it."""

    what = "memory"

    def __init__(self, banks: list, base: int, size: int):
        self.banks, self.base, self.size = banks, base, size

    def _word_range(self, addr: int, nbytes: int):
        if not (self.base <= addr and addr + nbytes <= self.base + self.size):
            raise ValueError(f"[{addr:#x}, {addr + nbytes:#x}) is outside the {self.what} "
                             f"[{self.base:#x}, {self.base + self.size:#x})")
        first = (addr - self.base) // 4
        last = (addr + nbytes - self.base + 3) // 4
        return first, last

    def _rows(self, first: int, last: int):
        """The bank rows holding words [first, last): (first row, count, their words
        as a rows x banks block, offset of word ``first`` in the flattened block)."""
        n = len(self.banks)
        r0, r1 = first // n, (last - 1) // n + 1
        block = np.empty((r1 - r0, n), np.uint32)
        for k, bank in enumerate(self.banks):
            block[:, k] = bank.read(r0, r1 - r0)
        return r0, r1 - r0, block, first - r0 * n

    def read(self, addr: int, nbytes: int) -> bytes:
        if nbytes == 0:
            return b""
        first, last = self._word_range(addr, nbytes)
        _, _, block, at = self._rows(first, last)
        words = block.reshape(-1)[at:at + last - first].astype("<u4")
        off = (addr - self.base) - 4 * first
        return words.tobytes()[off:off + nbytes]

    def write(self, addr: int, data: bytes | np.ndarray):
        data = bytes(np.asarray(data).tobytes()) if not isinstance(data, (bytes, bytearray)) else bytes(data)
        if not data:
            return
        first, last = self._word_range(addr, len(data))
        r0, nrows, block, at = self._rows(first, last)
        # Bytes of the first/last words and the other words of those rows keep their values.
        flat = block.reshape(-1)
        buf = bytearray(flat[at:at + last - first].astype("<u4").tobytes())
        off = (addr - self.base) - 4 * first
        buf[off:off + len(data)] = data
        flat[at:at + last - first] = np.frombuffer(bytes(buf), "<u4")
        for k, bank in enumerate(self.banks):
            bank.write(r0, block[:, k])


class TcdmBackdoor(WordBackdoor):
    """The TCDM's banks (``cluster``: the handle of the Cluster instance, e.g.
    ``dut.cluster``, or the top when the cluster is the top)."""

    what = "TCDM"

    def __init__(self, cluster, cfg: ClusterConfig):
        self.cfg = cfg
        super().__init__([VpiArray(getattr(cluster, f"bank{k}").sram.mem)
                          for k in range(cfg.tcdm.banks)], cfg.tcdm.base, cfg.tcdm.size_bytes)


class L2Backdoor(WordBackdoor):
    """The simulated L2 (tb/tops/l2_memory.py: one 32-bit lane per word of an
    AXI beat; ``l2``: the handle of its instance, e.g. ``dut.l2``)."""

    what = "L2"

    def __init__(self, l2, cfg: ClusterConfig):
        self.cfg = cfg
        lanes = cfg.dma.data_width // 32
        super().__init__([VpiArray(getattr(l2, f"lane{j}").mem) for j in range(lanes)],
                         cfg.l2.base, cfg.l2.size_bytes)
