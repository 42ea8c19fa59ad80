"""Programming through registers: PROG_ROWS / PROG_COLS set a window of whole
column groups, each PROG_DATA write queues the next 8 packed weights of it
(row by row), READ_ADDR queues a read-back whose word READ_DATA returns.

Operations wait in a small queue (a bus write never stalls: a full queue or a
write outside the window answers a bus error) and go to the macro in order,
one at a time, while no job runs.  STATUS.PROG_BUSY stays high until the
macro has finished the last operation.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..hwpe.controller import IoSignature
from .macro import WEIGHTS_PER_WORD
from .regs import IMA_REGS

__all__ = ["ProgRegs", "QUEUE_DEPTH"]

QUEUE_DEPTH = 2


class ProgRegs(wiring.Component):
    def __init__(self, rows: int, cols: int, arrays: int = 1):
        self.rows, self.groups, self.arrays = rows, cols // WEIGHTS_PER_WORD, arrays
        self.op_layout = data.StructLayout({"we": 1, "row": 16, "group": 16, "data": 32})
        super().__init__({
            "io": In(IoSignature(IMA_REGS)),
            "grant": In(1),             # the engine lends the macro's programming port
            "op_valid": Out(1),
            "op": Out(self.op_layout),
            "op_ready": In(1),
            "op_rvalid": In(1),
            "op_rdata": In(32),
            "busy": Out(1),
            "quiet": Out(1),        # no register changes at the next edge (io writes aside)
            "array": Out(range(max(2, arrays))),    # PROG_ARRAY: the array operations reach
        })

    def elaborate(self, platform):
        m = Module()
        io = self.io
        m.submodules.queue = q = SyncFIFO(width=self.op_layout.size, depth=QUEUE_DEPTH)
        row_off, row_cnt, grp_off, grp_cnt = (Signal(16, name=n) for n in
                                              ("row_off", "row_cnt", "grp_off", "grp_cnt"))
        r_i, g_i = Signal(16), Signal(16)
        read_data = Signal(32)

        m.d.comb += io.prog_array_rdata.eq(self.array)
        with m.If(io.prog_array_w):
            # a queued operation keeps the array it was written for: refuse a change then
            with m.If((io.wdata[:8] < self.arrays) & ~self.busy):
                m.d.sync += self.array.eq(io.wdata[:8])
            with m.Else():
                m.d.comb += io.err.eq(1)
        m.d.comb += [io.prog_rows_rdata.eq(row_off | (row_cnt << 16)),
                     io.prog_cols_rdata.eq(grp_off | (grp_cnt << 16)),
                     io.read_data_rdata.eq(read_data)]
        with m.If(io.prog_rows_w):
            m.d.sync += [row_off.eq(io.wdata[:16]), row_cnt.eq(io.wdata[16:]), r_i.eq(0), g_i.eq(0)]
        with m.If(io.prog_cols_w):
            m.d.sync += [grp_off.eq(io.wdata[:16]), grp_cnt.eq(io.wdata[16:]), r_i.eq(0), g_i.eq(0)]

        push = Signal(self.op_layout)
        row, grp = Signal(17), Signal(17)
        m.d.comb += [row.eq(row_off + r_i), grp.eq(grp_off + g_i)]
        in_window = (r_i < row_cnt) & (g_i < grp_cnt)
        inside = (row < self.rows) & (grp < self.groups)
        with m.If(io.prog_data_w):
            with m.If(in_window & inside & q.w_rdy):
                m.d.comb += [push.we.eq(1), push.row.eq(row), push.group.eq(grp),
                             push.data.eq(io.wdata), q.w_en.eq(1)]
                with m.If(g_i + 1 == grp_cnt):
                    m.d.sync += [g_i.eq(0), r_i.eq(r_i + 1)]
                with m.Else():
                    m.d.sync += g_i.eq(g_i + 1)
            with m.Else():
                m.d.comb += io.err.eq(1)
        rrow, rgrp = io.wdata[:16], io.wdata[16:]
        with m.If(io.read_addr_w):
            with m.If((rrow < self.rows) & (rgrp < self.groups) & q.w_rdy):
                m.d.comb += [push.we.eq(0), push.row.eq(rrow), push.group.eq(rgrp), q.w_en.eq(1)]
            with m.Else():
                m.d.comb += io.err.eq(1)
        m.d.comb += q.w_data.eq(push)

        # -- one operation at a time on the macro --------------------------------------------
        head = self.op_layout(q.r_data)
        m.d.comb += self.op.eq(head)
        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.op_valid.eq(q.r_rdy & self.grant)
                with m.If(self.op_valid & self.op_ready):
                    m.d.comb += q.r_en.eq(1)
                    with m.If(head.we):
                        m.next = "ACCEPTED"
                    with m.Else():
                        m.next = "READING"
            with m.State("ACCEPTED"):   # prog_ready drops after the handshake
                m.next = "SETTLE"
            with m.State("SETTLE"):     # ... and rises when the macro has finished
                with m.If(self.op_ready):
                    m.next = "IDLE"
            with m.State("READING"):
                with m.If(self.op_rvalid):
                    m.d.sync += read_data.eq(self.op_rdata)
                    m.next = "SETTLE"
        m.d.comb += self.quiet.eq(~q.w_en & ~q.r_en & ~fsm.ongoing("ACCEPTED")
                                  & ~(fsm.ongoing("SETTLE") & self.op_ready)
                                  & ~(fsm.ongoing("READING") & self.op_rvalid))
        busy = q.r_rdy | ~fsm.ongoing("IDLE")
        m.d.comb += [self.busy.eq(busy), io.status_prog_busy.eq(busy),
                     io.status_prog_full.eq(~q.w_rdy)]
        return m
