"""A network larger than the chip, run as the partitioner planned it
(gen/compiler/partition.py): group after group, the group's tiles written
into the arrays by PROGRAM jobs (packed weights from L2 through the DMA),
then its layers with the ``layer`` schedule; every tensor lives in L2, so a
group's outputs and the residual tensors still needed wait there for the
next group.  One input (batch 1): the RTL check of the partitioner's model.
"""

from __future__ import annotations

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.sim.network import Network
from imcc.sim.weight_image import WeightImage

from .lower import Placement, lower
from .network import Compiled, _l2_fits
from .program import compile_layers
from .tiling import Mapping

__all__ = ["compile_partitioned"]


def compile_partitioned(net: Network, x: np.ndarray, cfg: ClusterConfig, plan) -> Compiled:
    """``plan``: a :class:`~imcc.gen.compiler.partition.Plan` for ``net`` on ``cfg``'s
    arrays (``ima.arrays`` = the plan's); the arrays start empty."""
    if any("." in u and u.rsplit(".", 1)[1].startswith("c") and u not in
           {L.name for L in net.layers} for g in plan.groups for u in g):
        raise MappingError("the plan splits a layer larger than the chip into chunks, which "
                           "the compiler does not run yet")
    if cfg.ima.arrays < plan.arrays:
        cfg = cfg.replace(ima={"arrays": plan.arrays})
    tiles, program = [], {}
    for g, cost in zip(plan.groups, plan.costs):
        gt = [t for t in cost.mapping.tiles]
        tiles += gt
        first = next(L.name for L in net.layers if L.name in g)
        program[first] = [("ima", t, np.asarray(net.layer(t.layer).w).reshape(
            -1, net.layer(t.layer).w.shape[-1])[t.row0:t.row0 + t.rows, t.col0:t.col0 + t.cols])
            for t in gt]
    merged = Mapping(tiles, cfg.ima.rows, cfg.ima.cols, plan.arrays, f"partition {plan.method}")
    placement = Placement({"ima": merged}, {t.layer: "ima" for t in tiles})
    lowered = lower(net, placement)
    prog = compile_layers(lowered, _l2_fits(cfg), program=program)
    need = prog.l2_end - cfg.l2.base
    if need > cfg.l2.size_bytes:
        cfg = cfg.replace(l2={"size_kib": 1 << max(12, (need - 1).bit_length() - 10)})
    prog = compile_layers(lowered, cfg, program=program)
    return Compiled(cfg, net, x, placement, lowered, prog, WeightImage(), lowered.net.run(x),
                    "layer")
