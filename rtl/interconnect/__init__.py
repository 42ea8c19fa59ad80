from .protocol import TcdmSignature, TargetSignature
from .arbiter import RoundRobinArbiter
from .crossbar import Interconnect

__all__ = ["TcdmSignature", "TargetSignature", "RoundRobinArbiter", "Interconnect"]
