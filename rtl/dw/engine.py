"""DW engine: the job sequence around the parts of the dataflow
(docs/dw.md, "Architecture").

Depthwise 3x3 (weight-stationary): the channels run in blocks of
``cfg.dw.channels``; for each block the loader fetches the 9 weight vectors,
bias and scale once, then sweeps the output in *bands* of ``BAND`` rows.  For
one band it loads input *columns* (the ``(BAND-1)*stride + 3`` input pixels
under one output column, a block of channels each, zero outside the image)
into a ring of ``SLOTS`` column slots, left to right; the MAC array computes
``cfg.dw.macs // 9`` channels x 9 taps per cycle from three consecutive
slots, the output pixels of the band's rows in turn, and frees ``stride``
slots per output column (3 after the last).  Each input pixel of a band is
loaded once, so per output pixel the memory sees (BAND + 2) / BAND loads + 1
store at stride 1 against channels / lanes compute cycles.

Element-wise add: vectors of a block of elements of a and b go into one slot;
the adder lanes compute half a block per cycle.

::

    JobCheck          WindowLoader --rd--> SegmentPort <--wr-- StoreQueue
                            ^ alloc            | rsp              ^ inp
                            |                  v                  |
                      slot_free/empty <-- MacArray --out--> Requantiser
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..hwpe.controller import IoSignature, JobSignature
from ..interconnect.protocol import TcdmSignature
from .check import E, OPS, JobCheck
from .layer import ADDR, BAND, SLOTS, STORE_DEPTH, Layer, LoadTag
from .loader import WindowLoader
from .mac import MacArray
from .regs import DW_REGS
from .requant import Requantiser
from ..stream.segment import SegmentPort
from .store import StoreQueue

__all__ = ["Engine", "BAND", "SLOTS", "STORE_DEPTH"]


def _f(job, reg, field):
    f = DW_REGS[reg].field(field)
    v = getattr(job, reg.lower())[f.lsb:f.lsb + f.width]
    return v.as_signed() if f.signed else v


class JobState(enum.Enum, shape=3):
    IDLE = 0
    CHECK = 1       # the job check runs
    RUN = 2         # loading and computing
    DRAIN = 3       # the last group has issued: wait for the stores
    ABORT = 4       # SOFT_CLEAR: let the segment in flight finish


class Engine(wiring.Component):
    """The DW accelerator behind its HWPE controller.

    Parameters
    ----------
    cfg : ClusterConfig
        ``dw.channels`` (channels per block), ``dw.macs`` (multipliers, 9 per
        lane), ``ima.data_ports`` (TCDM ports), the TCDM's range.

    Members
    -------
    job : ``In(JobSignature(DW_REGS))``
        The running job from the controller; ``idle`` is high in IDLE only
        (the engine is then quiescent: its clock may stop).
    io : ``In(IoSignature(DW_REGS))``
        No io registers: never refuses.
    ports : ``Out(TcdmSignature()).array(cfg.ima.data_ports)``
        TCDM master ports.
    macs : ``Out(16)``
        Multiply-accumulates of valid channels issued this cycle (the MAC
        array's ``macs``; activity counter).
    """
    def __init__(self, cfg: ClusterConfig):
        self.cfg = cfg
        self.ports_count = cfg.ima.data_ports
        self.channels = cfg.dw.channels
        self.lanes = cfg.dw.macs // 9                    # channels x 9 taps per cycle
        self.add_lanes = -(-self.channels // 2)          # an ADD vector in 2 cycles
        super().__init__({
            "job": In(JobSignature(DW_REGS)),
            "io": In(IoSignature(DW_REGS)),
            "ports": Out(TcdmSignature()).array(self.ports_count),
            "macs": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, job = self.cfg, self.job
        m.d.comb += self.io.err.eq(0)

        op = _f(job, "MODE", "OP")
        stride = _f(job, "MODE", "STRIDE")
        pad_t, pad_l = _f(job, "MODE", "PAD_T"), _f(job, "MODE", "PAD_L")
        C = _f(job, "CHANNELS", "C")

        m.submodules.check = chk = JobCheck(cfg.tcdm.base, cfg.tcdm.size_bytes)
        m.d.comb += [chk.op.eq(op), chk.stride.eq(stride), chk.pt.eq(pad_t),
                     chk.pb.eq(_f(job, "MODE", "PAD_B")), chk.pl.eq(pad_l),
                     chk.pr.eq(_f(job, "MODE", "PAD_R")), chk.h.eq(_f(job, "SIZE", "H")),
                     chk.w.eq(_f(job, "SIZE", "W")), chk.c.eq(C),
                     chk.lo.eq(_f(job, "QUANT", "LO")), chk.hi.eq(_f(job, "QUANT", "HI")),
                     chk.src.eq(job.src_addr), chk.src2.eq(job.src2_addr),
                     chk.wt.eq(job.weight_addr), chk.bias.eq(job.bias_addr),
                     chk.scale.eq(job.scale_addr), chk.dst.eq(job.dst_addr)]

        # -- the layer every part reads: job fields, sizes registered when the check passes ---------
        out_h, out_w, columns = Signal(16), Signal(16), Signal(18)
        row_bytes, out_row_bytes = Signal(32), Signal(32)
        layer = Signal(Layer)
        origin = Signal(ADDR)
        m.d.comb += origin.eq(job.src_addr - chk.ptwc - pad_l * C)
        m.d.comb += [
            layer.add.eq(op == OPS["ADD"]), layer.stride2.eq(stride == 2),
            layer.pad_top.eq(pad_t), layer.pad_left.eq(pad_l),
            layer.height.eq(_f(job, "SIZE", "H")), layer.width.eq(_f(job, "SIZE", "W")),
            layer.channels.eq(C),
            layer.out_height.eq(out_h), layer.out_width.eq(out_w), layer.columns.eq(columns),
            layer.row_bytes.eq(row_bytes), layer.out_row_bytes.eq(out_row_bytes),
            layer.elements.eq(chk.hwc), layer.origin.eq(origin),
            layer.src.eq(job.src_addr), layer.src2.eq(job.src2_addr),
            layer.weights.eq(job.weight_addr), layer.bias.eq(job.bias_addr),
            layer.scale.eq(job.scale_addr), layer.dst.eq(job.dst_addr),
            layer.shift.eq(_f(job, "QUANT", "SHIFT")),
            layer.lo.eq(_f(job, "QUANT", "LO")), layer.hi.eq(_f(job, "QUANT", "HI")),
            layer.scale_a.eq(job.scale_a), layer.scale_b.eq(job.scale_b),
        ]

        # -- the parts ---------------------------------------------------------------------------------
        CB = self.channels
        m.submodules.seg = seg = SegmentPort(self.ports_count, CB, LoadTag)
        for p in range(self.ports_count):
            wiring.connect(m, seg.bus[p], wiring.flipped(self.ports[p]))
        m.submodules.loader = loader = WindowLoader(CB)
        m.submodules.mac = mac = MacArray(CB, self.lanes, self.add_lanes)
        m.d.comb += self.macs.eq(mac.macs)
        m.submodules.requant = rq = Requantiser(CB, self.lanes, self.add_lanes)
        m.submodules.store = store = StoreQueue(CB)
        wiring.connect(m, loader.rd, seg.rd)
        wiring.connect(m, seg.rsp, mac.rsp)
        wiring.connect(m, mac.out, rq.inp)
        wiring.connect(m, rq.out, store.inp)
        wiring.connect(m, store.out, seg.wr)
        pipe_empty = ~mac.out.valid & ~rq.busy
        m.d.comb += [loader.layer.eq(layer), mac.layer.eq(layer), rq.layer.eq(layer),
                     mac.alloc.eq(loader.alloc), loader.slot_free.eq(mac.slot_free),
                     loader.ring_empty.eq(mac.ring_empty), loader.pipe_empty.eq(pipe_empty),
                     mac.credit.eq(store.credit), store.reserve.eq(mac.reserve)]

        # -- job sequence ------------------------------------------------------------------------------
        state = Signal(JobState)
        err_bus = Signal()
        with m.If(seg.bus_err):
            m.d.sync += err_bus.eq(1)
        start = Signal()            # the check passed: the parts initialise
        abort = Signal()
        m.d.comb += [job.idle.eq(state == JobState.IDLE), chk.start.eq(job.start),
                     abort.eq(job.clear & (state != JobState.IDLE)),
                     loader.start.eq(start), mac.start.eq(start), store.start.eq(start),
                     loader.run.eq(state == JobState.RUN), mac.run.eq(state == JobState.RUN),
                     store.run.eq((state == JobState.RUN) | (state == JobState.DRAIN)),
                     store.flush.eq(state == JobState.ABORT),
                     mac.abort.eq(abort), rq.abort.eq(abort)]
        m.d.comb += [job.done.eq(0), job.error.eq(0)]
        with m.Switch(state):
            with m.Case(JobState.IDLE):
                with m.If(job.start):
                    m.d.sync += [state.eq(JobState.CHECK), err_bus.eq(0)]
            with m.Case(JobState.CHECK):
                with m.If(chk.done):
                    with m.If(chk.error != 0):
                        m.d.comb += [job.done.eq(1), job.error.eq(chk.error)]
                        m.d.sync += state.eq(JobState.IDLE)
                    with m.Else():
                        m.d.comb += start.eq(1)
                        m.d.sync += [
                            state.eq(JobState.RUN), out_h.eq(chk.ho), out_w.eq(chk.wo),
                            row_bytes.eq(chk.wc), out_row_bytes.eq(chk.woc),
                            columns.eq(Mux(stride == 2, (chk.wo - 1) * 2, chk.wo - 1) + 3)]
            with m.Case(JobState.RUN):
                with m.If(mac.done):
                    m.d.sync += state.eq(JobState.DRAIN)
            with m.Case(JobState.DRAIN):
                with m.If(pipe_empty & store.empty & seg.idle):
                    m.d.comb += [job.done.eq(1), job.error.eq(Mux(err_bus, E["BUS"], E["OK"]))]
                    m.d.sync += state.eq(JobState.IDLE)
            with m.Case(JobState.ABORT):
                with m.If(seg.idle):
                    m.d.sync += state.eq(JobState.IDLE)
        with m.If(abort):
            m.d.sync += state.eq(JobState.ABORT)
        return m
