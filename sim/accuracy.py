"""Accuracy study (issue 25): a trained network on the cluster, in the golden
model, in RTL and on PCM crossbars drifting for up to ten years.

Paths, all from the same integer network (:func:`imcc.sim.train.export`):

* **golden**: :meth:`Network.run` (sim/golden.py arithmetic), image by image;
* **RTL**: the network compiler's program on the generated cluster
  (:func:`rtl_predictions`; one program per image, one Verilator build);
* **PCM (model)**: :func:`pcm_logits` runs the compiler's *lowered* network with
  every IMA op on the crossbar models of the arrays the mapping put its tiles
  in, programmed from the compiler's weight image with the seeds the RTL
  testbench uses (``crossbar.seed + 1000 * instance + array``), batched over
  the whole test set (mvm_batch): same devices as an RTL run, read noise drawn
  in another order, same statistics;
* **PCM (golden for RTL)**: :func:`golden_pcm_tensors` executes the job list
  (gen/compiler/functional.py) with the IMA jobs' MVMs on fresh crossbar models,
  in job order, exactly as the IMA issues them at the macro port: an RTL run
  with ``crossbar.model = "pcm"`` gives the same tensors bit for bit
  (every read-noise draw comes from the array's generator, MVM after MVM, so
  the order matters and is the same).

Representations compared (:data:`REPRESENTATIONS`): the paper's differential
pair (2 devices per weight, 15 levels on each device pair) and the hybrid (HIC)
one, a binary pair of significance 4 plus a 4-level pair (4 devices per weight,
w = 4 b + m, b in -1..1, m in -3..3: the same -7..7 weights).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace as _replace

import numpy as np

from imcc.gen.config import ClusterConfig, parse_duration
from imcc.sim.crossbar import Crossbar
from imcc.sim.network import IMA_OPS, Network, run_layer

__all__ = ["TIMES", "REPRESENTATIONS", "COMPENSATIONS", "pcm_config", "crossbars",
           "golden_predictions", "pcm_logits", "pcm_study", "golden_pcm_tensors",
           "rtl_predictions", "PcmPoint", "plot"]

TIMES = ("25s", "1h", "1d", "1mo", "1y", "10y")
COMPENSATIONS = ("none", "global")
REPRESENTATIONS = {
    "differential": {"representation": "differential", "devices_per_weight": 2},
    "hybrid": {"representation": "hybrid", "devices_per_weight": 4, "hybrid_binary_pairs": 1,
               "hybrid_levels": 4, "hybrid_significance": 4},
}


def pcm_config(cfg: ClusterConfig, representation: str, t: str = "1d",
               compensation: str = "global", seed: int = 0,
               sampling: str = "column") -> ClusterConfig:
    """``cfg`` with a PCM crossbar of ``representation`` at time ``t``."""
    return cfg.replace(crossbar={**REPRESENTATIONS[representation], "model": "pcm",
                                 "t_inference": t, "drift_compensation": compensation,
                                 "seed": seed, "read_noise_sampling": sampling})


def crossbars(cfg: ClusterConfig, image, instance: str = "ima") -> dict[int, Crossbar]:
    """One crossbar model per array of ``instance``, seeded as the RTL testbench
    seeds them (tb/bus/crossbar_macro.attach_crossbars) and loaded with the
    weight image as the testbench loads it (whole arrays, WeightImage.load_into)."""
    from imcc.rtl.registry import compose
    index = {i.name: i.index for i in compose(cfg).of_kind("ima")}[instance]
    out = {}
    for k in range(cfg.ima.arrays):
        xb = Crossbar(cfg, seed=cfg.crossbar.seed + 1000 * index + k)
        if (instance, k) in image.arrays:
            xb.load(image.arrays[instance, k])
        out[k] = xb
    return out


# -- golden ----------------------------------------------------------------------------------
def golden_predictions(net: Network, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, int8 logits (N, classes)) of the golden model, image by image."""
    lg = np.stack([net.run(xi)[net.output].reshape(-1) for xi in x])
    return np.argmax(lg, axis=1), lg


