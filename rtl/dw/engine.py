"""DW engine: job check, loader, window ring, MAC array, requantisation and
store queue around one :class:`SegmentPort` (docs/dw.md, "Dataflow").

Depthwise 3x3 (weight-stationary): the channels run in blocks of CB =
``cfg.dw.channels``; for each block the loader fetches the 9 weight vectors,
bias and scale once, then sweeps the output in *bands* of ``BAND`` rows.  For
one band it loads input *columns* (the ``(BAND-1)*stride + 3`` input pixels
under one output column, CB channels each, zero outside the image) into a ring
of ``SLOTS`` column slots, left to right; the MAC array computes L =
``cfg.dw.macs // 9`` channels x 9 taps per cycle from three consecutive slots,
the output pixels of the band's rows in turn, and frees ``stride`` slots per
output column (3 after the last).  Each input pixel of a band is loaded once,
so per output pixel the memory sees (BAND + 2) / BAND loads + 1 store at
stride 1 against CB / L compute cycles.

Element-wise add: vectors of CB elements of a and b go into one slot each;
the adder lanes compute ``ADD_LANES`` elements per cycle.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from amaranth.hdl import ResetInserter

from imcc.gen.config import ClusterConfig
from ..hwpe.controller import ERROR_BITS, IoSignature, JobSignature
from ..interconnect.protocol import TcdmSignature
from .check import E, OPS, JobCheck
from .regs import DW_REGS
from .segport import SegmentPort

__all__ = ["Engine", "BAND", "SLOTS", "STORE_DEPTH"]

BAND = 2            # output rows computed per sweep (memory slack: 6 of 8 port cycles at s1)
SLOTS = 6           # column slots: 3 in use + room to load the next (2 at stride 2) + 1
STORE_DEPTH = 4     # output pixels in flight between the MAC array and the ports
PARAM_SEGS = 9 + 4 + 4   # weight vectors, bias and scale (4 bytes per channel) segments

_PTR = signed(40)


def _f(job, reg, field):
    f = DW_REGS[reg].field(field)
    v = getattr(job, reg.lower())[f.lsb:f.lsb + f.width]
    return v.as_signed() if f.signed else v


def requant(v, shift, lo, hi):
    """clip(floor((v + 2^(shift-1)) / 2^shift), lo, hi) (v itself for shift 0), int8."""
    rnd = (Const(1, 65) << shift) >> 1
    r = (v + rnd) >> shift
    return Mux(r < lo, lo, Mux(r > hi, hi, r))[:8]


class Engine(wiring.Component):
    def __init__(self, cfg: ClusterConfig):
        self.cfg = cfg
        self.P = cfg.ima.data_ports
        self.CB = cfg.dw.channels
        self.L = cfg.dw.macs // 9
        self.G = -(-self.CB // self.L)                   # MAC groups per pixel
        self.LA = -(-self.CB // 2)                       # add lanes: a vector in 2 cycles
        self.HC = (BAND - 1) * 2 + 3                     # column height at stride 2
        super().__init__({
            "job": In(JobSignature(DW_REGS)),
            "io": In(IoSignature(DW_REGS)),
            "ports": Out(TcdmSignature()).array(self.P),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, job = self.cfg, self.job
        P, CB, L, G, LA, HC = self.P, self.CB, self.L, self.G, self.LA, self.HC
        GA = -(-CB // LA)
        m.d.comb += self.io.err.eq(0)

        # -- job fields ---------------------------------------------------------------------
        op = _f(job, "MODE", "OP")
        stride = _f(job, "MODE", "STRIDE")
        pt, pl = _f(job, "MODE", "PAD_T"), _f(job, "MODE", "PAD_L")
        H, W, C = _f(job, "SIZE", "H"), _f(job, "SIZE", "W"), _f(job, "CHANNELS", "C")
        shift = _f(job, "QUANT", "SHIFT")
        lo, hi = _f(job, "QUANT", "LO"), _f(job, "QUANT", "HI")
        sa, sb = job.scale_a.as_signed(), job.scale_b.as_signed()
        s2 = stride == 2
        is_add = op == OPS["ADD"]

        m.submodules.check = chk = JobCheck(cfg.tcdm.base, cfg.tcdm.size_bytes)
        m.d.comb += [chk.op.eq(op), chk.stride.eq(stride), chk.pt.eq(pt),
                     chk.pb.eq(_f(job, "MODE", "PAD_B")), chk.pl.eq(pl),
                     chk.pr.eq(_f(job, "MODE", "PAD_R")), chk.h.eq(H), chk.w.eq(W), chk.c.eq(C),
                     chk.lo.eq(lo), chk.hi.eq(hi), chk.src.eq(job.src_addr),
                     chk.src2.eq(job.src2_addr), chk.wt.eq(job.weight_addr),
                     chk.bias.eq(job.bias_addr), chk.scale.eq(job.scale_addr),
                     chk.dst.eq(job.dst_addr)]

        # -- the segment port -------------------------------------------------------------------
        # tag: kind (0 column pixel, 1 parameter), slot, index, last pixel of the column
        TAGW = 1 + 3 + 5 + 1
        m.submodules.seg = seg = SegmentPort(P, CB, TAGW)
        for p in range(P):
            wiring.connect(m, seg.bus[p], wiring.flipped(self.ports[p]))

        # -- main state ---------------------------------------------------------------------------
        IDLE, CHECK, RUN, DRAIN, ABORT = range(5)
        state = Signal(range(5))
        err_bus = Signal()
        m.d.comb += job.idle.eq(state == IDLE)
        m.d.comb += chk.start.eq(job.start)
        running = state == RUN

        ho, wo = Signal(16), Signal(16)
        wc, woc, hwc = Signal(32), Signal(32), Signal(32)
        ncols = Signal(18)          # input columns per band: (Wo - 1) * S + 3

        # -- storage ------------------------------------------------------------------------------
        ring = [[Signal(8 * CB, name=f"ring{s}_{j}") for j in range(HC)] for s in range(SLOTS)]
        wts = [Signal(8 * CB, name=f"w{t}") for t in range(9)]
        bias = [Signal(8 * CB, name=f"bias{t}") for t in range(4)]
        scale = [Signal(8 * CB, name=f"scale{t}") for t in range(4)]
        bias_all, scale_all = Cat(*bias), Cat(*scale)

        occ = Signal(range(SLOTS + 1))      # slots allocated by the loader, not yet freed
        avail = Signal(range(SLOTS + 1))    # slots whose column has arrived, not yet freed
        alloc = Signal()
        arrive = Signal()
        pop = Signal(range(4))
        m.d.sync += [occ.eq(occ + alloc - pop), avail.eq(avail + arrive - pop)]

        # responses
        t_kind, t_slot, t_idx, t_last = (seg.out_tag[0], seg.out_tag[1:4], seg.out_tag[4:9],
                                         seg.out_tag[9])
        with m.If(seg.out_valid):
            with m.If(t_kind == 0):
                for s in range(SLOTS):
                    for j in range(HC):
                        with m.If((t_slot == s) & (t_idx == j)):
                            m.d.sync += ring[s][j].eq(seg.out_data)
            with m.Else():
                for q, reg in enumerate(wts + bias + scale):
                    with m.If(t_idx == q):
                        m.d.sync += reg.eq(seg.out_data)
        m.d.comb += arrive.eq(seg.out_valid & (t_kind == 0) & t_last)
        with m.If(seg.bus_err):
            m.d.sync += err_bus.eq(1)

        # -- loader ---------------------------------------------------------------------------------
        LP, LC, LW, LEND = range(4)
        ld = Signal(range(4))
        ld_crem = Signal(17)                 # channels from this block on
        ld_n = Signal(range(CB + 1))
        m.d.comb += ld_n.eq(Mux(ld_crem > CB, CB, ld_crem))
        ld_blk = Signal(16)                  # channel offset of the block
        ld_q = Signal(range(PARAM_SEGS + 1))
        ld_y0 = Signal(16)
        ld_i = Signal(18)
        ld_j = Signal(range(HC + 1))
        ld_slot = Signal(range(SLOTS))
        ld_yi = Signal(signed(20))           # input row of pixel j of the band's column
        ld_yb = Signal(signed(20))           # input row of pixel 0
        ld_xi = Signal(signed(20))
        ld_ptr = Signal(_PTR)                # address of pixel (ld_yi, ld_xi) of the block
        ld_col = Signal(_PTR)                # ... of pixel 0 of the column
        ld_band = Signal(_PTR)               # ... of pixel 0 of column 0 of the band
        x0 = Signal(_PTR)                    # ... of the first band of block 0
        ld_rows = Signal(range(BAND + 1))
        m.d.comb += ld_rows.eq(Mux(ho - ld_y0 < BAND, ho - ld_y0, BAND))
        ld_hc = Signal(range(HC + 1))
        m.d.comb += ld_hc.eq(Mux(s2, (ld_rows - 1) * 2, ld_rows - 1) + 3)
        ld_pp = Signal(32)                   # parameter segment address
        # add mode
        a_ptr, b_ptr = Signal(32), Signal(32)
        ld_erem = Signal(32)
        ld_ab = Signal()

        rd_valid = Signal()
        rd_addr = Signal(32)
        rd_n = Signal(range(CB + 1))
        rd_kind, rd_idx, rd_last = Signal(), Signal(5), Signal()
        m.d.comb += [seg.rd_valid.eq(rd_valid & running), seg.rd_addr.eq(rd_addr),
                     seg.rd_n.eq(rd_n),
                     seg.rd_tag.eq(Cat(rd_kind, ld_slot, rd_idx, rd_last))]
        take = Signal()
        m.d.comb += take.eq(seg.rd_valid & seg.rd_ready)

        # parameter segment q: weights 0..8 (n bytes), bias 9..12 and scale 13..16 (4n bytes)
        part = Signal(range(5))
        m.d.comb += part.eq(Mux(ld_q < 13, ld_q - 9, ld_q - 13))
        rem4 = Signal(signed(20))
        m.d.comb += rem4.eq((ld_n << 2) - part * CB)
        pipe_empty = Signal()
        cp_done = Signal()

        with m.If(running):
            with m.Switch(ld):
                with m.Case(LP):
                    with m.If(is_add):
                        m.d.sync += ld.eq(LC)
                    with m.Else():
                        m.d.comb += [rd_valid.eq(1), rd_addr.eq(ld_pp), rd_kind.eq(1),
                                     rd_idx.eq(ld_q)]
                        with m.If(ld_q < 9):
                            m.d.comb += rd_n.eq(ld_n)
                        with m.Else():
                            m.d.comb += rd_n.eq(Mux(rem4 > CB, CB, Mux(rem4 < 0, 0, rem4)))
                        with m.If(take):
                            m.d.sync += ld_q.eq(ld_q + 1)
                            with m.If(ld_q == 8):
                                m.d.sync += ld_pp.eq(job.bias_addr + (ld_blk << 2))
                            with m.Elif(ld_q == 12):
                                m.d.sync += ld_pp.eq(job.scale_addr + (ld_blk << 2))
                            with m.Elif(ld_q < 8):
                                m.d.sync += ld_pp.eq(ld_pp + C)
                            with m.Else():
                                m.d.sync += ld_pp.eq(ld_pp + CB)
                            with m.If(ld_q == PARAM_SEGS - 1):
                                m.d.sync += ld.eq(LC)
                with m.Case(LC):
                    with m.If(is_add):
                        m.d.comb += [rd_valid.eq((occ < SLOTS) | ld_ab), rd_kind.eq(0),
                                     rd_idx.eq(ld_ab), rd_last.eq(ld_ab),
                                     rd_addr.eq(Mux(ld_ab, b_ptr, a_ptr)),
                                     rd_n.eq(Mux(ld_erem > CB, CB, ld_erem))]
                        m.d.comb += alloc.eq(take & ~ld_ab)
                        with m.If(take):
                            m.d.sync += ld_ab.eq(~ld_ab)
                            with m.If(ld_ab):
                                m.d.sync += [a_ptr.eq(a_ptr + CB), b_ptr.eq(b_ptr + CB),
                                             ld_erem.eq(ld_erem - rd_n),
                                             ld_slot.eq(Mux(ld_slot == SLOTS - 1, 0, ld_slot + 1))]
                                with m.If(ld_erem <= CB):
                                    m.d.sync += ld.eq(LEND)
                    with m.Else():
                        inside = ((ld_yi >= 0) & (ld_yi < H) & (ld_xi >= 0) & (ld_xi < W))
                        m.d.comb += [rd_valid.eq((occ < SLOTS) | (ld_j != 0)), rd_kind.eq(0),
                                     rd_idx.eq(ld_j), rd_last.eq(ld_j == ld_hc - 1),
                                     rd_addr.eq(ld_ptr[:32]), rd_n.eq(Mux(inside, ld_n, 0))]
                        m.d.comb += alloc.eq(take & (ld_j == 0))
                        with m.If(take):
                            with m.If(ld_j != ld_hc - 1):
                                m.d.sync += [ld_j.eq(ld_j + 1), ld_yi.eq(ld_yi + 1),
                                             ld_ptr.eq(ld_ptr + wc)]
                            with m.Else():
                                m.d.sync += [ld_j.eq(0), ld_yi.eq(ld_yb),
                                             ld_slot.eq(Mux(ld_slot == SLOTS - 1, 0, ld_slot + 1))]
                                with m.If(ld_i != ncols - 1):
                                    m.d.sync += [ld_i.eq(ld_i + 1), ld_xi.eq(ld_xi + 1),
                                                 ld_col.eq(ld_col + C), ld_ptr.eq(ld_col + C)]
                                with m.Else():
                                    # next band
                                    nb = Signal(_PTR)
                                    m.d.comb += nb.eq(ld_band + Mux(s2, wc * (2 * BAND),
                                                                    wc * BAND))
                                    nyb = ld_yb + Mux(s2, 2 * BAND, BAND)
                                    m.d.sync += [ld_i.eq(0), ld_xi.eq(-pl),
                                                 ld_band.eq(nb), ld_col.eq(nb), ld_ptr.eq(nb),
                                                 ld_yb.eq(nyb), ld_yi.eq(nyb),
                                                 ld_y0.eq(ld_y0 + BAND)]
                                    with m.If(ld_y0 + BAND >= ho):
                                        m.d.sync += ld.eq(LW)
                with m.Case(LW):
                    # block done: wait until the MAC array is done with its parameters
                    with m.If(ld_crem <= CB):
                        m.d.sync += ld.eq(LEND)
                    with m.Elif((occ == 0) & pipe_empty):
                        nbk = Signal(_PTR)
                        m.d.comb += nbk.eq(x0 + ld_blk + CB)
                        m.d.sync += [ld.eq(LP), ld_q.eq(0), ld_crem.eq(ld_crem - CB),
                                     ld_blk.eq(ld_blk + CB), ld_pp.eq(job.weight_addr + ld_blk + CB),
                                     ld_y0.eq(0), ld_i.eq(0), ld_j.eq(0), ld_xi.eq(0 - pl),
                                     ld_yb.eq(0 - pt), ld_yi.eq(0 - pt),
                                     ld_band.eq(nbk), ld_col.eq(nbk), ld_ptr.eq(nbk)]

        # -- compute ---------------------------------------------------------------------------------
        cp_crem = Signal(17)
        cp_erem = Signal(32)
        cp_n = Signal(range(CB + 1))
        m.d.comb += cp_n.eq(Mux(is_add, Mux(cp_erem > CB, CB, cp_erem),
                                Mux(cp_crem > CB, CB, cp_crem)))
        cp_groups = Signal(range(max(G, GA) + 1))
        m.d.comb += cp_groups.eq(Mux(is_add, (cp_n + LA - 1) // LA, (cp_n + L - 1) // L))
        cp_g = Signal(range(max(G, GA) + 1))
        cp_rr = Signal(range(BAND + 1))
        cp_ox = Signal(16)
        cp_y0 = Signal(16)
        cp_rows = Signal(range(BAND + 1))
        m.d.comb += cp_rows.eq(Mux(ho - cp_y0 < BAND, ho - cp_y0, BAND))
        cp_head = Signal(range(SLOTS))
        cp_pix = Signal(32)         # output address of (cp_y0, cp_ox) in the block
        cp_band = Signal(32)        # ... of (cp_y0, 0)
        cp_blk = Signal(32)         # ... of (0, 0)
        credits = Signal(range(STORE_DEPTH + 1))
        credit_take = Signal()
        credit_give = Signal()
        m.d.sync += credits.eq(credits - credit_take + credit_give)

        issue = Signal()
        first = cp_g == 0
        last_g = cp_g == cp_groups - 1
        need = Mux(is_add, 1, 3)
        m.d.comb += issue.eq(running & ~cp_done & (avail >= need) & (~first | (credits != 0)))
        m.d.comb += credit_take.eq(issue & first)

        # window taps of the MAC array: slot (head + kx), pixel rr*S + ky, channels gL..gL+L-1
        flat = Array(ring[s][j] for s in range(SLOTS) for j in range(HC))
        taps = []
        for ky in range(3):
            for kx in range(3):
                sl = Signal(range(SLOTS), name=f"sl{kx}_{ky}")
                hs = cp_head + kx
                m.d.comb += sl.eq(Mux(hs >= SLOTS, hs - SLOTS, hs))
                pix = Mux(s2, cp_rr * 2, cp_rr) + ky
                vec = flat[sl * HC + pix]
                taps.append(vec.word_select(cp_g, 8 * L))
        out_addr = Signal(32)
        m.d.comb += out_addr.eq(Mux(is_add, cp_pix, cp_pix + Mux(cp_rr != 0, woc * cp_rr, 0)))

        # stage 1: accumulators (DW) or scaled sums (ADD)
        v1, last1, g1 = Signal(), Signal(), Signal(range(max(G, GA) + 1))
        addr1, n1 = Signal(32), Signal(range(CB + 1))
        acc1 = [Signal(signed(32), name=f"acc1_{l}") for l in range(L)]
        sc1 = [Signal(32, name=f"sc1_{l}") for l in range(L)]
        sum1 = [Signal(signed(42), name=f"sum1_{l}") for l in range(LA)]
        m.d.sync += v1.eq(issue)
        with m.If(issue):
            m.d.sync += [last1.eq(last_g), g1.eq(cp_g), addr1.eq(out_addr), n1.eq(cp_n)]
            for l in range(L):
                prods = [taps[t][8 * l:8 * l + 8].as_signed()
                         * wts[t].word_select(cp_g, 8 * L)[8 * l:8 * l + 8].as_signed()
                         for t in range(9)]
                ch = cp_g * L + l
                b = bias_all.word_select(ch, 32).as_signed()
                m.d.sync += [acc1[l].eq(sum(prods) + b), sc1[l].eq(scale_all.word_select(ch, 32))]
        slot_a = Array(ring[s][0] for s in range(SLOTS))[cp_head]
        slot_b = Array(ring[s][1] for s in range(SLOTS))[cp_head]
        with m.If(issue):
            for l in range(LA):
                a = slot_a.word_select(cp_g, 8 * LA)[8 * l:8 * l + 8].as_signed()
                b = slot_b.word_select(cp_g, 8 * LA)[8 * l:8 * l + 8].as_signed()
                m.d.sync += sum1[l].eq(a * sa + b * sb)

        # stage 2: acc * scale (DW); ADD passes through
        v2, last2, g2 = Signal(), Signal(), Signal(range(max(G, GA) + 1))
        addr2, n2 = Signal(32), Signal(range(CB + 1))
        prod2 = [Signal(signed(66), name=f"prod2_{l}") for l in range(L)]
        sum2 = [Signal(signed(42), name=f"sum2_{l}") for l in range(LA)]
        m.d.sync += v2.eq(v1)
        with m.If(v1):
            m.d.sync += [last2.eq(last1), g2.eq(g1), addr2.eq(addr1), n2.eq(n1)]
            m.d.sync += [prod2[l].eq(acc1[l] * sc1[l]) for l in range(L)]
            m.d.sync += [sum2[l].eq(sum1[l]) for l in range(LA)]

        # stage 3: round, shift, clip into the output collector
        coll = Signal(8 * CB)
        dw_bytes = Cat(requant(prod2[l], shift, lo, hi) for l in range(L))
        add_bytes = Cat(requant(sum2[l], shift, lo, hi) for l in range(LA))
        nxt = Signal(8 * CB)
        m.d.comb += nxt.eq(coll)
        with m.If(is_add):
            for g in range(GA):
                with m.If(g2 == g):
                    w = min(8 * LA, 8 * CB - 8 * LA * g)
                    m.d.comb += nxt[8 * LA * g:8 * LA * g + w].eq(add_bytes[:w])
        with m.Else():
            for g in range(G):
                with m.If(g2 == g):
                    w = min(8 * L, 8 * CB - 8 * L * g)
                    m.d.comb += nxt[8 * L * g:8 * L * g + w].eq(dw_bytes[:w])
        with m.If(v2):
            m.d.sync += coll.eq(nxt)

        stq_flush = Signal()
        stq = SyncFIFOBuffered(width=32 + 8 + 8 * CB, depth=STORE_DEPTH)
        m.submodules.stq = ResetInserter(stq_flush)(stq)
        n2w = Signal(8)
        m.d.comb += n2w.eq(n2)
        m.d.comb += [stq.w_en.eq(v2 & last2), stq.w_data.eq(Cat(addr2, n2w, nxt))]
        m.d.comb += [seg.wr_valid.eq(stq.r_rdy & (running | (state == DRAIN))),
                     seg.wr_addr.eq(stq.r_data[:32]), seg.wr_n.eq(stq.r_data[32:40]),
                     seg.wr_data.eq(stq.r_data[40:]), stq.r_en.eq(seg.wr_valid & seg.wr_ready)]
        m.d.comb += credit_give.eq(stq.r_en)
        m.d.comb += pipe_empty.eq(~v1 & ~v2)

        # compute loop advance
        with m.If(issue):
            with m.If(~last_g):
                m.d.sync += cp_g.eq(cp_g + 1)
            with m.Else():
                m.d.sync += cp_g.eq(0)
                with m.If(is_add):
                    m.d.comb += pop.eq(1)
                    m.d.sync += [cp_pix.eq(cp_pix + CB), cp_erem.eq(cp_erem - cp_n),
                                 cp_head.eq(Mux(cp_head == SLOTS - 1, 0, cp_head + 1))]
                    with m.If(cp_erem <= CB):
                        m.d.sync += cp_done.eq(1)
                with m.Elif(cp_rr != cp_rows - 1):
                    m.d.sync += cp_rr.eq(cp_rr + 1)
                with m.Else():
                    m.d.sync += cp_rr.eq(0)
                    lastx = cp_ox == wo - 1
                    npop = Mux(lastx, 3, Mux(s2, 2, 1))
                    m.d.comb += pop.eq(npop)
                    hn = cp_head + npop
                    m.d.sync += cp_head.eq(Mux(hn >= SLOTS, hn - SLOTS, hn))
                    with m.If(~lastx):
                        m.d.sync += [cp_ox.eq(cp_ox + 1), cp_pix.eq(cp_pix + C)]
                    with m.Else():
                        nb = cp_band + Mux(BAND == 2, woc << 1, woc * BAND)
                        m.d.sync += [cp_ox.eq(0), cp_y0.eq(cp_y0 + BAND), cp_band.eq(nb),
                                     cp_pix.eq(nb)]
                        with m.If(cp_y0 + BAND >= ho):
                            with m.If(cp_crem <= CB):
                                m.d.sync += cp_done.eq(1)
                            with m.Else():
                                m.d.sync += [cp_crem.eq(cp_crem - CB), cp_y0.eq(0),
                                             cp_blk.eq(cp_blk + CB), cp_band.eq(cp_blk + CB),
                                             cp_pix.eq(cp_blk + CB)]

        # -- job sequencing --------------------------------------------------------------------------
        m.d.comb += [job.done.eq(0), job.error.eq(0)]
        with m.Switch(state):
            with m.Case(IDLE):
                with m.If(job.start):
                    m.d.sync += [state.eq(CHECK), err_bus.eq(0)]
            with m.Case(CHECK):
                with m.If(chk.done):
                    with m.If(chk.error != 0):
                        m.d.comb += [job.done.eq(1), job.error.eq(chk.error)]
                        m.d.sync += state.eq(IDLE)
                    with m.Else():
                        xs = Signal(_PTR)
                        m.d.comb += xs.eq(job.src_addr - chk.ptwc - pl * C)
                        m.d.sync += [
                            state.eq(RUN), ho.eq(chk.ho), wo.eq(chk.wo), wc.eq(chk.wc),
                            woc.eq(chk.woc), hwc.eq(chk.hwc),
                            ncols.eq(Mux(s2, (chk.wo - 1) * 2, chk.wo - 1) + 3),
                            # loader
                            ld.eq(LP), ld_crem.eq(C), ld_blk.eq(0), ld_q.eq(0),
                            ld_pp.eq(job.weight_addr), ld_y0.eq(0), ld_i.eq(0), ld_j.eq(0),
                            ld_slot.eq(0), ld_xi.eq(0 - pl), ld_yb.eq(0 - pt), ld_yi.eq(0 - pt),
                            x0.eq(xs), ld_band.eq(xs), ld_col.eq(xs), ld_ptr.eq(xs),
                            a_ptr.eq(job.src_addr), b_ptr.eq(job.src2_addr), ld_erem.eq(chk.hwc),
                            ld_ab.eq(0),
                            # compute
                            cp_crem.eq(C), cp_g.eq(0), cp_rr.eq(0), cp_ox.eq(0), cp_y0.eq(0),
                            cp_head.eq(0), cp_pix.eq(job.dst_addr), cp_band.eq(job.dst_addr),
                            cp_blk.eq(job.dst_addr), cp_erem.eq(chk.hwc), cp_done.eq(0),
                            occ.eq(0), avail.eq(0), credits.eq(STORE_DEPTH)]
            with m.Case(RUN):
                with m.If(cp_done):
                    m.d.sync += state.eq(DRAIN)
            with m.Case(DRAIN):
                with m.If(pipe_empty & (stq.level == 0) & seg.idle):
                    m.d.comb += [job.done.eq(1), job.error.eq(Mux(err_bus, E["BUS"], E["OK"]))]
                    m.d.sync += state.eq(IDLE)
            with m.Case(ABORT):
                m.d.comb += stq_flush.eq(1)
                with m.If(seg.idle):
                    m.d.sync += state.eq(IDLE)
        with m.If(job.clear & (state != IDLE)):
            m.d.sync += [state.eq(ABORT), cp_done.eq(1), v1.eq(0), v2.eq(0)]
        return m
