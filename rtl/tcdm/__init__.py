from .bank import TcdmBank
from .sram import TcdmSram

__all__ = ["TcdmBank", "TcdmSram"]
