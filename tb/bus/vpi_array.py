"""Bulk access to a memory (an unpacked array of 32-bit words) of the running
Verilator model, in one VPI call instead of one per word.

cocotb reads or writes an array element per VPI call plus Python objects
(~8 us a word); IEEE 1800's ``vpi_get_value_array``/``vpi_put_value_array``
move a whole range as C integers.  cocotb does not wrap them, so this calls
them through ctypes in the simulator executable, whose symbols the harness
exports (``-rdynamic``, tb/harness.py).  A write is a backdoor deposit: it
changes the array, not the logic that already read it.

A simulator without them (Icarus's vvp) gets cocotb's per-word access, which
is slow but fine for the small runs such a simulator is used for; a word
that holds X or Z there is an error naming it (4-state simulators show it).
"""

from __future__ import annotations

import ctypes

import numpy as np

__all__ = ["VpiArray"]

VPI_INT_VAL = 6             # vpi_user.h: vpiIntVal
VPI_ERROR = 3               # vpiError


class _ArrayValue(ctypes.Structure):     # s_vpi_arrayvalue
    _fields_ = [("format", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("value", ctypes.c_void_p)]


class _ErrorInfo(ctypes.Structure):      # s_vpi_error_info
    _fields_ = [("state", ctypes.c_int32), ("level", ctypes.c_int32),
                ("message", ctypes.c_char_p), ("product", ctypes.c_char_p),
                ("code", ctypes.c_char_p), ("file", ctypes.c_char_p), ("line", ctypes.c_int32)]


_vpi = None


def _lib():
    """The simulator's VPI with the bulk array calls; None when it has no
    such calls (Icarus)."""
    global _vpi
    if _vpi is None:
        lib = ctypes.CDLL(None)
        if not hasattr(lib, "vpi_handle_by_name"):
            raise RuntimeError("no VPI in this process: run inside a simulator")
        try:
            for name in ("vpi_get_value_array", "vpi_put_value_array"):
                getattr(lib, name)
        except AttributeError:
            # Verilator built elsewhere than through the harness lacks -rdynamic.
            if _simulator_is_verilator():
                raise RuntimeError("the simulator does not export vpi_get_value_array: build "
                                   "it through imcc.tb.harness (links with -rdynamic)") from None
            _vpi = False
            return None
        lib.vpi_handle_by_name.restype = ctypes.c_void_p
        lib.vpi_handle_by_name.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        for name in ("vpi_get_value_array", "vpi_put_value_array"):
            getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.POINTER(_ArrayValue),
                                           ctypes.POINTER(ctypes.c_int32), ctypes.c_uint32]
        lib.vpi_chk_error.argtypes = [ctypes.POINTER(_ErrorInfo)]
        lib.vpi_chk_error.restype = ctypes.c_int32
        _vpi = lib
    return _vpi or None


def _simulator_is_verilator() -> bool:
    import cocotb
    return "verilator" in getattr(cocotb, "SIM_NAME", "").lower()


class VpiArray:
    """``handle``: the cocotb handle of a memory of at most 32-bit words.  Indices
    are Verilog's (Amaranth declares memories ``[depth-1:0]``)."""

    def __init__(self, handle):
        self.path, self.handle = handle._path, handle
        self.left, self.right = handle.left, handle.right
        self.lo, self.depth = min(self.left, self.right), len(handle)
        self.lib = _lib()
        if self.lib is None:        # per-word access (see the module's docstring)
            return
        self.h = self.lib.vpi_handle_by_name(self.path.encode(), None)
        if not self.h:
            raise RuntimeError(f"VPI has no handle for {self.path}")
        self._verify(handle)

    def _verify(self, handle):
        """Verilator (5.048) walks a descending array from storage slot
        ``left - index`` downwards, i.e. index i names element left + right - i;
        _span relies on that.  Check it once against cocotb's element access,
        with marks written at both ends and put back, so another simulator
        version fails here instead of shuffling words."""
        for first in (0, self.depth - 2):
            saved = self.read(first, 2)
            marks = np.array([0x5EED0000 + first, 0x5EED0001 + first], np.uint32)
            self.write(first, marks)
            seen = [int(handle[self.lo + first + k].value) for k in range(2)]
            back = self.read(first, 2)
            self.write(first, saved)
            marks, back = [int(v) for v in marks], [int(v) for v in back]
            if seen != marks or back != marks:
                raise RuntimeError(f"bulk VPI access to {self.path} disagrees with element "
                                   f"access at words {first}, {first + 1} (wrote {marks}, "
                                   f"elements {seen}, bulk {back}); see tb/bus/vpi_array.py")

    def _check(self, what: str):
        info = _ErrorInfo()
        if self.lib.vpi_chk_error(ctypes.byref(info)) >= VPI_ERROR:
            raise RuntimeError(f"{what} {self.path}: {info.message.decode(errors='replace')}")

    def _span(self, first: int, n: int):
        """(VPI start index, whether VPI returns the words in reverse) for words
        ``first .. first + n - 1`` counted from the lowest index."""
        if not (0 <= first and n >= 0 and first + n <= self.depth):
            raise IndexError(f"words [{first}, {first + n}) of {self.path} (depth {self.depth})")
        if self.left > self.right:      # descending: see _verify
            return (ctypes.c_int32 * 1)(self.left + self.right - (self.lo + first + n - 1)), True
        return (ctypes.c_int32 * 1)(self.lo + first), False

    def read(self, first: int = 0, n: int | None = None) -> np.ndarray:
        """Words ``first .. first + n - 1`` (from the lowest index) as uint32."""
        n = self.depth - first if n is None else n
        index, rev = self._span(first, n)
        if n == 0:
            return np.zeros(0, np.uint32)
        if self.lib is None:
            return np.array([self._word(self.lo + first + k) for k in range(n)], np.uint32)
        v = _ArrayValue(VPI_INT_VAL, 0, None)
        self.lib.vpi_get_value_array(self.h, ctypes.byref(v), index, n)
        self._check("reading")
        # Verilator fills a buffer of its own: copy before the next call reuses it.
        words = np.ctypeslib.as_array(ctypes.cast(v.value, ctypes.POINTER(ctypes.c_uint32)), (n,))
        return (words[::-1] if rev else words).copy()

    def write(self, first: int, words) -> None:
        """Deposit ``words`` (uint32) at ``first ..`` (from the lowest index)."""
        buf = np.asarray(words, dtype=np.uint32)
        index, rev = self._span(first, buf.size)
        if buf.size == 0:
            return
        if self.lib is None:
            from cocotb.handle import Immediate     # now, as the bulk call deposits
            for k, w in enumerate(buf):
                self.handle[self.lo + first + k].value = Immediate(int(w))
            return
        buf = np.ascontiguousarray(buf[::-1] if rev else buf)
        v = _ArrayValue(VPI_INT_VAL, 0, buf.ctypes.data)
        self.lib.vpi_put_value_array(self.h, ctypes.byref(v), index, buf.size)
        self._check("writing")

    def _word(self, index: int) -> int:
        value = self.handle[index].value
        if not value.is_resolvable:
            raise RuntimeError(f"{self.path}[{index}] holds {value} (X or Z): a 4-state "
                               "simulator shows a word nothing has written")
        return value.to_unsigned()
