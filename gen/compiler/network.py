"""One call from a network description to a compiled program: the
configuration it runs on, the mapping, the lowered ops, the job list, the
weight image of the arrays and the golden tensors.

``arrays="auto"`` gives the IMA as many arrays as the mapping needs (a chip
sized for the network, as the paper's 34 arrays) and L2 the size the
network's tensors and job list need; ``"config"`` keeps the configuration
and refuses a network that does not fit it, naming the layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.sim.network import Network
from imcc.sim.weight_image import WeightImage

from .lower import (RESERVE_LAYOUTS, Lowered, Placement, lower, place_network, rep_weights,
                    replicate, replicate_pool)
from .program import Program, compile_layers

__all__ = ["Compiled", "compile_network", "weight_image", "reference_block", "SCHEDULES"]

SCHEDULES = ("layer", "fused")


def reference_block(seed: int = 0) -> tuple[Network, np.ndarray]:
    """The paper's reference bottleneck (28x28x32, t = 6, stride 1: ``imcc demo``'s)
    as a network with random parameters, and its input."""
    from imcc.gen.mapping import BottleneckShape
    from imcc.sim.bottleneck import random_bottleneck
    from imcc.sim.network import bottleneck_network
    s = BottleneckShape()
    x, p = random_bottleneck(s.h, s.w, s.cin, s.t, s.cout, s.stride, seed)
    return bottleneck_network(s, p), x


@dataclass
class Compiled:
    cfg: ClusterConfig
    net: Network                    # as described (before lowering)
    x: np.ndarray                   # the network input
    mapping: Placement
    lowered: Lowered
    program: Program
    image: WeightImage
    golden: dict[str, np.ndarray]   # every tensor of the lowered network
    schedule: str = "layer"


def weight_image(net: Network, mapping: Placement, cfg: ClusterConfig) -> WeightImage:
    """The arrays' contents: every tile's slice of its layer's weight matrix."""
    img = WeightImage()
    for instance, t in mapping.placed:
        name = t.layer.split("@")[0]          # (a pool's further copy: name@c)
        w = rep_weights(net.layer(name), mapping.rep(name))
        img.place(instance, t.array, w[t.row0:t.row0 + t.rows, t.col0:t.col0 + t.cols],
                  t.arow, t.acol, (cfg.ima.rows, cfg.ima.cols))
    return img


