"""Segment port: byte segments of up to ``seg_bytes`` at any alignment on P
32-bit TCDM ports in lockstep.

A segment is split into *beats* of up to P consecutive words; word ``w`` goes
to port ``w % P``, so the words of a beat always hit P different ports (and
P different banks).  A beat holds its requests until every port of it is
granted (each port drops its ``req`` once granted, as the protocol allows),
then the next beat starts: with no contention one beat per cycle, one per
segment when the segment is aligned.  Every granted request answers exactly
one cycle later, so the responses of a beat are complete in the cycle after
its last grant; read segments come out in issue order, re-aligned and with
the bytes beyond ``n`` zeroed (``n = 0``: a *null* segment, no memory access,
all-zero data: the zero padding of a convolution costs one cycle, no port).

Two request streams: writes (``wr``) win over reads (``rd``).  The read
response stream (``rsp``) has no back-pressure: a client issues a read only
when it has a place for the data.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..interconnect.protocol import TcdmSignature

__all__ = ["SegmentPort", "ReadRequest", "WriteRequest", "ReadResponse"]


class ReadRequest(data.StructLayout):
    """Payload of a segment read: ``n`` bytes (0..``seg_bytes``) from byte
    address ``addr``; ``tag`` comes back with the data."""
    def __init__(self, seg_bytes: int, tag_shape):
        super().__init__({"addr": 32, "n": range(seg_bytes + 1), "tag": tag_shape})


class WriteRequest(data.StructLayout):
    """Payload of a segment write: bytes ``data[:n]`` to byte address ``addr``."""
    def __init__(self, seg_bytes: int):
        super().__init__({"addr": 32, "n": range(seg_bytes + 1), "data": 8 * seg_bytes})


class ReadResponse(data.StructLayout):
    """Payload of a read's answer: the segment, byte 0 at bit 0, zero beyond
    its length, and the request's tag."""
    def __init__(self, seg_bytes: int, tag_shape):
        super().__init__({"data": 8 * seg_bytes, "tag": tag_shape})


