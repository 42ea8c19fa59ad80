from .axi import AxiSignature, AxiResp, AxiBurst
from .axi_port import SocPort

__all__ = ["AxiSignature", "AxiResp", "AxiBurst", "SocPort"]