def compile_network(net: Network, x: np.ndarray, cfg: ClusterConfig, *, arrays: str = "auto",
                    schedule: str = "layer", replicate: bool | None = None,
                    dw_split: bool | None = None, ima_split: bool | None = None,
                    merge: bool = True, check_copies: bool = False) -> Compiled:
    """Map, lower and schedule ``net`` (with its parameters) on ``cfg``.

    ``replicate`` (default: with the fused schedule) spends the arrays the
    placement leaves free, up to ``ima.arrays`` per instance (or what the
    placement needs, if more), on copies of the layers that bound the latency
    (lower.replicate); the layer schedule is the paper's, without them.
    ``dw_split`` (fused, several DWs): every depthwise band cut into one piece
    per DW or not; default: whichever the performance model says is faster.
    ``ima_split`` (fused, a pool): every band of a layer with copies cut into one
    piece per copy or not; default: the model's choice per segment.  ``merge``
    (fused): blocks merged into the segment after them where the model says that
    is faster (:func:`_merges`); False: every block a segment of its own.
    ``check_copies`` (fused): the intermediate tensors go to L2 by DMA for the
    check, as extra jobs in the timed run, instead of being read in L1 as their
    bands end (``Program.taps``)."""
    if schedule not in SCHEDULES:
        raise MappingError(f"--schedule {schedule}: the compiler has the schedules "
                           f"{', '.join(SCHEDULES)}")
    if arrays not in ("auto", "config"):
        raise MappingError(f"arrays {arrays!r}: auto or config")
    from imcc.rtl.registry import compose
    imas = [i.name for i in compose(cfg).of_kind("ima")]
    if not imas:
        raise MappingError("the network needs an IMA (ima.instances = 0 or ima.enabled = false)")
    if schedule == "layer":
        imas = imas[:1]          # one array active at a time, as the paper
    elif arrays == "auto" and cfg.dw.ports == "shared" and len(imas) > 1:
        # DW k shares IMA k's data ports (one of them at a time): give the DW its
        # own ports so that it computes while the IMAs do
        cfg = cfg.replace(dw={"ports": "own"})
    if arrays == "auto":
        mapping = place_network(net, cfg, imas)
        if mapping.arrays_used > cfg.ima.arrays:
            cfg = _with_arrays(cfg, mapping.arrays_used)
    else:
        mapping = place_network(net, cfg, imas, max_arrays=cfg.ima.arrays)
    if replicate if replicate is not None else schedule == "fused":
        mappings = _replicas(net, cfg, mapping, cfg.ima.arrays)
    else:
        mappings = [mapping]
    best = None
    base_cfg = cfg
    # the placement kept is listed once more, with every choice below (which the
    # placements are compared without: the compile time), when there is more than one
    # placement or more than one DW (the list scheduler's estimates of the DW jobs)
    again = schedule == "fused" and (len(mappings) > 1 or cfg.dw.instances > 1)
    for mapping in mappings:     # (several on a pool: the fastest by the model)
        lowered = lower(net, mapping)
        cfg = base_cfg
        if arrays == "auto":
            # the L2 the tensors and the job list need (addresses do not depend on its
            # size), from the longest list the choices below may give
            need = _longest(lowered, _l2_fits(cfg), schedule, dw_split,
                            check_copies).l2_end - cfg.l2.base
            mib = 1 << max(0, (need - 1).bit_length() - 20)
            if need > cfg.l2.size_bytes:
                cfg = cfg.replace(l2={"size_kib": max(mib, 1) * 1024})
        prog = _compile(lowered, cfg, schedule, dw_split, check_copies, ima_split=ima_split,
                        refine=not again)
        if best is None or prog.model["cycles"] < best[2].model["cycles"]:
            best = (mapping, lowered, prog, cfg)
    mapping, lowered, prog, cfg = best
    # blocks merged into the segment after them where the model says so (then the
    # list is chosen again, every choice on the new segments)
    merge = _merges(lowered, cfg, prog, check_copies) if schedule == "fused" and merge \
        else frozenset()
    if again or merge:
        # the placement kept, its jobs ordered with other estimates of the DW jobs
        # (MobileNetV2 224 on 4 IMAs sharing 34 arrays: model 1 131 349 -> 1 118 545, RTL
        # 1 146 436 -> 1 130 993 cycles), orders and bands tried again, the overlap
        costs = DW_COSTS if again and cfg.dw.instances > 1 else (1.0,)
        try:
            more = _compile(lowered, cfg, schedule, dw_split, check_copies, costs=costs,
                            ima_split=ima_split, refine=True, merge=merge)
        except MappingError:    # (a variant of the merged segments too long for L2)
            more = _compile(lowered, cfg, schedule, dw_split, check_copies, costs=costs,
                            ima_split=ima_split, refine=True) if again else prog
        if more.model["cycles"] < prog.model["cycles"]:
            prog = more
    if len(mappings) > 1:
        prog.model["placements_tried"] = len(mappings)
    return Compiled(cfg, net, x, mapping, lowered, prog, weight_image(net, mapping, cfg),
                    lowered.net.run(x), schedule)


def _replicas(net, cfg, mapping, budget):
    """The replicated placements to compile: on a pool, one per layout of bands
    the cold layers leave free (lower.RESERVE_LAYOUTS, those that fit), whose
    first-order model misjudges the schedule too much to choose between them."""
    if not mapping.pool:
        return [replicate(net, cfg, mapping, budget)]
    out = []
    for r in RESERVE_LAYOUTS:
        # the search with and without the exchanges (its first-order cost is not the
        # model: either may be faster)
        for exchange in (False, True):
            p = replicate_pool(net, cfg, mapping, budget, reserve=r, exchange=exchange)
            if p is not None and all(p.maps != q.maps or p.reps != q.reps or p.copies != q.copies
                                     for q in out):
                out.append(p)
    return out


