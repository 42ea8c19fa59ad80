"""The in-memory accelerator (IMA) subsystem: docs/ima.md."""
from .regs import IMA_REGS
from .macro import MacroSignature
from .ima import Ima

__all__ = ["IMA_REGS", "MacroSignature", "Ima"]