# -- PCM, batched model path ---------------------------------------------------------------------
def run_batch(net: Network, x: np.ndarray, pointwise) -> np.ndarray:
    """The network's output for a batch (N, H, W, C) int8: IMA ops batched through
    ``pointwise(layer, cols (N, Ho, Wo, rows), ...)``, the others image by image."""
    t = {net.input: np.asarray(x, np.int8)}
    for L in net.layers:
        a = [t[n] for n in L.inputs]
        if L.op in IMA_OPS:
            xin = a[0] if L.cin is None else a[0][..., L.cin[0]:L.cin[1]]
            if L.op == "conv":
                from imcc.sim.golden import im2col
                cols = np.stack([im2col(xi, L.k, L.stride, L.pad) for xi in xin])
            else:
                cols = xin
            t[L.output] = pointwise(L.name, cols, L.w.reshape(-1, L.w.shape[-1]), L.gain,
                                    L.shift, L.lo, L.hi)
        else:
            t[L.output] = np.stack([run_layer(L, *xs) for xs in zip(*a)])
    return t[net.output].reshape(len(x), -1)


def tile_pointwise(compiled, xbars: dict[int, Crossbar]):
    """Executor of the lowered network's IMA ops on the arrays of the mapping:
    each tile's MVMs on its array's crossbar at its (row, column) window."""
    low = compiled.lowered

    def run(name, cols, w2d, gain, shift, lo, hi):
        L = low.net.layer(name)
        layer = low.origin[name]
        r_first = L.cin[0] if L.cin is not None else 0
        flat = cols.reshape(-1, cols.shape[-1])
        y = np.zeros((flat.shape[0], w2d.shape[1]), np.int8)
        tiles = [t for t in low.mapping.of(layer)
                 if t.row0 == r_first and t.row0 + t.rows == r_first + w2d.shape[0]]
        if sum(t.cols for t in tiles) != w2d.shape[1]:
            raise AssertionError(f"{name}: the mapping's tiles do not cover its columns")
        for t in tiles:
            xb = xbars[t.array]
            if not np.array_equal(xb.w[t.arow:t.arow + t.rows, t.acol:t.acol + t.cols],
                                  w2d[:, t.col0:t.col0 + t.cols]):
                raise AssertionError(f"{name}: array {t.array} does not hold the tile's weights")
            y[:, t.col0:t.col0 + t.cols] = xb.mvm_batch(flat, t.arow, t.rows, t.acol, t.cols,
                                                        int(gain), int(shift), lo, hi)
        return y.reshape(cols.shape[:-1] + (w2d.shape[1],))
    return run


def pcm_logits(compiled, x: np.ndarray, xbars: dict[int, Crossbar]) -> np.ndarray:
    return run_batch(compiled.lowered.net, x, tile_pointwise(compiled, xbars))


@dataclass
class PcmPoint:
    t: str
    representation: str
    compensation: str
    devices: int
    acc_mean: float
    acc_std: float
    accs: list


def pcm_study(compiled, x: np.ndarray, y: np.ndarray, *, times=TIMES,
              representations=tuple(REPRESENTATIONS), compensations=COMPENSATIONS,
              seeds=range(5), sampling: str = "column", progress=None) -> list[PcmPoint]:
    """Test accuracy on PCM crossbars at each time since programming, per
    representation and compensation: mean and spread (sample std) over the
    device seeds.  Each seed programs the arrays once; the times and
    compensations then read the same devices."""
    acc = {}
    for rep in representations:
        for s in seeds:
            c = pcm_config(compiled.cfg, rep, seed=int(s), sampling=sampling)
            xb = crossbars(c, compiled.image)
            for t in times:
                for comp in compensations:
                    for m in xb.values():
                        m.set_time(t)
                        m.set_compensation(comp)
                    pred = np.argmax(pcm_logits(compiled, x, xb), axis=1)
                    acc.setdefault((t, rep, comp), []).append(float(np.mean(pred == y)))
            if progress:
                progress(f"PCM {rep}, device seed {s}: done")
    out = []
    for rep in representations:
        devices = REPRESENTATIONS[rep]["devices_per_weight"]
        for comp in compensations:
            for t in times:
                a = acc[t, rep, comp]
                out.append(PcmPoint(t, rep, comp, devices, float(np.mean(a)),
                                    float(np.std(a, ddof=1)) if len(a) > 1 else 0.0, a))
    return out