class SegmentPort(wiring.Component):
    """Byte segments at any alignment on ``ports`` 32-bit TCDM ports in lockstep.

    Parameters
    ----------
    ports : int
        Number of TCDM master ports (1..16); word ``w`` goes to port ``w % ports``.
    seg_bytes : int
        Longest segment, in bytes.
    tag_shape : shape-like
        Shape of the tag a read carries to its response.

    Members
    -------
    bus : ``Out(TcdmSignature()).array(ports)``
        The TCDM master ports.
    rd : ``In(stream.Signature(ReadRequest(seg_bytes, tag_shape)))``
        Segment reads; taken while no write is offered.
    wr : ``In(stream.Signature(WriteRequest(seg_bytes)))``
        Segment writes; they win over reads.
    rsp : ``Out(stream.Signature(ReadResponse(seg_bytes, tag_shape), always_ready=True))``
        Read data in issue order, one cycle after a segment's last grant.
    bus_err : ``Out(1)``
        One cycle: a response carried ``r_err``.
    idle : ``Out(1)``
        No segment is being issued and no response is outstanding.
    """
    def __init__(self, ports: int, seg_bytes: int, tag_shape):
        self.ports, self.seg_bytes = ports, seg_bytes
        self.max_words = (seg_bytes + 3) // 4 + 1          # an unaligned segment
        self.beats = -(-self.max_words // ports)
        super().__init__({
            "bus": Out(TcdmSignature()).array(ports),
            "rd": In(stream.Signature(ReadRequest(seg_bytes, tag_shape))),
            "wr": In(stream.Signature(WriteRequest(seg_bytes))),
            "rsp": Out(stream.Signature(ReadResponse(seg_bytes, tag_shape), always_ready=True)),
            "bus_err": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        P, CB, K, MW = self.ports, self.seg_bytes, self.beats, self.max_words
        rd, wr, rsp = self.rd.payload, self.wr.payload, self.rsp.payload
        kbits = max(1, ceil_log2(K))

        # -- the segment being issued ----------------------------------------------------------
        busy = Signal()
        we = Signal()
        w0 = Signal(30)
        off = Signal(2)
        nbytes = Signal(range(CB + 1))
        nbeats = Signal(range(K + 1))
        k = Signal(kbits)
        tag = Signal(Shape.cast(rd.tag.shape()))
        wbytes = Signal(8 * 4 * MW)        # write data shifted to word positions
        wmask = Signal(4 * MW)
        granted = Signal(P)

        # per port: its word index j within a beat, active flag, address, data
        # (port indices at least one bit wide: Verilog has no zero-width wires, P = 1)
        j = [Signal(range(max(P, 2)), name=f"j{p}") for p in range(P)]
        act = Signal(P)
        words = [wbytes[32 * i:32 * i + 32] for i in range(MW)] + [Const(0, 32)] * (K * P - MW)
        bes = [wmask[4 * i:4 * i + 4] for i in range(MW)] + [Const(0, 4)] * (K * P - MW)
        nwords = Signal(range(MW + 1))
        m.d.comb += nwords.eq(Mux(nbytes == 0, 0, (off + nbytes + 3) >> 2))
        for p in range(P):
            bus = self.bus[p]
            wm = w0 % P
            m.d.comb += j[p].eq(Mux(wm <= p, p - wm, p + P - wm))
            idx = Signal(range(K * P), name=f"idx{p}")
            m.d.comb += idx.eq(k * P + j[p])
            m.d.comb += act[p].eq(busy & (idx < nwords))
            m.d.comb += [
                bus.req.eq(act[p] & ~granted[p]),
                bus.addr.eq((w0 + idx) << 2),
                bus.we.eq(we),
                bus.be.eq(Mux(we, Array(bes)[idx], 0xF)),
                bus.wdata.eq(Array(words)[idx]),
            ]
        gnt = Cat(b.gnt for b in self.bus)
        beat_done = Signal()
        m.d.comb += beat_done.eq(busy & ((act & ~granted & ~gnt) == 0))
        last_beat = Signal()
        m.d.comb += last_beat.eq(k + 1 >= nbeats)
        free = Signal()
        m.d.comb += free.eq(~busy | (beat_done & last_beat))
        with m.If(beat_done):
            m.d.sync += [granted.eq(0), k.eq(k + 1)]
            with m.If(last_beat):
                m.d.sync += busy.eq(0)
        with m.Elif(busy):
            m.d.sync += granted.eq(granted | (act & gnt))

        # -- taking a new segment (writes first) ---------------------------------------------------
        m.d.comb += [self.wr.ready.eq(free), self.rd.ready.eq(free & ~self.wr.valid)]
        take_w = self.wr.valid & free
        take_r = self.rd.valid & free & ~self.wr.valid
        addr = Mux(take_w, wr.addr, rd.addr)
        n_in = Mux(take_w, wr.n, rd.n)
        off_in = addr[:2]
        nw_in = Mux(n_in == 0, 0, (off_in + n_in + 3) >> 2)
        with m.If(take_w | take_r):
            data_mask = Cat(Mux(i < n_in, 1, 0) for i in range(CB))
            m.d.sync += [busy.eq(1), we.eq(take_w), w0.eq(addr[2:]), off.eq(off_in),
                         nbytes.eq(n_in), k.eq(0), granted.eq(0), tag.eq(rd.tag),
                         nbeats.eq(Mux(nw_in == 0, 1, (nw_in + P - 1) // P if P > 1 else nw_in)),
                         wbytes.eq(wr.data << (off_in * 8)),
                         wmask.eq(data_mask << off_in)]

        # -- responses: the cycle after a beat's last grant ------------------------------------------
        hold = [Signal(32, name=f"hold{p}") for p in range(P)]
        for p in range(P):
            with m.If(self.bus[p].r_valid):
                m.d.sync += hold[p].eq(self.bus[p].rdata)
        r_valid = Signal()
        r_last = Signal()
        r_k = Signal(kbits)
        r_w0 = Signal(range(max(P, 2)))
        r_off = Signal(2)
        r_n = Signal(range(CB + 1))
        r_tag = Signal(Shape.cast(rd.tag.shape()))
        m.d.sync += r_valid.eq(beat_done & ~we)
        with m.If(beat_done):
            m.d.sync += [r_last.eq(last_beat), r_k.eq(k), r_w0.eq(w0 % P), r_off.eq(off),
                         r_n.eq(nbytes), r_tag.eq(tag)]
        port_data = [Mux(self.bus[p].r_valid, self.bus[p].rdata, hold[p]) for p in range(P)]
        # word i of the beat came from port (w0 + i) % P
        beat_words = [Array(port_data)[(r_w0 + i) % P] for i in range(P)]
        asm = Signal(32 * K * P)
        merged = Signal(32 * K * P)
        parts = []
        for kk in range(K):
            cur = Cat(*beat_words)
            parts.append(Mux(r_k == kk, cur, asm[32 * P * kk:32 * P * (kk + 1)]))
        m.d.comb += merged.eq(Cat(*parts))
        with m.If(r_valid):
            m.d.sync += asm.eq(merged)
        shifted = Signal(8 * CB)
        m.d.comb += shifted.eq(merged >> (r_off * 8))
        keep = Cat(Mux(i < r_n, Const(0xFF, 8), Const(0, 8)) for i in range(CB))
        m.d.comb += [self.rsp.valid.eq(r_valid & r_last), rsp.data.eq(shifted & keep),
                     rsp.tag.eq(r_tag)]
        m.d.comb += self.bus_err.eq(Cat(b.r_valid & b.r_err for b in self.bus).any())
        pend = Signal()             # a request granted last cycle answers now
        m.d.sync += pend.eq(Cat(b.req & b.gnt for b in self.bus).any())
        m.d.comb += self.idle.eq(~busy & ~r_valid & ~pend)
        return m
