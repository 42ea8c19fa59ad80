"""From a network to the ops that really run: Tile&Pack of the IMA layers
onto the configuration's arrays, and the split of layers cut along their
input rows into partial layers and the adds that combine them.

A layer whose weight matrix has more rows than an array is computed as one
``pw`` op per row tile (``cin`` = the input channels it reads), each
requantised by the ADC on its own with the layer's gain and shift and full
int8 clip range, then added up on the DW accelerator's element-wise add
(sa = sb = 1, shift 0; the last add applies the layer's clip range):

    p_j = clip(round_shift(acc_j * gain, shift), -128, 127)
    s_1 = clip(p_0 + p_1, -128, 127), ..., y = clip(s_{n-2} + p_{n-1}, lo, hi)

(the golden model runs exactly these ops; the rounding of each partial is
the price of reducing in the digital domain after one ADC per tile).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.sim.network import IMA_OPS, Layer, Network

from .tiling import Mapping, MatrixLayer, Tile, sweep, tile_and_pack

__all__ = ["matrices", "map_network", "place_network", "Placement", "lower", "Lowered",
           "rep_shape", "rep_options", "rep_weights", "replicate", "replicate_pool",
           "RESERVE_LAYOUTS"]


def rep_shape(net: Network, L: Layer, k: int) -> tuple[int, int]:
    """(rows, cols) of layer L's weight matrix with k copies, one per consecutive
    output pixel of a row: a 1x1 layer's copies on the diagonal (k*cin x k*cout);
    a k_h x k_w convolution of stride s reads a window k_h x (k_w + (k-1)s) of the
    input and each copy sits at its pixel's columns of it."""
    cin, cout = net.shapes[L.inputs[0]][2], net.shapes[L.output][2]
    if L.op == "conv":
        return L.k * (L.k + (k - 1) * L.stride) * cin, k * cout
    return k * cin, k * cout


def rep_options(net: Network, L: Layer, rows: int, cols: int) -> list[int]:
    """The copy counts k > 1 layer L may take in an array of rows x cols: k divides
    the output width (a job's steps are groups of k pixels of one row, so a row
    never ends inside a group), the copies fit one array (no row cut, no partial
    sums), and the input is whole (not a row tile of a split layer)."""
    if L.op not in IMA_OPS or L.cin is not None:
        return []
    wo = net.shapes[L.output][1]
    return [k for k in range(2, wo + 1) if wo % k == 0
            and rep_shape(net, L, k)[0] <= rows and rep_shape(net, L, k)[1] <= cols]


def rep_weights(L: Layer, k: int) -> np.ndarray:
    """Layer L's weight matrix with k copies (see :func:`rep_shape`); k = 1: its own."""
    w = np.asarray(L.w)
    if k == 1:
        return w.reshape(-1, w.shape[-1])
    if L.op == "conv":
        kh, kw, cin, cout = w.shape
        ww = kw + (k - 1) * L.stride
        out = np.zeros((kh, ww, cin, k, cout), w.dtype)
        for j in range(k):                      # pixel j reads window columns j*s ..
            out[:, j * L.stride:j * L.stride + kw, :, j, :] = w
        return out.reshape(kh * ww * cin, k * cout)
    return np.kron(np.eye(k, dtype=w.dtype), w.reshape(-1, w.shape[-1]))


def matrices(net: Network, reps: dict[str, int] | None = None) -> list[MatrixLayer]:
    """The weight matrices of the network's IMA layers (rows k*k*cin, cols cout),
    with ``reps[layer]`` copies where given."""
    out = []
    for L in net.layers:
        if L.op in IMA_OPS:
            r = (reps or {}).get(L.name, 1)
            rows, cols = rep_shape(net, L, r)
            # a k x k conv's row tiles would cut its im2col rows; keep it whole
            q = rows if L.op == "conv" else 1
            out.append(MatrixLayer(L.name, rows, cols, row_quantum=q))
    return out


