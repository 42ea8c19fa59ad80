"""Software's view of the IMA in a testbench: jobs as register values, offload
through a register master (ACQUIRE, job registers, TRIGGER), end-of-job events,
and the mappings of layers onto jobs (docs/ima.md, "Programming model").

Register offsets and field positions come from the generated constants
module (:meth:`RegisterMap.namespace` of the IMA's register description),
as software would include the generated header.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imcc.gen.config import ClusterConfig
from imcc.rtl.ima.regs import IMA_REGS
from imcc.rtl.registry import compose
from imcc.tb.bus.hwpe import ALL_ONES, HwpeDriver, PinEvents

# Opcodes from the register description (what the generated header gives software).
OP_MVM, OP_PROGRAM = IMA_REGS.constant("OP", "MVM"), IMA_REGS.constant("OP", "PROGRAM")

__all__ = ["Stream", "ImaJob", "ImaDriver", "pointwise_job", "conv_job", "program_job",
           "pack_weights", "ALL_ONES"]


@dataclass(frozen=True)
class Stream:
    """One stream of a job: steps at addr + i*step0 + o*step1, each c2 x c1
    segments of ``length`` bytes at + a*stride2 + b*stride1."""
    addr: int = 0
    length: int = 1
    c1: int = 1
    c2: int = 1
    stride1: int = 0
    stride2: int = 0
    step0: int = 0
    step1: int = 0


@dataclass(frozen=True)
class ImaJob:
    op: int = OP_MVM
    row_off: int = 0
    n_rows: int = 1
    col_off: int = 0
    n_cols: int = 1
    gain: int = 1
    shift: int = 0
    lo: int = -128
    hi: int = 127
    inner: int = 1
    outer: int = 1
    src: Stream = field(default_factory=Stream)
    dst: Stream = field(default_factory=Stream)
    # The crossbar array (ima.arrays > 1); None leaves the context's ARRAY as it
    # is (0 after reset), so single-array runs write no extra register.
    array: int | None = None

    @property
    def steps(self) -> int:
        return self.inner * self.outer

    def registers(self) -> list[tuple[str, int]]:
        R = IMA_REGS
        regs = [
            ("MODE", R["MODE"].pack(OP=self.op)),
            ("ROWS", R["ROWS"].pack(OFFSET=self.row_off, COUNT=self.n_rows)),
            ("COLS", R["COLS"].pack(OFFSET=self.col_off, COUNT=self.n_cols)),
            ("GAIN", self.gain),
            ("ADC", R["ADC"].pack(SHIFT=self.shift, LO=self.lo, HI=self.hi)),
            ("STEPS", R["STEPS"].pack(INNER=self.inner, OUTER=self.outer)),
        ]
        if self.array is not None:
            regs.append(("ARRAY", R["ARRAY"].pack(INDEX=self.array)))
        for p, s in (("SRC", self.src), ("DST", self.dst)):
            regs += [(f"{p}_ADDR", s.addr & ALL_ONES),
                     (f"{p}_LEN", R[f"{p}_LEN"].pack(LEN=s.length)),
                     (f"{p}_COUNT", R[f"{p}_COUNT"].pack(C1=s.c1, C2=s.c2)),
                     (f"{p}_STRIDE1", s.stride1 & ALL_ONES), (f"{p}_STRIDE2", s.stride2 & ALL_ONES),
                     (f"{p}_STEP0", s.step0 & ALL_ONES), (f"{p}_STEP1", s.step1 & ALL_ONES)]
        return regs


def _grid(pixels: int) -> tuple[int, int]:
    """(inner, outer) with inner * outer == pixels and both < 2^16."""
    for inner in range(min(pixels, 0xFFFF), 0, -1):
        if pixels % inner == 0 and pixels // inner <= 0xFFFF:
            return inner, pixels // inner
    raise ValueError(f"{pixels} pixels do not split into two 16-bit loops")


def pointwise_job(src: int, dst: int, cin: int, cout: int, pixels: int, *, row_off=0, col_off=0,
                  gain=1, shift=0, lo=-128, hi=127, in_pitch=None, out_pitch=None,
                  array=None) -> ImaJob:
    """A 1x1 layer over ``pixels`` HWC pixels: one step per pixel, all output
    channels of a pixel at once.  ``*_pitch``: bytes between pixels."""
    inner, outer = _grid(pixels)
    ip, op = in_pitch or cin, out_pitch or cout
    return ImaJob(op=OP_MVM, row_off=row_off, n_rows=cin, col_off=col_off, n_cols=cout, gain=gain,
                  shift=shift, lo=lo, hi=hi, inner=inner, outer=outer,
                  src=Stream(src, cin, step0=ip, step1=ip * inner),
                  dst=Stream(dst, cout, step0=op, step1=op * inner), array=array)


def conv_job(src: int, dst: int, hp: int, wp: int, c: int, k: int, stride: int, cout: int, *,
             row_off=0, col_off=0, gain=1, shift=0, lo=-128, hi=127) -> ImaJob:
    """A k x k convolution over an HWC input of hp x wp pixels (padding already
    in memory) by virtual im2col: a step's input is k segments (kernel rows)
    of k*c contiguous bytes, rows [ky][kx][c] of the crossbar."""
    ho, wo = (hp - k) // stride + 1, (wp - k) // stride + 1
    return ImaJob(op=OP_MVM, row_off=row_off, n_rows=k * k * c, col_off=col_off, n_cols=cout,
                  gain=gain, shift=shift, lo=lo, hi=hi, inner=wo, outer=ho,
                  src=Stream(src, k * c, c1=k, stride1=wp * c, step0=stride * c,
                             step1=stride * wp * c),
                  dst=Stream(dst, cout, step0=cout, step1=wo * cout))


def program_job(src: int, row_off: int, n_rows: int, col_off: int, n_cols: int,
                array: int | None = None) -> ImaJob:
    """Bulk programming: packed weights in the TCDM, row-major, n_cols / 8
    words per row (:func:`pack_weights`)."""
    row_bytes = n_cols // 2
    return ImaJob(op=OP_PROGRAM, row_off=row_off, n_rows=n_rows, col_off=col_off, n_cols=n_cols,
                  inner=n_rows, src=Stream(src, row_bytes, step0=row_bytes), array=array)


def pad_columns(w):
    """Weights (rows, cols) with the columns padded with 0 to whole programming
    words: what a bulk-programming job writes (the pad cells are programmed too)."""
    import numpy as np
    from imcc.rtl.ima.macro import WEIGHTS_PER_WORD
    w = np.asarray(w, dtype=np.int64)
    out = np.zeros((w.shape[0], -(-w.shape[1] // WEIGHTS_PER_WORD) * WEIGHTS_PER_WORD), np.int64)
    out[:, :w.shape[1]] = w
    return out


def pack_window(w):
    """Weights (rows, cols) -> the little-endian words of a bulk-programming
    job's source buffer (columns padded by :func:`pad_columns`)."""
    import numpy as np
    return np.array(pack_weights(pad_columns(w)), "<u4")


