"""The ``fused`` schedule: the layers of a block run at the same time on row
bands, each unit starting as soon as the rows it needs exist.

A *segment* is a bottleneck block (expand, depthwise, project, add, and the
partials of a split layer) or a single layer outside blocks.  Its
intermediate tensors stay in L1; its input comes from L2 and its output goes
to L2 through the DMA, band by band, except that an output only the next
segment reads stays in L1 when both run in one stripe (at the end of the
arena its input does not hold: the two alternate).  A segment too large for L1 runs in
*stripes* of output rows, each computing the rows it needs (the halo rows of
an intermediate tensor the stripe before computed come back from L2, where a
DMA put them, instead of being computed again), two stripes' buffers
alternating so that the next stripe starts while the previous one drains.

Within a stripe the final output is cut into bands; every tensor's band b
holds the rows band b of the output needs beyond those of bands < b, so a
job computes only new rows.  Jobs are first listed wavefront by wavefront
(a valid sequential order, from which the hazards give a dependency graph),
then reordered by a list scheduler that estimates each job's time on its unit
(MVMs x the macro time, MACs at the DW's rate, bytes at the DMA's width): the
order core 0 issues them in, so that it blocks where the units are busy
anyway.  IMA layers alternate over the IMA instances (gen/compiler/lower.py
``place_network``), so a block's expand and project compute at the same time.
On a pool of arrays (``ima.macro_ports = "pool"``) an IMA job, and a DW job on
any configuration with several DWs, takes the instance (and the copy of its
layer) it starts on first, and waits for the job before it on its array.
With several DWs a depthwise band may be cut into one piece per DW
(``split_dw``; gen/compiler/network.py keeps whichever list the model says is
faster).

The per-layer check reads the intermediate tensors in L1, band by band, as the
jobs writing a band end (``Program.taps``: no DMA in the timed run but for the
rows the next stripe takes from L2); ``check_copies`` copies them to L2 by DMA
instead.  A network of one segment and one stripe keeps its tensors in L1
untouched until the end; they are read there.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.rtl.dw.regs import DW_REGS
from imcc.sim.network import IMA_OPS, Layer

from .lower import Lowered
from .program import (CORES, Job, Mark, Program, Tap, _cores_unit, cores_add, _Arena, _Deps, _Hazards,
                      _align, _dma, _ima_regs, _regs, _tiles, ima_streams, arena_bytes, l2_layout)

__all__ = ["compile_fused", "segments", "per_segment", "WIDE_EXTRA", "NARROW_EXTRA", "ORDER_JITTER"]

DMA_MIN_BYTES = 4096         # input rows move in transfers of at least this (when there are)
BAND_ROWS = 4                # rows of a band between the ramps
RAMP = (1, 1, 2)             # band rows at the start of a stripe (reversed at its end)
# a short stripe of rows this wide or wider may take WIDE_EXTRA bands more: its
# bands' jobs are long, so a layer waits less for the one before, at core 0's
# cost of issuing more jobs.  gen/compiler/network.py keeps whichever the model
# says is faster: MobileNetV2 224 on the 4-IMA pool with job waits RTL
# 1 262 223 cycles with none more, 1 248 009 with 1, 1 245 083 with 2,
# 1 235 080 with 3, 1 238 587 with 4 (model 1 208 526 and 1 173 835 with 3);
# the reference block in stripes on one IMA 157 460 -> 162 782 with 3 (model
# 154 203 -> 155 741: it keeps none)
WIDE, WIDE_EXTRA = 28, 3
# and a short stripe of narrower rows (8 to 14 of them) NARROW_EXTRA bands more, a
# choice per segment (network.py): the tail's 14 x 14 blocks, where the depthwise band
# between the expand and the project is the chain's longest link
NARROW_EXTRA = 1
# (order_seed) the list scheduler's estimates perturbed by up to this give it other orders
ORDER_JITTER = 0.3
# (check_copies) intermediate tensors go to L2 for the check in pieces of at least this: fewer
# jobs for core 0 (model, MobileNetV2 224 on 2 IMAs: 1.94 M -> 1.93 M cycles; per
# stripe, at its end, 2.08 M: the copies then trail the compute)
CHECK_BYTES = 8192


def segments(lowered: Lowered, merge=()) -> list[tuple[str, list[Layer]]]:
    """Ops grouped by block (``b<n>.*``) or alone (the other layers), in order; a
    block named in ``merge`` shares the segment of the block after it (the
    segment's name joins the blocks' with ``+``: ``conv1+b1``)."""
    out: list[tuple[str, list[Layer]]] = []
    last = None
    for L in lowered.net.layers:
        origin = lowered.origin[L.name]
        blk = origin.split(".")[0] if "." in origin else origin
        if blk != last:
            if out and last in merge:
                out[-1] = (f"{out[-1][0]}+{blk}", out[-1][1])
            else:
                out.append((blk, []))
            last = blk
        out[-1][1].append(L)
    return out


def per_segment(value, seg: str, default):
    """A choice given for all segments or per segment (name -> value) for segment
    ``seg``: a merged segment takes its last block's value (or an earlier one's),
    a block the value of the merged segment it is in."""
    if not isinstance(value, dict):
        return value
    for n in (seg, *reversed(seg.split("+"))):
        if n in value:
            return value[n]
    for n, v in value.items():
        if seg in n.split("+"):
            return v
    return default


@dataclass
class _Spec:
    unit: str
    regs: list
    reads: list
    writes: list
    what: str
    cycles: int
    l2_bytes: int = 0
    deps: set = field(default_factory=set)
    parts: list = field(default_factory=list)    # keys written in part (program._Hazards)
    choices: tuple = ()     # a pool: the instances that may run it (the scheduler picks)
    array: int | None = None     # a pool: the array it computes on
    alts: list = field(default_factory=list)     # a pool: (array, regs) of each copy it may use
    taps: list = field(default_factory=list)     # the check's taps of the rows it writes


def _rows_needed(ops: list[Layer], shapes, o0: int, o1: int, carry=None) -> dict:
    """Stored rows of every tensor of a segment (``ops``) that its final rows [o0, o1)
    need.  ``carry``: tensor -> first row to compute (the rows before it come from
    L2, where the stripe before left them): the inputs of those rows are not needed."""
    need = {ops[-1].output: (o0, o1)}
    for op in reversed(ops):
        if op.output not in need:
            continue
        a, b = need[op.output]
        a = max(a, (carry or {}).get(op.output, a))
        if a >= b:
            continue
        for n, r0, r1 in _needs(op, a, b, shapes):
            lo, hi = need.get(n, (r0, r1))
            need[n] = (min(lo, r0), max(hi, r1))
    return need


def _stripes(seg_name: str, ops: list[Layer], shapes, pitch, fixed: int, size: int) -> int:
    """Stripes of a segment: as few as ``size`` bytes of L1 allow (``fixed`` of them
    for its parameters; two buffers of every tensor when more than one)."""
    ho = shapes[ops[-1].output][0]
    produced = [op.output for op in ops]
    tensors = list(dict.fromkeys(n for op in ops for n in op.inputs if n not in produced)) + produced

    def stripe_bytes(rows):
        span = _slot_rows(ops, shapes, [(o0, min(o0 + rows, ho)) for o0 in range(0, ho, rows)])
        return sum(_align(span[n] * pitch(n)) for n in tensors)

    for s in range(1, ho + 1):
        if fixed + (1 if s == 1 else 2) * stripe_bytes(-(-ho // s)) <= size:
            return s
    raise MappingError(f"{seg_name}: one output row of the fused segment needs "
                       f"{(fixed + 2 * stripe_bytes(1)) / 1024:.1f} KiB of L1, "
                       f"{size / 1024:.1f} KiB are free (tcdm.size_kib)")


def _slot_rows(ops: list[Layer], shapes, stripes) -> dict[str, int]:
    """Rows of every tensor's L1 slot for a segment's ``stripes``: the first
    stripe's rows and two, or a later stripe's if more (its halo rows above it
    grow with every stride-2 layer after a 3x3 one: b4's expand merged with b5,
    fused.compile_fused ``merge``, takes 13 rows in later stripes, 10 in the
    first)."""
    first = _rows_needed(ops, shapes, *stripes[0])
    span = {n: b - a + 2 for n, (a, b) in first.items()}
    for o0, o1 in stripes[1:]:
        for n, (a, b) in _rows_needed(ops, shapes, o0, o1).items():
            span[n] = max(span.get(n, 0), b - a)
    return span


def _needs(op: Layer, r0: int, r1: int, shapes) -> list[tuple[str, int, int]]:
    """Rows of each input (stored rows, border included) that output rows [r0, r1) read."""
    if op.op == "conv":
        return [(op.inputs[0], r0 * op.stride, (r1 - 1) * op.stride + op.k)]
    if op.op == "dw":
        h = shapes[op.inputs[0]][0]
        return [(op.inputs[0], max(0, r0 * op.stride - 1), min(h, (r1 - 1) * op.stride + 2))]
    return [(n, r0, r1) for n in op.inputs]


def compile_fused(lowered: Lowered, cfg: ClusterConfig, *, dma: str = "dma",
                  split_dw: bool | dict[str, bool] = False, wide_bands: int | dict[str, int] = 0,
                  dw_cost: float | dict[str, float] = 1.0, narrow_bands: int | dict[str, int] = 0,
                  split_ima: bool | dict[str, bool] = False, order_seed: int | dict[str, int] = 0,
                  even_bands: bool | dict[str, bool] = False, overlap: int = 0,
                  merge=(), check_copies: bool = False) -> Program:
    """The fused job list (module docstring).  ``split_dw``: with several DW
    instances, every depthwise band is cut into one piece per DW, computing at
    the same time (a shorter wait for the layer after it, one more job for core 0
    to issue per piece).  ``wide_bands``: a short stripe of rows WIDE pixels or
    wider takes this many bands more (:func:`_bands`), ``narrow_bands`` a narrower
    one.  ``dw_cost``: the list
    scheduler's estimate of the DW jobs times this (it only orders the jobs: a
    different order may overlap the units better).  ``split_ima``: on a pool, every
    band's job of a layer with copies on several arrays is cut into one piece per
    copy (ranges of its rows' pixels), computing at the same time (a band's MVMs
    spread over the copies instead of one copy taking them all; more jobs for
    core 0 and the engines).  ``order_seed``: not 0, the list scheduler's
    estimate of every job times a factor drawn from this seed (the segment's name
    mixed in), within ``ORDER_JITTER`` of 1: another order to try (the scheduler
    is greedy).  ``even_bands``: a short stripe of narrow rows in bands of an
    even number of rows where it can (a depthwise band cut over two DWs then
    splits evenly).  Each may be given per segment (segment name -> value,
    absent: False / 0 / 1.0 / 0 / False / 0 / False).  ``overlap``: the first this many
    jobs of a segment are listed before the MARK of the segment before (a barrier
    to the walker), so they start while it drains, waiting for the jobs of it
    that use the bytes they use (and their arrays) instead of for all of them.  ``merge``:
    blocks that share the segment of the block after them (:func:`segments`): their
    layers run at the same time as the next block's, in its stripes, with no barrier
    between them (conv1 on 3 copies leaves an IMA free that b1's project can use).
    ``check_copies``: the
    intermediate tensors go to L2 for the check by DMA (the older way, in the
    timed run) instead of being read in L1 by the check as their bands' jobs end
    (``Program.taps``)."""
    from imcc.rtl.registry import compose
    comp = compose(cfg)
    net, mapping = lowered.net, lowered.mapping
    imas = sorted(mapping.maps,
                  key=lambda i: [x.name for x in comp.of_kind("ima")].index(i))
    dws = [i.name for i in comp.of_kind("dw")]
    if not dws:
        raise MappingError("the network needs a DW accelerator (dw.instances = 0)")
    prog = Program(cfg, lowered, imas + dws + [dma] + _cores_unit(net))
    arena = _Arena(cfg.tcdm.base, arena_bytes(cfg))
    deps = _Deps()
    mvm = cfg.ns_to_cycles(cfg.ima.mvm_ns) + 2
    dw_rate = max(1.0, 0.8 * cfg.dw.macs)
    dma_rate = cfg.dma.data_width // 8
    hwpes = (*imas, *dws)

    pads, dw_params = l2_layout(prog)

    segs = segments(lowered, merge)
    single = len(segs) == 1
    prog.l1_tensors = {}

    def pitch_of(ops):
        produced = [op.output for op in ops]
        return lambda n: (net.shapes[n][1] * net.shapes[n][2] if n in produced
                          else prog.tensors[n].pitch)

    plans = {name: _stripes(name, ops, net.shapes, pitch_of(ops),
                            sum(_align(dw_params[op.name][1]) for op in ops if op.op == "dw"),
                            arena.size) for name, ops in segs}
    # a segment's output the next segment alone reads, both in one stripe, stays in
    # L1 for it (no DMA out and back in: fewer jobs for core 0, the next segment
    # starts at once); the check reads it there (a tap)
    stay = set()
    for i, ((name, ops), (nxt, nops)) in enumerate(zip(segs, segs[1:])):
        t = ops[-1].output
        later = {n for _, ls in segs[i + 2:] for op in ls for n in op.inputs}
        if (not single and not check_copies and plans[name] == 1 and plans[nxt] == 1
                and ops[-1].unit != CORES and t not in later
                and any(t in op.inputs for op in nops) and prog.tensors[t].pad == 0
                and prog.tensors[t].pitch == net.shapes[t][1] * net.shapes[t][2]):
            stay.add(t)
    resident: dict[str, tuple[int, int, bool]] = {}  # tensor left in L1 -> (first, end byte, at the top)
    checked: dict[str, list] = {}     # tensor -> its rows in L2 so far: (first, end row, key)
    # the segment before's L1 buffers: (first byte, end, key) of every band key; a job of
    # the next writing (reading) bytes of them comes after their readers and writers
    # (writers), so the next segment starts while this one drains (no fence between them)
    before_ranges = np.zeros((0, 2), np.int64)
    before_keys: list[str] = []
    mark = None                       # the segment before's MARK, listed OVERLAP entries late
    before_touched: dict[str, dict] = {}     # its keys -> unit -> last job reading or writing
    before_wrote: dict[str, dict] = {}       # ... writing
    array_last: dict[int, tuple] = {}        # a pool's array -> (unit, seq) of its last job

    for seg_name, ops in segs:
        key_range: dict[str, tuple[int, int]] = {}
        touched: dict[str, dict] = {}
        wrote: dict[str, dict] = {}
        seg_array: dict[int, tuple] = {}
        # the arena less the input the segment before left in L1 (at one end)
        kept = {n: v for n, v in resident.items() if any(n in op.inputs for op in ops)}
        resident = {}
        arena.reset(max([b - arena.base for a, b, top in kept.values() if not top], default=0),
                    min([a - arena.base for a, b, top in kept.values() if top], default=arena.size))
        seg_split = per_segment(split_dw, seg_name, False)
        seg_wide = per_segment(wide_bands, seg_name, 0)
        seg_cost = per_segment(dw_cost, seg_name, 1.0)
        seg_narrow = per_segment(narrow_bands, seg_name, 0)
        seg_cut = per_segment(split_ima, seg_name, False)
        seg_seed = per_segment(order_seed, seg_name, 0)
        seg_even = per_segment(even_bands, seg_name, False)
        produced = [op.output for op in ops]
        ext = list(dict.fromkeys(n for op in ops for n in op.inputs if n not in produced))
        final = ops[-1].output
        ho, wo, _ = net.shapes[final]
        tensors = ext + produced

        pitch = pitch_of(ops)

        def rows_needed(o0, o1, carry=None):
            return _rows_needed(ops, net.shapes, o0, o1, carry)

        params = {op.name: dw_params[op.name] for op in ops if op.op == "dw"}
        n_stripes = plans[seg_name]
        srows = -(-ho // n_stripes)
        stripes = [(o0, min(o0 + srows, ho)) for o0 in range(0, ho, srows)]
        prog.bands[seg_name] = len(stripes)
        # (a stripe wide_bands would cut finer: network.py lists the job list again only then)
        if wo >= WIDE and any(b - a <= 14 for a, b in stripes):
            prog.model["wide_stripes"] = prog.model.get("wide_stripes", 0) + 1
        elif wo < WIDE and any(8 <= b - a <= 14 for a, b in stripes):
            prog.model["narrow_stripes"] = prog.model.get("narrow_stripes", 0) + 1
        slots = []
        pbuf = {}
        # (the output staying in L1 for the next segment: at the end its input is not at)
        out_top = final in stay and not any(top for *_, top in kept.values())
        out_bytes = (ho + 2) * pitch(final)
        if final in stay and not out_top:
            out_slot = arena.alloc(out_bytes)
        for name, (addr, n) in params.items():
            pbuf[name] = arena.alloc(n)
        if out_top:
            out_slot = arena.alloc_high(out_bytes)
        if final in stay:
            resident[final] = (out_slot, out_slot + _align(out_bytes), out_top)
        span = _slot_rows(ops, net.shapes, stripes)
        for q in range(min(2, len(stripes))):
            slots.append({n: kept[n][0] if n in kept else out_slot if n == final and final in stay
                          else arena.alloc(span[n] * pitch(n))
                          for n in tensors})
        prog.l1_peak = max(prog.l1_peak, arena.peak)
        keep_l1 = single and len(stripes) == 1

        specs: list[_Spec] = []
        # the parameters come in after the first input rows (the IMA starts first)
        param_specs = [_Spec(dma, _dma(addr, pbuf[name], n), [], [f"p:{name}"],
                             f"{name} parameters", n // dma_rate + 20, n)
                       for name, (addr, n) in params.items()]

        prev: dict[int, dict] = {}        # slot -> tensor -> [(first, end row in slot, key)]
        computed: dict[str, int] = {}     # intermediate tensor -> rows the last stripe computed
        for name, (_, n) in params.items():
            key_range[f"p:{name}"] = (pbuf[name], pbuf[name] + n)
        for si, (s0, s1) in enumerate(stripes):
            q = si % 2
            first_spec = len(specs)
            # the halo rows of an intermediate tensor the stripe before computed come back
            # from L2 (its check copies) instead of being computed again: a DMA of a few
            # rows instead of the IMA's MVMs (MobileNetV2 224, b3's expand: 21 % of its rows)
            full = rows_needed(s0, s1)
            carry = {n: min(computed[n], full[n][1]) for n in computed
                     if not keep_l1 and computed[n] > full[n][0]}
            lo = {n: r[0] for n, r in full.items()}
            lo.update({n: r[0] for n, r in rows_needed(s0, s1, carry).items() if n not in carry})
            bands = _bands(s0, s1, wo, first=si == 0 and len(stripes) > 1,
                           last=si == len(stripes) - 1 and len(stripes) > 1, extra=seg_wide,
                           narrow=seg_narrow, even=seg_even)
            done = {n: carry.get(n, lo[n]) for n in tensors}   # rows computed (or loaded) so far

            def addr(n, r):
                return slots[q][n] + (r - lo[n]) * pitch(n)

            def key(n, r0, r1):
                """Keys of band-sized pieces: one per (slot, tensor, first row of a band)."""
                return [f"{q}:{n}:{r}" for r in band_rows[n] if r0 < band_rows[n][r] and r < r1]

            # rows of each tensor new in each band
            new = {n: [] for n in tensors}
            for b0, b1 in bands:
                need = rows_needed(s0, b1, carry)
                for n in tensors:
                    hi = need.get(n, (done[n], done[n]))[1]
                    new[n].append((done[n], hi))
                    done[n] = max(done[n], hi)
            band_rows = {n: {r0: r1 for r0, r1 in new[n] if r1 > r0} for n in tensors}
            for n, c in carry.items():      # the carried rows: one piece of their own
                band_rows[n][lo[n]] = c
            for n in tensors:
                for r, r1 in band_rows[n].items():
                    key_range[f"{q}:{n}:{r}"] = (addr(n, r), addr(n, r1))
            for n, c in carry.items():
                t = prog.tensors[n]
                assert t.pitch == pitch(n), n       # (an intermediate tensor has no border)
                nbytes = (c - lo[n]) * t.pitch
                src = [k for a, b, k in checked[n] if a < c and lo[n] < b]
                specs.append(_Spec(dma, _dma(t.row_addr(lo[n]), addr(n, lo[n]), nbytes), src,
                                   key(n, lo[n], c), f"{seg_name} stripe {si} halo {n}",
                                   nbytes // dma_rate + 20, nbytes))

            def to_l2(n, a, b, bi, why=""):
                """Rows [a, b) of tensor n to L2 by DMA after band bi's jobs."""
                t = prog.tensors[n]
                nbytes = (b - a) * t.pitch
                specs.append(_Spec(dma, _dma(addr(n, a), t.row_addr(a), nbytes), key(n, a, b),
                                   [f"l2:{n}:{si}:{bi}"], f"{seg_name} stripe {si} band {bi} out {n}{why}",
                                   nbytes // dma_rate + 20, nbytes))
                checked.setdefault(n, []).append((a, b, f"l2:{n}:{si}:{bi}"))

            loaded = {n: lo[n] for n in ext}
            pending: dict[str, int] = {}           # check copies waiting: tensor -> first row
            # rows of each tensor the next stripe takes from L2 (its halo) need a copy
            halo = ({n: r[0] for n, r in rows_needed(*stripes[si + 1]).items()}
                    if si + 1 < len(stripes) and not keep_l1 else {})
            for bi in range(len(bands)):
                for n in ext:
                    if n in kept:           # (left in L1 by the segment before)
                        continue
                    # the band's new input rows come in, with the next bands' rows up to
                    # DMA_MIN_BYTES in one transfer (fewer entries ahead of the compute)
                    r0, r1 = max(new[n][bi][0], loaded[n]), new[n][bi][1]
                    t = prog.tensors[n]
                    for later in range(bi + 1, len(bands)):
                        if (r1 - r0) * t.pitch >= DMA_MIN_BYTES:
                            break
                        r1 = max(r1, new[n][later][1])
                    if r1 > r0:
                        loaded[n] = r1
                        nbytes = (r1 - r0) * t.pitch
                        src = [k for a, b, k in checked.get(n, []) if a < r1 and r0 < b]
                        specs.append(_Spec(dma, _dma(t.row_addr(r0), addr(n, r0), nbytes),
                                           [f"l2:{n}", *src], key(n, r0, r1),
                                           f"{seg_name} stripe {si} band {bi} in {n}",
                                           nbytes // dma_rate + 20, nbytes))
                if param_specs:
                    specs += param_specs
                    param_specs = []
                for op in ops:
                    r0, r1 = new[op.output][bi]
                    if r1 <= r0:
                        continue
                    # depthwise layers and adds on any DW: the list scheduler gives each
                    # job the DW it starts on first (a DW's jobs run in order)
                    made = _op_specs(op, r0, r1, bi, si, seg_name, net, lowered, mapping, pbuf,
                                     addr, key, pads, mvm, dw_rate, dws, seg_split, seg_cut)
                    if seg_cost != 1.0:
                        for sp in made:
                            if sp.unit in dws:
                                sp.cycles = int(sp.cycles * seg_cost)
                    specs += made
                    # the band's new rows go to L2: the segment's output, and the
                    # intermediate tensors for the check (unless they stay in L1),
                    # these gathered over bands up to CHECK_BYTES (fewer jobs for core 0);
                    # or the check reads an intermediate band in L1 as its jobs end (a
                    # tap: no DMA, unless the next stripe needs the rows as its halo)
                    n = op.output
                    if ((n != final or n in stay) and not keep_l1 and not check_copies
                            and all(sp.unit in hwpes for sp in made)):
                        t = prog.tensors[n]
                        tap = Tap(n, addr(n, r0), t.row_addr(r0), (r1 - r0) * t.pitch)
                        prog.taps.append(tap)
                        for sp in made:
                            sp.taps.append(tap)
                        h0 = max(r0, halo.get(n, r1))
                        if h0 < r1:
                            to_l2(n, h0, r1, bi, " for the next stripe")
                        continue
                    if op.output == final or not keep_l1:
                        t = prog.tensors[n]
                        c0 = pending.pop(n, r0)
                        last = all(b <= a for a, b in new[n][bi + 1:])
                        if n != final and not last and (r1 - c0) * t.pitch < CHECK_BYTES:
                            pending[n] = c0
                            continue
                        to_l2(n, c0, r1, bi)
            # stripe si - 2 left slot q: a job writing rows of it also writes the keys
            # of that stripe's bands it overlaps (in the slot), so it waits for their
            # readers and writers (no fence: the next stripe starts while one drains)
            for sp in specs[first_spec:]:
                extra = []
                for k in sp.writes + sp.parts:
                    kq, n, r = _slot_key(k)
                    if kq is None or kq != q or n not in prev.get(q, {}):
                        continue
                    a, b = r - lo[n], band_rows[n][r] - lo[n]
                    extra += [old for o0, o1, old in prev[q][n] if o0 < b and a < o1]
                if sp.parts:        # (a column tile's: parts as well)
                    sp.parts = sp.parts + [k for k in dict.fromkeys(extra) if k not in sp.parts]
                else:
                    sp.writes = sp.writes + [k for k in dict.fromkeys(extra) if k not in sp.writes]
            prev[q] = {n: [(r - lo[n], r1 - lo[n], f"{q}:{n}:{r}") for r, r1 in band_rows[n].items()]
                       for n in tensors}
            computed = {n: done[n] for n in produced if n != final}
            if keep_l1:
                for n in produced:
                    if n != final:
                        prog.l1_tensors[n] = (slots[q][n], net.shapes[n])

        def before_waits(sp) -> dict[str, int]:
            """The jobs of the segment before a job listed before its MARK comes after:
            those using the bytes it uses (a reader after their writers, a writer after
            their readers and writers) and the last on its array."""
            w = dict([array_last[sp.array]]) if sp.array in array_last else {}
            for ks, seen in ((sp.reads, before_wrote), (sp.writes + sp.parts, before_touched)):
                for k in ks:
                    if k in key_range and len(before_keys):
                        a, b = key_range[k]
                        for i in np.nonzero((before_ranges[:, 0] < b) & (a < before_ranges[:, 1]))[0]:
                            for u, n in seen.get(before_keys[i], {}).items():
                                w[u] = max(w.get(u, 0), n)
            return w

        if seg_seed:
            rng = random.Random(seg_seed * 1_000_003 + zlib.crc32(seg_name.encode()))
            for sp in specs:
                sp.cycles = max(1, round(sp.cycles * rng.uniform(1 - ORDER_JITTER, 1 + ORDER_JITTER)))
        before = prog.model.get("cycles", 0)
        for spec in _list_schedule(specs, prog.units, prog.model):
            if spec is None:
                m = Mark(-1, seg_name, deps.barrier())
                prog.entries.append(m)
                continue
            if mark is not None and mark[1] <= 0:
                prog.entries.append(mark[0])
                mark = None
            # a pool's array computes one MVM at a time: a job waits for the one
            # before it on its array (in the list's order), so that two IMAs never
            # take turns on an array inside the macro (that would cost both of them)
            arr = (f"array:{spec.array}",) if spec.array is not None else ()
            j = Job(spec.unit, spec.regs, tuple(spec.reads), tuple(spec.writes) + arr,
                    lowered.origin[ops[0].name], spec.what, l2_bytes=spec.l2_bytes,
                    parts=tuple(spec.parts))
            deps.add(j)
            # (a job listed after the MARK of the segment before goes after all of it)
            for u, n in before_waits(spec).items() if mark is not None else ():
                if u != j.unit:
                    j.waits[u] = max(j.waits.get(u, 0), n)
            if spec.array is not None:
                seg_array[spec.array] = (j.unit, j.seq)
            for k in j.reads:
                touched.setdefault(k, {})[j.unit] = j.seq
            for k in j.writes + j.parts:
                touched.setdefault(k, {})[j.unit] = j.seq
                wrote.setdefault(k, {})[j.unit] = j.seq
            prog.entries.append(j)
            if mark is not None:
                mark[1] -= 1
            for tap in spec.taps:       # the last job of each unit writing its rows
                tap.waits[j.unit] = max(tap.waits.get(j.unit, 0), j.seq)
                tap.after = len(prog.entries) - 1
        if mark is not None:
            prog.entries.append(mark[0])
        # the segment's MARK (its jobs ended: a barrier to the walker) comes ``overlap``
        # entries into the next segment's, whose first jobs so go while it drains
        mark = [Mark(len(prog.marks), seg_name, deps.barrier()), overlap]
        prog.marks.append(seg_name)
        before_keys = list(key_range)
        before_ranges = np.array([key_range[k] for k in before_keys], np.int64).reshape(-1, 2)
        before_touched, before_wrote = touched, wrote
        array_last.update(seg_array)
        prog.model.setdefault("list_marks", []).append(prog.model["cycles"] - before)

    prog.entries.append(mark[0])
    return prog.finish()


def _slot_key(k: str) -> tuple:
    """(slot, tensor, first row) of a band key ``slot:tensor:row``; (None,) * 3 otherwise."""
    head, _, rest = k.partition(":")
    if not head.isdigit():
        return None, None, None
    n, _, r = rest.rpartition(":")
    return int(head), n, int(r)


def _bands(s0: int, s1: int, w: int, *, first: bool = False, last: bool = False,
           extra: int = 0, narrow: int = 0, even: bool = False) -> list[tuple[int, int]]:
    """Output row bands of a stripe of rows of w pixels.  Long stripes: small bands
    at both ends, so the pipeline of layers fills and drains sooner (RAMP),
    BAND_ROWS rows in between, so that there are fewer jobs (each costs the DW and
    the IMA a fixed start-up, and core 0 about 500 cycles to issue).  Measured on
    the reference block (2 IMAs, 2 DWs): ramps 1,1,2 give 57.5 k cycles, 1-row
    bands throughout 65 k, 2-row bands 68 k.  Short stripes (14 rows or fewer)
    in 2 to 4 equal bands: with 1-row bands core 0's issuing bounds them (the
    calibrated model, gen/compiler/perf.py: MobileNetV2 224 2.45 M -> 1.99 M cycles).
    The ``first`` and ``last`` of several short stripes start (end) with the
    RAMP all the same: stripes overlap, so the pipeline fills and drains only
    there (MobileNetV2 224 on the 4-IMA pool, b3: model 161 k -> 148 k cycles);
    with too few rows for the ramp, the first starts with its smallest bands.
    ``extra``: bands more for rows of WIDE pixels or more, ``narrow`` for the others;
    ``even``: short stripes of narrower rows in bands of an even number of rows."""
    rows = s1 - s0
    if rows <= 14:
        n = min(rows, (2 if rows <= 7 and w <= 14 else 3 if rows <= 11 else 4)
                + (extra if w >= WIDE else narrow))
        sizes = [rows // n + (1 if i < rows % n else 0) for i in range(n)]
        if even and w < WIDE:       # (n bands of an even number of rows, the last the rest)
            e = 2 * -(-rows // (2 * n))
            sizes = [min(e, rows - e * i) for i in range(-(-rows // e))]
        rest = rows - sum(RAMP)
        if (first or last) and n > 1 and rest >= n - 1:
            mid = [rest // (n - 1) + (1 if i < rest % (n - 1) else 0) for i in range(n - 1)]
            sizes = list(RAMP) + mid if first else mid + list(reversed(RAMP))
        elif first:
            sizes.reverse()
    else:
        mid = rows - 2 * sum(RAMP)
        n = -(-mid // BAND_ROWS)
        sizes = list(RAMP) + [mid // n + (1 if i < mid % n else 0) for i in range(n)] \
            + list(reversed(RAMP))
    out, r = [], s0
    for k in sizes:
        out.append((r, r + k))
        r += k
    return out


def _op_specs(op, r0, r1, bi, si, seg, net, lowered, mapping, pbuf, addr, key, pads, mvm,
              dw_rate, dws, split_dw=False, split_ima=False) -> list[_Spec]:
    """The jobs of op for its output rows [r0, r1) of one band."""
    dw, dw_any = dws[0], tuple(dws) if len(dws) > 1 else ()
    h, w, c = net.shapes[op.output]
    rows = r1 - r0
    out = addr(op.output, r0)
    what = f"{op.name} stripe {si} band {bi}"
    specs = []
    if op.op in IMA_OPS:
        xin = op.inputs[0]
        (n, a, b), = _needs(op, r0, r1, net.shapes)
        cin = net.shapes[xin][2]
        units = mapping.instances(lowered.origin[op.name])
        unit = units[bi % len(units)]          # replicas take the bands in turn
        r = mapping.rep(lowered.origin[op.name])
        p = (net.shapes[xin][1] + 2 * pads.get(xin, 0)) * cin
        layer = lowered.origin[op.name]
        tiles = _tiles(mapping, op, lowered, unit)
        if mapping.pool and op.cin is None and mapping.n_copies(layer) > 1:
            # a pool's copies (one tile each): the list scheduler gives the band
            # the copy, and the instance, it starts on first
            # (split_ima: the band cut into one piece per copy, each a range of the
            # rows' pixels, so that the copies compute the band at the same time)
            steps = w // r
            k = min(mapping.n_copies(layer), steps) if split_ima else 1
            cuts = [steps * i // k for i in range(k + 1)]
            s_in = op.stride if op.op == "conv" else 1
            band = key(op.output, r0, r1)
            for x0, x1 in zip(cuts, cuts[1:]):
                alts = []
                for cp in range(mapping.n_copies(layer)):
                    tl, = mapping.copy_of(layer, cp)
                    src, dst = ima_streams(op, tl, r, addr(xin, a) + x0 * r * s_in * cin, cin, p,
                                           out + x0 * r * c, c, w)
                    alts.append((tl.array, _ima_regs(tl, op, x1 - x0, rows, src, dst)))
                # (pieces write parts of the band: they compute at the same time)
                specs.append(_Spec(unit, alts[0][1], key(xin, a, b), band if k == 1 else [],
                                   f"{what} copy", rows * (x1 - x0) * mvm + 40,
                                   choices=tuple(units), array=alts[0][0], alts=alts,
                                   parts=band if k > 1 else []))
            return specs
        for tl in tiles:
            src, dst = ima_streams(op, tl, r, addr(xin, a), cin, p, out, c, w)
            # column tiles write disjoint bytes of the band's rows: parts, so that
            # on a pool they compute at the same time on different instances
            out_keys = key(op.output, r0, r1)
            specs.append(_Spec(unit, _ima_regs(tl, op, w // r, rows, src, dst), key(xin, a, b),
                               [] if len(tiles) > 1 else out_keys, f"{what} tile a{tl.array}",
                               rows * w // r * mvm + 40, parts=out_keys if len(tiles) > 1 else [],
                               choices=tuple(units) if mapping.pool else (),
                               array=tl.array if mapping.pool else None))
    elif op.op == "dw":
        xin = op.inputs[0]
        hin, win, _ = net.shapes[xin]
        s = op.stride
        # several DWs: the band's rows in one piece per DW (as many as it has rows), so
        # that the band's depthwise, which the next layer waits for, ends sooner
        split = split_dw and len(dws) > 1 and rows >= 2
        k = min(len(dws), rows) if split else 1
        cuts = [r0 + rows * i // k for i in range(k + 1)]
        base, band = pbuf[op.name], key(op.output, r0, r1)
        for q0, q1 in zip(cuts, cuts[1:]):
            (n, a, b), = _needs(op, q0, q1, net.shapes)
            pt, pb = int(q0 * s - 1 < 0), max(0, (q1 - 1) * s + 1 - (hin - 1))
            assert (b - a + pt + pb - 3) // s + 1 == q1 - q0, (op.name, q0, q1, a, b)
            regs = _regs(DW_REGS,
                         MODE=dict(OP=DW_REGS.constant("OP", "DW3X3"), STRIDE=s, PAD_T=pt, PAD_B=pb,
                                   PAD_L=1, PAD_R=1),
                         SIZE=dict(H=b - a, W=win), CHANNELS=dict(C=c), SRC_ADDR=addr(xin, a),
                         WEIGHT_ADDR=base, BIAS_ADDR=base + _align(9 * c, 4),
                         SCALE_ADDR=base + _align(9 * c, 4) + 4 * c, DST_ADDR=addr(op.output, q0),
                         QUANT=dict(SHIFT=op.shift, LO=op.lo, HI=op.hi))
            # (pieces write parts of the band: they compute at the same time)
            specs.append(_Spec(dw, regs, key(xin, a, b) + [f"p:{op.name}"], [] if split else band,
                               what, int((q1 - q0) * w * c * 9 / dw_rate) + 40, choices=dw_any,
                               parts=band if split else []))
    elif op.unit == CORES:
        a_in, b_in = op.inputs
        specs.append(_Spec(CORES, cores_add(addr(a_in, r0), addr(b_in, r0), out, rows * w * c, op),
                           key(a_in, r0, r1) + key(b_in, r0, r1), key(op.output, r0, r1), what,
                           rows * w * c + 200))
    else:
        a_in, b_in = op.inputs
        regs = _regs(DW_REGS,
                     MODE=dict(OP=DW_REGS.constant("OP", "ADD"), STRIDE=1, PAD_T=0, PAD_B=0,
                               PAD_L=0, PAD_R=0),
                     SIZE=dict(H=rows, W=w), CHANNELS=dict(C=c), SRC_ADDR=addr(a_in, r0),
                     SRC2_ADDR=addr(b_in, r0), DST_ADDR=out, SCALE_A=op.sa & 0xFFFF_FFFF,
                     SCALE_B=op.sb & 0xFFFF_FFFF, QUANT=dict(SHIFT=op.shift, LO=op.lo, HI=op.hi))
        specs.append(_Spec(dw, regs, key(a_in, r0, r1) + key(b_in, r0, r1),
                           key(op.output, r0, r1), what, rows * w * c // 8 + 40, choices=dw_any))
    return specs


def _list_schedule(specs: list, units: list[str], model: dict | None = None) -> list:
    """Reorder the jobs between fences by estimated start time, keeping every hazard
    of the listed order (a unit runs its jobs in issue order).  ``model`` collects
    the estimate: ``cycles`` (the makespans, fences and marks being barriers) and
    ``busy`` (per unit, its jobs' estimated cycles)."""
    out, chunk = [], []
    for s in specs + [None]:
        if s is not None:
            chunk.append(s)
            continue
        order, span = _schedule_chunk(chunk, units)
        out += order
        if model is not None:
            model["cycles"] = model.get("cycles", 0) + span
            busy = model.setdefault("busy", {})
            for x in chunk:
                busy[x.unit] = busy.get(x.unit, 0) + x.cycles
        chunk = []
        out.append(None)
    return out[:-1]


def _schedule_chunk(specs: list[_Spec], units) -> tuple[list[_Spec], int]:
    """List scheduling: the ready job that can start first goes next.  A job with
    ``choices`` (a pool) takes the instance it starts on first, after its array
    is free (an array computes one MVM at a time)."""
    h = _Hazards()
    for i, s in enumerate(specs):
        s.deps = set(h.deps(s.reads, s.writes, s.parts))
        h.add(i, s.reads, s.writes, s.parts)
    finish, free, order, left = {}, {u: 0 for u in units}, [], set(range(len(specs)))
    array_free: dict[int, float] = {}
    while left:
        best, best_t, best_u, best_alt = None, None, None, None
        for i in sorted(left):
            s = specs[i]
            if not s.deps <= finish.keys():
                continue
            ready = max([finish[d] for d in s.deps], default=0)
            alt = None
            if s.alts:          # the copy whose array frees first
                alt = min(range(len(s.alts)), key=lambda j: (array_free.get(s.alts[j][0], 0), j))
                ready = max(ready, array_free.get(s.alts[alt][0], 0))
            elif s.array is not None:
                ready = max(ready, array_free.get(s.array, 0))
            u = min(s.choices, key=lambda u: (max(free[u], ready), free[u])) if s.choices \
                else s.unit
            t = max(free[u], ready)
            if best is None or t < best_t:
                best, best_t, best_u, best_alt = i, t, u, alt
        s = specs[best]
        s.unit = best_u
        if best_alt is not None:
            s.array, s.regs = s.alts[best_alt]
            s.what += f" a{s.array}"
        finish[best] = best_t + s.cycles
        free[s.unit] = finish[best]
        if s.array is not None:
            array_free[s.array] = finish[best]
        order.append(s)
        left.discard(best)
    return order, max(finish.values(), default=0)