def map_network(net: Network, cfg: ClusterConfig, max_arrays: int | None = None) -> Mapping:
    """Tile&Pack the IMA layers onto ``cfg``'s arrays (ima.rows x ima.cols)."""
    return tile_and_pack(matrices(net), cfg.ima.rows, cfg.ima.cols, max_arrays=max_arrays)


@dataclasses.dataclass
class Placement:
    """The IMA layers over the IMA instances, each instance's layers packed onto
    its own arrays (one instance: the whole network's Tile&Pack)."""
    maps: dict[str, Mapping]        # instance -> its mapping
    where: dict[str, str]           # layer -> instance (the first, when replicated)
    replicas: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    reps: dict[str, int] = dataclasses.field(default_factory=dict)   # copies inside an array
    # ima.macro_ports = "pool": one mapping of the shared arrays, every instance's; a
    # layer's further copies in the pool are tiles of the layers ``name@1``, ``name@2``
    pool: bool = False
    copies: dict[str, int] = dataclasses.field(default_factory=dict)

    def instance(self, layer: str) -> str:
        return self.where[layer]

    def instances(self, layer: str) -> list[str]:
        """Every instance holding the layer's weights (replicas share its bands)."""
        return self.replicas.get(layer, [self.where[layer]])

    def rep(self, layer: str) -> int:
        """Copies of the layer in its tiles: one MVM serves this many pixels of a row."""
        return self.reps.get(layer, 1)

    def of(self, layer: str, instance: str | None = None):
        """The layer's tiles on ``instance`` (default: its first); replicas on
        other instances may be packed differently."""
        return self.maps[instance or self.where[layer]].of(layer)

    def row_cuts(self, layer: str) -> list[tuple[int, int]]:
        return self.maps[self.where[layer]].row_cuts(layer)

    def _own(self) -> list:
        """(instance, mapping) of each distinct mapping: a pool's once, under the first."""
        return list(self.maps.items())[:1] if self.pool else list(self.maps.items())

    @property
    def placed(self) -> list:
        """(instance, tile) of every tile (a pool's under the first instance)."""
        return [(i, t) for i, m in self._own() for t in m.tiles]

    @property
    def tiles(self) -> list:
        return [t for _, t in self.placed]

    @property
    def arrays_used(self) -> int:
        """Arrays per IMA the placement needs (ima.arrays)."""
        return max(m.arrays_used for m in self.maps.values())

    def n_copies(self, layer: str) -> int:
        """A pool: the layer's copies on different arrays (jobs take them in turn)."""
        return self.copies.get(layer, 1)

    def copy_of(self, layer: str, c: int) -> list:
        """A pool: the tiles of the layer's copy c (0: the layer's own)."""
        return self.maps[self.where[layer]].of(layer if c == 0 else f"{layer}@{c}")

    @property
    def total_arrays(self) -> int:
        if self.pool:
            return self.arrays_used
        return sum(m.arrays_used for m in self.maps.values())

    @property
    def method(self) -> str:
        return "; ".join(f"{i}: {m.method}" for i, m in self._own())

    def utilisation(self) -> list[float]:
        return [u for _, m in self._own() for u in m.utilisation()]


