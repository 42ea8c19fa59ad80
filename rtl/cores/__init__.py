from .cores import Cores
from .event_unit import EventUnit, eu_regmap

__all__ = ["Cores", "EventUnit", "eu_regmap"]
