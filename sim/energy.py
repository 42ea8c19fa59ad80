"""Energy model of a run: activity counts times per-event energies (the
configuration's ``energy`` section), plus leakage over the run's time
(docs/energy.md).

The input is an *activity*: a flat dict of counts over a run, with the keys of
the cluster's activity counters (the RTL's, issue 24)::

    cycles, gated_cycles, core{n}.active, core{n}.sleep, ima{i}.busy,
    ima{i}.array{j}.mvm, ima{i}.array{j}.pcm_writes, dw{i}.busy, dw{i}.macs,
    dma.busy, dma.bytes, tcdm.cores, tcdm.ima, tcdm.dw, tcdm.dma, tcdm.soc

(TCDM: granted 32-bit accesses per master class).  Two optional keys per array,
``ima{i}.array{j}.mvm_rows`` and ``.mvm_cols`` (active rows / columns summed
over its MVMs), let the analog energy follow the MVM window; without them an
MVM counts as a full ``ima.rows`` x ``ima.cols`` window (an upper bound, and
the report says so).  :func:`add_windows` adds them from known layer windows.

:func:`energy_report` turns activity into an :class:`EnergyReport`: every
term is count x energy per event, the total is their sum and the breakdown by
unit partitions the terms.  :func:`estimate_activity` is a MODEL of the
activity, from layer shapes and measured cycles, for calibration and design
sweeps before (or without) RTL counters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from imcc.gen.config import WORD_BYTES, ClusterConfig

__all__ = ["UNITS", "Term", "EnergyReport", "energy_report", "add_windows", "LayerWork",
           "ima_work", "dw_work", "add_work", "estimate_activity", "energy_ratio", "attach"]

# Units of the breakdown, in print order.  pcm_programming is apart from the
# IMA's analog inference energy: weights are programmed once, before inference.
UNITS = ("ima_analog", "pcm_programming", "ima_digital", "dw", "cores", "tcdm", "dma_l2",
         "clock", "leakage")
UNIT_LABELS = {"ima_analog": "IMA analog (MVMs)", "pcm_programming": "PCM programming",
               "ima_digital": "IMA digital", "dw": "DW accelerator", "cores": "cores",
               "tcdm": "TCDM (L1)", "dma_l2": "DMA + L2", "clock": "clock (running)",
               "leakage": "leakage"}
UNIT_SHORT = {"ima_analog": "IMA-ana", "pcm_programming": "PCM-prog", "ima_digital": "IMA-dig",
              "dw": "DW", "cores": "cores", "tcdm": "TCDM", "dma_l2": "DMA+L2", "clock": "clock",
              "leakage": "leakage"}

_ARRAY = re.compile(r"^ima(\d+)\.array(\d+)\.(mvm|pcm_writes|mvm_rows|mvm_cols)$")
_SIMPLE = re.compile(r"^(core|ima|dw)(\d+)\.(active|sleep|busy|macs)$")
_TCDM = ("tcdm.cores", "tcdm.ima", "tcdm.dw", "tcdm.dma", "tcdm.soc")


@dataclass(frozen=True)
class Term:
    """One line of the sum: ``count`` events of ``event`` at ``pj`` each."""
    unit: str
    event: str
    count: float
    pj_each: float

    @property
    def pj(self) -> float:
        return self.count * self.pj_each


@dataclass
class EnergyReport:
    """Energy of a run (or of one layer): its terms, their sum and breakdown.

    ``source`` says where the activity came from: "rtl counters" or "model"
    (:func:`estimate_activity`)."""
    name: str
    terms: list[Term]
    cycles: int
    freq_mhz: float
    source: str
    ops: float | None = None
    layers: list["EnergyReport"] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total_pj(self) -> float:
        return math.fsum(t.pj for t in self.terms)

    @property
    def total_uj(self) -> float:
        return self.total_pj * 1e-6

    def by_unit_pj(self) -> dict[str, float]:
        return {u: math.fsum(t.pj for t in self.terms if t.unit == u) for u in UNITS}

    def by_unit_uj(self) -> dict[str, float]:
        return {u: v * 1e-6 for u, v in self.by_unit_pj().items()}

    @property
    def seconds(self) -> float:
        return self.cycles / (self.freq_mhz * 1e6)

    @property
    def power_mw(self) -> float:
        return self.total_pj * 1e-9 / self.seconds if self.cycles else 0.0

    @property
    def inference_pj(self) -> float:
        """Energy of the layers when there are layers (no loading or PCM
        programming), else of the run."""
        return math.fsum(L.total_pj for L in self.layers) if self.layers else self.total_pj

    @property
    def gops_per_w(self) -> float | None:
        """Operations (2 per MAC) per joule of the layers, in GOPS/W."""
        e = self.inference_pj
        return self.ops / (e * 1e-12) / 1e9 if self.ops and e > 0 else None

    def to_json(self) -> dict:
        """``energy_uj`` (total), ``energy_by_unit_uj``, GOPS/W, mean power,
        per-layer ``energy_uj`` and where the activity came from."""
        d = {"energy_uj": round(self.total_uj, 6),
             "energy_by_unit_uj": {u: round(v, 6) for u, v in self.by_unit_uj().items()},
             "energy_source": self.source, "power_mw": round(self.power_mw, 4)}
        if self.layers:
            d["inference_energy_uj"] = round(self.inference_pj * 1e-6, 6)
            d["energy_layers"] = [
                {"name": L.name, "energy_uj": round(L.total_uj, 6),
                 "energy_by_unit_uj": {u: round(v, 6) for u, v in L.by_unit_uj().items()},
                 **({"gops_per_w": round(L.gops_per_w, 2)} if L.gops_per_w else {})}
                for L in self.layers]
        if self.gops_per_w:
            d["gops_per_w"] = round(self.gops_per_w, 2)
        if self.notes:
            d["energy_notes"] = list(self.notes)
        return d

    def text(self) -> str:
        """A table: per layer and total uJ, GOPS/W, the breakdown by unit."""
        used = [u for u in UNITS if any(t.unit == u and t.pj for t in self.terms)]
        out = [f"energy ({self.source}; model of docs/energy.md, GF22 figures at "
               f"{self.freq_mhz:g} MHz)"]
        if self.layers:
            out.append(f"{'layer':<15} {'uJ':>9} {'GOPS/W':>8}  "
                       + " ".join(f"{UNIT_SHORT[u]:>9}" for u in used))
            for L in self.layers:
                bu = L.by_unit_uj()
                g = f"{L.gops_per_w:8.0f}" if L.gops_per_w else f"{'':>8}"
                out.append(f"{L.name[:15]:<15} {L.total_uj:9.3f} {g}  "
                           + " ".join(f"{bu[u]:9.3f}" for u in used))
            out.append(f"{'layers':<15} {self.inference_pj * 1e-6:9.3f} "
                       + (f"{self.gops_per_w:8.0f}" if self.gops_per_w else f"{'':>8}"))
        out.append(f"run total {self.total_uj:.3f} uJ over {self.cycles:,} cycles "
                   f"({self.power_mw:.1f} mW mean)"
                   + (f"; {self.gops_per_w:.0f} GOPS/W on the layers" if self.gops_per_w
                      and not self.layers else ""))
        tot = self.total_pj or 1.0
        out.append("by unit: " + ", ".join(
            f"{UNIT_LABELS[u]} {v * 1e-6:.3f} uJ ({100 * v / tot:.0f} %)"
            for u, v in self.by_unit_pj().items() if v))
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def png(self, path: str) -> str:
        """A PNG of the breakdown: stacked bars per layer (or one bar for the
        run) by unit."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        rows = self.layers or [self]
        used = [u for u in UNITS if any(r.by_unit_pj()[u] for r in rows)]
        fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(rows) + 3), 4.5))
        bottom = [0.0] * len(rows)
        for u in used:
            vals = [r.by_unit_uj()[u] for r in rows]
            ax.bar(range(len(rows)), vals, bottom=bottom, label=UNIT_LABELS[u])
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_xticks(range(len(rows)), [r.name for r in rows], rotation=90, fontsize=7)
        ax.set_ylabel("energy (uJ)")
        ax.set_title(f"{self.name}: {self.total_uj:.2f} uJ ({self.source})", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _terms(act: dict, cfg: ClusterConfig) -> tuple[list[Term], list[str], list[str]]:
    """(terms, keys without an energy, notes) of one activity dict."""
    e = cfg.energy
    terms, unknown, full = [], [], []
    arrays: dict[tuple[int, int], dict] = {}
    for key, n in act.items():
        if key in ("cycles", "gated_cycles") or isinstance(n, str):   # a name is no count
            continue
        m = _ARRAY.match(key)
        if m:
            arrays.setdefault((int(m[1]), int(m[2])), {})[m[3]] = n
            continue
        m = _SIMPLE.match(key)
        if m:
            kind, what = m[1], m[3]
            if (kind, what) == ("core", "active"):
                terms.append(Term("cores", key, n, e.core_active_pj))
            elif (kind, what) == ("core", "sleep"):
                terms.append(Term("cores", key, n, e.core_sleep_pj))
            elif (kind, what) == ("ima", "busy"):
                terms.append(Term("ima_digital", key, n, e.ima_busy_pj))
            elif (kind, what) == ("dw", "busy"):
                terms.append(Term("dw", key, n, e.dw_busy_pj))
            elif (kind, what) == ("dw", "macs"):
                terms.append(Term("dw", key, n, e.dw_mac_pj))
            else:
                unknown.append(key)
        elif key in _TCDM:
            terms.append(Term("tcdm", key, n, e.tcdm_access_pj))
        elif key == "dma.bytes":
            terms.append(Term("dma_l2", key, n, e.dma_byte_pj))
        elif key == "dma.busy":
            terms.append(Term("dma_l2", key, n, e.dma_busy_pj))
        else:
            unknown.append(key)
    for (i, j), a in sorted(arrays.items()):
        p = f"ima{i}.array{j}"
        mvm = a.get("mvm", 0)
        if mvm:
            if "mvm_rows" in a and "mvm_cols" in a:
                rows, cols = a["mvm_rows"], a["mvm_cols"]
            else:   # no window sums: a full window per MVM (an upper bound)
                rows, cols = mvm * cfg.ima.rows, mvm * cfg.ima.cols
                full.append(p)
            terms += [Term("ima_analog", f"{p}.mvm", mvm, e.ima_mvm_fixed_pj),
                      Term("ima_analog", f"{p}.mvm_rows", rows, e.ima_mvm_row_pj),
                      Term("ima_analog", f"{p}.mvm_cols", cols, e.ima_mvm_col_pj)]
        if a.get("pcm_writes"):
            terms.append(Term("pcm_programming", f"{p}.pcm_writes", a["pcm_writes"],
                              e.ima_pcm_write_pj))
    cycles = act.get("cycles", 0)
    running = cycles - act.get("gated_cycles", 0)
    if running < 0:
        raise ValueError(f"activity: gated_cycles ({act.get('gated_cycles')}) exceed cycles "
                         f"({cycles})")
    terms.append(Term("clock", "cycles - gated_cycles", running, e.clock_pj))
    # leakage_mw over the run's time: mW x cycles / MHz = nJ; x 1000 = pJ
    terms.append(Term("leakage", "cycles", cycles, e.leakage_mw * 1e3 / cfg.clock.freq_mhz))
    notes = []
    if full:
        notes.append(f"IMA analog energy of {', '.join(full)} at full {cfg.ima.rows}x"
                     f"{cfg.ima.cols} windows: the activity has no mvm_rows/mvm_cols sums "
                     "(an upper bound)")
    return terms, unknown, notes


def energy_report(activity: dict, cfg: ClusterConfig, layer_activity: list[dict] | None = None,
                  ops=None, *, name: str = "run", layer_names: list[str] | None = None,
                  source: str = "rtl counters") -> EnergyReport:
    """The energy of a run from its ``activity`` (counts over the run) and,
    optionally, per layer (``layer_activity``, named by ``layer_names``).

    ``ops``: operations of the run (2 per MAC) for GOPS/W, an int, or a list
    with one entry per layer.  Keys the model has no energy for are listed in
    the report's notes (never silently dropped)."""
    terms, unknown, notes = _terms(activity, cfg)
    layers = []
    layer_ops = ops if isinstance(ops, (list, tuple)) else None
    for k, la in enumerate(layer_activity or []):
        lt, lu, ln = _terms(la, cfg)
        unknown += [u for u in lu if u not in unknown]
        lname = layer_names[k] if layer_names else f"layer{k}"
        layers.append(EnergyReport(lname, lt, la.get("cycles", 0), cfg.clock.freq_mhz, source,
                                   ops=layer_ops[k] if layer_ops else None, notes=ln))
    total_ops = math.fsum(layer_ops) if layer_ops is not None else ops
    if unknown:
        notes.append("keys without an energy in the model (not counted): " + ", ".join(unknown))
    return EnergyReport(name, terms, activity.get("cycles", 0), cfg.clock.freq_mhz, source,
                        ops=total_ops, layers=layers, notes=notes)


def add_windows(activity: dict, windows: dict[str, tuple[float, float]]) -> dict:
    """A copy of ``activity`` with ``mvm_rows``/``mvm_cols`` sums for the arrays
    named in ``windows`` ("ima0.array0": (rows, cols) active per MVM)."""
    out = dict(activity)
    for p, (r, c) in windows.items():
        n = activity.get(f"{p}.mvm", 0)
        out[f"{p}.mvm_rows"], out[f"{p}.mvm_cols"] = n * r, n * c
    return out


# -- the activity MODEL ------------------------------------------------------------------------
@dataclass
class LayerWork:
    """What one layer does, for :func:`estimate_activity` (a model).  ``cycles``
    are measured (RTL) or the paper's; the counts follow from the shapes."""
    name: str
    cycles: int
    mvms: int = 0                 # IMA: MVMs ...
    rows: float = 0               # ... and the mean active rows and columns of one
    cols: float = 0
    ima_busy: int | None = None   # IMA busy cycles (default: the layer's cycles when mvms)
    array: int = 0
    dw_macs: int = 0              # DW: MACs, TCDM words moved, busy cycles
    dw_words: int = 0
    dw_busy: int | None = None    # default: the layer's cycles when dw_macs
    cores_active: int = 0         # cores computing for the whole layer
    core_words: int = 0
    dma_bytes: int = 0            # moved between L2 and L1 during the layer
    gated_cycles: int = 0         # cycles the idle gate stopped the clock
    ops: int = 0                  # 2 per MAC


def _words(nbytes: float) -> int:
    return math.ceil(nbytes / WORD_BYTES)


def ima_work(name: str, cycles: int, pixels: int, rows: int, cols: int, cfg: ClusterConfig,
             tiles: int | None = None, **kw) -> LayerWork:
    """An IMA layer: ``pixels`` output pixels of a ``rows`` x ``cols`` weight
    matrix, in ``tiles`` crossbar tiles (default: as many as the array size
    needs); each tile is one MVM per pixel."""
    tr, tc = math.ceil(rows / cfg.ima.rows), math.ceil(cols / cfg.ima.cols)
    tiles = tiles or tr * tc
    # the tiles cover the matrix: rows x (column tiles) rows, (row tiles) x cols columns
    # summed over the tiles, spread over as many tiles as the mapping used
    r_mean = rows * tc / tiles if tiles >= tr * tc else rows / tr
    c_mean = cols * tr / tiles if tiles >= tr * tc else cols / tc
    return LayerWork(name, cycles, mvms=pixels * tiles, rows=r_mean, cols=c_mean,
                     ops=2 * pixels * rows * cols, **kw)


def dw_work(name: str, cycles: int, ho: int, wo: int, ch: int, stride: int,
            cfg: ClusterConfig, **kw) -> LayerWork:
    """A depthwise 3x3 layer on the DW: per output pixel and block of channels it
    loads 3 x stride new input columns and stores one output pixel (docs/dw.md)."""
    macs = 9 * ho * wo * ch
    words = _words(ho * wo * ch * (3 * stride + 1))
    return LayerWork(name, cycles, dw_macs=macs, dw_words=words, ops=2 * macs, **kw)


def add_work(name: str, cycles: int, elements: int, unit: str, cfg: ClusterConfig,
             **kw) -> LayerWork:
    """A residual add of ``elements`` int8 values: two loads and a store each
    (3 bytes), on the DW (two multiplies per element) or on all cores."""
    words = _words(3 * elements)
    if unit.upper() == "DW":
        return LayerWork(name, cycles, dw_macs=2 * elements, dw_words=words,
                         ops=2 * elements, **kw)
    return LayerWork(name, cycles, cores_active=cfg.cores.count, core_words=words,
                     ops=2 * elements, **kw)


def estimate_activity(work: list[LayerWork], cfg: ClusterConfig,
                      extra: dict | None = None) -> tuple[dict, list[dict]]:
    """A MODEL of the activity counters (not RTL counts): (run activity, per
    layer activity) for ``work``, in the counters' keys.

    Per layer: the units named by the work are busy for the layer's cycles;
    cores not computing sleep for all running cycles (the job launches of
    core 0 are not counted); IMA TCDM accesses are the words of every MVM's
    input and output vectors; DMA bytes cross the TCDM as words.  ``extra``
    (e.g. PCM writes and the cycles spent programming) is added to the run."""
    layers = []
    for w in work:
        running = w.cycles - w.gated_cycles
        a = {"cycles": w.cycles, "gated_cycles": w.gated_cycles}
        for n in range(cfg.cores.count):
            act = w.cycles if n < w.cores_active else 0
            a[f"core{n}.active"] = act
            a[f"core{n}.sleep"] = max(0, running - act)
        if w.mvms:
            p = f"ima0.array{w.array}"
            a["ima0.busy"] = w.cycles if w.ima_busy is None else w.ima_busy
            a[f"{p}.mvm"] = w.mvms
            a[f"{p}.mvm_rows"] = w.mvms * w.rows
            a[f"{p}.mvm_cols"] = w.mvms * w.cols
            a["tcdm.ima"] = w.mvms * (_words(w.rows) + _words(w.cols))
        if w.dw_macs:
            a["dw0.busy"] = w.cycles if w.dw_busy is None else w.dw_busy
            a["dw0.macs"] = w.dw_macs
            a["tcdm.dw"] = w.dw_words
        if w.core_words:
            a["tcdm.cores"] = w.core_words
        if w.dma_bytes:
            a["dma.bytes"] = w.dma_bytes
            a["dma.busy"] = math.ceil(w.dma_bytes / (cfg.dma.data_width // 8))
            a["tcdm.dma"] = _words(w.dma_bytes)
        layers.append(a)
    total: dict = {}
    for a in layers + ([extra] if extra else []):
        for k, v in a.items():
            total[k] = total.get(k, 0) + v
    return total, layers


def energy_ratio(software: EnergyReport, accelerated: EnergyReport) -> float:
    """How many times less energy the accelerated run's layers take than the
    software run's (the paper: 9.5x on the reference bottleneck)."""
    return software.inference_pj / accelerated.inference_pj


# -- the commands' glue ------------------------------------------------------------------------
def attach(result: dict, cfg: ClusterConfig, *, windows: list | None = None,
           ops: list | None = None, png: str | None = None,
           source: str = "rtl counters") -> EnergyReport | None:
    """When a run ``result`` carries ``activity`` (and optionally
    ``layer_activity``, one dict per entry of ``result["layers"]``): its energy
    report, with ``energy_uj``, ``energy_by_unit_uj`` and the layers'
    ``energy_uj`` added to ``result``; None without activity.

    ``windows``: per layer (rows, cols) active per MVM of its IMA array, or
    None, to give the analog energy its window; ``ops`` per layer (2 per MAC)
    for GOPS/W; ``png``: write the breakdown there; ``source``: "rtl counters",
    or "model" for activity from :func:`estimate_activity`."""
    act = result.get("activity")
    if not act:
        return None
    lacts = result.get("layer_activity")
    rlayers = result.get("layers") or []
    notes = []
    if lacts is not None and len(lacts) != len(rlayers):
        notes.append(f"layer_activity has {len(lacts)} entries for {len(rlayers)} layers: "
                     "per-layer energy left out")
        lacts = None
    if lacts and windows:
        lacts, act = _windowed(act, lacts, windows, cfg)
    if not lacts and ops is not None:
        ops = sum(ops)
    rep = energy_report(act, cfg, lacts, ops, name=result.get("name", "run"), source=source,
                        layer_names=[L.get("name", f"layer{k}") for k, L in enumerate(rlayers)])
    rep.notes += notes
    result.update({k: v for k, v in rep.to_json().items() if k != "energy_layers"})
    for L, E in zip(rlayers, rep.layers):
        L["energy_uj"] = round(E.total_uj, 6)
        L["energy_by_unit_uj"] = {u: round(v, 6) for u, v in E.by_unit_uj().items() if v}
    if png:
        result["energy_png"] = rep.png(png)
    return rep


def _windowed(act: dict, lacts: list[dict], windows: list,
              cfg: ClusterConfig) -> tuple[list[dict], dict]:
    """Layer activities with their windows' row/column sums, and the run's
    sums: the layers' plus full windows for MVMs outside the layers."""
    out = []
    sums: dict[str, list[float]] = {}
    for la, win in zip(lacts, windows):
        if win:
            arrays = {k[:-len(".mvm")] for k in la if _ARRAY.match(k) and k.endswith(".mvm")}
            la = add_windows(la, {p: win for p in arrays})
            for p in arrays:
                s = sums.setdefault(p, [0, 0, 0])
                s[0] += la[f"{p}.mvm"]
                s[1] += la[f"{p}.mvm_rows"]
                s[2] += la[f"{p}.mvm_cols"]
        out.append(la)
    act = dict(act)
    for p, (n, r, c) in sums.items():
        if f"{p}.mvm_rows" not in act:
            rest = act.get(f"{p}.mvm", 0) - n
            if rest >= 0:
                act[f"{p}.mvm_rows"] = r + rest * cfg.ima.rows
                act[f"{p}.mvm_cols"] = c + rest * cfg.ima.cols
    return out, act
