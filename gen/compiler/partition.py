"""Networks larger than the chip: split the layers into groups that each fit the
IMA's arrays, and reprogram the arrays between groups (after COMPASS, arXiv
2501.06780, on PCM arrays whose writes are slow and wear the devices).

A *plan* runs a batch of B inputs group by group: program the group's weights
(from L2 through the IMA's bulk PROGRAM jobs), run the B inputs through the
group's layers (the compiler's ``layer`` schedule: every tensor in L2), keep
the group's outputs and the live residual tensors in L2, go on with the next
group.  Groups are contiguous runs of the network's layer order (a topological
order).  A plan of one group is a network that fits: its weights are
programmed once, at deployment, and a batch costs only its compute.

Cost model (every constant below, its source; docs/partition.md):

* programming, per group and batch: ``writes x prog_cycles + tiles x
  PROG_JOB_CYCLES``.  A write is one 32-bit word of 8 weights (docs/ima.md), a
  tile of r rows and c columns takes r x ceil(c/8) writes; ``prog_cycles`` =
  ``cfg.macro_cycles(ima.prog_ns)`` (PCM: 1000 ns = 500 cycles at 500 MHz,
  back to back as tb/test_pcm.py measures).  ``fast_write`` stands for the
  SRAM-like arrays of COMPASS: a write takes the macro port's shortest
  operation, MACRO_MIN_CYCLES (2).  The weights come from L2 at 4 bits each
  through the DMA (``dma.data_width`` bits a cycle) double-buffered with the
  writes: a group costs max(programming, weight DMA).
* compute, per input: the ``layer`` schedule's cycles per layer, a model fitted
  (non-negative least squares on relative error, :func:`fit`) to the RTL's
  measured per-layer cycles of MobileNetV2 224 x 1.0 on 33 arrays
  (sim/data/mobilenetv2_224_layer_cycles.json): IMA layer = C_MVM x pixels x
  tiles + C_TILE_BAND x tiles x bands + C_PSUM x (row tiles - 1) x output
  elements (partial sums added on the DW) + C_BYTE x (input + output bytes);
  DW layer = per input element, output element, channel x band and band;
  add = per element and band.  C_MVM scales with ``mvm_cycles(cfg)`` /
  the calibration's 65.  The tiles of a layer are those of its group's
  Tile&Pack mapping (a tight packing may cut a layer into more column
  pieces, each one more MVM per pixel).  Bands follow the compiler's rule
  (gen/compiler/program.py: at least 4, more when a band's double buffers
  exceed the L1 arena).  The max- and average-pools of ResNet-18 are not ops
  of the accelerators: CORE_OPS_PER_CYCLE per core (an estimate, not measured).
* DMA traffic: in the ``layer`` schedule every tensor goes to L2 and back
  between layers, and those transfers are inside the measured layer cycles,
  so a group boundary adds no cycles; it adds L2 *space*: B copies of every
  tensor live across the boundary (reported as ``l2_peak_bytes``).  The
  traffic of a group (its inputs and outputs per input, its weights) is
  reported in bytes.

Per batch: latency = sum over groups of (max(programming, weight DMA) + B x
compute); throughput = B / latency; every device of an array a group uses is
rewritten once per group per batch, so writes per device per inference = the
groups that use the most-used array / B (0 for one group).

Methods, all on this model: ``layerwise`` (one IMA layer per group, the
layers without weights join the IMA layer before them), ``greedy`` (fill the
arrays in order until the next layer does not fit), ``ga`` (COMPASS-like
genetic algorithm over the cut points, seeded) and ``dp`` (exact: the latency
is additive over groups, so best[i] = min_j best[j] + cost(j..i) over
contiguous groups; tb/test_partition.py checks it against all 2^(L-1) cut
sets on small networks).

A layer larger than the whole chip is split before partitioning into row (and
if needed column) chunks of at most ``arrays`` arrays, each a unit of the
order writing a partial result kept in L2 (the next chunk adds it, as the
compiler's row tiles do); a plan may then put the chunks in different groups.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from imcc.gen.config import MACRO_MIN_CYCLES, ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.sim.network import IMA_OPS, Network

from .program import BANDS, arena_bytes
from .tiling import Mapping, MatrixLayer, tile_and_pack

__all__ = ["Unit", "GroupCost", "Plan", "Partitioner", "plan", "plan_all", "METHODS", "fit",
           "CALIBRATION", "PROG_JOB_CYCLES", "CORE_OPS_PER_CYCLE", "GA_POPULATION",
           "GA_GENERATIONS", "brute_force"]

METHODS = ("layerwise", "greedy", "ga", "dp")
# Measured layer cycles the compute model is fitted to: the paper's network and a
# small one (per-band and per-job costs dominate small layers).
CALIBRATION = tuple(str(Path(__file__).resolve().parents[2] / "sim" / "data" / f)
                    for f in ("mobilenetv2_224_layer_cycles.json",
                              "mobilenetv2_32_035_layer_cycles.json"))
CALIBRATION_MVM_CYCLES = 65        # 130 ns at 500 MHz, the calibration run's configuration
# Cycles per PROGRAM job (one per tile) beside its writes: an estimate, the job
# issue and DMA wait cost the fit finds per MVM job and band (C_TILE_BAND, ~380).
PROG_JOB_CYCLES = 90
# Cycles per write beside the macro's write time: the IMA streams a word and
# re-arms the handshake.  Both measured in RTL: MobileNetV2 32x32 width 0.5 on
# 5 arrays, 3 groups, fast writes (2 cycles): 79 574 writes of 64 tiles in
# 284 338 cycles = 79 574 x (2 + 1.5) + 64 x 91.
PROG_WRITE_EXTRA = 1.5
# The cores' pools (ResNet-18): one compare or add per core and cycle, an estimate.
CORE_OPS_PER_CYCLE = 1.0
# The GA (COMPASS uses a GA; population and generations are ours): deterministic from SEED.
GA_POPULATION, GA_GENERATIONS, GA_TOURNAMENT, GA_ELITE, GA_SEED = 48, 80, 3, 2, 0
INF = float("inf")


# -- the calibrated compute model ---------------------------------------------------------------
def _nnls(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with non-negative coefficients (drop the most negative one and
    refit until none is negative: small problems, no scipy)."""
    keep = list(range(A.shape[1]))
    while True:
        x, *_ = np.linalg.lstsq(A[:, keep], y, rcond=None)
        if (x >= 0).all():
            out = np.zeros(A.shape[1])
            out[keep] = x
            return out
        keep.pop(int(np.argmin(x)))