def pack_weights(w) -> "list[int]":
    """Weights (rows, cols) in -7..7, cols a multiple of 8 -> programming words
    row-major (column 8g+i in bits [4i+3:4i] of word g)."""
    import numpy as np
    w = np.asarray(w, dtype=np.int64)
    nib = (w & 0xF).reshape(w.shape[0], -1, 8)
    words = np.sum(nib << (4 * np.arange(8)), axis=-1)
    return [int(v) for v in words.ravel()]


class ImaDriver(HwpeDriver):
    """An IMA instance's :class:`~imcc.tb.bus.hwpe.HwpeDriver` with its
    end-of-job events counted on the instance's lines (``<instance>_evt_done``
    / ``_evt_error`` on the top): ``events`` has one error flag per finished
    job, :meth:`wait_events` waits for a total count.  ``master``: register
    accesses (tb/bus/tcdm_master.TcdmMaster or tb/bus/hwpe_axi.AxiRegs)."""

    def __init__(self, dut, master, cfg: ClusterConfig, instance: str = "ima"):
        comp = compose(cfg)
        pins = PinEvents(getattr(dut, f"{instance}_evt_done"), getattr(dut, f"{instance}_evt_error"))
        super().__init__(master, IMA_REGS, comp.base(instance), pins, name=instance)

    @property
    def events(self) -> list[bool]:
        return self.evt.events

    async def wait_events(self, n: int):
        """Until ``n`` end-of-job events have been seen in total."""
        await self.evt.wait_count(n)
