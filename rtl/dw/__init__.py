"""The depthwise 3x3 / element-wise add accelerator (DW): docs/dw.md."""
from .regs import DW_REGS
from .dw import Dw

__all__ = ["DW_REGS", "Dw"]
