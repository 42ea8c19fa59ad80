"""A functional model of the job list: every job's registers decoded as the
accelerators would and executed on numpy copies of L1 and L2, in list order.

It checks the compiler without RTL in seconds (addresses, bands, halos,
strides, tiles, register encodings) against the golden model of the
network; the RTL run then checks the hardware on the same job list.  It
models what the jobs compute, not when: dependencies are not exercised here.
"""

from __future__ import annotations

import numpy as np

from imcc.rtl.dma.regs import DMA_REGS
from imcc.rtl.dw.regs import DW_REGS
from imcc.rtl.ima.regs import IMA_REGS
from imcc.sim.golden import depthwise3x3, requant, residual_add

from .program import Job, Program

__all__ = ["Memory", "run_functional"]


class Memory:
    def __init__(self, cfg):
        self.windows = [(cfg.tcdm.base, np.zeros(cfg.tcdm.size_bytes, np.uint8)),
                        (cfg.l2.base, np.zeros(cfg.l2.size_bytes, np.uint8))]

    def _at(self, addr: int, n: int):
        for base, buf in self.windows:
            if base <= addr and addr + n <= base + len(buf):
                return buf, addr - base
        raise IndexError(f"[{addr:#x}, {addr + n:#x}) is outside the TCDM and L2")

    def read(self, addr: int, n: int) -> np.ndarray:
        buf, o = self._at(addr, n)
        return buf[o:o + n].copy()

    def write(self, addr: int, data) -> None:
        data = np.frombuffer(bytes(data), np.uint8) if isinstance(data, (bytes, bytearray)) \
            else np.asarray(data).view(np.uint8).ravel()
        buf, o = self._at(addr, len(data))
        buf[o:o + len(data)] = data

    def gather(self, idx: np.ndarray) -> np.ndarray:
        lo, hi = int(idx.min()), int(idx.max()) + 1
        return self.read(lo, hi - lo)[idx - lo]

    def scatter(self, idx: np.ndarray, values: np.ndarray) -> None:
        lo, hi = int(idx.min()), int(idx.max()) + 1
        buf, o = self._at(lo, hi - lo)
        buf[o + (idx - lo)] = values.astype(np.int8).view(np.uint8)


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x8000_0000 else v


def _fields(rm, regs):
    by_off = {r.offset: r for r in rm.registers}
    return {by_off[o].name: (by_off[o].unpack(v) if by_off[o].fields else v) for o, v in regs}


def _stream_index(r, p, inner, outer):
    """Byte addresses of every step's stream (steps x bytes), as the IMA streamer walks them."""
    base, length = r[f"{p}_ADDR"], r[f"{p}_LEN"]["LEN"]
    c1, c2 = r[f"{p}_COUNT"]["C1"], r[f"{p}_COUNT"]["C2"]
    s1, s2 = _s32(r[f"{p}_STRIDE1"]), _s32(r[f"{p}_STRIDE2"])
    st0, st1 = _s32(r[f"{p}_STEP0"]), _s32(r[f"{p}_STEP1"])
    o, i, a, b, k = np.ix_(np.arange(outer), np.arange(inner), np.arange(c2), np.arange(c1),
                           np.arange(length))
    idx = base + o * st1 + i * st0 + a * s2 + b * s1 + k
    return idx.reshape(outer * inner, -1)


def _ima(mem: Memory, regs, arrays, mvm=None):
    r = _fields(IMA_REGS, regs)
    if r["MODE"]["OP"] == IMA_REGS.constant("OP", "PROGRAM"):     # bulk programming
        rows, cols = r["ROWS"], r["COLS"]
        n = cols["COUNT"] // 2
        raw = mem.read(r["SRC_ADDR"], rows["COUNT"] * n).view("<u4").astype(np.int64)
        nib = (raw[:, None] >> (4 * np.arange(8))) & 0xF
        w = np.where(nib > 7, nib - 16, nib).reshape(rows["COUNT"], cols["COUNT"])
        arrays[r["ARRAY"]["INDEX"]][rows["OFFSET"]:rows["OFFSET"] + rows["COUNT"],
                                    cols["OFFSET"]:cols["OFFSET"] + cols["COUNT"]] = w
        return
    inner, outer = r["STEPS"]["INNER"], r["STEPS"]["OUTER"]
    rows, cols = r["ROWS"], r["COLS"]
    x = mem.gather(_stream_index(r, "SRC", inner, outer)).view(np.int8).astype(np.int64)
    adc = r["ADC"]
    if mvm is not None:     # the job's MVMs, in stream order, on a crossbar model
        y = mvm(r["ARRAY"]["INDEX"], x, rows["OFFSET"], rows["COUNT"], cols["OFFSET"],
                cols["COUNT"], r["GAIN"], adc["SHIFT"], adc["LO"], adc["HI"])
        mem.scatter(_stream_index(r, "DST", inner, outer), y)
        return
    w = arrays[r["ARRAY"]["INDEX"]][rows["OFFSET"]:rows["OFFSET"] + rows["COUNT"],
                                    cols["OFFSET"]:cols["OFFSET"] + cols["COUNT"]]
    y = requant(x @ w.astype(np.int64), r["GAIN"], adc["SHIFT"], adc["LO"], adc["HI"])
    mem.scatter(_stream_index(r, "DST", inner, outer), y)