# -- PCM, golden path of an RTL run ----------------------------------------------------------------
def golden_pcm_tensors(compiled) -> dict[str, np.ndarray]:
    """Every tensor of one compiled program (one image) executed job by job with the
    IMA's MVMs on fresh crossbar models of ``compiled.cfg`` (its crossbar section):
    what the RTL run with the same configuration must leave in L2."""
    from imcc.gen.compiler.functional import run_functional
    xb = crossbars(compiled.cfg, compiled.image)

    def mvm(array, x, r0, nr, c0, nc, gain, shift, lo, hi):
        # one MVM at a time, as the macro port issues them
        return np.stack([xb[array].mvm(v.astype(np.int8), r0, nr, c0, nc, gain, shift, lo, hi)
                         for v in x])
    prog = compiled.program
    mem = run_functional(prog, compiled.x, {}, mvm=mvm)
    return {name: prog.read_tensor(name, mem.read) for name in compiled.golden}


# -- RTL -------------------------------------------------------------------------------------------
def rtl_predictions(net: Network, x: np.ndarray, cfg: ClusterConfig, *, golden=None,
                    progress=None) -> dict:
    """The network on the cluster in RTL, one compiled program per image (the
    configuration, hence the Verilator build, is the same for all).  ``golden(c)``
    gives the tensors each run must equal (default: the compiler's golden ones).
    Returns predictions, logits, per-image bit-exactness, cycles and wall times."""
    from imcc.gen.compiler.network import compile_network
    from imcc.tb.programs import run_network
    preds, logits, exact, cycles, mism = [], [], [], [], []
    t0, build_s = time.perf_counter(), 0.0
    for i, xi in enumerate(x):
        c = compile_network(net, xi, cfg)
        res = run_network(c)
        if res["exit"] != 0:
            raise AssertionError(f"image {i}: the walker stopped: {c.program.failure(res['net_status'])}")
        want = golden(c) if golden else c.golden
        bad = [k for k, v in want.items() if not np.array_equal(res["tensors"][k], v)]
        out = res["tensors"][net.output].reshape(-1)
        preds.append(int(np.argmax(out)))
        logits.append(out)
        exact.append(not bad)
        mism += [f"image {i}: {k}" for k in bad]
        cycles.append(int(res["cycles"]))
        build_s += res["build_s"] if not res["build_reused"] else 0.0
        if progress and (i + 1) % 8 == 0:
            progress(f"RTL: {i + 1} of {len(x)} images")
    return {"pred": np.array(preds), "logits": np.stack(logits), "bit_exact": exact,
            "mismatches": mism, "cycles": cycles, "build_s": round(build_s, 1),
            "wall_s": round(time.perf_counter() - t0, 1)}