def place_network(net: Network, cfg: ClusterConfig, instances: list[str],
                  max_arrays: int | None = None, replicate: bool = True) -> Placement:
    """IMA layers over ``instances``; each instance's layers are packed alone.

    Layers with many output pixels (at least 1/64 of the largest: they take the
    time) alternate in network order, so a block's expand and project compute
    at the same time; the others (few pixels, often many weights) go largest
    first to the instance with the fewest weights, balancing the arrays.

    A pool of arrays (``ima.macro_ports = "pool"``): one Tile&Pack of the whole
    network onto the pool, every instance reaching every layer (the fused
    schedule gives each job the instance that frees first)."""
    mats = matrices(net)
    if cfg.ima.pooled:
        whole = tile_and_pack(mats, cfg.ima.rows, cfg.ima.cols, max_arrays=max_arrays)
        return _pool(whole, instances, mats, {}, {})
    if replicate and len(instances) > 1:
        # every instance holds every layer when that costs no array more than
        # spreading them: the instances then share every layer's bands
        spread = place_network(net, cfg, instances, max_arrays, replicate=False)
        try:
            whole = tile_and_pack(mats, cfg.ima.rows, cfg.ima.cols, max_arrays=max_arrays)
        except MappingError:        # every layer on one instance: more than max_arrays
            return spread
        if whole.arrays_used <= spread.arrays_used:
            return Placement({i: whole for i in instances}, {m.name: instances[0] for m in mats},
                             {m.name: list(instances) for m in mats})
        return spread
    pixels = {m.name: net.shapes[m.name][0] * net.shapes[m.name][1] for m in mats}
    top = max(pixels.values(), default=1)
    where, cells = {}, dict.fromkeys(instances, 0)
    busy = [m for m in mats if pixels[m.name] * 64 >= top]
    for i, m in enumerate(busy):
        where[m.name] = instances[i % len(instances)]
        cells[where[m.name]] += m.rows * m.cols
    for m in sorted((m for m in mats if m.name not in where), key=lambda m: -m.rows * m.cols):
        where[m.name] = min(instances, key=lambda i: cells[i])
        cells[where[m.name]] += m.rows * m.cols
    maps = {}
    for inst in instances:
        mine = [m for m in mats if where[m.name] == inst]
        if mine:
            maps[inst] = tile_and_pack(mine, cfg.ima.rows, cfg.ima.cols, max_arrays=max_arrays)
    return Placement(maps, where)


def _pool(whole: Mapping, instances: list[str], mats, reps: dict, copies: dict) -> Placement:
    names = {m.name.split("@")[0] for m in mats}
    return Placement({i: whole for i in instances}, dict.fromkeys(names, instances[0]),
                     {n: list(instances) for n in names} if len(instances) > 1 else {},
                     {k: v for k, v in reps.items() if v > 1}, pool=True,
                     copies={k: v for k, v in copies.items() if v > 1})


# Bands the Tile&Pack sweep of the cold layers keeps free for the hot copies, as
# (rows as a share of the array's, how many), each the array's full width: the
# sweep packs them as placeholders and drops them, so the free space is a few
# full-width bands on several arrays (the expands' copies are a few rows of many
# columns) rather than whatever strips the cold layers leave.  () is the plain
# sweep.  MobileNetV2 224 on 4 IMAs sharing 34 arrays with job waits, model:
# 1 256 083 cycles plain, 1 223 222 with two bands of a quarter and four of an
# eighth, 1 228 031 with four of a quarter (compile_network keeps the fastest by
# the model); three of a quarter and four of an eighth (copies of conv1 x 4,
# b2.project x 3, b3.expand x 3): RTL 1 228 414 -> 1 212 491 cycles.
RESERVE_LAYOUTS: tuple[tuple[tuple[float, int], ...], ...] = (
    (), ((1 / 4, 2), (1 / 8, 4)), ((1 / 4, 3), (1 / 8, 4)))
RESERVED = "reserved band "     # the placeholders' names (no layer name has a space)