def _dw(mem: Memory, regs):
    r = _fields(DW_REGS, regs)
    mode, h, w, c = r["MODE"], r["SIZE"]["H"], r["SIZE"]["W"], r["CHANNELS"]["C"]
    q = r["QUANT"]

    def t(addr):
        return mem.read(addr, h * w * c).view(np.int8).reshape(h, w, c)

    if mode["OP"] == DW_REGS.constant("OP", "ADD"):
        y = residual_add(t(r["SRC_ADDR"]), t(r["SRC2_ADDR"]), _s32(r["SCALE_A"]),
                         _s32(r["SCALE_B"]), q["SHIFT"], q["LO"], q["HI"])
    else:
        wt = mem.read(r["WEIGHT_ADDR"], 9 * c).view(np.int8).reshape(3, 3, c)
        bias = mem.read(r["BIAS_ADDR"], 4 * c).view("<i4")
        scale = mem.read(r["SCALE_ADDR"], 4 * c).view("<u4")
        y = depthwise3x3(t(r["SRC_ADDR"]), wt, bias, scale, q["SHIFT"], q["LO"], q["HI"],
                         stride=mode["STRIDE"],
                         pad=(mode["PAD_T"], mode["PAD_B"], mode["PAD_L"], mode["PAD_R"]))
    mem.write(r["DST_ADDR"], y.astype(np.int8).tobytes())


def _cores_add(mem: Memory, regs):
    """network.c's residual add on the cores (arguments of program.cores_add)."""
    a, b, dst, n, sa, sb, shift, lohi = (v for _, v in sorted(regs))
    lo, hi = ((v & 0xFF) - 256 * (v & 0x80 != 0) for v in (lohi, lohi >> 8))
    y = residual_add(mem.read(a, n).view(np.int8), mem.read(b, n).view(np.int8), _s32(sa),
                     _s32(sb), shift, lo, hi)
    mem.write(dst, y.astype(np.int8).tobytes())


def _dma(mem: Memory, regs):
    r = _fields(DMA_REGS, regs)
    n = r["NUM_BYTES"]
    if r["CONF"]["TWO_D"]:
        for k in range(r["NUM_REPS"]["REPS"]):
            mem.write(r["DST_ADDR"] + k * _s32(r["DST_STRIDE"]),
                      mem.read(r["SRC_ADDR"] + k * _s32(r["SRC_STRIDE"]), n).tobytes())
    else:
        mem.write(r["DST_ADDR"], mem.read(r["SRC_ADDR"], n).tobytes())


class _ArraysOf(dict):
    """One instance's arrays out of {(instance, array): weights}, created (zero) when a
    PROGRAM job first writes one."""

    def __init__(self, arrays, inst, cfg):
        super().__init__()
        self.arrays, self.inst, self.shape = arrays, inst, (cfg.ima.rows, cfg.ima.cols)

    def __getitem__(self, k):
        if (self.inst, k) not in self.arrays:
            self.arrays[self.inst, k] = np.zeros(self.shape, np.int8)
        return self.arrays[self.inst, k]


def run_functional(prog: Program, x: np.ndarray, arrays: dict[int, np.ndarray],
                   mvm=None) -> Memory:
    """Execute the job list on a fresh memory holding :meth:`Program.l2_image`;
    ``arrays``: (IMA instance, array index) -> its weights (rows x cols levels), as
    a weight image holds them.  ``mvm(array, x, row_off, n_rows, col_off, n_cols,
    gain, shift, lo, hi)``, when given, executes each IMA job's MVMs instead (a PCM
    crossbar model, in job order as the IMA issues them: the golden PCM path of an
    RTL run; one IMA instance)."""
    mem = Memory(prog.cfg)
    for addr, data in prog.l2_image(x).items():
        mem.write(addr, data)
    # registers as the hardware holds them: only the encoded writes reach a job
    # context, the rest is what the context kept from its earlier jobs
    writes, held = prog.register_writes(), {}
    # the check's taps (Program.taps) put their L1 rows where a check copy would have
    taps: dict[int, list] = {}
    for tap in prog.taps:
        taps.setdefault(tap.after, []).append(tap)
    for i, e in enumerate(prog.entries):
        for tap in taps.get(i - 1, ()):
            mem.write(tap.l2_addr, mem.read(tap.l1_addr, tap.nbytes).tobytes())
        if not isinstance(e, Job):
            continue
        kind = e.unit.rstrip("0123456789")
        ctx = 0 if kind in ("dma", "cores") else (e.seq - 1) % prog._contexts(e.unit)
        # (the DMA's registers are rewritten between transfers by the walker's own fetches)
        regs = {} if kind in ("dma", "cores") else held.setdefault((e.unit, ctx), {})
        regs.update(writes[id(e)])
        regs = sorted(regs.items())
        try:
            if kind == "ima":
                # a pool's arrays are every instance's: the weight image holds them
                # under the first instance ("ima")
                inst = "ima" if prog.cfg.ima.pooled else e.unit
                _ima(mem, regs, _ArraysOf(arrays, inst, prog.cfg), mvm)
            elif kind == "dw":
                _dw(mem, regs)
            elif kind == "cores":
                _cores_add(mem, regs)
            else:
                _dma(mem, regs)
        except Exception as err:
            raise AssertionError(f"job {e.what} ({e.unit} #{e.seq}): {err}") from err
    for tap in taps.get(len(prog.entries) - 1, ()):
        mem.write(tap.l2_addr, mem.read(tap.l1_addr, tap.nbytes).tobytes())
    return mem