def _features(kind: str, u: "Unit") -> list[float]:
    if kind == "ima":
        return [u.pixels * u.tiles_hint, u.tiles_hint * u.bands, u.psum_adds * u.out_elems,
                u.in_bytes + u.out_bytes]
    if kind == "dw":
        return [u.in_elems, u.out_elems, u.channels * u.bands, u.bands]
    return [u.out_elems, u.bands]


@lru_cache(maxsize=None)
def fit(paths: tuple[str, ...] = CALIBRATION) -> dict:
    """Coefficients per kind (ima, dw, add) fitted to the measured layer cycles of
    every calibration run, and the per-layer relative errors
    (scripts/bench_partition.py --fit prints them)."""
    from imcc.sim.network import mobilenetv2
    if isinstance(paths, str):
        paths = (paths,)
    cfg = ClusterConfig()
    rows: dict[str, list] = {}
    sources = []
    for path in paths:
        d = json.loads(Path(path).read_text())
        sources.append(d["source"])
        net = mobilenetv2(d["input"], d["width"])
        units = {u.name: u for u in _units(net, cfg, rows=256, cols=256, arrays=10**6)}
        for L in d["layers"]:
            u = units[L["name"]].with_calibration(L.get("tiles", 0), L["bands"])
            kind = _kind(u)
            rows.setdefault(kind, []).append((f"{d['input']}:{u.name}", _features(kind, u),
                                              L["cycles"]))
    coef, errors = {}, {}
    for kind, r in rows.items():
        A = np.array([f for _, f, _ in r], float)
        y = np.array([c for *_, c in r], float)
        x = _nnls(A / y[:, None], np.ones(len(y)))     # relative error
        coef[kind] = [float(v) for v in x]
        p = A @ x
        for (name, _, c), q in zip(r, p):
            errors[name] = {"measured": c, "model": round(float(q)), "error": float(q / c - 1)}
    meas = sum(e["measured"] for e in errors.values())
    model = sum(e["model"] for e in errors.values())
    return {"coef": coef, "errors": errors, "total_error": model / meas - 1, "source": sources}


