"""The cores' entry in the block registry."""

from imcc.gen.config import AddressWindow
from ..block import BlockKind, ReadoutField
from ..hwpe.regs import Field

__all__ = ["CoresKind"]


class CoresKind(BlockKind):
    """``cores.count`` cores as one block: masters ``core0..`` first in port
    order, the event unit's window ``eu`` and the instruction memory ``imem``."""

    name = "cores"
    window = "eu"
    master_rank = 0
    tcdm_class = "cores"

    def count(self, cfg):
        return 1 if cfg.cores.count else 0

    def masters(self, cfg, k):
        return [f"core{i}" for i in range(cfg.cores.count)]

    def mem_windows(self, cfg):
        return [AddressWindow("imem", cfg.cores.imem_base, cfg.cores.imem_bytes,
                              field="cores.imem_base")]

    def regmap(self, cfg, comp):
        from .event_unit import eu_regmap
        return eu_regmap(cfg, comp.events)

    def readout(self, cfg, comp):
        return [ReadoutField("CLUSTER_CFG", Field("CORES", 0, 5, "number of cores"), cfg.cores.count)]

    def counters(self, cfg, inst):
        from ..ctrl.counters import CounterSpec as C
        out = []
        for n in range(cfg.cores.count):
            out += [C(f"core{n}.active", "level", f"cycles core {n} runs: started (FETCH_EN) "
                      "and its clock enabled"),
                    C(f"core{n}.sleep", "level", f"cycles core {n} sleeps: started and its "
                      "clock gated by the event unit (cv.elw)")]
        return out

    def counter_prefix(self, inst):
        return ""

    def build(self, cfg, inst, comp):
        from .cores import Cores
        return Cores(cfg, comp.events, comp.base("eu"))
