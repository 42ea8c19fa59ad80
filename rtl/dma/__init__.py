"""The cluster DMA between the TCDM and the SoC's L2: docs/dma.md."""
from .regs import DMA_REGS
from .dma import Dma

__all__ = ["DMA_REGS", "Dma"]
