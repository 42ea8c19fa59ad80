"""The analog crossbar macro's port (system contract, "Analog crossbar macro
boundary").  The generated Verilog stops here; in simulation a behavioural
model (imcc.sim.crossbar, attached by imcc.tb.bus.crossbar_macro) answers.

Seen from the IMA engine (``Out`` flows to the macro).  The macro decides
every latency; the engine waits for the macro's strobes and never counts.

The engine samples every ``In`` signal (``done``, ``y``, ``prog_*``) in a
register at the boundary and uses only the registered copies: no
combinational path crosses the macro's edge.  Latencies below are counted to
that register (a macro raises a strobe one cycle before the latency ends),
so an MVM of ``L`` cycles started in cycle ``c`` is seen done in cycle
``c + L``, for ``L >= MACRO_MIN_CYCLES`` (2, gen/config.py).

The macro runs on the cluster's ungated clock ``clk``: it keeps time while
the cluster's idle gate stops the clock around it (rtl/cluster.py), and its
outputs change after a rising edge of ``clk``.

MVM
  ``start`` is high for one cycle.  With it, and held until ``done``:
  ``x`` (the DAC input vector, int8 x[i] in bits [8i+7:8i], applied to row
  ``row_off + i`` for i < ``n_rows``), the column window ``col_off`` /
  ``n_cols`` and the ADC settings ``gain`` (unsigned), ``shift``, ``lo``,
  ``hi`` (int8).  Later the macro raises ``done`` for one cycle with ``y``:
  y[j] (int8, bits [8j+7:8j]) is the ADC output of column ``col_off + j`` for
  j < ``n_cols``.  One MVM at a time; ``start`` only while ``prog_ready`` is
  high (the macro is not programming).  The next ``start`` may come in the
  cycle the engine sees ``done`` (the cycle after the macro raised it), with
  the next ``x``: MVMs back to back, one every ``L`` cycles.

Programming and read-back (valid/ready)
  ``prog_valid`` with ``prog_we``, ``prog_row``, ``prog_group`` and
  ``prog_wdata`` is held until accepted.  A write (``prog_we``) programs the
  8 weights of columns 8*group .. 8*group+7 of the row (weight i in bits
  [4i+3:4i], two's complement, -7..7).  A read (``~prog_we``) is answered
  later by one cycle of ``prog_rvalid`` with ``prog_rdata`` in the same
  packing.  ``prog_ready`` high means the macro is idle; it drops at the edge
  that accepts an operation, for the programming (or read) time.  Through the
  boundary register the handshake is: an operation is accepted at an edge
  where ``prog_valid`` is high and ``prog_ready`` was high at the edge before
  as well (the engine's registered copy is high), except the edge right after
  an acceptance.

Pool (``ima.macro_ports = "pool"``)
  One bank macro of ``ima.arrays`` arrays with a port per IMA instance; each
  port names its array on ``<ima>_macro_array`` (changed only between jobs,
  as in a bank).  Arrays named by different ports compute at the same time.
  An MVM or programming operation on an array another port is using waits
  inside the macro until that array is free: its latency grows by the wait,
  so a conflict costs time, never a wrong result, and nothing above this
  boundary changes (the engine waits for the strobes and never counts).  The
  compiler schedules jobs so that conflicts are rare (gen/compiler/fused.py).
  The switch from ports to arrays is the macro's (its digital periphery), so
  the cluster's cell count does not include it.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from imcc.gen.config import IMA_WEIGHT_BITS, WORD_BYTES

__all__ = ["MacroSignature", "WEIGHTS_PER_WORD"]

WEIGHTS_PER_WORD = WORD_BYTES * 8 // IMA_WEIGHT_BITS


class MacroSignature(wiring.Signature):
    def __init__(self, rows: int, cols: int):
        self.rows, self.cols = rows, cols
        rb, cb = max(1, ceil_log2(rows)), max(1, ceil_log2(cols))
        gb = max(1, ceil_log2(cols // WEIGHTS_PER_WORD))
        super().__init__({
            "start": Out(1),
            "x": Out(8 * rows),
            "row_off": Out(rb),
            "n_rows": Out(rows.bit_length()),
            "col_off": Out(cb),
            "n_cols": Out(cols.bit_length()),
            "gain": Out(32),
            "shift": Out(5),
            "lo": Out(8),
            "hi": Out(8),
            "done": In(1),
            "y": In(8 * cols),
            "prog_valid": Out(1),
            "prog_we": Out(1),
            "prog_row": Out(rb),
            "prog_group": Out(gb),
            "prog_wdata": Out(32),
            "prog_ready": In(1),
            "prog_rvalid": In(1),
            "prog_rdata": In(32),
        })

    def __eq__(self, other):
        return isinstance(other, MacroSignature) and (other.rows, other.cols) == (self.rows, self.cols)

    def __repr__(self):
        return f"MacroSignature({self.rows}, {self.cols})"
