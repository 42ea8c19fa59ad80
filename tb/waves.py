"""GTKWave save files: the signals of a run grouped per block, so a waveform
opens on the SoC port, each interconnect master and each block's ports instead
of a flat list of thousands of names (``gtkwave dump.fst dump.gtkw``)."""

from __future__ import annotations

import re
from pathlib import Path

from vcd.gtkw import GTKWSave

__all__ = ["write_gtkw", "module_ports"]


def module_ports(verilog: str, module: str) -> list[tuple[str, int]]:
    """``[(port, width)]`` of ``module`` (Amaranth's flattened name, e.g.
    ``imcc_cluster_tb.ima.engine``) in ``verilog``; ports without a readable
    name (``port$123``) are left out."""
    return [(name, width) for _, name, width in module_port_dirs(verilog, module)
            if "$" not in name]


def module_port_dirs(verilog: str, module: str) -> list[tuple[str, str, int]]:
    """``[("input" | "output", port, width)]`` of every port of ``module``."""
    # Submodules have escaped names ("module \\top.ima ("), the top does not.
    m = re.search(rf"^module (?:\\{re.escape(module)} |{re.escape(module)})\(", verilog, re.M)
    if not m:
        return []
    body = verilog[m.start():verilog.find("endmodule", m.start())]
    return [(d, name, int(msb) + 1 if msb else 1) for d, msb, name in re.findall(
        r"^\s+(input|output)\s+(?:\[(\d+):0\]\s+)?\\?(\S+)\s*;", body, re.M)]


def write_gtkw(path: Path, dumpfile: Path, groups: dict[str, list[tuple[str, int]]]):
    """``groups``: {group name: [(full signal name, width)]}, in display order.
    Groups whose name contains "/" nest under the part before it."""
    with open(path, "w") as f:
        g = GTKWSave(f)
        g.dumpfile(str(dumpfile))
        parents: dict[str, list[tuple[str, list]]] = {}
        for name, sigs in groups.items():
            top, _, sub = name.partition("/")
            parents.setdefault(top, []).append((sub, sigs))
        for top, subs in parents.items():
            with g.group(top, closed=len(subs) > 1 or top != next(iter(parents))):
                for sub, sigs in subs:
                    if sub:
                        with g.group(sub, closed=True):
                            _traces(g, sigs)
                    else:
                        _traces(g, sigs)


def _traces(g: GTKWSave, sigs):
    for name, width in sigs:
        g.trace(name if width == 1 else f"{name}[{width - 1}:0]", datafmt="hex")