def _kind(u: "Unit") -> str:
    return {"conv": "ima", "pw": "ima", "dw": "dw", "add": "add"}.get(u.op, "cores")


# -- units: the order the partitioner cuts -----------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    """One entry of the order: a layer, or a chunk of a layer too large for the chip."""
    name: str
    layer: str                      # the network's layer
    op: str
    inputs: tuple[str, ...]         # tensors read
    output: str                     # tensor written
    matrix: MatrixLayer | None      # IMA: the weight matrix (or the chunk's)
    pixels: int                     # output pixels
    out_elems: int
    in_elems: int
    channels: int
    in_bytes: int
    out_bytes: int
    bands: int
    psum_adds: int = 0              # partial-sum adds of this unit (row tiles - 1, +1 for a later chunk)
    tiles_hint: int = 0             # calibration only: the measured layer's tiles

    def with_calibration(self, tiles: int, bands: int) -> "Unit":
        from dataclasses import replace
        return replace(self, tiles_hint=tiles, bands=bands)


def _bands(ho: int, in_bytes: int, out_bytes: int, arena: int) -> int:
    """The compiler's band count: at least BANDS (or one per row), more when the
    double-buffered band exceeds the L1 arena."""
    per_row = 2 * (in_bytes + out_bytes) / max(ho, 1)
    rmax = max(1, int(arena // per_row)) if per_row else ho
    return max(-(-ho // rmax), min(BANDS, ho))


def _units(net: Network, cfg: ClusterConfig, rows: int, cols: int, arrays: int) -> list[Unit]:
    arena = arena_bytes(cfg)
    out = []
    for L in net.layers:
        ho, wo, co = net.shapes[L.output]
        hi, wi, ci = net.shapes[L.inputs[0]]
        ein = sum(int(np.prod(net.shapes[t])) for t in L.inputs)
        common = dict(pixels=ho * wo, in_elems=ein, channels=co)
        if L.op not in IMA_OPS:
            b = _bands(ho, ein, ho * wo * co, arena)
            out.append(Unit(L.name, L.name, L.op, tuple(L.inputs), L.output, None,
                            out_elems=ho * wo * co, in_bytes=ein, out_bytes=ho * wo * co,
                            bands=b, **common))
            continue
        n_rows = L.k * L.k * ci
        rt = -(-n_rows // rows)
        # chunks of a layer larger than the chip: col chunks of at most arrays*cols
        # columns, row chunks of as many row tiles as fit beside them
        col_chunk = min(co, arrays * cols)
        per_rt = -(-col_chunk // cols)
        row_chunk = max(1, arrays // per_rt) * rows
        chunks = [(r0, min(r0 + row_chunk, n_rows), c0, min(c0 + col_chunk, co))
                  for c0 in range(0, co, col_chunk) for r0 in range(0, n_rows, row_chunk)]
        if len(chunks) == 1:
            b = _bands(ho, ein, ho * wo * co * (2 * rt - 1), arena)
            out.append(Unit(L.name, L.name, L.op, tuple(L.inputs), L.output,
                            MatrixLayer(L.name, n_rows, co), out_elems=ho * wo * co,
                            in_bytes=ein, out_bytes=ho * wo * co, bands=b, psum_adds=rt - 1,
                            **common))
            continue
        prev = None
        for k, (r0, r1, c0, c1) in enumerate(chunks):
            name = f"{L.name}.c{k}"
            last = k == len(chunks) - 1
            o = L.output if last else name
            e = ho * wo * (c1 - c0)
            crt = -(-(r1 - r0) // rows)
            later_row = r0 > 0
            ins = tuple(L.inputs) + ((prev,) if prev and later_row else ())
            inb = hi * wi * ci * (r1 - r0) // n_rows + (e if later_row else 0)
            b = _bands(ho, inb, e * (2 * crt - 1), arena)
            out.append(Unit(name, L.name, L.op, ins, o, MatrixLayer(name, r1 - r0, c1 - c0),
                            pixels=ho * wo, out_elems=e, in_elems=inb, channels=c1 - c0,
                            in_bytes=inb, out_bytes=e, bands=b,
                            psum_adds=crt - 1 + int(later_row)))
            prev = name if not last else o
    return out


# -- groups ----------------------------------------------------------------------------------------
@dataclass
class GroupCost:
    """The model of one group (per input where it says so)."""
    units: list[str]
    layers: list[str]               # the network's layers it computes (a chunked layer once)
    arrays_used: int
    tiles: int
    writes: int                     # 32-bit programming writes (8 weights each)
    weight_bytes: int               # weights from L2, 4 bits each
    compute_cycles: float           # per input
    layer_cycles: dict[str, float]  # per unit, per input
    in_bytes: int                   # per input: tensors the group reads from L2 made before it
    out_bytes: int                  # per input: tensors it writes that later groups read
    live_bytes: int                 # per input: tensors in L2 when the group starts (inputs + passing)
    mapping: Mapping = field(repr=False)

    def program_cycles(self, prog_cycles: int) -> int:
        return round(self.writes * (prog_cycles + PROG_WRITE_EXTRA) + self.tiles * PROG_JOB_CYCLES)

    def to_json(self, prog_cycles: int, dma_bpc: float, batch: int, single: bool) -> dict:
        p = 0 if single else self.program_cycles(prog_cycles)
        w = 0 if single else math.ceil(self.weight_bytes / dma_bpc)
        return {"layers": self.layers, "units": self.units, "arrays_used": self.arrays_used,
                "tiles": self.tiles, "writes": self.writes, "program_cycles": p,
                "weight_dma_cycles": w, "compute_cycles_per_input": round(self.compute_cycles),
                "compute_cycles": round(batch * self.compute_cycles),
                "cycles": round(max(p, w) + batch * self.compute_cycles),
                "in_bytes_per_input": self.in_bytes, "out_bytes_per_input": self.out_bytes,
                "weight_bytes": 0 if single else self.weight_bytes,
                "layer_cycles_per_input": {k: round(v) for k, v in self.layer_cycles.items()}}


class Partitioner:
    """The units of ``net`` on ``arrays`` arrays of ``cfg``'s size, and the memoised
    fit check and model of every contiguous group [i, j]."""

    def __init__(self, net: Network, cfg: ClusterConfig, arrays: int):
        if not isinstance(arrays, int) or arrays < 1:
            raise ValueError(f"arrays {arrays!r}: a positive integer is needed")
        self.net, self.cfg, self.arrays = net, cfg, arrays
        self.R, self.C = cfg.ima.rows, cfg.ima.cols
        self.units = _units(net, cfg, self.R, self.C, arrays)
        self.index = {u.name: i for i, u in enumerate(self.units)}
        self.coef = fit()["coef"]
        self.mvm_scale = cfg.macro_cycles(cfg.ima.mvm_ns) / CALIBRATION_MVM_CYCLES
        self.dma_bpc = cfg.dma.data_width / 8
        self.producer = {u.output: i for i, u in enumerate(self.units)}
        # last unit that reads each tensor (the network output: read "after the end")
        self.last_use: dict[str, int] = {}
        for i, u in enumerate(self.units):
            for t in u.inputs:
                self.last_use[t] = i
        self.last_use[self.units[-1].output] = len(self.units)
        self._groups: dict[tuple[int, int], GroupCost | None] = {}
        self.fit_calls = 0
        # capacity in col-group rows: a quick lower bound before packing
        self._cap = arrays * self.R * (self.C // 8)
        self._need = [self._colgroup_rows(u) for u in self.units]
        for u, n in zip(self.units, self._need):
            if n > self._cap:       # chunks are at most the chip: never expected
                raise MappingError(f"layer {u.layer!r} does not fit {arrays} arrays even alone")

    def _colgroup_rows(self, u: Unit) -> int:
        if u.matrix is None:
            return 0
        m = u.matrix
        return m.rows * -(-m.cols // 8)

    def __len__(self):
        return len(self.units)

    def group(self, i: int, j: int) -> GroupCost | None:
        """The model of units i..j (inclusive), None if they do not fit the arrays."""
        key = (i, j)
        if key in self._groups:
            return self._groups[key]
        g = None
        if sum(self._need[i:j + 1]) <= self._cap:
            mats = [u.matrix for u in self.units[i:j + 1] if u.matrix is not None]
            try:
                self.fit_calls += 1
                m = tile_and_pack(mats, self.R, self.C, max_arrays=self.arrays) if mats else \
                    Mapping([], self.R, self.C, 0, "no IMA layer")
                g = self._model(i, j, m)
            except MappingError:
                g = None
        self._groups[key] = g
        return g

    def fits(self, i: int, j: int) -> bool:
        return self.group(i, j) is not None

    def unit_cycles(self, u: Unit, tiles: int) -> float:
        """Cycles of one unit for one input (the calibrated model)."""
        k = _kind(u)
        if k == "ima":
            c = self.coef["ima"]
            return (c[0] * self.mvm_scale * u.pixels * tiles + c[1] * tiles * u.bands
                    + c[2] * u.psum_adds * u.out_elems + c[3] * (u.in_bytes + u.out_bytes))
        if k == "dw":
            c = self.coef["dw"]
            return c[0] * u.in_elems + c[1] * u.out_elems + c[2] * u.channels * u.bands \
                + c[3] * u.bands
        if k == "add":
            c = self.coef["add"]
            return c[0] * u.out_elems + c[1] * u.bands
        # cores: max-pool k*k compares per output, average pool one add per input
        ops = u.out_elems * 9 if u.op == "maxpool" else u.in_elems
        cores = max(self.cfg.cores.count, 1)
        return ops / (cores * CORE_OPS_PER_CYCLE) + (u.in_bytes + u.out_bytes) / self.dma_bpc

    def _model(self, i: int, j: int, m: Mapping) -> GroupCost:
        us = self.units[i:j + 1]
        tiles_of: dict[str, int] = {}
        writes = 0
        for t in m.tiles:
            tiles_of[t.layer] = tiles_of.get(t.layer, 0) + 1
            writes += t.rows * -(-t.cols // 8)
        cyc = {u.name: self.unit_cycles(u, tiles_of.get(u.name, 0)) for u in us}
        size = {t: int(np.prod(s)) for t, s in self.net.shapes.items()}
        size.update({u.output: u.out_elems for u in us if u.output not in size})
        for u in self.units:
            size.setdefault(u.output, u.out_elems)
        made = {u.output for u in us}
        ins = {t for u in us for t in u.inputs if t not in made}
        outs = {t for t in made if self.last_use.get(t, -1) > j}
        live = {t for t, last in self.last_use.items()
                if last >= i and self.producer.get(t, -1) < i}
        return GroupCost(
            units=[u.name for u in us], layers=list(dict.fromkeys(u.layer for u in us)),
            arrays_used=m.arrays_used, tiles=len(m.tiles), writes=writes,
            weight_bytes=sum(t.rows * t.cols for t in m.tiles) // 2,
            compute_cycles=sum(cyc.values()), layer_cycles=cyc,
            in_bytes=sum(size[t] for t in ins), out_bytes=sum(size[t] for t in outs),
            live_bytes=sum(size[t] for t in live), mapping=m)

    # -- the cost of a plan --------------------------------------------------------------------
    def prog_cycles(self, fast_write: bool) -> int:
        """Cycles per 32-bit programming write."""
        return MACRO_MIN_CYCLES if fast_write else self.cfg.macro_cycles(self.cfg.ima.prog_ns)

    def group_latency(self, g: GroupCost, batch: int, fast_write: bool) -> float:
        """Cycles of a group in a plan of several groups, for a batch."""
        p = g.program_cycles(self.prog_cycles(fast_write))
        return max(p, math.ceil(g.weight_bytes / self.dma_bpc)) + batch * g.compute_cycles

    def latency(self, cuts: list[tuple[int, int]], batch: int, fast_write: bool) -> float:
        """Cycles per batch of a plan given as (first, last) unit ranges; inf if a group
        does not fit."""
        gs = [self.group(a, b) for a, b in cuts]
        if any(g is None for g in gs):
            return INF
        if len(gs) == 1:            # fits: programmed once at deployment
            return batch * gs[0].compute_cycles
        return sum(self.group_latency(g, batch, fast_write) for g in gs)


# -- plans ---------------------------------------------------------------------------------------
@dataclass
class Plan:
    """A partitioning and its model: ``groups`` are unit names per group, in order
    (a unit is a layer, or ``<layer>.cK`` for a chunk of a layer larger than the chip)."""
    network: str
    method: str
    arrays: int
    batch: int
    fast_write: bool
    groups: list[list[str]]
    costs: list[GroupCost]
    cycles: float                   # per batch
    freq_mhz: float
    prog_cycles_per_write: int
    dma_bytes_per_cycle: float
    seconds: float = 0.0            # time the method took
    evaluations: int = 0            # GA: plans evaluated

    def predicted_cycles(self, batch: int | None = None) -> int:
        """The model's cycles for a batch (this plan's batch by default)."""
        b = self.batch if batch is None else batch
        single = len(self.costs) == 1
        tot = 0.0
        for g in self.costs:
            p = 0 if single else g.program_cycles(self.prog_cycles_per_write)
            w = 0 if single else math.ceil(g.weight_bytes / self.dma_bytes_per_cycle)
            tot += max(p, w) + b * g.compute_cycles
        return round(tot)

    def breakdown(self) -> list[dict]:
        """Per group: layers, arrays, tiles, writes, programming, compute, traffic."""
        single = len(self.costs) == 1
        return [g.to_json(self.prog_cycles_per_write, self.dma_bytes_per_cycle, self.batch,
                          single) for g in self.costs]

    @property
    def program_cycles(self) -> int:
        return sum(g["program_cycles"] for g in self.breakdown())

    @property
    def compute_cycles(self) -> int:
        return round(self.batch * sum(g.compute_cycles for g in self.costs))

    @property
    def latency_ms(self) -> float:
        return self.predicted_cycles() / self.freq_mhz / 1000

    @property
    def throughput_ips(self) -> float:
        return self.batch / (self.latency_ms / 1000)

    @property
    def writes_per_device_per_inference(self) -> float:
        """The most-rewritten device: once per group that uses its array, per batch."""
        if len(self.costs) == 1:
            return 0.0
        use = [0] * self.arrays
        for g in self.costs:
            for a in range(g.arrays_used):
                use[a] += 1
        return max(use) / self.batch

    @property
    def writes_per_inference(self) -> float:
        """32-bit programming writes per inference (0 when the network fits)."""
        return 0.0 if len(self.costs) == 1 else sum(g.writes for g in self.costs) / self.batch

    @property
    def l2_peak_bytes(self) -> int:
        """L2 for the batch's tensors at the worst group start (B x live tensors)."""
        return self.batch * max(g.live_bytes for g in self.costs)

    def summary(self) -> dict:
        return {"groups": len(self.groups), "latency_ms": round(self.latency_ms, 4),
                "throughput_ips": round(self.throughput_ips, 3),
                "cycles": self.predicted_cycles(), "program_cycles": self.program_cycles,
                "compute_cycles": self.compute_cycles,
                "writes_per_device_per_inference": round(self.writes_per_device_per_inference, 6),
                "writes_per_inference": round(self.writes_per_inference, 1),
                "l2_peak_bytes": self.l2_peak_bytes,
                "arrays_used": max(g.arrays_used for g in self.costs),
                "seconds": round(self.seconds, 3)}

    def to_json(self) -> dict:
        d = self.summary()
        d.update(method=self.method, group_layers=self.groups, breakdown=self.breakdown())
        if self.evaluations:
            d["evaluations"] = self.evaluations
        return d


def _ranges(cuts: list[int], n: int) -> list[tuple[int, int]]:
    """Unit ranges of the groups for cut positions (a cut at c: between c-1 and c)."""
    b = [0] + sorted(cuts) + [n]
    return [(b[k], b[k + 1] - 1) for k in range(len(b) - 1)]


def _layerwise(P: Partitioner) -> list[tuple[int, int]]:
    starts = [0]
    seen_ima = False
    for k, u in enumerate(P.units):
        if u.matrix is not None:
            if seen_ima:
                starts.append(k)
            seen_ima = True
    return [(a, b - 1) for a, b in zip(starts, starts[1:] + [len(P)])]


def _greedy(P: Partitioner, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    hi = len(P) - 1 if hi is None else hi
    out, a = [], lo
    while a <= hi:
        b = a
        while b < hi and P.fits(a, b + 1):
            b += 1
        out.append((a, b))
        a = b + 1
    return out


def _dp(P: Partitioner, batch: int, fast_write: bool) -> list[tuple[int, int]]:
    """Exact over contiguous groups: best[e] = min over s of best[s] + cost(s..e-1),
    ties to fewer groups; a single group (the network fits) is compared apart, its
    cost not being additive (no programming)."""
    n = len(P)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(INF, 0)] * n
    arg = [0] * (n + 1)
    for e in range(1, n + 1):
        for s in range(e - 1, -1, -1):
            g = P.group(s, e - 1)
            if g is None:
                # longer groups ending here need at least these col-group rows
                if sum(P._need[s:e]) > P._cap:
                    break
                continue
            c = (best[s][0] + P.group_latency(g, batch, fast_write), best[s][1] + 1)
            if c < best[e]:
                best[e], arg[e] = c, s
    cuts, e = [], n
    while e > 0:
        cuts.append((arg[e], e - 1))
        e = arg[e]
    cuts.reverse()
    if P.fits(0, n - 1) and P.latency([(0, n - 1)], batch, fast_write) <= \
            P.latency(cuts, batch, fast_write):
        return [(0, n - 1)]
    return cuts


def _repair(P: Partitioner, cuts: set[int]) -> list[tuple[int, int]]:
    """A chromosome's groups, the ones that do not fit split greedily."""
    out = []
    for a, b in _ranges(list(cuts), len(P)):
        out += [(a, b)] if P.fits(a, b) else _greedy(P, a, b)
    return out


def _ga(P: Partitioner, batch: int, fast_write: bool, seed: int = GA_SEED,
        population: int = GA_POPULATION, generations: int = GA_GENERATIONS) -> tuple[list, int]:
    """COMPASS-like GA: a chromosome is the set of cut points (a bit per gap of the
    order), its fitness the model's latency after repair (groups that do not fit are
    split greedily); tournament selection, uniform crossover, bit-flip mutation
    (2 / gaps), elitism; random initial population.  Deterministic from ``seed``."""
    n = len(P)
    if n == 1:
        return [(0, 0)], 0
    rng = random.Random(seed)
    gaps = n - 1
    cache: dict[tuple, tuple[float, list]] = {}

    def score(ch: tuple) -> tuple[float, list]:
        if ch not in cache:
            r = _repair(P, {k + 1 for k, bit in enumerate(ch) if bit})
            cache[ch] = (P.latency(r, batch, fast_write), r)
        return cache[ch]

    def rand_ch():
        p = rng.random() * 0.5            # diverse densities of cuts
        return tuple(rng.random() < p for _ in range(gaps))

    pop = [rand_ch() for _ in range(population)]
    mut = 2.0 / gaps
    for _ in range(generations):
        ranked = sorted(pop, key=lambda c: score(c)[0])
        nxt = ranked[:GA_ELITE]
        while len(nxt) < population:
            a = min(rng.sample(pop, GA_TOURNAMENT), key=lambda c: score(c)[0])
            b = min(rng.sample(pop, GA_TOURNAMENT), key=lambda c: score(c)[0])
            child = tuple((x if rng.random() < 0.5 else y) for x, y in zip(a, b))
            child = tuple((not x) if rng.random() < mut else x for x in child)
            nxt.append(child)
        pop = nxt
    best = min(pop, key=lambda c: score(c)[0])
    return score(best)[1], len(cache)


def brute_force(P: Partitioner, batch: int, fast_write: bool) -> tuple[float, list]:
    """The best of all 2^(L-1) cut sets (tests, small L)."""
    n = len(P)
    best = (INF, None)
    for mask in range(1 << (n - 1)):
        r = _ranges([k + 1 for k in range(n - 1) if mask >> k & 1], n)
        c = P.latency(r, batch, fast_write)
        if c < best[0]:
            best = (c, r)
    return best


def _make_plan(P: Partitioner, method: str, ranges, batch: int, fast_write: bool,
               seconds: float, evaluations: int = 0) -> Plan:
    costs = [P.group(a, b) for a, b in ranges]
    if any(g is None for g in costs):
        raise AssertionError(f"{method}: a group does not fit")   # methods only return fits
    return Plan(P.net.name, method, P.arrays, batch, fast_write,
                [[u.name for u in P.units[a:b + 1]] for a, b in ranges], costs,
                P.latency(list(ranges), batch, fast_write), P.cfg.clock.freq_mhz,
                P.prog_cycles(fast_write), P.dma_bpc, seconds, evaluations)


def run_method(P: Partitioner, method: str, batch: int, fast_write: bool = False) -> Plan:
    import time
    if method not in METHODS:
        raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch {batch!r}: a positive integer is needed")
    t0 = time.perf_counter()
    ev = 0
    if method == "layerwise":
        r = _layerwise(P)
        # a layer with the layers after it that do not fit: split greedily (never for
        # the networks here: every unit fits alone)
        r = [x for a, b in r for x in ([(a, b)] if P.fits(a, b) else _greedy(P, a, b))]
    elif method == "greedy":
        r = _greedy(P)
    elif method == "dp":
        r = _dp(P, batch, fast_write)
    else:
        r, ev = _ga(P, batch, fast_write)
    return _make_plan(P, method, r, batch, fast_write, time.perf_counter() - t0, ev)


def plan(net: Network, cfg: ClusterConfig, arrays: int, batch: int, method: str = "dp", *,
         fast_write: bool = False, partitioner: Partitioner | None = None) -> Plan:
    """The plan of ``method`` for ``net`` on ``arrays`` arrays of ``cfg``'s size."""
    P = partitioner or Partitioner(net, cfg, arrays)
    return run_method(P, method, batch, fast_write)


def plan_all(net: Network, cfg: ClusterConfig, arrays: int, batch: int, *,
             methods=METHODS, fast_write: bool = False,
             partitioner: Partitioner | None = None) -> dict[str, Plan]:
    P = partitioner or Partitioner(net, cfg, arrays)
    return {m: run_method(P, m, batch, fast_write) for m in methods}
