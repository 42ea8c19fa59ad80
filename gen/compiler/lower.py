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

__all__ = ["matrices", "map_network", "lower", "Lowered"]


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
class Lowered:
    """The ops that run (a network), the original layer of each op, and the mapping."""
    net: Network
    origin: dict[str, str]          # op name -> layer name of the source network
    mapping: Mapping

    def ops_of(self, layer: str) -> list[Layer]:
        return [L for L in self.net.layers if self.origin[L.name] == layer]


def lower(net: Network, mapping: Mapping) -> Lowered:
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