# entries of a segment listed before the MARK of the segment before, tried (fused
# compile_fused ``overlap``; MobileNetV2 224 on 4 IMAs sharing 34 arrays, model:
# 4 -> -1.6 %, 8 -> -2.0 %, 12 -> -1.5 %, 16 -> -1.2 %)
OVERLAPS = (4, 8, 16)
# ... kept where the model says it saves at least this share: it misjudges what the
# early jobs cost the walker where core 0 bounds (the small network, blocks merged:
# on the pool of 8 model -0.1 % with K = 4, RTL +1.8 %; on 2 IMAs of 4 arrays model
# -0.6 %, RTL +2.1 %)
OVERLAP_GAIN = 0.02
# seeds of the list scheduler's perturbed estimates tried on the placement kept
ORDER_SEEDS = (1, 2, 3, 4)
# a block is merged into the segment after it where the model says that saves this
# share of the run (_merges; MobileNetV2 224 on 4 IMAs sharing 34 arrays: conv1, b1 and
# b2 one segment, b4+b5, b6+b7, b8+b9; model 1 024 954 -> 949 092 cycles, RTL
# 1 043 088 -> 966 411)
MERGE_GAIN = 0.002

# the list scheduler's estimates of the DW jobs tried on the placement kept, with
# several DWs (fused.compile_fused ``dw_cost``: which DW takes a job, and when): each
# segment takes the order the model finds fastest
DW_COSTS = (1.0, 0.8, 1.2, 1.5)


def _longest(lowered, cfg, schedule, dw_split=None, check_copies=False):
    """The longest job list :func:`_compile` may choose: every depthwise band cut
    (unless told not to), on a pool every band of a layer with copies cut over
    them, every short stripe in its extra bands; with 5 % more for
    the register writes, whose count depends on the jobs' order."""
    if schedule != "fused":
        return compile_layers(lowered, cfg)
    from .fused import NARROW_EXTRA, WIDE_EXTRA, compile_fused
    prog = compile_fused(lowered, cfg, split_dw=True if dw_split is None else dw_split,
                         wide_bands=WIDE_EXTRA, narrow_bands=NARROW_EXTRA, split_ima=cfg.ima.pooled,
                         check_copies=check_copies)
    prog.l2_end += (prog.l2_end - prog.joblist_addr) // 20
    return prog


