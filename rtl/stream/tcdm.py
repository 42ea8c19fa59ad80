"""Word requests onto TCDM master ports: one port with a two-entry request
FIFO (:class:`TcdmRequestPort`), and N of them taking a group of words in
lockstep (:class:`TcdmPortGroup`).

The FIFO decouples the producer from bank conflicts: a port held by a
conflict does not stop the others, and a producer runs ahead by up to two
words.  Each granted request answers exactly one cycle later
(docs/protocols.md, rule 2), so a response carries back the request's tag
and byte enables, registered at the grant, and needs no FIFO of its own.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..interconnect.protocol import TcdmSignature

__all__ = ["TcdmRequest", "TcdmResponse", "TcdmRequestPort", "WordRequests", "TcdmPortGroup"]


class TcdmRequest(data.StructLayout):
    """One word request: word address, write, byte enables (a read's: the
    bytes the requester keeps; the port reads all four), write data, and a
    tag of ``tag_shape`` the response carries back."""
    def __init__(self, tag_shape):
        super().__init__({"word": 30, "we": 1, "be": 4, "wdata": 32, "tag": tag_shape})


class TcdmResponse(data.StructLayout):
    """The answer to a granted request: read data (0 for a write), the bus
    error flag, and the request's byte enables and tag."""
    def __init__(self, tag_shape):
        super().__init__({"data": 32, "err": 1, "be": 4, "tag": tag_shape})


class TcdmRequestPort(wiring.Component):
    """A TCDM master port behind a two-entry request FIFO.

    Parameters
    ----------
    tag_shape : shape-like
        Shape of the tag a request carries to its response.

    Members
    -------
    req : ``In(stream.Signature(TcdmRequest(tag_shape)))``
        Requests; ``ready`` (FIFO not full) does not depend on ``valid``.
    rsp : ``Out(stream.Signature(TcdmResponse(tag_shape), always_ready=True))``
        Responses in request order, the cycle after each grant.
    bus : ``Out(TcdmSignature())``
        The master port (rule 1: the FIFO's head stays until granted).
    idle : ``Out(1)``
        Nothing queued, no response due.
    """
    def __init__(self, tag_shape):
        self.tag_shape = tag_shape
        super().__init__({
            "req": In(stream.Signature(TcdmRequest(tag_shape))),
            "rsp": Out(stream.Signature(TcdmResponse(tag_shape), always_ready=True)),
            "bus": Out(TcdmSignature()),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        layout = TcdmRequest(self.tag_shape)
        head = Signal(layout)
        tail = Signal(layout)
        count = Signal(range(3))
        pending = Signal()
        bus = self.bus

        m.d.comb += [
            bus.req.eq(count != 0),
            bus.addr.eq(head.word << 2),
            bus.we.eq(head.we),
            bus.be.eq(head.be | ~head.we.replicate(4)),
            bus.wdata.eq(head.wdata),
            self.req.ready.eq(count != 2),
        ]
        push = Signal()
        m.d.comb += push.eq(self.req.valid & self.req.ready)
        entry = self.req.payload
        pop = Signal()
        m.d.comb += pop.eq(bus.req & bus.gnt)
        with m.Switch(count):
            with m.Case(0):
                with m.If(push):
                    m.d.sync += [head.eq(entry), count.eq(1)]
            with m.Case(1):
                with m.If(push & pop):
                    m.d.sync += head.eq(entry)
                with m.Elif(push):
                    m.d.sync += [tail.eq(entry), count.eq(2)]
                with m.Elif(pop):
                    m.d.sync += count.eq(0)
            with m.Case(2):
                with m.If(pop):
                    m.d.sync += [head.eq(tail), count.eq(1)]

        rsp = self.rsp.payload
        m.d.sync += pending.eq(pop)
        with m.If(pop):
            m.d.sync += [rsp.be.eq(head.be), rsp.tag.eq(head.tag)]
        m.d.comb += [
            self.rsp.valid.eq(pending & bus.r_valid),
            rsp.data.eq(bus.rdata),
            rsp.err.eq(pending & bus.r_err),
            self.idle.eq((count == 0) & ~pending),
        ]
        return m


class WordRequests(data.StructLayout):
    """A group of up to ``ports`` word requests, lane ``i`` for port ``i``:
    ``en`` selects the lanes that carry one."""
    def __init__(self, ports: int, tag_shape):
        super().__init__({"en": ports,
                          "lane": data.ArrayLayout(TcdmRequest(tag_shape), ports)})


class TcdmPortGroup(wiring.Component):
    """``ports`` :class:`TcdmRequestPort` s taking a group of words in lockstep:
    a group is taken when every port's FIFO has room, so its words enter
    together although bank conflicts then hold each port on its own.

    Parameters
    ----------
    ports : int
        Number of TCDM master ports.
    tag_shape : shape-like
        Shape of a request's tag.

    Members
    -------
    req : ``In(stream.Signature(WordRequests(ports, tag_shape)))``
        Groups; ``ready`` does not depend on ``valid``.
    rsp : ``Out(stream.Signature(TcdmResponse(tag_shape), always_ready=True)).array(ports)``
        Each port's responses.
    bus : ``Out(TcdmSignature()).array(ports)``
        The master ports.
    idle : ``Out(1)``
        Every port idle.
    """
    def __init__(self, ports: int, tag_shape):
        self.ports, self.tag_shape = ports, tag_shape
        super().__init__({
            "req": In(stream.Signature(WordRequests(ports, tag_shape))),
            "rsp": Out(stream.Signature(TcdmResponse(tag_shape), always_ready=True)).array(ports),
            "bus": Out(TcdmSignature()).array(ports),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ports = [TcdmRequestPort(self.tag_shape) for _ in range(self.ports)]
        for i, p in enumerate(ports):
            m.submodules[f"port{i}"] = p
            wiring.connect(m, p.bus, wiring.flipped(self.bus[i]))
            wiring.connect(m, p.rsp, wiring.flipped(self.rsp[i]))
            m.d.comb += [p.req.valid.eq(self.req.valid & self.req.ready & self.req.payload.en[i]),
                         p.req.payload.eq(self.req.payload.lane[i])]
        m.d.comb += [self.req.ready.eq(Cat(p.req.ready for p in ports).all()),
                     self.idle.eq(Cat(p.idle for p in ports).all())]
        return m
