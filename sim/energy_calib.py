"""Calibration of the energy model (docs/energy.md, "Calibration") against
the paper's per-layer energies (arXiv 2201.01089, Fig. 12a;
sim/data/paper_fig12a.json).

Three schedules of the same layers, each turned into activity by
:func:`imcc.sim.energy.estimate_activity` (a MODEL of the counters):

* ``paper``: the paper's own layers and latencies (IMA rows: pixels x tiles x
  130 ns; DW rows at the paper's 29.7 MAC/cycle; ADD rows on 8 cores for the
  printed latency).  The defaults are fitted here (:func:`fit`).
* ``bottleneck``: the reference block as this cluster runs it, cycles and
  stopped cycles measured in RTL (``imcc demo --json``,
  sim/data/bottleneck_ref_layer_cycles.json), against rows 14-17.
* ``mobilenetv2``: MobileNetV2 224x224 as this cluster runs it, per-layer
  cycles measured in RTL (sim/data/mobilenetv2_224_layer_cycles.json), against
  the paper's rows and its 0.482 mJ.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.sim.energy import (LayerWork, add_work, dw_work, energy_ratio, energy_report,
                             estimate_activity, ima_work)

__all__ = ["paper_rows", "paper_work", "bottleneck_work", "mobilenetv2_work", "software_work",
           "calibrate", "fit", "FIT_FIELDS", "PAPER_DW_MAC_PER_CYCLE", "PAPER_ENERGY_RATIO"]

DATA = Path(__file__).resolve().parent / "data"
# The paper's DW accelerator: 29.7 MAC/cycle measured on average (arXiv 2201.01089,
# ../shared/reference/paper-numbers.md); its Fig. 12a DW latencies agree to 0.01 ms.
PAPER_DW_MAC_PER_CYCLE = 29.7
PAPER_MHZ = 500.0
# The paper: the accelerated bottleneck is 9.5x more energy-efficient than 8-core software.
PAPER_ENERGY_RATIO = 9.5
# Software kernels' TCDM accesses per active core cycle, until the RTL counters
# count them: assumed (PULP-NN-style inner loops load or store in about a third
# of their instructions, and a core retires a little under one per cycle).
SW_TCDM_PER_CORE_CYCLE = 0.3
# Fields the fit sets; the others are cited or assumed (gen/config.py EnergyConfig).
FIT_FIELDS = ("ima_mvm_fixed_pj", "ima_mvm_row_pj", "ima_mvm_col_pj", "dw_busy_pj",
              "core_active_pj")


def paper_rows() -> dict:
    return json.loads((DATA / "paper_fig12a.json").read_text())


def _ima_shape(r) -> tuple[int, int, int]:
    """(output pixels, rows, cols) of an IMA row of Fig. 12a."""
    if r["name"] == "2D_0":                  # 3x3 stride 2 on 224x224x3 -> 112x112x32
        return 112 * 112, 27, r["params"] // 27
    rows = r["c"]
    return r["h"] * r["h"], rows, r["params"] // rows


def paper_work(cfg: ClusterConfig) -> list[LayerWork]:
    """The paper's layers with the paper's timing (a model of its activity)."""
    mvm = cfg.ns_to_cycles(cfg.ima.mvm_ns)
    cyc = PAPER_MHZ * 1e3                    # cycles per ms
    work = []
    for r in paper_rows()["rows"]:
        name = f"{r['row']}:{r['name']}"
        if r["unit"] == "IMA":
            px, rows, cols = _ima_shape(r)
            tiles = math.ceil(rows / cfg.ima.rows) * math.ceil(cols / cfg.ima.cols)
            work.append(ima_work(name, px * tiles * mvm, px, rows, cols, cfg))
        elif r["unit"] == "DW":
            macs = round(r["mmac"] * 1e6)
            pixels = macs / (9 * r["c"])
            ho = round(math.sqrt(pixels))
            work.append(dw_work(name, round(macs / PAPER_DW_MAC_PER_CYCLE), ho, ho, r["c"],
                                r["h"] // ho, cfg))
        else:
            work.append(add_work(name, round(r["ms"] * cyc), r["h"] * r["h"] * r["c"], "cores",
                                 cfg))
    return work


def bottleneck_work(result: dict, cfg: ClusterConfig) -> list[LayerWork]:
    """The reference block's layers as an ``imcc demo --json`` result measured
    them (cycles, stopped cycles), with the counts of its shape."""
    b = result["block"]
    h, w, cin, t, cout, s = b["h"], b["w"], b["cin"], b["t"], b["cout"], b["stride"]
    ho, wo, cexp = (h - 1) // s + 1, (w - 1) // s + 1, cin * t
    work = []
    for L in result["layers"]:
        kw = dict(gated_cycles=L.get("stopped_cycles", 0))
        n, c = L["name"], L["cycles"]
        if n.startswith("expand"):
            work.append(ima_work(n, c, h * w, cin, cexp, cfg, **kw))
        elif n.startswith("project"):
            work.append(ima_work(n, c, ho * wo, cexp, cout, cfg, **kw))
        elif n.startswith("depthwise"):
            work.append(dw_work(n, c, ho, wo, cexp, s, cfg, **kw))
        else:
            work.append(add_work(n, c, ho * wo * cout, L["unit"], cfg, **kw))
    return work


def mobilenetv2_work(data: dict, cfg: ClusterConfig) -> list[LayerWork]:
    """MobileNetV2's layers with the per-layer cycles of an ``imcc run
    mobilenetv2 --json`` result: IMA MVMs = output pixels x tiles; a layer split
    along its input rows adds its partial results on the DW; every tensor
    comes from and goes to L2 through the DMA (the layer schedule's bands)."""
    from imcc.sim.network import mobilenetv2
    net = mobilenetv2(data["input"], data["width"])
    # DW element-wise add: 3 bytes per element over its data ports (4 B each per cycle)
    add_rate = cfg.ima.data_ports * 4 / 3
    work = []
    for L in data["layers"]:
        layer = net.layer(L["name"])
        hi, wi, ci = net.shapes[layer.inputs[0]]
        ho, wo, co = net.shapes[layer.output]
        dma = sum(math.prod(net.shapes[i]) for i in layer.inputs) + ho * wo * co
        c = L["cycles"]
        if layer.op in ("conv", "pw"):
            rows = layer.k * layer.k * ci
            tr = math.ceil(rows / cfg.ima.rows)
            partial = ho * wo * co * (tr - 1)          # partial sums added on the DW
            dw_busy = math.ceil(partial / add_rate)
            w = ima_work(L["name"], c, ho * wo, rows, co, cfg, tiles=L.get("tiles"),
                         dma_bytes=dma, ima_busy=c - dw_busy if partial else None)
            if partial:
                w = dataclasses.replace(w, dw_macs=2 * partial, dw_words=math.ceil(3 * partial / 4),
                                        dw_busy=dw_busy)
            work.append(w)
        elif layer.op == "dw":
            work.append(dw_work(L["name"], c, ho, wo, co, layer.stride, cfg, dma_bytes=dma))
        else:
            work.append(add_work(L["name"], c, ho * wo * co, L["unit"], cfg, dma_bytes=dma))
    return work


def software_work(data: dict, cfg: ClusterConfig) -> list[LayerWork]:
    """The 8-core software bottleneck's layers (measured cycles) as a MODEL:
    every core active for the whole layer, SW_TCDM_PER_CORE_CYCLE accesses each."""
    b = data["block"]
    h, w, cin, t, cout = b["h"], b["w"], b["cin"], b["t"], b["cout"]
    macs = {"expand 1x1": h * w * cin * cin * t, "depthwise 3x3": 9 * h * w * cin * t,
            "project 1x1": h * w * cin * t * cout, "residual add": h * w * cout}
    n = min(data["cores"], cfg.cores.count)
    return [LayerWork(L["name"], L["cycles"], cores_active=n,
                      core_words=round(SW_TCDM_PER_CORE_CYCLE * n * L["cycles"]),
                      ops=2 * macs[L["name"]]) for L in data["layers"]]


def _report(work, cfg, name):
    act, lacts = estimate_activity(work, cfg)
    return energy_report(act, cfg, lacts, [w.ops for w in work], name=name,
                         layer_names=[w.name for w in work], source="model")


def _rows(rep, paper_mj: list[float | None]) -> list[dict]:
    out = []
    for L, p in zip(rep.layers, paper_mj):
        row = {"layer": L.name, "model_uj": round(L.total_uj, 3), "cycles": L.cycles}
        dma = L.by_unit_uj()["dma_l2"]
        if dma:
            row["dma_l2_uj"] = round(dma, 3)
        if p is not None:
            row["paper_uj"] = round(p * 1e3, 3)
            row["error"] = round(L.total_uj / (p * 1e3) - 1, 4) if p else None
        out.append(row)
    return out


def calibrate(cfg: ClusterConfig | None = None) -> dict:
    """Model vs paper per layer and in total for the three schedules."""
    cfg = cfg or ClusterConfig()
    pr = paper_rows()
    rows = pr["rows"]
    by_ours = {r["ours"]: r for r in rows if r["ours"]}
    out = {"source": "model: energy of estimate_activity(...) activity (not RTL counters) "
                     "with the configuration's energy section; paper: arXiv 2201.01089 Fig. 12a",
           "energy": dataclasses.asdict(cfg.energy)}

    rep = _report(paper_work(cfg), cfg, "paper schedule")
    out["paper_schedule"] = {
        "layers": _rows(rep, [r["mj"] for r in rows]),
        "model_uj": round(rep.inference_pj * 1e-6, 2),
        "paper_rows_uj": round(sum(r["mj"] for r in rows) * 1e3, 2),
        "paper_headline_uj": pr["headline_mj"] * 1e3,
        "gops_per_w": round(rep.gops_per_w, 1)}

    bres = json.loads((DATA / "bottleneck_ref_layer_cycles.json").read_text())
    bpaper = [r["mj"] for r in rows if 14 <= r["row"] <= 17]
    rep = _report(bottleneck_work(bres, cfg), cfg, "reference bottleneck")
    out["bottleneck"] = {"layers": _rows(rep, bpaper),
                         "model_uj": round(rep.inference_pj * 1e-6, 3),
                         "paper_uj": round(sum(bpaper) * 1e3, 3),
                         "gops_per_w": round(rep.gops_per_w, 1),
                         "by_unit_uj": {u: round(v, 3) for u, v in rep.by_unit_uj().items()}}
    sw = _report(software_work(json.loads((DATA / "bottleneck_sw_layer_cycles.json").read_text()),
                               cfg), cfg, "software bottleneck")
    out["software_vs_accelerated"] = {
        "software_uj": round(sw.inference_pj * 1e-6, 2),
        "accelerated_uj": round(rep.inference_pj * 1e-6, 3),
        "ratio": round(energy_ratio(sw, rep), 2), "paper_ratio": PAPER_ENERGY_RATIO,
        "software_cycles": sw.cycles, "accelerated_cycles": rep.cycles,
        "software_tcdm_per_core_cycle": SW_TCDM_PER_CORE_CYCLE}

    data = json.loads((DATA / "mobilenetv2_224_layer_cycles.json").read_text())
    rep = _report(mobilenetv2_work(data, cfg), cfg, "MobileNetV2 224")
    mpaper = [by_ours[L["name"]]["mj"] for L in data["layers"]]
    out["mobilenetv2"] = {
        "layers": _rows(rep, mpaper), "model_uj": round(rep.inference_pj * 1e-6, 2),
        "paper_same_rows_uj": round(sum(mpaper) * 1e3, 2),
        "paper_headline_uj": pr["headline_mj"] * 1e3, "gops_per_w": round(rep.gops_per_w, 1),
        "cycles": rep.cycles,
        "by_unit_uj": {u: round(v, 2) for u, v in rep.by_unit_uj().items()}}
    return out


def fit(cfg: ClusterConfig | None = None) -> dict[str, float]:
    """Least-squares values of :data:`FIT_FIELDS` on the paper schedule (the
    other fields fixed at ``cfg``'s): absolute errors in uJ, the printed
    energies being rounded to 1 uJ whatever the layer's size."""
    cfg = cfg or ClusterConfig()
    work = paper_work(cfg)
    paper = np.array([r["mj"] * 1e3 for r in paper_rows()["rows"]])

    def layer_uj(c):
        act, lacts = estimate_activity(work, c)
        return np.array([energy_report(a, c).total_uj for a in lacts])

    zero = {f: 0.0 for f in FIT_FIELDS}
    base = layer_uj(cfg.replace(energy=zero))
    cols = [layer_uj(cfg.replace(energy={**zero, f: 1.0})) - base for f in FIT_FIELDS]
    sol, *_ = np.linalg.lstsq(np.stack(cols, 1), paper - base, rcond=None)
    return {f: float(v) for f, v in zip(FIT_FIELDS, sol)}
