"""A minimal ELF32 little-endian reader for target programs: loadable
segments (what the SoC port writes before the cores start) and symbols
(where a testbench puts inputs and finds outputs)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Elf", "Segment"]


@dataclass
class Segment:
    addr: int
    data: bytes        # file bytes only; the rest up to memsz is .bss (zeroed by the program)
    memsz: int


class Elf:
    def __init__(self, path: str | Path):
        raw = Path(path).read_bytes()
        if raw[:4] != b"\x7fELF" or raw[4] != 1 or raw[5] != 1:
            raise ValueError(f"{path}: not a 32-bit little-endian ELF")
        (self.entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         _) = struct.unpack_from("<IIIIHHHHHH", raw, 0x18)
        self.segments: list[Segment] = []
        for i in range(phnum):
            p_type, off, vaddr, _, filesz, memsz, _, _ = struct.unpack_from(
                "<8I", raw, phoff + i * phentsize)
            if p_type == 1 and memsz:          # PT_LOAD
                self.segments.append(Segment(vaddr, raw[off:off + filesz], memsz))
        secs = [struct.unpack_from("<10I", raw, shoff + i * shentsize) for i in range(shnum)]
        self.symbols: dict[str, tuple[int, int]] = {}
        for s in secs:
            if s[1] == 2:                       # SHT_SYMTAB
                strtab = secs[s[6]]
                names = raw[strtab[4]:strtab[4] + strtab[5]]
                for k in range(s[5] // 16):
                    name, value, size, _, _, _ = struct.unpack_from("<IIIBBH", raw, s[4] + 16 * k)
                    if name:
                        self.symbols[names[name:names.index(b"\0", name)].decode()] = (value, size)

    def symbol(self, name: str) -> int:
        if name not in self.symbols:
            raise KeyError(f"symbol {name!r} not in the program")
        return self.symbols[name][0]