def replicate_pool(net: Network, cfg: ClusterConfig, placement: Placement, budget: int,
                   *, log=None, tries: int = 3, reserve: tuple[tuple[float, int], ...] = (),
                   exchange: bool = True) -> Placement | None:
    """:func:`replicate` for a pool of ``budget`` arrays that every instance
    reaches: k copies of a layer inside its tile (one MVM serves k pixels), and
    n copies of that tile on different arrays (``name@c``: the layer's bands
    take them in turn, so n instances compute it at the same time).

    The cold layers (few pixels, most of the weights) are packed by the
    Tile&Pack sweep; the hot ones (more than 1/64 of the most pixels, one tile
    each) and their copies go into the free space left (:func:`_place_copy`:
    the sweep's packings leave strips on many arrays that the small hot tiles
    fill), each on an array without its layer and with the least of its
    segment's MVMs.

    First-order cost: segments one after another, each taking the longest of
    its MVMs spread over the E instances (the engines), its busiest array's
    MVMs (an array computes one MVM at a time) and its depthwise MACs over the
    DW instances, plus a twentieth of the MVMs on each layer's busiest array
    (at equal bounds, a layer on more arrays lets consecutive bands compute at
    the same time).  Coordinate descent, hottest layer first: each layer takes
    the (k, n) that lowers the cost most with its copies placed afresh (on a
    tie, the fewer cells), and each segment's hot layers try one more copy
    together (one alone may only move the busiest array), until a pass
    changes nothing.  With ``exchange``, such a pass then also tries one copy
    fewer of a layer for one more of another (the room of a copy worth little
    goes to one worth more), and the result's tiles of the same shape swap
    arrays where that lowers the cost (:func:`_swap_same_shapes`).  The
    ``tries`` packings of the cold layers that start fastest are each tried."""
    R, C = cfg.ima.rows, cfg.ima.cols
    instances = list(placement.maps)
    E, D = len(instances), max(1, cfg.dw.instances)
    mvm = cfg.ns_to_cycles(cfg.ima.mvm_ns)
    dw_rate = max(1.0, 0.8 * cfg.dw.macs)
    pixels = {L.name: net.shapes[L.output][0] * net.shapes[L.output][1]
              for L in net.layers if L.op in IMA_OPS}
    segs: dict[str, list[Layer]] = {}
    for L in net.layers:
        segs.setdefault(_segment(L.name), []).append(L)
    top = max(pixels.values(), default=1)
    hot = [L for L in net.layers if L.name in pixels and pixels[L.name] * 64 > top
           and rep_shape(net, L, 1)[0] <= R and rep_shape(net, L, 1)[1] <= C]
    hot_names = {L.name for L in hot}
    seg_dw = {n: sum(math.prod(net.shapes[L.output]) * 9 / dw_rate for L in Ls if L.op == "dw") / D
              for n, Ls in segs.items()}

    def total(m: Mapping, reps: dict, copies: dict) -> float:
        out = 0.0
        for n, Ls in segs.items():
            arrays: dict[int, float] = {}
            per_copy = []
            for L in Ls:
                if L.op not in IMA_OPS:
                    continue
                k = copies.get(L.name, 1)
                w = pixels[L.name] / reps.get(L.name, 1) / k * mvm
                mine: dict[int, float] = {}
                for c in range(k):
                    for t in m.of(L.name if c == 0 else f"{L.name}@{c}"):
                        arrays[t.array] = arrays.get(t.array, 0.0) + w
                        mine[t.array] = mine.get(t.array, 0.0) + w
                per_copy.append(max(mine.values(), default=0.0))
            work = sum(arrays.values())
            # (+ a twentieth of each layer's MVMs on its busiest array: at equal bounds,
            # a layer on more arrays lets consecutive bands compute at the same time)
            out += max(work / E, max(arrays.values(), default=0.0), seg_dw[n]) \
                + 0.05 * sum(per_copy)
        return out

    def place(m, name, reps, n):
        """m with the layer's n copies (k = reps[name]) placed afresh; None: no room."""
        m = dataclasses.replace(m, tiles=[t for t in m.tiles if t.layer.split("@")[0] != name])
        for c in range(n):
            m = m and _place_copy(m, net, name, c, reps, budget, pixels)
        return m

    cold = [x for x in matrices(net) if x.name not in hot_names]
    heights = [max(1, round(f * R)) for f, _ in reserve]
    bands = [MatrixLayer(f"{RESERVED}{i}.{j}", heights[i], C)
             for i, (_, n) in enumerate(reserve) for j in range(n)]
    none = None if reserve else placement
    if reserve and not cold:
        return none
    try:
        starts = [a.mapping for a in sweep(cold + bands, R, C, stop_at_bound=False)
                  if a.arrays <= budget] if cold else [Mapping([], R, C, 0, "none")]
    except MappingError:
        return none
    if bands:
        what = ", ".join(f"{n} x {h} rows" for h, (_, n) in zip(heights, reserve))
        starts = [dataclasses.replace(m, tiles=[t for t in m.tiles if not t.layer.startswith(RESERVED)],
                                      method=f"{m.method}, bands kept free ({what})") for m in starts]
    firsts = []
    for m in starts:
        for L in sorted(hot, key=lambda L: -pixels[L.name]):
            m = m and _place_copy(m, net, L.name, 0, {}, budget, pixels)
        if m is not None:
            firsts.append(m)
    if not firsts:
        return none
    best = None
    for m in sorted(firsts, key=lambda m: total(m, {}, {}))[:tries]:
        reps: dict[str, int] = {}
        copies: dict[str, int] = {}
        now = total(m, reps, copies)
        for _ in range(4):      # passes of coordinate descent over the hot layers
            before = now
            for L in sorted(hot, key=lambda L: -pixels[L.name]):
                k0, n0 = reps.get(L.name, 1), copies.get(L.name, 1)
                for k in [1] + rep_options(net, L, R, C):
                    for n in range(1, E + 1):
                        if (k, n) == (k0, n0):
                            continue
                        r2, c2 = {**reps, L.name: k}, {**copies, L.name: n}
                        m2 = place(m, L.name, r2, n)
                        if m2 is None:
                            continue
                        new = total(m2, r2, c2)
                        # fewer cells on a tie: room for the next layers
                        if new < now - 1 or (new <= now and n * cells(net, L, k)
                                             < copies.get(L.name, 1) * cells(net, L, reps.get(L.name, 1))):
                            now, m, reps, copies = new, m2, r2, c2
            # a segment's hot layers one more copy each at once (one alone may only
            # move the busiest array: a copy of the expand lands beside the project)
            for Ls in segs.values():
                mine = [L for L in Ls if L.name in hot_names]
                if len(mine) < 2:
                    continue
                c2, m2 = dict(copies), m
                if any(copies.get(L.name, 1) >= E for L in mine):
                    continue
                for L in mine:
                    c2[L.name] = copies.get(L.name, 1) + 1
                for L in mine:
                    m2 = m2 and place(m2, L.name, reps, c2[L.name])
                if m2 is not None and total(m2, reps, c2) < now - 1:
                    now, m, copies = total(m2, reps, c2), m2, c2
            if now >= before - 1 and exchange:
                # an exchange: one copy fewer of a layer for one more of another (the
                # descent above moves one layer at a time, so a copy that takes the
                # room another layer's copy would use better stays)
                for X in hot:
                    nx = copies.get(X.name, 1)
                    if nx < 2:
                        continue
                    for Y in hot:
                        ny = copies.get(Y.name, 1)
                        if Y is X or ny >= E:
                            continue
                        c2 = {**copies, X.name: nx - 1, Y.name: ny + 1}
                        m2 = place(m, X.name, reps, nx - 1)
                        m2 = m2 and place(m2, Y.name, reps, ny + 1)
                        if m2 is not None:
                            new = total(m2, reps, c2)
                            if new < now - 1:
                                now, m, copies = new, m2, c2
                                nx = copies[X.name]
                                if nx < 2:
                                    break
            if now >= before - 1:
                break
        if exchange:
            m, now = _swap_same_shapes(m, lambda m2: total(m2, reps, copies), now)
        if best is None or now < best[0]:
            best = (now, m, reps, copies)
    now, m, reps, copies = best
    if log:
        log(f"replicate (pool of {budget}, {E} IMAs): {now:.0f} cycles (first-order model, "
            f"segments one after another); copies inside {reps}, on other arrays {copies}")
    m = dataclasses.replace(m, tiles=sorted(m.tiles, key=lambda t: (t.array, t.acol, t.arow)),
                            arrays_used=max((t.array for t in m.tiles), default=-1) + 1,
                            method=f"{m.method}; hot layers and their copies placed in the rest")
    return _pool(m, instances, matrices(net), reps, copies)