def _compile(lowered, cfg, schedule, dw_split=None, check_copies=False, costs=(1.0,), waits=True,
             ima_split=None, refine=False, merge=frozenset()):
    from .perf import predict
    if schedule != "fused":
        prog = compile_layers(lowered, cfg)
        prog.model.update(predict(prog))
        return prog
    from .fused import NARROW_EXTRA, WIDE_EXTRA, compile_fused, segments
    best = None
    # with several DWs, depthwise bands cut over them or not, whichever the model
    # says is faster: the cut shortens each band's wait where the DW is on the
    # critical path, its extra jobs cost core 0 where core 0 bounds (RTL: the
    # reference block on 4 IMAs sharing 34 arrays 44 724 -> 39 909 cycles, the
    # small network on 2 IMAs sharing 8 106 001 -> 108 815)
    several = cfg.dw.instances > 1
    choices = (False,) if not several else (False, True) if dw_split is None else (dw_split,)
    # and short stripes of wide rows in more bands or not (fused.WIDE_EXTRA): more
    # overlap of a block's layers against more jobs for core 0
    # (only where a segment has such stripes: otherwise the same list)
    variants = []
    stripes = {}        # id(listed program) -> its short stripes of each kind

    def listed(split, wide, cost=1.0, narrow=0, cut=False, seed=0, even=False, overlap=0):
        prog = compile_fused(lowered, cfg, **choice_args((split, wide, cost, narrow, cut, seed,
                                                          even)),
                             overlap=overlap, merge=merge, check_copies=check_copies)
        prog.use_waits = waits
        # the list scheduler's own estimate (what ordered the jobs), beside the model
        prog.model["list_cycles"] = prog.model.pop("cycles")
        prog.model.update(predict(prog))
        if several:         # (one DW: nothing to cut)
            prog.model["dw_split"] = split
        if cfg.ima.pooled:
            prog.model["ima_split"] = cut
        prog.model["wide_bands"] = wide
        stripes[id(prog)] = {k: prog.model.pop(f"{k}_stripes", 0) for k in ("wide", "narrow")}
        return prog

    def mixed(variants, best, choice):
        """Segments meet only at their barriers: each may take the choices (split,
        wide, cost, narrow, cut, seed, even) of the variant the model finds fastest
        for it.
        The mix and its choices if it beats ``best``, else ``best`` and ``choice``."""
        names = best.marks
        if len(variants) < 2 or any(p.marks != names for *_, p in variants) \
                or len(set(names)) != len(names):
            return best, choice
        t = [[b - a for a, b in zip([0, *m[:-1]], m)] for m in (p.model["marks"] for *_, p in variants)]
        pick = [min(range(len(variants)), key=lambda v: (t[v][i], v)) for i in range(len(names))]
        if len(set(pick)) == 1:
            *c, prog = variants[pick[0]]
            return (prog, tuple(c)) if prog.model["cycles"] < best.model["cycles"] else (best, choice)

        def of(c, n):       # a choice's value for segment n (one per segment, or one for all)
            return c.get(n) if isinstance(c, dict) else c
        mix = tuple({n: of(variants[v][k], n) for n, v in zip(names, pick)} for k in range(7))
        prog = listed(*mix)
        return (prog, mix) if prog.model["cycles"] < best.model["cycles"] else (best, choice)

    choice = None
    for cost in costs:
        for split in choices:
            for wide in (0, WIDE_EXTRA):
                prog = listed(split, wide, cost)
                kinds = stripes[id(prog)]
                variants.append((split, wide, cost, 0, False, 0, False, prog))
                if best is None or prog.model["cycles"] < best.model["cycles"]:
                    best, choice = prog, (split, wide, cost, 0, False, 0, False)
                # (and short stripes of narrow rows in a band more: a variant for the
                # per-segment choice below, where a segment has such stripes)
                if kinds["narrow"] and wide == 0:
                    p2 = listed(split, 0, cost, NARROW_EXTRA)
                    variants.append((split, 0, cost, NARROW_EXTRA, False, 0, False, p2))
                    if p2.model["cycles"] < best.model["cycles"]:
                        best, choice = p2, (split, 0, cost, NARROW_EXTRA, False, 0, False)
                if not kinds["wide"]:
                    break
    # segments meet only at their barriers: each may take the choices the model finds
    # fastest for it (MobileNetV2 224 on 4 IMAs sharing 34 arrays: b1, b3 and b12-b13
    # faster with their depthwise bands whole, the rest cut; model 1 142 655 -> 1 131 349;
    # the tail's 14-row stripes in a band more where faster: RTL 1 130 993 -> 1 126 534)
    best, choice = mixed(variants, best, choice)
    if cfg.ima.pooled and ima_split is None:
        # and the bands of layers with copies cut over the copies where faster (a
        # band's MVMs on all copies at once; more jobs for core 0 and the engines)
        cut = listed(*choice[:4], True)
        best, choice = mixed([(*choice[:4], False, 0, False, best), (*choice[:4], True, 0, False, cut)],
                             best, choice)
    elif ima_split:
        best = listed(*choice[:4], True)
        choice = (*choice[:4], True, 0, False)
    if refine:
        # the list scheduler is greedy: the chosen list ordered again from perturbed
        # estimates (fused.ORDER_JITTER), and the short narrow stripes in bands of an
        # even number of rows (a depthwise band cut over two DWs splits evenly);
        # each segment keeps its fastest
        again = [(*choice, best)] + [(*choice[:5], seed, choice[6], listed(*choice[:5], seed, choice[6]))
                                     for seed in ORDER_SEEDS]
        again.append((*choice[:6], True, listed(*choice[:6], True)))
        best, choice = mixed(again, best, choice)
    # and each segment's first jobs listed before the MARK of the one before, so that
    # they start while it drains (fused.compile_fused ``overlap``), where faster: it
    # costs core 0 waits where it bounds (the small network on the pool of 8)
    for k in OVERLAPS if refine else ():
        more = listed(*choice, overlap=k)
        if more.model["cycles"] < (1 - OVERLAP_GAIN) * best.model["cycles"]:
            best = more
            best.model["overlap"] = k
    best.choice = choice
    if merge:
        best.model["merged"] = sorted(merge, key=[n for n, _ in segments(lowered)].index)
    if any(best.job_waits(u) for u in best.units):
        # job waits: the walker hands waits to the HWPEs or waits for every job
        # itself.  The model overestimates what they save (RTL, docs/compiler.md "Job
        # waits": by 3 to 11 %, the extra overlap's bank conflicts are not in it), and
        # where core 0 bounds they cost: they are used where it says they save 5 %
        with_waits = best.model["cycles"]
        best.use_waits = False
        without = predict(best)
        if with_waits < 0.95 * without["cycles"]:
            best.use_waits = True
        else:
            # not used: the lists chosen again by the model without them (the one
            # the configuration without job waits gets)
            best = _compile(lowered, cfg, schedule, dw_split, check_copies, costs, waits=False,
                            ima_split=ima_split, refine=refine, merge=merge)
        best.model["job_waits_used"] = best.use_waits
    return best


