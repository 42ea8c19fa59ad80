"""One 32-bit data port of the IMA streamer: a two-entry request FIFO in front
of a TCDM master port, so the address generators run ahead while a bank
conflict holds this port (the FIFO against memory stalls), and the tag of
the granted request registered for its response one cycle later."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..interconnect.protocol import TcdmSignature
from .addrgen import POS_BITS

__all__ = ["DataPort", "ENTRY", "SRC", "SNK"]

SRC, SNK = 0, 1        # direction of a request: source read or sink write

ENTRY = data.StructLayout({
    "word": 30,                 # word address
    "we": 1,
    "be": 4,                    # write byte enables; for reads, the bytes that land
    "wdata": 32,
    "dir": 1,
    "slot": 2,                  # vector buffer slot
    "pos": signed(POS_BITS),    # position of byte 0 of the word in the step vector
})


class DataPort(wiring.Component):
    def __init__(self):
        super().__init__({
            "bus": Out(TcdmSignature()),
            "push": In(1),
            "entry": In(ENTRY),
            "space": Out(1),            # a push is taken this cycle
            "resp_valid": Out(1),       # the response of a granted request
            "resp": Out(ENTRY),         # ... its tag
            "resp_data": Out(32),
            "resp_err": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        head = Signal(ENTRY)
        tail = Signal(ENTRY)
        count = Signal(range(3))
        pending = Signal()
        bus = self.bus

        m.d.comb += [
            bus.req.eq(count != 0),
            bus.addr.eq(head.word << 2),
            bus.we.eq(head.we),
            bus.be.eq(head.be | ~head.we.replicate(4)),
            bus.wdata.eq(head.wdata),
            self.space.eq(count != 2),
        ]
        pop = Signal()
        m.d.comb += pop.eq(bus.req & bus.gnt)
        with m.Switch(count):
            with m.Case(0):
                with m.If(self.push):
                    m.d.sync += [head.eq(self.entry), count.eq(1)]
            with m.Case(1):
                with m.If(self.push & pop):
                    m.d.sync += head.eq(self.entry)
                with m.Elif(self.push):
                    m.d.sync += [tail.eq(self.entry), count.eq(2)]
                with m.Elif(pop):
                    m.d.sync += count.eq(0)
            with m.Case(2):
                with m.If(pop):
                    m.d.sync += [head.eq(tail), count.eq(1)]

        m.d.sync += pending.eq(pop)
        with m.If(pop):
            m.d.sync += self.resp.eq(head)
        m.d.comb += [
            self.resp_valid.eq(pending & bus.r_valid),
            self.resp_data.eq(bus.rdata),
            self.resp_err.eq(pending & bus.r_err),
            self.idle.eq((count == 0) & ~pending),
        ]
        return m
