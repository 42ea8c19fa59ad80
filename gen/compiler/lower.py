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

from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.sim.network import IMA_OPS, Layer, Network

from .tiling import Mapping, MatrixLayer, tile_and_pack

__all__ = ["matrices", "map_network", "place_network", "Placement", "lower", "Lowered"]


def matrices(net: Network) -> list[MatrixLayer]:
    """The weight matrices of the network's IMA layers (rows k*k*cin, cols cout)."""
    out = []
    for L in net.layers:
        if L.op in IMA_OPS:
            cin = net.shapes[L.inputs[0]][2]
            cout = net.shapes[L.output][2]
            # a k x k conv's row tiles would cut its im2col rows; keep it whole
            q = L.k * L.k * cin if L.op == "conv" else 1
            out.append(MatrixLayer(L.name, L.k * L.k * cin, cout, row_quantum=q))
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

    def instance(self, layer: str) -> str:
        return self.where[layer]

    def instances(self, layer: str) -> list[str]:
        """Every instance holding the layer's weights (replicas share its bands)."""
        return self.replicas.get(layer, [self.where[layer]])

    def of(self, layer: str):
        return self.maps[self.where[layer]].of(layer)

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
        whole = tile_and_pack(mats, cfg.ima.rows, cfg.ima.cols, max_arrays=max_arrays)
        spread = place_network(net, cfg, instances, max_arrays, replicate=False)
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
