"""The cluster control block's entry in the block registry."""

from ..block import BlockKind

__all__ = ["CtrlKind"]


class CtrlKind(BlockKind):
    """One control block with the first peripheral window (identity,
    configuration readout, cycle counters, events and interrupt lines)."""

    name = "ctrl"
    window = "ctrl"

    def regmap(self, cfg, comp):
        from .cluster_ctrl import cluster_ctrl_regmap
        return cluster_ctrl_regmap(cfg, comp)

    def build(self, cfg, inst, comp):
        from .cluster_ctrl import ClusterCtrl
        return ClusterCtrl(cfg, comp)
