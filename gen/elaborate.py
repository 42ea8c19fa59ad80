"""Elaboration: configuration -> Verilog files, simulator file list, manifest
and register-map outputs.

``imcc gen`` and the testbench harness both go through :func:`generate`, so a
simulated design is exactly what a user generates.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from amaranth.back import verilog
from amaranth.lib import wiring

from . import __version__
from .config import ClusterConfig
from . import regmap

__all__ = ["TOPS", "Generated", "generate", "ports_of", "module_name"]


def _cluster(cfg, **kw):
    from imcc.rtl.cluster import Cluster
    return Cluster(cfg, **kw)


def _interconnect(cfg, **kw):
    from imcc.rtl.interconnect import Interconnect
    from imcc.rtl.registry import compose
    return Interconnect(cfg, compose(cfg), **kw)


def _bank(cfg, **kw):
    from imcc.rtl.tcdm import TcdmBank
    return TcdmBank(cfg.tcdm.bank_words, **kw)


def _sram(cfg, **kw):
    from imcc.rtl.tcdm import TcdmSram
    return TcdmSram(cfg.tcdm.bank_words, **kw)


# Components that `imcc gen --top NAME` can emit on their own.
TOPS: dict[str, Callable] = {
    "cluster": _cluster,
    "interconnect": _interconnect,
    "tcdm_bank": _bank,
    "tcdm_sram": _sram,
}


def module_name(top: str) -> str:
    return f"imcc_{top}"


def ports_of(component: wiring.Component) -> list[dict]:
    """Top-level ports as Verilog names the way Amaranth flattens them."""
    ports = []
    if "clk" not in component.signature.members:   # Amaranth adds the sync domain's
        ports = [{"name": "clk", "dir": "in", "width": 1},
                 {"name": "rst", "dir": "in", "width": 1}]
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        ports.append({"name": name, "dir": "in" if member.flow == wiring.In else "out",
                      "width": len(value)})
    return ports


# The Python file that made each statement, as `(* src = "FILE:LINE" *)`;
# several locations are joined by "|".
_SRC_ATTR = re.compile(r'(\(\* src = ")([^"]*)(" \*\))')


def _portable_src(verilog_text: str) -> str:
    """Source locations relative to where the code lives, so the Verilog (and
    its hash, the build key) does not depend on the checkout's or the
    virtualenv's folder: the project's files relative to the repository
    (``rtl/cluster.py``), libraries relative to their import root
    (``amaranth/lib/fifo.py``)."""
    import imcc.gen, imcc.rtl, imcc.sim, imcc.tb  # noqa: E401
    project = [Path(m.__file__).resolve().parent for m in (imcc.gen, imcc.rtl, imcc.sim, imcc.tb)]
    roots = sorted({Path(p).resolve() for p in sys.path if p and Path(p).is_dir()},
                   key=lambda r: len(r.parts), reverse=True)
    cache: dict[str, str] = {}

    def rel(path: str) -> str:
        if path not in cache:
            p = Path(path).resolve()
            cache[path] = next(
                (f"{d.name}/{p.relative_to(d).as_posix()}" for d in project if p.is_relative_to(d)),
                next((p.relative_to(r).as_posix() for r in roots if p.is_relative_to(r)), p.name))
        return cache[path]

    def fix(m: re.Match) -> str:
        locs = []
        for loc in m[2].split("|"):
            path, colon, line = loc.rpartition(":")
            locs.append(f"{rel(path)}:{line}" if colon else loc)
        return m[1] + "|".join(locs) + m[3]

    return _SRC_ATTR.sub(fix, verilog_text)


def _sram_modules(cfg: ClusterConfig, top: str) -> dict[str, Callable]:
    """SRAM macros the top instantiates by name, emitted as their own files."""
    from imcc.rtl.tcdm import TcdmSram
    if top not in ("interconnect", "tcdm_sram"):  # everything else holds banks
        words = cfg.tcdm.bank_words
        return {TcdmSram.module_name(words): lambda: TcdmSram(words)}
    return {}


@dataclass
class Generated:
    out_dir: Path
    top_module: str
    sources: list[Path]                 # generated Verilog in compile order, top last
    manifest: dict
    outputs: list[Path] = field(default_factory=list)
    external: list[Path] = field(default_factory=list)  # non-Amaranth RTL (core SV), first

    @property
    def all_sources(self) -> list[Path]:
        """What a simulator reads: external RTL first, then :attr:`sources`."""
        return self.external + self.sources

    @property
    def filelist(self) -> Path:
        return self.out_dir / "files.f"


def _write(path: Path, text: str, written: list[Path]):
    path.write_text(text)
    written.append(path)


def generate(cfg: ClusterConfig, out_dir: str | Path, top: str = "cluster", *,
             component: wiring.Component | None = None, name: str | None = None,
             extra_modules: dict[str, Callable] | None = None) -> Generated:
    """Write the Verilog of ``top`` (a name of :data:`TOPS`, or ``component``
    under ``name``, as testbench tops do) and its companions into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if component is None:
        if top not in TOPS:
            raise KeyError(top)
        component = TOPS[top](cfg)
    top_module = name or module_name(top)
    written: list[Path] = []

    sources: list[Path] = []
    # External RTL (e.g. the cores' SystemVerilog and its lint waivers) is
    # copied next to the generated files, so the output folder stands alone.
    external: list[Path] = []
    for rel, src in getattr(component, "external_sources", dict)().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, src if isinstance(src, str) else Path(src).read_text(), written)
        external.append(path)
    modules = {**_sram_modules(cfg, top), **getattr(component, "macro_modules", dict)(),
               **(extra_modules or {})}
    for mod_name, make in modules.items():
        path = out / f"{mod_name}.v"
        _write(path, verilog.convert(make(), name=mod_name, emit_src=False), written)
        sources.append(path)
    ports = ports_of(component)
    top_path = out / f"{top_module}.v"
    _write(top_path, _portable_src(verilog.convert(component, name=top_module)), written)
    sources.append(top_path)

    # Verilator, Icarus and commercial tools read this with -F (paths relative
    # to the list's own folder).  External sources (e.g. core RTL) join here.
    lines = [f"// imcc {__version__}: sources of {top_module}, compile in this order",
             *[p.relative_to(out).as_posix() for p in external + sources]]
    _write(out / "files.f", "\n".join(lines) + "\n", written)

    digest = hashlib.sha256()
    files = []
    for p in external + sources:
        h = hashlib.sha256(p.read_bytes()).hexdigest()
        files.append({"file": p.relative_to(out).as_posix(), "sha256": h})
        digest.update(h.encode())
    from imcc.rtl.registry import compose
    comp = compose(cfg)
    manifest = {
        "generator": f"imcc {__version__}",
        "top": top_module,
        "component": top,
        "config": cfg.to_dict(),
        "config_digest": cfg.digest(),
        "blocks": [{"name": i.name, "kind": i.kind.name} for i in comp.instances],
        "tcdm_masters": list(comp.masters),
        "ports": ports,
        "address_map": [{"name": w.name, "base": f"0x{w.base:08x}", "size": w.size}
                        for w in comp.address_map()],
        "sources": files,
        "source_hash": digest.hexdigest(),
    }
    for fname, text in regmap.outputs(cfg).items():
        _write(out / fname, text, written)
    _write(out / "manifest.json", json.dumps(manifest, indent=2) + "\n", written)
    return Generated(out, top_module, sources, manifest, written, external)
