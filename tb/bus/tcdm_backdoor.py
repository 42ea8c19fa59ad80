"""Backdoor to the TCDM: reads and writes the bank SRAM arrays through VPI,
in zero simulated time.

For tests that need data in memory but do not test how it got there (the SoC
port's own tests load through AXI).  Word w of the TCDM lives in bank
``w % banks`` at row ``w // banks`` (word interleaving of the contract).
"""

from __future__ import annotations

import numpy as np

from imcc.gen.config import ClusterConfig

__all__ = ["TcdmBackdoor"]


class TcdmBackdoor:
    def __init__(self, cluster, cfg: ClusterConfig):
        """``cluster``: the handle of the Cluster instance (e.g. ``dut.cluster``)."""
        self.cfg = cfg
        self.banks = [getattr(cluster, f"bank{k}").sram.mem for k in range(cfg.tcdm.banks)]

    def _locate(self, word: int):
        n = self.cfg.tcdm.banks
        return self.banks[word % n], word // n

    def _word_range(self, addr: int, nbytes: int):
        t = self.cfg.tcdm
        if not (t.base <= addr and addr + nbytes <= t.base + t.size_bytes):
            raise ValueError(f"[{addr:#x}, {addr + nbytes:#x}) is outside the TCDM "
                             f"[{t.base:#x}, {t.base + t.size_bytes:#x})")
        first = (addr - t.base) // 4
        last = (addr + nbytes - t.base + 3) // 4
        return first, last

    def read(self, addr: int, nbytes: int) -> bytes:
        first, last = self._word_range(addr, nbytes)
        words = np.empty(last - first, dtype="<u4")
        for i, w in enumerate(range(first, last)):
            mem, row = self._locate(w)
            words[i] = int(mem[row].value)
        off = (addr - self.cfg.tcdm.base) - 4 * first
        return words.tobytes()[off:off + nbytes]

    def write(self, addr: int, data: bytes | np.ndarray):
        data = bytes(np.asarray(data).tobytes()) if not isinstance(data, (bytes, bytearray)) else bytes(data)
        if not data:
            return
        first, last = self._word_range(addr, len(data))
        off = (addr - self.cfg.tcdm.base) - 4 * first
        buf = bytearray(4 * (last - first))
        # Partial first/last words keep their other bytes.
        if off or (off + len(data)) % 4:
            buf[:] = self.read(self.cfg.tcdm.base + 4 * first, len(buf))
        buf[off:off + len(data)] = data
        words = np.frombuffer(bytes(buf), dtype="<u4")
        for i, w in enumerate(range(first, last)):
            mem, row = self._locate(w)
            mem[row].value = int(words[i])
