"""Per-unit utilisation of a run: the work each unit's jobs do (decoded from the
job list's registers, as the functional model decodes them) at the unit's peak
rate, over the run's measured cycles.

* IMA: every MVM occupies its array for the macro's latency (``ima.mvm_ns``), so
  an array's busy cycles are its MVMs x that latency, an instance's the sum over
  its arrays (one computes at a time);
* DW: depthwise MACs at ``dw.macs`` per cycle, adds at 16 elements per 3 cycles
  (port-bound: two loads and a store of 16 bytes, docs/dw.md);
* DMA: bytes at the AXI width (``dma.data_width``) per cycle;
* cores: the residual adds on the cores at one element per cycle; core 0 also
  walks the job list for the whole run (not counted).

The busiest unit's work is the run's floor on this job list (``floor_cycles``).
Being busy does not make a unit the bound when others overlap it, so the
command names the bound from the performance model's what-ifs
(gen/compiler/perf.py ``sensitivity``: the unit, or core 0's walking, whose
doubled speed would shorten the run most); without the model the busiest unit
is named.  Core 0's walking (scanning and issuing) is added from the model
too, since the run records no trace of it.  These are work-based figures: a unit
stalled on its ports or waiting for data shows as idle, not busy.
"""

from __future__ import annotations

import math

from imcc.rtl.dw.regs import DW_REGS
from imcc.rtl.ima.regs import IMA_REGS

from .functional import _fields
from .perf import dma_bytes
from .program import CORES, Job, Program

__all__ = ["unit_work", "utilisation", "job_list_mvms", "min_mvms"]


def unit_work(prog: Program) -> tuple[dict[str, float], dict[str, float]]:
    """(busy cycles per unit, busy cycles per IMA array ``instance[array]``, or
    ``pool[array]`` on a pool of arrays)."""
    cfg = prog.cfg
    mvm = cfg.ns_to_cycles(cfg.ima.mvm_ns)
    busy = dict.fromkeys(prog.units, 0.0)
    arrays: dict[str, float] = {}
    for j in prog.jobs:
        assert isinstance(j, Job)
        kind = j.unit.rstrip("0123456789")
        if j.unit == CORES:
            busy[j.unit] += dict(j.regs)[3]                 # elements (program.cores_add)
        elif kind == "ima":
            r = _fields(IMA_REGS, j.regs)
            if r["MODE"]["OP"] != IMA_REGS.constant("OP", "MVM"):
                continue
            n = r["STEPS"]["INNER"] * r["STEPS"]["OUTER"] * mvm
            busy[j.unit] += n
            # a pool's arrays are every instance's: one figure per array
            a = f"{'pool' if cfg.ima.pooled else j.unit}[{r['ARRAY']['INDEX']}]"
            arrays[a] = arrays.get(a, 0) + n
        elif kind == "dw":
            r = _fields(DW_REGS, j.regs)
            h, w, c = r["SIZE"]["H"], r["SIZE"]["W"], r["CHANNELS"]["C"]
            if r["MODE"]["OP"] == DW_REGS.constant("OP", "ADD"):
                busy[j.unit] += h * w * c * 3 / 16
            else:
                m, s = r["MODE"], r["MODE"]["STRIDE"]
                ho = (h + m["PAD_T"] + m["PAD_B"] - 3) // s + 1
                wo = (w + 2 - 3) // s + 1
                busy[j.unit] += ho * wo * c * 9 / cfg.dw.macs
        else:
            busy[j.unit] += dma_bytes(j) / (cfg.dma.data_width // 8)
    return busy, arrays


def utilisation(prog: Program, cycles: int) -> dict:
    """The report's ``utilisation``: per unit and per IMA array, busy / ``cycles``
    (the run's measured cycles), and the unit that bounds the run."""
    busy, arrays = unit_work(prog)
    cycles = max(cycles, 1)
    units = {u: round(b / cycles, 4) for u, b in busy.items()}
    return {"source": "work decoded from the job list at each unit's peak rate, over the "
                      "run's measured cycles",
            "cycles": cycles, "units": units,
            "arrays": {a: round(b / cycles, 4) for a, b in sorted(arrays.items())},
            # no schedule of this job list beats its busiest unit's work
            "floor_cycles": round(max(busy.values(), default=0)),
            "busiest": max(units, key=units.get) if units else None,
            "bound": max(units, key=units.get) if units else None}


def job_list_mvms(prog: Program) -> int:
    """MVMs the job list's IMA jobs run."""
    n = 0
    for j in prog.jobs:
        if j.unit.rstrip("0123456789") == "ima":
            r = _fields(IMA_REGS, j.regs)
            if r["MODE"]["OP"] == IMA_REGS.constant("OP", "MVM"):
                n += r["STEPS"]["INNER"] * r["STEPS"]["OUTER"]
    return n


def min_mvms(net, rows: int, cols: int) -> int:
    """The fewest MVMs any mapping of ``net`` on rows x cols arrays needs: every
    layer at its largest in-array replication (copies on the diagonal,
    lower.rep_options), whatever space that takes, times its tiles (a floor:
    scripts/bench_floor.py)."""
    from .lower import IMA_OPS, rep_options, rep_shape
    total = 0
    for L in net.layers:
        if L.op not in IMA_OPS:
            continue
        h, w = net.shapes[L.output][:2]
        k = max([1, *rep_options(net, L, rows, cols)])
        r, c = rep_shape(net, L, k)
        total += h * w // k * math.ceil(r / rows) * math.ceil(c / cols)
    return total