def _swap_same_shapes(m: Mapping, cost, now: float) -> tuple[Mapping, float]:
    """``m`` with tiles of the same shape on different arrays swapped wherever that
    lowers ``cost`` (the packers place tiles without knowing which layers compute
    at the same time: two tiles of one block may share an array, which then takes
    their MVMs in turn); swaps keep the packing valid.  Greedy, until none helps."""
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(m.tiles):
        by_shape.setdefault((t.rows, t.cols), []).append(i)
    for _ in range(4):
        better = False
        for idx in by_shape.values():
            for x in range(len(idx)):
                for y in range(x + 1, len(idx)):
                    a, b = m.tiles[idx[x]], m.tiles[idx[y]]
                    if a.array == b.array:
                        continue
                    tiles = list(m.tiles)
                    tiles[idx[x]] = dataclasses.replace(a, array=b.array, arow=b.arow, acol=b.acol)
                    tiles[idx[y]] = dataclasses.replace(b, array=a.array, arow=a.arow, acol=a.acol)
                    m2 = dataclasses.replace(m, tiles=tiles)
                    new = cost(m2)
                    if new < now - 1:
                        m, now, better = m2, new, True
        if not better:
            break
    return m, now


def cells(net: Network, L: Layer, k: int) -> int:
    """Crossbar cells of layer L with k copies inside its tile (whole col-groups)."""
    r, c = rep_shape(net, L, k)
    return r * -(-c // 8) * 8


def _place_copy(m: Mapping, net: Network, name: str, c: int, reps: dict, budget: int,
                pixels: dict) -> Mapping | None:
    """``m`` with copy c of layer ``name`` (one tile; ``name@c``, c = 0: ``name``) in
    free space of the array, within ``budget``, that holds no tile of the layer
    (if any has room) and the fewest MVMs of its segment (then the fewest free
    cells: the best fit); None when none has room."""
    R, C, ca = m.rows, m.cols, 8
    L = net.layer(name)
    h, w = rep_shape(net, L, reps.get(name, 1))
    u = -(-w // ca)
    busy = np.zeros((budget, R, C // ca), bool)
    load = np.zeros(budget)
    held = set()
    seg = _segment(name)
    for t in m.tiles:
        busy[t.array, t.arow:t.arow + t.rows, t.acol // ca:(t.acol + t.cols + ca - 1) // ca] = True
        base = t.layer.split("@")[0]
        if base == name:
            held.add(t.array)
        if _segment(base) == seg:
            load[t.array] += pixels[base] / reps.get(base, 1)
    room = (~busy).sum(axis=(1, 2))
    # an array holding the layer only when no other has room (then the copies take
    # turns on it: no faster, but the choice being tried still packs)
    for a in sorted(range(budget), key=lambda a: (a in held, load[a], room[a], a)):
        if room[a] < h * u:         # (most arrays are full: skip the prefix sums)
            continue
        # free h x u blocks: a 2-D prefix sum of the busy cells
        s = np.pad(busy[a].cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        used = s[h:, u:] - s[:-h, u:] - s[h:, :-u] + s[:-h, :-u]
        free = np.argwhere(used == 0)
        if len(free):
            r0, g0 = (int(v) for v in free[0])
            t = Tile(name if c == 0 else f"{name}@{c}", 0, h, 0, w, a, r0, g0 * ca)
            return Mapping(m.tiles + [t], R, C, max(m.arrays_used, a + 1), m.method)
    return None


def _segment(name: str) -> str:
    return name.split(".")[0] if "." in name else name


def replicate(net: Network, cfg: ClusterConfig, placement: Placement, budget: int,
              *, log=None) -> Placement:
    """Spend the arrays a placement leaves free (up to ``budget`` per instance) on
    the layers that bound the latency: k copies of a layer inside its tile (one MVM
    serves k pixels, :func:`rep_options`) or a copy on another instance (the
    instances take its bands in turn).

    The cost is the fused schedule's first-order model: segments (blocks) run one
    after another and take the longest of their IMA instances' MVMs (each layer's
    pixels / copies inside x tiles / instances holding it) and their DW's MACs.
    Greedy: every segment's busiest instance's heaviest layer proposes its moves
    (more copies inside, one more instance); the move saving the most cycles per
    weight cell added that still packs in ``budget`` arrays per instance is taken,
    until no move fits or helps.  A pool: :func:`replicate_pool`."""
    if placement.pool:
        return replicate_pool(net, cfg, placement, budget, log=log)
    R, C = cfg.ima.rows, cfg.ima.cols
    instances = list(placement.maps)
    mvm = cfg.ns_to_cycles(cfg.ima.mvm_ns)
    dw_rate = max(1.0, 0.8 * cfg.dw.macs)
    ima = [L for L in net.layers if L.op in IMA_OPS]
    reps = dict(placement.reps)
    copies = {L.name: list(placement.instances(L.name)) for L in ima}
    maps = dict(placement.maps)
    packed: dict[tuple, Mapping | None] = {}
    failed: set[tuple] = set()
    pixels = {L.name: net.shapes[L.output][0] * net.shapes[L.output][1] for L in ima}
    segs = list(dict.fromkeys(_segment(L.name) for L in net.layers))

    def pack(inst, reps_, copies_):
        mine = tuple((L.name, reps_.get(L.name, 1)) for L in ima if inst in copies_[L.name])
        if mine not in packed:
            names = dict(mine)
            # of the packings within the budget, the one with the fewest MVMs (a
            # layer cut into more column tiles runs its pixels once per tile)
            try:
                fits = [a.mapping for a in sweep([x for x in matrices(net, names) if x.name in names],
                                                 R, C) if a.arrays <= budget]
            except MappingError:
                fits = []
            m = min(fits, key=lambda m: (sum(pixels[t.layer] / names[t.layer] for t in m.tiles),
                                         m.arrays_used), default=None)
            if m is not None:
                m.tiles.sort(key=lambda t: (t.array, t.acol, t.arow))
            packed[mine] = m
        return packed[mine]

    def seg_cost(seg, reps_, copies_, maps_):
        load = dict.fromkeys(instances, 0.0)
        dw = 0.0
        for L in net.layers:
            if _segment(L.name) != seg:
                continue
            h, w, c = net.shapes[L.output]
            if L.op in IMA_OPS:
                n = len(copies_[L.name])
                for i in copies_[L.name]:
                    t = len(maps_[i].of(L.name)) if i in maps_ else len(maps_[copies_[L.name][0]].of(L.name))
                    load[i] += h * w / reps_.get(L.name, 1) * t / n * mvm
            elif L.op == "dw":
                dw += h * w * c * 9 / dw_rate
        return max(max(load.values()), dw), load

    def total(reps_, copies_, maps_):
        return sum(seg_cost(seg, reps_, copies_, maps_)[0] for seg in segs)

    now = total(reps, copies, maps)
    for _ in range(200):
        cands = []
        for seg in segs:
            cost, load = seg_cost(seg, reps, copies, maps)
            inst = max(load, key=load.get)
            if load[inst] < cost:           # DW-bound: no IMA move helps
                continue
            mine = [L for L in ima if _segment(L.name) == seg and inst in copies[L.name]
                    and L.rows <= R]
            if not mine:
                continue
            L = max(mine, key=lambda L: net.shapes[L.output][0] * net.shapes[L.output][1]
                    / reps.get(L.name, 1) * len(maps[inst].of(L.name)) / len(copies[L.name]))
            k0, n0 = reps.get(L.name, 1), len(copies[L.name])
            moves = [({**reps, L.name: k}, copies, n0 * (cells(net, L, k) - cells(net, L, k0)),
                      f"{L.name}: {k} copies in its tile")
                     for k in rep_options(net, L, R, C) if k > k0]
            free = [i for i in instances if i not in copies[L.name]]
            if free:
                j = min(free, key=load.get)
                moves.append((reps, {**copies, L.name: copies[L.name] + [j]}, cells(net, L, k0),
                              f"{L.name}: a copy on {j}"))
            for r2, c2, added, what in moves:
                if (L.name, what) in failed:
                    continue
                new, _ = seg_cost(seg, r2, c2, maps)
                if new < cost:
                    cands.append(((cost - new) / max(added, 1), seg, cost, L, r2, c2, what))
        done = None
        for score, seg, cost, L, r2, c2, what in sorted(cands, key=lambda c: -c[0]):
            m2 = dict(maps)
            for i in c2[L.name]:            # only the instances holding L change
                m = pack(i, r2, c2)
                if m is None or m.arrays_used > budget:
                    failed.add((L.name, what))
                    break
                m2[i] = m
            else:
                # repacking may cut other layers of these instances into more tiles
                new = total(r2, c2, m2)
                if new < now:
                    done = (new, r2, c2, m2, what)
                    break
                failed.add((L.name, what))
        if done is None:
            break
        if log:
            log(f"replicate {done[-1]}: {now:.0f} -> {done[0]:.0f} cycles (model)")
        now, reps, copies, maps, _ = done
    where = {L.name: copies[L.name][0] for L in ima}
    reps = {k: v for k, v in reps.items() if v > 1}
    return Placement(maps, where, {k: v for k, v in copies.items() if len(v) > 1}, reps)


@dataclasses.dataclass
class Lowered:
    """The ops that run (a network), the original layer of each op, and the mapping."""
    net: Network
    origin: dict[str, str]          # op name -> layer name of the source network
    mapping: Placement

    def ops_of(self, layer: str) -> list[Layer]:
        return [L for L in self.net.layers if self.origin[L.name] == layer]


def lower(net: Network, mapping: Placement) -> Lowered:
    """Split every IMA layer with more than one row tile (see the module doc)."""
    layers, shapes, origin = [], dict(net.shapes), {}
    for L in net.layers:
        cuts = mapping.row_cuts(L.name) if L.op in IMA_OPS else []
        if len(cuts) <= 1:
            layers.append(L)
            origin[L.name] = L.name
            continue
        if L.op != "pw":
            raise MappingError(f"{L.name}: a {L.op} layer cannot be split along its input rows")
        parts = []
        for j, (r0, r1) in enumerate(cuts):
            p = dataclasses.replace(L, name=f"{L.name}.p{j}", output=f"{L.name}.p{j}",
                                    cin=(r0, r1), w=L.w[r0:r1], lo=-128, hi=127)
            parts.append(p)
            shapes[p.output] = net.shapes[L.output]
        adds, acc = [], parts[0].output
        for j in range(1, len(parts)):
            last = j == len(parts) - 1
            name = L.name if last else f"{L.name}.s{j}"
            adds.append(Layer(name, "add", (acc, parts[j].output), L.output if last else name,
                              unit="dw", sa=1, sb=1, shift=0,
                              lo=L.lo if last else -128, hi=L.hi if last else 127))
            if not last:
                shapes[name] = net.shapes[L.output]
            acc = adds[-1].output
        # the final add keeps the layer's name and output tensor
        for op in parts + adds:
            origin[op.name] = L.name
        layers += parts + adds
    return Lowered(dataclasses.replace(net, layers=layers, shapes=shapes), origin, mapping)
