"""Target software build (sw/): the ``ziglang`` wheel's clang with the CORE-V
(XpulpV2) extensions, no other toolchain.

:func:`build` compiles the start-up code, the HAL, the kernels and one
application of ``sw/apps`` into an ELF for a configuration: the register
headers come from the register descriptions (:func:`imcc.gen.regmap.outputs`,
the same files ``imcc gen`` writes) and the linker script from the address
map, so software and RTL cannot disagree on an address.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .config import ClusterConfig
from . import regmap

__all__ = ["SW_DIR", "MCPU", "CFLAGS", "build", "apps", "SwBuildError", "compiler"]

SW_DIR = Path(__file__).resolve().parent.parent / "sw"
# RV32IMC + the CORE-V extensions CV32E40P implements with COREV_PULP=1 /
# COREV_CLUSTER=1: post-increment loads/stores, SIMD (dot products), MAC, ALU
# (clip, min/max), immediate branches, event load (cv.elw).
MCPU = "generic_rv32+m+c+xcvmem+xcvsimd+xcvmac+xcvalu+xcvbi+xcvelw"
CFLAGS = ["-target", "riscv32-freestanding-none", f"-mcpu={MCPU}", "-O3", "-g0",
          "-ffreestanding", "-fno-builtin", "-fomit-frame-pointer", "-fno-stack-protector",
          "-fno-unwind-tables", "-fno-asynchronous-unwind-tables", "-Wall", "-Wextra", "-Werror"]
STACK_BYTES = 2048


class SwBuildError(RuntimeError):
    """A compile or link step failed (the message holds the compiler's output)."""


def compiler() -> list[str]:
    return [sys.executable, "-m", "ziglang", "cc"]


def apps() -> list[str]:
    return sorted(p.stem for p in (SW_DIR / "apps").glob("*.c"))


def _run(cmd, cwd, env):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SwBuildError(f"{' '.join(map(str, cmd[3:]))}\n{r.stdout}{r.stderr}")


def linker_script(cfg: ClusterConfig) -> str:
    vals = {"IMEM_BASE": f"0x{cfg.cores.imem_base:08x}", "IMEM_SIZE": f"0x{cfg.cores.imem_bytes:x}",
            "TCDM_BASE": f"0x{cfg.tcdm.base:08x}", "TCDM_SIZE": f"0x{cfg.tcdm.size_bytes:x}",
            "STACK_SIZE": str(STACK_BYTES), "NUM_CORES": str(cfg.cores.count)}
    text = (SW_DIR / "link.ld.in").read_text()
    for k, v in vals.items():
        text = text.replace(f"@{k}@", v)
    return text


def build(cfg: ClusterConfig, app: str, out_dir: str | Path, *,
          defines: dict[str, int | str] | None = None) -> Path:
    """Compile and link ``sw/apps/<app>.c`` for ``cfg`` into ``out_dir/<app>.elf``."""
    if not cfg.cores.count:
        raise SwBuildError("the configuration has no cores (cores.count = 0)")
    src = SW_DIR / "apps" / f"{app}.c"
    if not src.exists():
        raise SwBuildError(f"no application {app!r} (sw/apps has: {', '.join(apps())})")
    out = Path(out_dir).resolve()
    inc = out / "include"
    inc.mkdir(parents=True, exist_ok=True)
    for name, text in regmap.outputs(cfg).items():
        if name.endswith(".h"):
            p = inc / name
            if not p.exists() or p.read_text() != text:
                p.write_text(text)
    (out / "link.ld").write_text(linker_script(cfg))
    env = {**os.environ, "ZIG_LOCAL_CACHE_DIR": str(out / ".zig-cache")}
    flags = CFLAGS + [f"-I{inc}", f"-I{SW_DIR / 'hal'}", f"-I{SW_DIR / 'kernels'}"]
    flags += [f"-D{k}={v}" for k, v in (defines or {}).items()]
    objs = []
    sources = [SW_DIR / "crt0.S", *sorted((SW_DIR / "hal").glob("*.c")),
               *sorted((SW_DIR / "kernels").glob("*.c")), src]
    tag = app + "".join(f"_{k}{v}" for k, v in sorted((defines or {}).items()))
    objdir = out / "obj" / tag
    objdir.mkdir(parents=True, exist_ok=True)
    for s in sources:
        o = objdir / f"{s.parent.name}_{s.stem}.o"
        _run(compiler() + flags + ["-c", str(s), "-o", str(o)], out, env)
        objs.append(str(o))
    elf = out / f"{tag}.elf"
    _run(compiler() + CFLAGS[:2] + ["-nostdlib", "-static", "-T", str(out / "link.ld"),
                                    "-Wl,--gc-sections", "-o", str(elf), *objs], out, env)
    return elf
