"""Job check of the IMA: a job that would misbehave does not run.

The cheap checks (operation, zero counts, window, clip range) are
combinational; the stream shapes and the address extents need products of
16- and 32-bit register values, so they run one product per cycle on a
single multiplier (about 15 cycles once per job, not per step).  The extent
of a stream is base + (sum of the negative loop terms) .. base + (sum of the
positive terms) + length - 1, with each term (count - 1) x stride, so
negative strides are checked too, and a stride that would carry an address
past 2^32 (or below 0) leaves the TCDM instead of wrapping into it.  An MVM
whose destination range overlaps its source range is refused (OVERLAP),
in the same cycle as the address check, so valid jobs take no extra cycle.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hwpe.controller import ERROR_BITS
from .regs import IMA_REGS
from .streamer import STREAM_CFG

__all__ = ["JobCheck"]

E = {n: v for n, v, _ in IMA_REGS.constants["ERR"]}
OPS = {n: v for n, v, _ in IMA_REGS.constants["OP"]}
_SUM = signed(52)      # base + four terms of |(2^16 - 1) x 2^31|: fits 64-bit simulator words


class JobCheck(wiring.Component):
    def __init__(self, rows: int, cols: int, tcdm_base: int, tcdm_bytes: int, arrays: int = 1):
        self.rows, self.cols, self.arrays = rows, cols, arrays
        self.tcdm_base, self.tcdm_bytes = tcdm_base, tcdm_bytes
        super().__init__({
            "start": In(1),
            "op": In(4),
            "row_off": In(16), "n_rows": In(16), "col_off": In(16), "n_cols": In(16),
            "lo": In(signed(8)), "hi": In(signed(8)),
            "inner": In(16), "outer": In(16),
            "array": In(8),
            "src": In(STREAM_CFG), "dst": In(STREAM_CFG),
            "done": Out(1),
            "error": Out(ERROR_BITS),
            "steps": Out(32),       # inner x outer, valid with done
        })

    def elaborate(self, platform):
        m = Module()
        src, dst = self.src, self.dst
        mvm = self.op == OPS["MVM"]
        prog = self.op == OPS["PROGRAM"]

        # -- combinational checks, in the order of the error codes ----------------------------
        zero = Signal()
        m.d.comb += zero.eq((self.n_rows == 0) | (self.n_cols == 0) | (self.inner == 0)
                            | (self.outer == 0) | (src.length == 0) | (src.c1 == 0) | (src.c2 == 0)
                            | (mvm & ((dst.length == 0) | (dst.c1 == 0) | (dst.c2 == 0))))
        window = Signal()
        m.d.comb += window.eq((self.row_off + self.n_rows > self.rows)
                              | (self.col_off + self.n_cols > self.cols)
                              | (prog & ((self.col_off[:3] != 0) | (self.n_cols[:3] != 0))))
        quick = Signal(ERROR_BITS)
        with m.If(~mvm & ~prog):
            m.d.comb += quick.eq(E["MODE"])
        with m.Elif(zero):
            m.d.comb += quick.eq(E["ZERO"])
        with m.Elif(window):
            m.d.comb += quick.eq(E["WINDOW"])
        with m.Elif(mvm & (self.lo > self.hi)):
            m.d.comb += quick.eq(E["CLIP"])
        with m.Elif(self.array >= self.arrays):
            m.d.comb += quick.eq(E["ARRAY"])

        # -- one product per cycle --------------------------------------------------------------
        a = Signal(signed(33))      # a product, or a stride
        b = Signal(signed(17))      # a 16-bit count (minus one)
        p = Signal(signed(50))
        m.d.comb += p.eq(a * b)
        tmp = Signal(32)
        lo_s, hi_s, lo_d, hi_d = (Signal(_SUM, name=n) for n in ("lo_s", "hi_s", "lo_d", "hi_d"))
        shape_bad = Signal()

        def as_signed(v):
            return v.as_signed()

        # (a, b, action, target): action tmp / eq / steps / steps_eq / src / dst
        def seq(prog_mode):
            out = [(src.length, src.c1, "tmp", None),
                   (tmp, src.c2, "eq", self.n_cols >> 1 if prog_mode else self.n_rows)]
            if not prog_mode:
                out += [(dst.length, dst.c1, "tmp", None), (tmp, dst.c2, "eq", self.n_cols)]
            out += [(self.inner, self.outer, "steps_eq" if prog_mode else "steps", self.n_rows)]
            dirs = [("src", src)] + ([] if prog_mode else [("dst", dst)])
            for name, s in dirs:
                out += [(as_signed(s.stride1), s.c1 - 1, name, None),
                        (as_signed(s.stride2), s.c2 - 1, name, None),
                        (as_signed(s.step0), self.inner - 1, name, None),
                        (as_signed(s.step1), self.outer - 1, name, None)]
            return out

        seqs = {False: seq(False), True: seq(True)}
        n_max = max(len(v) for v in seqs.values())
        k = Signal(range(n_max + 1))
        run = Signal()
        final = Signal()
        last = Signal()

        def act(action, target):
            stmts = []
            if action == "tmp":
                stmts.append(tmp.eq(p))
            elif action == "eq":
                with m.If(p != target):
                    m.d.sync += shape_bad.eq(1)
            elif action in ("steps", "steps_eq"):
                stmts.append(self.steps.eq(p))
                if action == "steps_eq":
                    with m.If(p != target):
                        m.d.sync += shape_bad.eq(1)
            else:
                lo, hi = (lo_s, hi_s) if action == "src" else (lo_d, hi_d)
                with m.If(p < 0):
                    m.d.sync += lo.eq(lo + p)
                with m.Else():
                    m.d.sync += hi.eq(hi + p)
            m.d.sync += stmts

        with m.If(run):
            for prog_mode, steps in seqs.items():
                with m.If(prog if prog_mode else ~prog):
                    with m.Switch(k):
                        for i, (ea, eb, action, target) in enumerate(steps):
                            with m.Case(i):
                                m.d.comb += [a.eq(ea), b.eq(eb), last.eq(i == len(steps) - 1)]
                                act(action, target)
            m.d.sync += k.eq(k + 1)
            with m.If(last):
                m.d.sync += [run.eq(0), final.eq(1)]

        # -- extents against the TCDM -------------------------------------------------------------
        t0, t1 = self.tcdm_base, self.tcdm_base + self.tcdm_bytes - 1

        def extent(s, lo, hi, name):
            first = Signal(_SUM, name=f"{name}_first")
            lastb = Signal(_SUM, name=f"{name}_last")
            m.d.comb += [first.eq(s.base + lo), lastb.eq(s.base + hi + s.length - 1)]
            return first, lastb

        (fs, ls), (fd, ld) = extent(src, lo_s, hi_s, "src"), extent(dst, lo_d, hi_d, "dst")
        bad_src = (fs < t0) | (ls > t1)
        bad_dst = (fd < t0) | (ld > t1)
        # An output byte written over a source byte a later step (or the
        # pipelined engine's next MVM) still reads would corrupt the layer
        # silently: the byte ranges of the two streams must be disjoint.
        overlap = (fs <= ld) & (fd <= ls)
        m.d.sync += [self.done.eq(0)]
        with m.If(final):
            m.d.sync += [final.eq(0), self.done.eq(1)]
            with m.If(shape_bad):
                m.d.sync += self.error.eq(E["SHAPE"])
            with m.Elif(bad_src | (mvm & bad_dst)):
                m.d.sync += self.error.eq(E["ADDRESS"])
            with m.Elif(mvm & overlap):
                m.d.sync += self.error.eq(E["OVERLAP"])
            with m.Else():
                m.d.sync += self.error.eq(E["OK"])

        with m.If(self.start):
            m.d.sync += [k.eq(0), shape_bad.eq(0), lo_s.eq(0), hi_s.eq(0), lo_d.eq(0),
                         hi_d.eq(0), final.eq(0)]
            with m.If(quick != 0):
                m.d.sync += [self.done.eq(1), self.error.eq(quick), run.eq(0)]
            with m.Else():
                m.d.sync += run.eq(1)
        return m
