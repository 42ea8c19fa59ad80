"""ResNet-18 (He et al. 2016, ImageNet, 224 x 224) as data, in the layer
description of sim/network.py, for the partitioner (gen/compiler/partition.py).

Only shapes are described (no weights): the partitioner needs each IMA layer's
weight matrix (rows k*k*cin, columns cout) and each tensor's size.

* ``conv1``: 7x7 stride 2 pad 3, 3 -> 64 (147 crossbar rows), ReLU;
* ``pool``: the 3x3 stride-2 max-pool is not an op of the cluster's
  accelerators: it is described as op ``maxpool`` on the cores (the partition
  cost model gives it a stated core cost, docs/partition.md);
* four stages of two basic blocks: 3x3 conv (stride 2 at the first block of
  stages 2..4), 3x3 conv, residual ``add`` with ReLU; the stride-2 blocks'
  shortcut is a 1x1 stride-2 conv (``ds``, op ``conv`` with k = 1), after the
  paper's option B.  The 3x3 convolutions run on the IMA through im2col:
  rows 9*cin, up to 4608, so they are cut along their rows into several tiles
  (partial sums added on the DW, as the compiler does for 1x1 layers);
* ``avgpool``: the global 7x7 average on the cores (op ``avgpool``);
* ``fc``: the classifier, a 512 x 1000 ``pw`` on a 1x1 tensor.

The golden model (Network.run) does not know ``maxpool``/``avgpool``: this
description is for mapping and partitioning, not for simulation.
"""

from __future__ import annotations

from imcc.sim.network import Layer, Network

__all__ = ["resnet18", "STAGES18"]

# (output channels, first stride) of ResNet-18's four stages, two basic blocks each
STAGES18 = ((64, 1), (128, 2), (256, 2), (512, 2))


def resnet18(resolution: int = 224, classes: int = 1000) -> Network:
    """ResNet-18 for a square input of ``resolution`` (a multiple of 32)."""
    if not isinstance(resolution, int) or resolution < 32 or resolution % 32:
        raise ValueError(f"input resolution {resolution!r}: a multiple of 32 from 32 is needed")
    h = resolution // 2
    shapes = {"input": (resolution, resolution, 3), "conv1": (h, h, 64)}
    layers = [Layer("conv1", "conv", ("input",), "conv1", k=7, stride=2, pad=3, lo=0)]
    h //= 2
    layers.append(Layer("pool", "maxpool", ("conv1",), "pool", k=3, stride=2, pad=1,
                        unit="cores"))
    shapes["pool"] = (h, h, 64)
    src, cin = "pool", 64
    for s, (c, stride0) in enumerate(STAGES18, start=1):
        for b in range(2):
            stride = stride0 if b == 0 else 1
            n = f"l{s}.{b}"
            ho = (h - 1) // stride + 1
            layers.append(Layer(f"{n}.conv1", "conv", (src,), f"{n}.conv1", k=3, stride=stride,
                                pad=1, lo=0))
            shapes[f"{n}.conv1"] = (ho, ho, c)
            layers.append(Layer(f"{n}.conv2", "conv", (f"{n}.conv1",), f"{n}.conv2", k=3,
                                stride=1, pad=1))
            shapes[f"{n}.conv2"] = (ho, ho, c)
            short = src
            if stride != 1 or cin != c:
                layers.append(Layer(f"{n}.ds", "conv", (src,), f"{n}.ds", k=1, stride=stride))
                shapes[f"{n}.ds"] = (ho, ho, c)
                short = f"{n}.ds"
            layers.append(Layer(f"{n}.add", "add", (f"{n}.conv2", short), f"{n}.add",
                                unit="dw", lo=0))
            shapes[f"{n}.add"] = (ho, ho, c)
            src, cin, h = f"{n}.add", c, ho
    layers.append(Layer("avgpool", "avgpool", (src,), "avgpool", k=h, unit="cores"))
    shapes["avgpool"] = (1, 1, cin)
    layers.append(Layer("fc", "pw", ("avgpool",), "fc"))
    shapes["fc"] = (1, 1, classes)
    return Network("resnet18", "input", shapes, layers, meta={"resolution": resolution})
