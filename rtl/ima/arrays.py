"""The IMA's crossbar arrays: one macro port per array behind the engine's
single port (the paper's static mux, section VI).

The engine drives every array's inputs at once (the DAC vector, the window,
the ADC settings and the programming operation are wires to each macro);
only the selected array sees ``start`` and ``prog_valid``, and only its
outputs (``done``, ``y``, ``prog_*``) reach the engine.  ``sel`` changes
only while every array is idle (between jobs; the programming registers
act only while no job runs), so switching costs nothing but the engine's
boundary register (rtl/ima/macro.py), which the job check's cycles hide.
"""

from amaranth.hdl import Array, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .macro import MacroSignature

__all__ = ["ArrayMux"]

_STROBES = ("start", "prog_valid")
_OUTPUTS = ("done", "y", "prog_ready", "prog_rvalid", "prog_rdata")


class ArrayMux(wiring.Component):
    """Parameters
    ----------
    arrays, rows, cols : int

    Members
    -------
    engine : In(MacroSignature)
        The engine's macro port.
    arrays : Out(MacroSignature).array(arrays)
        One port per crossbar array (lifted to the cluster as ``<ima>_macro``).
    sel : In(range(arrays))
        The array the engine reaches.
    """

    def __init__(self, arrays: int, rows: int, cols: int):
        self.n = arrays
        sig = MacroSignature(rows, cols)
        super().__init__({"engine": In(sig), "arrays": Out(sig).array(arrays),
                          "sel": In(range(max(2, arrays)))})

    def elaborate(self, platform):
        m = Module()
        e, sel = self.engine, self.sel
        for name, flow, _ in e.signature.flatten(e):
            key = name[0]
            if key in _OUTPUTS:
                continue
            for k, a in enumerate(self.arrays):
                value = getattr(e, key)
                m.d.comb += getattr(a, key).eq(value & (sel == k) if key in _STROBES else value)
        for key in _OUTPUTS:
            m.d.comb += getattr(e, key).eq(Array(getattr(a, key) for a in self.arrays)[sel])
        return m
