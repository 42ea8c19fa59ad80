from .cluster_ctrl import ClusterCtrl, cluster_ctrl_regmap

__all__ = ["ClusterCtrl", "cluster_ctrl_regmap"]