# the fused list's choices (Program.choice, in this order) as compile_fused's arguments
CHOICES = ("split_dw", "wide_bands", "dw_cost", "narrow_bands", "split_ima", "order_seed",
           "even_bands")


def choice_args(choice: tuple) -> dict:
    """A choice tuple (split, wide, cost, narrow, cut, seed, even) as the keyword
    arguments of fused.compile_fused."""
    return dict(zip(CHOICES, choice))


def _merges(lowered, cfg, prog, check_copies=False) -> frozenset:
    """The blocks to merge into the segment after them (fused.compile_fused
    ``merge``), greedily in the network's order: each where the model says the
    job list with ``prog``'s choices is faster by MERGE_GAIN with it.  A segment
    ends in a barrier, so a block that leaves units idle (conv1 on 3 copies of 4
    IMAs, b5's single-copy layers) keeps them idle until the segment after it
    starts; merged, its layers and the next block's share the stripes and run
    at the same time.  It may not pay (L1 takes more stripes: MobileNetV2 224 on
    the 4-IMA pool with b2 and b3 merged is 17 % slower by the model), so the
    model decides."""
    from .fused import compile_fused, segments
    from .perf import predict

    def cycles(merge):
        try:
            p = compile_fused(lowered, cfg, **choice_args(prog.choice), merge=merge,
                              check_copies=check_copies)
        except MappingError:        # (L1 or L2 too small for it)
            return None
        p.use_waits = prog.use_waits
        return predict(p)["cycles"]

    merge = frozenset()
    best = cycles(merge)
    for name, _ in segments(lowered)[:-1]:
        t = cycles(merge | {name})
        if t is not None and t < best * (1 - MERGE_GAIN):
            merge, best = merge | {name}, t
    return merge


def _with_arrays(cfg: ClusterConfig, n: int) -> ClusterConfig:
    """``cfg`` with n arrays per IMA: one port each when the generator can give
    them, one bank port otherwise (ima.macro_ports)."""
    from imcc.gen.config import ConfigError
    try:
        return cfg.replace(ima={"arrays": n})
    except ConfigError:
        return cfg.replace(ima={"arrays": n, "macro_ports": "bank"})


def _l2_fits(cfg: ClusterConfig) -> ClusterConfig:
    """The largest L2 the address space leaves above its base (4 KiB multiple)."""
    room = (2**32 - cfg.l2.base) // 1024 // 4 * 4
    return cfg.replace(l2={"size_kib": min(room, 1024 * 1024)})
