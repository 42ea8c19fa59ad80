"""GTKWave save files: the signals of a run grouped per block, so a waveform
opens on the SoC port, each interconnect master and each block's ports instead
of a flat list of thousands of names (``gtkwave dump.fst dump.gtkw``)."""

from __future__ import annotations

import math
import re
from pathlib import Path

from vcd.gtkw import GTKWSave

__all__ = ["write_gtkw", "layout", "module_ports", "module_port_dirs", "module_signals", "traced",
           "TRACE_MAX_WIDTH", "dump_signals", "dump_end", "dump_ps", "view"]

# Widest vector a waves build traces (Verilator's --trace-max-width; its
# default of 256 would leave the crossbar's 2048-bit macro ports out of the FST).
TRACE_MAX_WIDTH = 8192

# The layout's wave pane in pixels: [size] minus the signal pane.
_SIZE, _SIGNALS_WIDTH = (1400, 800), 320


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


def module_signals(verilog: str, module: str) -> dict[str, int]:
    """``{name: width}`` of every port, wire and reg declared in ``module``."""
    m = re.search(rf"^module (?:\\{re.escape(module)} |{re.escape(module)})\(", verilog, re.M)
    if not m:
        return {}
    body = verilog[m.start():verilog.find("endmodule", m.start())]
    return {name: int(msb) + 1 if msb else 1 for msb, name in re.findall(
        r"^\s+(?:input|output|wire|reg)\s+(?:\[(\d+):0\]\s+)?\\?([^\s;]+)", body, re.M)}


def traced(groups: dict[str, list[tuple[str, int]]], verilog: str
           ) -> dict[str, list[tuple[str, int]]]:
    """``groups`` without the signals a waves build does not dump: names not
    declared (with that width) in the module instance they name -- Amaranth
    leaves out an interface member nothing reads, e.g. the cores' ``r_err``
    -- and vectors wider than :data:`TRACE_MAX_WIDTH`.  GTKWave would drop
    them silently; groups left empty go too."""
    decls: dict[str, dict[str, int]] = {}
    out = {}
    for name, sigs in groups.items():
        keep = []
        for sig, width in sigs:
            inst, _, port = sig.rpartition(".")
            if inst not in decls:
                decls[inst] = module_signals(verilog, inst)
            if decls[inst].get(port) == width <= TRACE_MAX_WIDTH and not port.startswith("_"):
                keep.append((sig, width))
        if keep:
            out[name] = keep
    return out


def layout(comp, top: str, verilog: str) -> dict[str, list[tuple[str, int]]]:
    """The wave groups of testbench top ``comp`` (named ``top`` in ``verilog``,
    its generated Verilog) that a waves build dumps."""
    return traced(comp.wave_groups(top, lambda p: module_ports(verilog, f"{top}.{p}")), verilog)


def dump_signals(dumpfile: Path) -> dict[str, int]:
    """``{hierarchical name: width}`` of every variable of an FST (or VCD)."""
    from pywellen import Waveform
    return {v.full_name: v.bitwidth for v in Waveform(str(dumpfile), stream_only=True).all_vars()}


def dump_end(dumpfile: Path) -> int:
    """Last time stamp of a dump, in its own time unit: the last edge of its
    first ``clk`` (the ungated clock toggles to the end of the run)."""
    from pywellen import Waveform
    w = Waveform(str(dumpfile), stream_only=True)
    clk = next((v for v in w.all_vars() if v.name == "clk"), None)
    last = [0]

    def step(t, *_):
        last[0] = t

    if clk is not None:
        w.stream_time_steps(step, [clk])
    return last[0]


_PS = {"fs": 1e-3, "ps": 1.0, "ns": 1e3, "us": 1e6, "ms": 1e9, "s": 1e12}


def dump_ps(dumpfile: Path) -> float:
    """Picoseconds per time unit of a dump (1 when it does not exist yet)."""
    if not Path(dumpfile).exists():
        return 1.0
    from pywellen import Waveform
    t = Waveform(str(dumpfile), stream_only=True).timescale
    return t.factor * _PS[str(t.unit).rsplit(".", 1)[-1]] if t else 1.0


def view(end: int | None, job: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The span [first, last] a layout opens on, in dump units: the whole run
    [0, ``end``], or around a failed job (``job``: its start and its error
    event) with a quarter of the job's length (at least 20 units) either side."""
    if job:
        start, event = min(job), max(job)
        margin = max((event - start) // 4, 20)
        return max(0, start - margin), event + margin
    return (0, end) if end else None


def write_gtkw(path: Path, dumpfile: Path, groups: dict[str, list[tuple[str, int]]],
               end: int | None = None, job: tuple[float, float] | None = None):
    """``groups``: {group name: [(full signal name, width)]}, in display order.
    Groups whose name contains "/" nest under the part before it.  The view
    spans [0, ``end``] (default: the dump's last time stamp, when it exists),
    so the layout opens on the whole run rather than on its first picoseconds;
    with ``job`` (a failed job's start and error event, in ps) it opens on
    that job instead (:func:`view`), the primary marker on the error event and
    marker A on the job's start."""
    if end is None and job is None and Path(dumpfile).exists():
        end = dump_end(dumpfile)
    unit = dump_ps(dumpfile)
    job_units = tuple(round(t / unit) for t in job) if job else None
    span = view(end, job_units)
    with open(path, "w") as f:
        g = GTKWSave(f)
        g.dumpfile(str(dumpfile))
        g.size(*_SIZE)
        g.signals_width(_SIGNALS_WIDTH)
        if span:
            # GTKWave shows 2^-zoom time units per pixel.
            px = _SIZE[0] - _SIGNALS_WIDTH - 40
            g.timestart(span[0])
            marks = ({"marker": job_units[1], "a": job_units[0]} if job_units else {})
            g.zoom_markers(-math.ceil(math.log2(max(1.0, (span[1] - span[0]) / px))), **marks)
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