# -- figure ----------------------------------------------------------------------------------------
def plot(points: list[dict], path, reference: dict | None = None, title: str = ""):
    """Accuracy against time since programming, one line per (representation,
    compensation) with the spread over device seeds as error bars."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    keys = list(dict.fromkeys((p["representation"], p["compensation"]) for p in points))
    for rep, comp in keys:
        sel = [p for p in points if (p["representation"], p["compensation"]) == (rep, comp)]
        t = [max(parse_duration("t", p["t"]), 1.0) for p in sel]
        ax.errorbar(t, [100 * p["acc_mean"] for p in sel], [100 * p["acc_std"] for p in sel],
                    fmt="-o" if comp != "none" else "--s", capsize=3,
                    label=f"{rep} ({sel[0]['devices']} dev/weight), {comp} compensation")
    for name, v in (reference or {}).items():
        ax.axhline(100 * v, color="gray", lw=0.8, ls=":")
        ax.text(25, 100 * v, f" {name} {100 * v:.1f} %", fontsize=7, va="bottom", color="gray")
    ticks = {max(parse_duration("t", p["t"]), 1.0): p["t"] for p in points}
    ax.set_xscale("log")
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.minorticks_off()
    ax.set_xlabel("time since programming")
    ax.set_ylabel("test accuracy [%]")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title or "digits network on PCM crossbars: accuracy vs drift "
                 "(mean ± std over device seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


# -- the whole study ---------------------------------------------------------------------------------
def hic_sweep(widths=(1.0,), seed: int = 0, data=None, progress=None) -> list[dict]:
    """Accuracy against inference model size: the plain differential network (QAT
    with FP32 master weights) at 4, 3 and 2 bits per IMA weight and the HIC-trained
    hybrid network (no FP32 master, 4-bit update accumulator) at the same weight
    ranges, per width multiplier; the float network as the 32-bit baseline."""
    import dataclasses
    from imcc.sim.hic import HicConfig, model_bits, train_hic, train_plain
    from imcc.sim.train import TrainConfig, digits_net, train
    hybrids = {7: HicConfig(1, 4, 4), 3: HicConfig(1, 2, 2), 1: HicConfig(0, 1, 2)}
    out = []
    for w in widths:
        r = train(dataclasses.replace(TrainConfig(), seed=seed, width=w), data)
        out.append({"kind": "float", "label": "float32 baseline", "width": w, "bits_per_weight": 32,
                    "model_kbit": model_bits(digits_net(w), 32) / 1000 + 0.0, "acc": r.float_acc,
                    "train_s": round(r.train_s, 1)})
        out.append({"kind": "differential", "label": "differential 4-bit (QAT, FP32 master)",
                    "width": w, "bits_per_weight": 4, "wmax": 7, "devices_per_weight": 2,
                    "model_kbit": model_bits(digits_net(w), 4) / 1000, "acc": r.quant_acc,
                    "train_s": round(r.train_s, 1)})
        for wmax in (3, 1):
            p = train_plain(wmax, seed, w, data)
            out.append({"kind": "differential", **_hic_row(p)})
        for wmax, hc in hybrids.items():
            h = train_hic(hc, seed, w, data)
            out.append({"kind": "hybrid", **_hic_row(h)})
            if progress:
                progress(f"HIC width {w}, -{wmax}..{wmax}: {100 * h.acc:.2f} %, "
                         f"max {h.cycles_max} write-erase cycles per device")
    return out


def _hic_row(r) -> dict:
    d = {k: getattr(r, k) for k in ("label", "width", "bits_per_weight", "wmax",
                                    "devices_per_weight", "model_kbit", "acc", "train_s",
                                    "cycles_mean", "cycles_max", "endurance",
                                    "endurance_fraction_max")}
    return {k: v for k, v in d.items() if v is not None}


def study(cfg: ClusterConfig | None = None, *, train_seed: int = 0, seeds=range(5), times=TIMES,
          compensations=COMPENSATIONS, sampling: str = "column", rtl_images: int | None = 16,
          rtl_pcm: tuple[str, str, str] | None = ("1y", "global", "hybrid"),
          rtl_pcm_images: int = 4, hic: bool = False, epochs: tuple[int, int] | None = None,
          progress=None) -> dict:
    """Everything ``imcc study accuracy`` reports (docs/models.md, section 5).
    ``epochs``: (float, quantisation-aware) training epochs instead of
    :class:`~imcc.sim.train.TrainConfig`'s defaults (a quick, less accurate study).
    ``rtl_images``: how many test images run in RTL (None: the whole test set;
    0: none); ``rtl_pcm``: (time, compensation, representation) of the PCM point
    through RTL, checked bit for bit against :func:`golden_pcm_tensors`."""
    from imcc.gen.compiler.network import compile_network
    from imcc.sim.train import TrainConfig, digits_split, export, train
    say = progress or (lambda s: None)
    cfg = cfg or ClusterConfig()
    data = digits_split(0)
    xtr, ytr, xte, yte = data
    t0 = time.perf_counter()
    tc = TrainConfig(seed=train_seed)
    if epochs is not None:
        tc = _replace(tc, float_epochs=epochs[0], qat_epochs=epochs[1])
    res = train(tc, data)
    net = export(res.state)
    say(f"trained in {res.train_s:.1f} s: float {100 * res.float_acc:.2f} %, "
        f"quantised {100 * res.quant_acc:.2f} %")
    gpred, glog = golden_predictions(net, xte)
    rep = {"data": "scikit-learn digits (bundled), 8x8", "train_images": len(ytr),
           "test_images": len(yte), "train_seed": train_seed, "train_s": round(res.train_s, 1),
           "float_acc": res.float_acc, "quant_acc": res.quant_acc,
           "golden_acc": float(np.mean(gpred == yte))}
    compiled = compile_network(net, xte[0], cfg)
    rep["arrays"] = compiled.mapping.arrays_used
    n = len(yte) if rtl_images is None else min(rtl_images, len(yte))
    if n:
        say(f"RTL: {n} test images through the cluster, one program each")
        r = rtl_predictions(net, xte[:n], cfg, progress=say)
        rep.update(rtl_acc=float(np.mean(r["pred"] == yte[:n])), rtl_images=n,
                   golden_acc_rtl_images=float(np.mean(gpred[:n] == yte[:n])),
                   rtl_equals_golden=bool(np.array_equal(r["logits"], glog[:n])),
                   rtl_bit_exact=all(r["bit_exact"]), rtl_mismatches=r["mismatches"][:10],
                   rtl_cycles_per_image=int(np.median(r["cycles"])), rtl_wall_s=r["wall_s"],
                   rtl_build_s=r["build_s"])
    else:
        rep.update(rtl_acc=None, rtl_images=0)
    t1 = time.perf_counter()
    say(f"PCM study: {len(tuple(seeds))} device seeds x {len(times)} times x "
        f"{len(REPRESENTATIONS)} representations x {len(compensations)} compensations")
    pts = pcm_study(compiled, xte, yte, times=times, compensations=compensations, seeds=seeds,
                    sampling=sampling, progress=say)
    rep["pcm"] = [{k: v for k, v in p.__dict__.items()} for p in pts]
    rep["pcm_seeds"] = [int(s) for s in seeds]
    rep["pcm_read_noise"] = sampling
    rep["pcm_wall_s"] = round(time.perf_counter() - t1, 1)
    if rtl_pcm:
        t, comp, rname = rtl_pcm
        s0 = int(tuple(seeds)[0]) if len(tuple(seeds)) else 0
        pc = pcm_config(cfg, rname, t, comp, seed=s0, sampling="device")
        m = min(rtl_pcm_images, len(yte))
        say(f"RTL PCM point: {rname}, t = {t}, {comp} compensation, {m} images")
        r = rtl_predictions(net, xte[:m], pc, golden=golden_pcm_tensors)
        gold = np.array([int(np.argmax(golden_pcm_tensors(compile_network(net, xi, pc))[net.output]))
                         for xi in xte[:m]])
        rep["pcm_rtl"] = {"t": t, "compensation": comp, "representation": rname, "seed": s0,
                          "read_noise": "device", "images": m,
                          "bit_exact": all(r["bit_exact"]), "mismatches": r["mismatches"][:10],
                          "pred_equal": bool(np.array_equal(r["pred"], gold)),
                          "acc": float(np.mean(r["pred"] == yte[:m])), "wall_s": r["wall_s"]}
    if hic:
        t2 = time.perf_counter()
        rep["hic"] = hic_sweep(data=data, progress=say)
        rep["hic_wall_s"] = round(time.perf_counter() - t2, 1)
    rep["wall_s"] = round(time.perf_counter() - t0, 1)
    return rep


def format_report(rep: dict) -> str:
    pct = lambda v: "-" if v is None else f"{100 * v:.2f} %"
    lines = [f"test set: {rep['test_images']} images (train {rep['train_images']})",
             f"float {pct(rep['float_acc'])}   quantised {pct(rep['quant_acc'])}   "
             f"golden {pct(rep['golden_acc'])}"]
    if rep.get("rtl_images"):
        lines.append(f"RTL on {rep['rtl_images']} images: {pct(rep['rtl_acc'])} (golden on the "
                     f"same images {pct(rep['golden_acc_rtl_images'])}); logits equal to the "
                     f"golden model: {'yes' if rep['rtl_equals_golden'] else 'NO'}")
    lines.append("")
    head = f"{'representation':<13} {'dev':>3} {'compensation':<12} " + \
        " ".join(f"{t:>13}" for t in dict.fromkeys(p["t"] for p in rep["pcm"]))
    lines += [head, "-" * len(head)]
    for key in dict.fromkeys((p["representation"], p["compensation"]) for p in rep["pcm"]):
        sel = [p for p in rep["pcm"] if (p["representation"], p["compensation"]) == key]
        lines.append(f"{key[0]:<13} {sel[0]['devices']:>3} {key[1]:<12} " + " ".join(
            f"{100 * p['acc_mean']:>6.2f}±{100 * p['acc_std']:<5.2f}" for p in sel))
    if rep.get("pcm_rtl"):
        p = rep["pcm_rtl"]
        lines.append(f"\nRTL PCM point ({p['representation']}, {p['t']}, {p['compensation']}, "
                     f"{p['images']} images): bit-exact with the golden PCM path: "
                     f"{'yes' if p['bit_exact'] else 'NO'}")
    if rep.get("hic"):
        lines.append(f"\n{'training':<44} {'width':>5} {'bits':>4} {'kbit':>7} {'acc':>8} "
                     f"{'cycles max':>10}")
        for h in rep["hic"]:
            lines.append(f"{h['label']:<44} {h['width']:>5} {h['bits_per_weight']:>4} "
                         f"{h['model_kbit']:>7.1f} {pct(h['acc']):>8} "
                         f"{h.get('cycles_max', '-')!s:>10}")
    return "\n".join(lines)
