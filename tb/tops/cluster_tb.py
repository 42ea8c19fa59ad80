"""The generated cluster as testbenches simulate it: exactly ``imcc gen``'s
top plus the TCDM protocol checker on every master port."""

from imcc.gen.config import ClusterConfig
from imcc.rtl.cluster import Cluster
from imcc.tb.monitors.tcdm import TcdmPortChecker

__all__ = ["cluster_tb", "counting_checker"]


def counting_checker(cfg: ClusterConfig) -> type[TcdmPortChecker]:
    """The protocol checker that also counts each master's TCDM accesses."""
    t = cfg.tcdm

    class Checker(TcdmPortChecker):
        TCDM = (t.base, t.size_bytes)
    return Checker


def cluster_tb(cfg: ClusterConfig) -> Cluster:
    return Cluster(cfg, port_checker=counting_checker(cfg))
