"""AXI4 signature (names as in the AXI specification, so cocotbext-axi's
``AxiBus.from_prefix`` finds them: a member ``axi`` lifted to the cluster top
as ``soc_axi`` gives ports ``soc_axi__awaddr`` ..., prefix ``soc_axi_``)."""

import enum

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AxiSignature", "AxiResp", "AxiBurst"]


class AxiResp(enum.IntEnum):
    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


class AxiBurst(enum.IntEnum):
    FIXED = 0
    INCR = 1
    WRAP = 2


class AxiSignature(wiring.Signature):
    """The manager's view (``Out`` flows to the subordinate)."""

    def __init__(self, *, addr_width=32, data_width=64, id_width=4):
        self.addr_width, self.data_width, self.id_width = addr_width, data_width, id_width
        super().__init__({
            "awid": Out(id_width), "awaddr": Out(addr_width), "awlen": Out(8), "awsize": Out(3),
            "awburst": Out(2), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wlast": Out(1),
            "wvalid": Out(1), "wready": In(1),
            "bid": In(id_width), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "arid": Out(id_width), "araddr": Out(addr_width), "arlen": Out(8), "arsize": Out(3),
            "arburst": Out(2), "arvalid": Out(1), "arready": In(1),
            "rid": In(id_width), "rdata": In(data_width), "rresp": In(2), "rlast": In(1),
            "rvalid": In(1), "rready": Out(1),
        })

    def __eq__(self, other):
        return (isinstance(other, AxiSignature) and (other.addr_width, other.data_width,
                other.id_width) == (self.addr_width, self.data_width, self.id_width))

    def __repr__(self):
        return f"AxiSignature({self.addr_width}, {self.data_width}, {self.id_width})"
