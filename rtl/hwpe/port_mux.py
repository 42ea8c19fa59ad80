"""Static port sharing between accelerators (the paper's data-port mux).

When several cluster blocks claim the same interconnect masters (the IMA and
the DW accelerator both claim ``hwpe*`` with ``cfg.dw.ports == "shared"``),
:func:`connect_masters` puts one :class:`PortMux` in front of them.  One
client *holds* all the ports at a time; the others see ``gnt`` low and keep
their requests pending, as the TCDM protocol allows.  The holder changes
only in a cycle where it has no request on any port (so no response is in
flight next cycle and no pending request is withdrawn) and is not busy
(its ``port_busy()``, e.g. a running job); then the next client that
requests or is busy, in round-robin order, gets the ports.  No software
select register is needed and a job keeps the ports from its first to its
last access.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..interconnect.protocol import TcdmSignature

__all__ = ["PortMux", "connect_masters", "shared_port_names"]


def shared_port_names(cfg, k: int) -> list[str]:
    """The data ports of accelerator pair ``k``: IMA k drives them, and DW k
    too with ``dw.ports = "shared"`` (``hwpe0..`` for pair 0, ``hwpe<k>_0..``
    for the others, so adding a pair renames nothing of the first)."""
    prefix = "hwpe" if k == 0 else f"hwpe{k}_"
    return [f"{prefix}{i}" for i in range(cfg.ima.data_ports)]


class PortMux(wiring.Component):
    """``clients[i][p]``: port p of client i (a target for the client's master);
    ``busy[i]``: client i must keep the ports; ``ports[p]``: the masters toward
    the interconnect; ``holder``: the client holding them."""

    def __init__(self, clients: int, ports: int):
        self.n, self.p = clients, ports
        super().__init__({
            "clients": In(TcdmSignature()).array(clients, ports),
            "busy": In(clients),
            "ports": Out(TcdmSignature()).array(ports),
            "holder": Out(range(clients)),
            "quiet": Out(1),            # the holder stays at the next edge
        })

    def elaborate(self, platform):
        m = Module()
        n, cl = self.n, self.clients
        holder = self.holder
        reqs = [Cat(c.req for c in cl[i]).any() for i in range(n)]
        want = Signal(n)
        m.d.comb += want.eq(Cat(reqs[i] | self.busy[i] for i in range(n)))
        for p in range(self.p):
            out = self.ports[p]
            for i in range(n):
                with m.If(holder == i):
                    c = cl[i][p]
                    m.d.comb += [out.req.eq(c.req), out.addr.eq(c.addr), out.we.eq(c.we),
                                 out.be.eq(c.be), out.wdata.eq(c.wdata)]
                m.d.comb += [cl[i][p].gnt.eq((holder == i) & out.gnt),
                             cl[i][p].r_valid.eq((holder == i) & out.r_valid),
                             cl[i][p].r_err.eq((holder == i) & out.r_err),
                             cl[i][p].rdata.eq(out.rdata)]
        quiet = Signal()
        m.d.comb += quiet.eq(~Cat(*reqs).bit_select(holder, 1) & ~self.busy.bit_select(holder, 1))
        others = Signal(n, name="others_want")
        m.d.comb += others.eq(want & ~(Const(1, n) << holder)[:n])
        m.d.comb += self.quiet.eq(~(quiet & others.any()))
        with m.If(quiet):
            # round robin: the first wanting client after the holder
            for k in reversed(range(1, n)):
                nxt = Signal(range(n), name=f"next{k}")
                m.d.comb += nxt.eq(Mux(holder + k >= n, holder + k - n, holder + k))
                with m.If(want.bit_select(nxt, 1)):
                    m.d.sync += holder.eq(nxt)
        return m


def connect_masters(m: Module, blocks: dict, ic) -> list[PortMux]:
    """Connect every block's ``tcdm_masters()`` to the interconnect ``ic``: a
    master claimed by one block directly, masters claimed by several blocks
    (same set of blocks) through one :class:`PortMux` per set (returned)."""
    claims: dict[str, list[str]] = {}
    for bname, block in blocks.items():
        for name in block.tcdm_masters():
            claims.setdefault(name, []).append(bname)
    groups: dict[tuple, list[str]] = {}
    for name, owners in claims.items():
        if len(owners) == 1:
            wiring.connect(m, blocks[owners[0]].tcdm_masters()[name], getattr(ic, name))
        else:
            groups.setdefault(tuple(owners), []).append(name)
    muxes = []
    for owners, names in groups.items():
        mux = PortMux(len(owners), len(names))
        muxes.append(mux)
        m.submodules["port_mux_" + "_".join(owners)] = mux
        for i, bname in enumerate(owners):
            block = blocks[bname]
            ports = block.tcdm_masters()
            for p, name in enumerate(names):
                wiring.connect(m, ports[name], mux.clients[i][p])
            busy = block.port_busy() if hasattr(block, "port_busy") else None
            if busy is not None:
                m.d.comb += mux.busy[i].eq(busy)
        for p, name in enumerate(names):
            wiring.connect(m, mux.ports[p], getattr(ic, name))
    return muxes
