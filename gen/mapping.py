"""Mapping a MobileNetV2 bottleneck onto a cluster configuration: where every
tensor lives in the TCDM and where each 1x1 layer's weights sit in the
crossbar.  A block that does not fit is refused here, before any
simulation, with a message naming what does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imcc.sim.mobilenetv2 import BlockShape

from .config import IMA_WEIGHT_BITS, WORD_BYTES, ClusterConfig

__all__ = ["BottleneckShape", "Window", "BottleneckPlan", "MappingError", "plan_bottleneck"]


class MappingError(ValueError):
    """The block does not fit the configuration."""


@dataclass(frozen=True)
class BottleneckShape(BlockShape):
    h: int = 28
    w: int = 28
    cin: int = 32
    t: int = 6
    cout: int = 32
    stride: int = 1

    def __post_init__(self):
        for name in ("h", "w", "cin", "t", "cout"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise MappingError(f"--{name} = {v!r}: a positive integer is needed")
        for name, field in (("h", "SIZE.H"), ("w", "SIZE.W")):
            v = getattr(self, name)
            if v > 0xFFFF:
                raise MappingError(f"--{name} = {v}: at most 65535 (the DW's 16-bit {field} "
                                   "register field)")
        if self.stride not in (1, 2):
            raise MappingError(f"--stride = {self.stride!r}: the depthwise layer supports 1 or 2")


@dataclass(frozen=True)
class Window:
    """A layer's weights in the crossbar: rows [row, row+rows), cols [col, col+cols);
    ``col`` is a multiple of 8 (programming writes groups of 8 columns)."""
    row: int
    rows: int
    col: int
    cols: int


@dataclass
class BottleneckPlan:
    shape: BottleneckShape
    buffers: dict[str, tuple[int, int]] = field(default_factory=dict)   # name -> (addr, bytes)
    windows: dict[str, Window] = field(default_factory=dict)           # layer -> crossbar window

    def addr(self, name: str) -> int:
        return self.buffers[name][0]

    @property
    def tcdm_bytes(self) -> int:
        return sum(n for _, n in self.buffers.values())


def _align(n: int, a: int = 16) -> int:
    return (n + a - 1) // a * a


def plan_bottleneck(cfg: ClusterConfig, s: BottleneckShape) -> BottleneckPlan:
    """TCDM buffers (16-byte aligned, one after another from the TCDM base) and
    crossbar windows (expand at the top-left, project below and to the right of
    it, so both 1x1 layers live in one array)."""
    from imcc.rtl.registry import compose
    comp = compose(cfg)
    if not comp.of_kind("ima") or not comp.of_kind("dw"):
        missing = "ima" if not comp.of_kind("ima") else "dw"
        raise MappingError(f"the bottleneck needs an IMA and a DW accelerator "
                           f"({missing}.instances = 0 or {missing}.enabled = false)")
    ho, wo = s.out_hw
    cexp = s.cexp
    need = [("x", s.h * s.w * s.cin)]
    if s.expand:
        need += [("w_expand", _packed_bytes(s.cin, cexp)), ("y_expand", s.h * s.w * cexp)]
    need += [("w_dw", 9 * cexp), ("dw_bias", 4 * cexp), ("dw_scale", 4 * cexp),
             ("y_dw", ho * wo * cexp), ("w_project", _packed_bytes(cexp, s.cout)),
             ("y_project", ho * wo * s.cout)]
    if s.residual:
        need += [("y", ho * wo * s.cout)]
    plan = BottleneckPlan(s)
    addr = cfg.tcdm.base
    for name, n in need:
        plan.buffers[name] = (addr, n)
        addr += _align(n)
    used = addr - cfg.tcdm.base
    if used > cfg.tcdm.size_bytes:
        detail = ", ".join(f"{k} {n / 1024:.1f}" for k, (_, n) in plan.buffers.items())
        raise MappingError(f"the block's tensors and weights need {used / 1024:.1f} KiB of TCDM, "
                           f"tcdm.size_kib is {cfg.tcdm.size_kib} ({detail} KiB)")

    rows, cols = cfg.ima.rows, cfg.ima.cols
    layers = ([("expand", s.cin, cexp)] if s.expand else []) + [("project", cexp, s.cout)]
    r = c = 0
    for name, k, n in layers:
        if k > rows or n > cols:
            raise MappingError(f"the {name} layer needs a {k} x {n} crossbar window, the crossbar "
                               f"is {rows} x {cols} (ima.rows x ima.cols)")
        if r + k > rows or c + n > cols:
            raise MappingError(f"the {name} layer's {k} x {n} weights do not fit next to the "
                               f"previous layer in the {rows} x {cols} crossbar (rows {r}.., "
                               f"columns {c}.. are free)")
        plan.windows[name] = Window(r, k, c, n)
        # programming writes whole groups of 8 columns: the next layer starts on a group
        r, c = r + k, c + _align(n, 8)
    return plan


def _packed_bytes(rows: int, cols: int) -> int:
    """Bytes of a crossbar window's bulk-programming words: each row is padded
    to whole words (tb/bus/ima_driver.pack_window)."""
    per_word = WORD_BYTES * 8 // IMA_WEIGHT_BITS
    return rows * -(-cols // per_word) * WORD_BYTES
