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

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.sim.network import IMA_OPS, Layer, Network

from .tiling import Mapping, MatrixLayer, sweep, tile_and_pack

__all__ = ["matrices", "map_network", "place_network", "Placement", "lower", "Lowered",
           "rep_shape", "rep_options", "rep_weights", "replicate"]


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

    @property
    def placed(self) -> list:
        """(instance, tile) of every tile."""
        return [(i, t) for i, m in self.maps.items() for t in m.tiles]

    @property
    def tiles(self) -> list:
        return [t for _, t in self.placed]

    @property
    def arrays_used(self) -> int:
        """Arrays per IMA the placement needs (ima.arrays)."""
        return max(m.arrays_used for m in self.maps.values())

    @property
    def total_arrays(self) -> int:
        return sum(m.arrays_used for m in self.maps.values())

    @property
    def method(self) -> str:
        return "; ".join(f"{i}: {m.method}" for i, m in self.maps.items())

    def utilisation(self) -> list[float]:
        return [u for m in self.maps.values() for u in m.utilisation()]


def place_network(net: Network, cfg: ClusterConfig, instances: list[str],
                  max_arrays: int | None = None, replicate: bool = True) -> Placement:
    """IMA layers over ``instances``; each instance's layers are packed alone.

    Layers with many output pixels (at least 1/64 of the largest: they take the
    time) alternate in network order, so a block's expand and project compute
    at the same time; the others (few pixels, often many weights) go largest
    first to the instance with the fewest weights, balancing the arrays."""
    mats = matrices(net)
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
    until no move fits or helps."""
    R, C = cfg.ima.rows, cfg.ima.cols
    instances = list(placement.maps)
    mvm = cfg.ns_to_cycles(cfg.ima.mvm_ns) + 1
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

    def cells(L, k):
        r, c = rep_shape(net, L, k)
        return r * -(-c // 8) * 8

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
            moves = [({**reps, L.name: k}, copies, n0 * (cells(L, k) - cells(L, k0)),
                      f"{L.name}: {k} copies in its tile")
                     for k in rep_options(net, L, R, C) if k > k0]
            free = [i for i in instances if i not in copies[L.name]]
            if free:
                j = min(free, key=load.get)
                moves.append((reps, {**copies, L.name: copies[L.name] + [j]}, cells(L, k0),
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
