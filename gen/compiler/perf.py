"""Performance model of a compiled job list: core 0's walker (sw/apps/network.c)
replayed as an event simulation over the units' estimated job times.

The walker keeps the next entries (the program's lookahead, at most
``WINDOW``) in a ring and each unit's first entry not issued yet; a scan
reads every unit's end count once, passes a barrier (MARK, WAIT) at the
ring's head whose waits are met, then issues, unit by unit (the unit table's
order), each unit's first entry whose waits are met and whose unit has room
(HWPE job contexts, DMA queue slots): at most one per unit and scan, none
past a barrier not passed.  Issuing costs the
walker ``issue + per_word`` x the entry's words (ACQUIRE, register writes,
TRIGGER); a scan that issues nothing sleeps until the next job ends and pays
``wake``.  A job starts when it is issued and its unit is free, and takes:

* IMA: steps x the IMA's cycles per MVM (sim/ima_perf.py: the analog latency or
  the data ports, whichever bounds) + ``ima_job``;
* DW: per output pixel and 16 channels 9 x 16 / dw.macs compute cycles (4 at the
  default 36), or the port cycles
  of about 3.5 (stride 1) or 6.5 (stride 2) 16-byte beats if more, plus a
  row's window fill; an add 2 cycles or 3.1 beats per 16 elements (docs/dw.md;
  the beats fitted to the RTL's DW busy counters); a beat takes 4 / ports
  cycles (the DW has as many data ports as the IMA) + ``dw_job``;
* DMA: bytes at the AXI width + ``dma_job``;
* cores (residual adds): one element per cycle + ``dw_job``.

Bank conflicts: the DW's and the DMA's beats and core 0's walking take longer
the more words the other units move through the TCDM's banks meanwhile
(``bank_load``, ``dma_load``, ``core_load`` x words per cycle and bank).  A
first pass times every job alone; the second takes each job's load (and the
walker's, at each scan) from the first pass's jobs: an IMA job moves its
steps' input and output words, a DW job its pixels' and a DMA job its bytes,
each over the job's time.  The IMAs are not slowed: at 4 data ports their
streams take half the analog MVM's time (sim/ima_perf.py).  Fitted on the
runs below (MobileNetV2 224 on 4 IMAs sharing 34 arrays with job waits:
-4.9 % without the loads, -1.9 % with them).

An HWPE with job waits (``ima.job_waits``, ``dw.job_waits``) takes a job whose
waits are not all met when those not met are at most its WAIT registers and
each names a job already issued of an HWPE or the DMA (as network.c decides);
the job then starts once they end, without the walker (``gate`` per such
unit's issue, ``gate_try`` per look at a head whose waits are not met).

A DW sharing an IMA's data ports (``dw.ports = "shared"``, the paper's mux)
holds them for its whole job, so the two run one job at a time.  On a pool of
arrays (``ima.macro_ports = "pool"``) an IMA job also waits for its array.

Parsing costs ``parse`` per entry, ``PARSE_STEP`` entries between scans
(the walker never parses ahead while units wait); a unit's next entry is
linked as it is parsed, the next barrier is found by passing ring entries,
``skip`` each.

The constants are fitted by scripts/fit_perf.py to RTL runs (MobileNetV2
224 fused on 2 x 17 arrays at 4 and 2 data ports, the reference block fused
on one and two IMAs, MobileNetV2 32/0.35 fused on one and two IMAs and
layer by layer, the block, the small network and MobileNetV2 224 on pools of
arrays with and without job waits; per segment); tb/test_network.py's fused RTL tests hold the model to
MODEL_TOL of every run (docs/compiler.md lists the points).  Returns the
cycles from the walker's start to each MARK, as the run's ``marks`` count
them.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, replace

import numpy as np

from imcc.rtl.dma.regs import DMA_REGS
from imcc.rtl.dw.regs import DW_REGS
from imcc.rtl.ima.regs import IMA_REGS
from imcc.sim.ima_perf import cycles_per_mvm, words

from .functional import _fields
from .program import CORES, NO_SOURCE, UNIT_DMA, Job, Mark, Program

__all__ = ["Constants", "CONSTANTS", "predict", "job_cycles", "job_words", "dma_bytes", "sensitivity", "WALKER"]

WALKER = "core0"      # the name sensitivity() gives core 0's walking

WINDOW = 64
PARSE_STEP = 4        # entries parsed between scans


@dataclass(frozen=True)
class Constants:
    issue: float = 176.4         # walker cycles per issued job (ACQUIRE, TRIGGER, bookkeeping)
    per_word: float = 3.6       # walker cycles per word of the entry (register writes, waits)
    parse: float = 31.4         # an entry parsed into the ring
    scan: float = 23.4          # a scan (reading the units' end counts)
    per_unit: float = 36.8      # each unit head a scan looks at (its waits, room)
    skip: float = 4.9           # per ring entry passed over finding the next barrier
    wake: float = 0.1          # from a unit's end event to the walker's next scan
    ima_job: float = 14.5      # job check, pipeline fill and drain of an IMA job
    dw_job: float = 44.6        # a DW job's start-up
    dma_job: float = 8.5       # a transfer's start-up (L2 latency, AXI bursts)
    gate: float = 53.1          # job waits: an HWPE job issued with WAIT registers (their writes)
    gate_try: float = 89.6      # job waits: a head whose waits are not met tried for its WAITs
    px_beats: float = 3.07      # DW 3x3 stride 1: 16-byte beats per output pixel and 16 channels
    px2_beats: float = 5.74     # DW 3x3 stride 2: the same
    add_beats: float = 2.67     # DW add: beats per 16 elements
    bank_load: float = 1.62     # a DW beat's extra time per word per cycle and bank the others move
    dma_load: float = 0.3       # the same for a DMA beat
    core_load: float = 0.29     # core 0's walking: its extra time per word per cycle and bank


CONSTANTS = Constants()


def job_cycles(prog: Program, j: Job, k: Constants = CONSTANTS, load: float = 0.0) -> float:
    """The estimated time of job ``j`` on its unit; ``load``: the other units'
    TCDM words per cycle and bank while it runs (slows a DW's and a DMA's beats)."""
    cfg = prog.cfg
    kind = j.unit.rstrip("0123456789")
    if j.unit == CORES:
        return dict(j.regs)[3] + k.dw_job
    if kind == "ima":
        r = _fields(IMA_REGS, j.regs)
        steps = r["STEPS"]["INNER"] * r["STEPS"]["OUTER"]
        return steps * cycles_per_mvm(cfg, r["ROWS"]["COUNT"], r["COLS"]["COUNT"]) + k.ima_job
    if kind == "dw":
        r = _fields(DW_REGS, j.regs)
        h, w, c = r["SIZE"]["H"], r["SIZE"]["W"], r["CHANNELS"]["C"]
        m = r["MODE"]
        # 16-byte beats take 4 / ports cycles on the DW's ports (as many as the IMA's),
        # longer by the bank conflicts of the other units' load (``bank_load`` x
        # their words per cycle and bank); the beats per pixel and per add (about the
        # ideal 3 and 6, and 3) fitted by scripts/fit_perf.py, a row's window fill to
        # the RTL's DW busy counters per layer
        beat = 4 / cfg.ima.data_ports * (1 + k.bank_load * load)
        if m["OP"] == DW_REGS.constant("OP", "ADD"):
            return math.ceil(h * w * c / 16) * max(2, k.add_beats * beat) + k.dw_job
        s = m["STRIDE"]
        ho = (h + m["PAD_T"] + m["PAD_B"] - 3) // s + 1
        wo = (w + 2 - 3) // s + 1
        # (the multipliers take 9 x 16 / dw.macs cycles per pixel and 16 channels)
        per_px = max(144 / cfg.dw.macs + 0.1, k.px_beats * beat) if s == 1 \
            else 0.6 + k.px2_beats * beat
        per_row = 5.4 + 3.7 * beat
        return ho * math.ceil(c / 16) * (wo * per_px + per_row) + k.dw_job
    # its TCDM side moves a beat of data_width bits per cycle, slowed as the DW's (``dma_load``)
    return dma_bytes(j) / (cfg.dma.data_width // 8) * (1 + k.dma_load * load) + k.dma_job


def dma_bytes(j: Job) -> int:
    """Bytes a DMA job moves (its rows times their bytes when 2-D)."""
    r = _fields(DMA_REGS, j.regs)
    return r["NUM_BYTES"] * (r["NUM_REPS"]["REPS"] if r["CONF"]["TWO_D"] else 1)


def job_words(prog: Program, j: Job) -> float:
    """TCDM words job ``j`` moves (what it loads the banks with while it runs)."""
    kind = j.unit.rstrip("0123456789")
    if kind == "ima":
        r = _fields(IMA_REGS, j.regs)
        steps = r["STEPS"]["INNER"] * r["STEPS"]["OUTER"]
        return steps * (words(r["ROWS"]["COUNT"]) + words(r["COLS"]["COUNT"]))
    if kind == "dw":
        r = _fields(DW_REGS, j.regs)
        n = r["SIZE"]["H"] * r["SIZE"]["W"] * r["CHANNELS"]["C"] / 4
        if r["MODE"]["OP"] == DW_REGS.constant("OP", "ADD"):
            return 3 * n
        return n * (1 + 1 / r["MODE"]["STRIDE"] ** 2)
    if j.unit == CORES:
        return 0.0
    return dma_bytes(j) / 4


def predict(prog: Program, k: Constants = CONSTANTS, speed: dict[str, float] | None = None,
            lookahead: int | None = None) -> dict:
    """{"cycles": walker start to the last MARK, "marks": per MARK, "busy": per unit,
    "walker": core 0's cycles scanning and issuing (not asleep)}.

    ``speed`` (a what-if): unit -> factor; that unit's jobs take 1/factor of
    their time (``WALKER``: core 0's scanning and issuing); ``lookahead``: the
    walker's (default: the program's).

    Two passes: the first times every job alone; the second slows each DW and
    DMA job, and core 0's walking, by the TCDM load the other units' jobs put on
    the banks meanwhile in the first pass (their words per cycle and bank)."""
    res, spans = _simulate(prog, k, speed, lookahead, {})
    if not (k.bank_load or k.dma_load or k.core_load):
        return res
    return _simulate(prog, k, speed, lookahead, _loads(prog, spans), _load_at(prog, spans))[0]


def _load_at(prog: Program, spans: list):
    """time -> the words per cycle and bank all units' jobs of ``spans`` move then."""
    if not spans:
        return lambda t: 0.0
    s = np.array([x[2] for x in spans])
    e = np.array([x[3] for x in spans])
    rate = np.array([x[4] for x in spans]) / prog.cfg.tcdm.banks
    times = np.concatenate([s, e])
    order = np.argsort(times, kind="stable")
    steps = np.cumsum(np.concatenate([rate, -rate])[order])
    at, level = times[order].tolist(), steps.tolist()

    def load(t):
        n = bisect.bisect_right(at, t)
        return level[n - 1] if n else 0.0
    return load


def _loads(prog: Program, spans: list) -> dict[int, float]:
    """Entry index -> the other units' TCDM words per cycle and bank while that DW or
    DMA job runs."""
    if not spans:
        return {}
    idx = [i for i, u, *_ in spans]
    unit = np.array([u for _, u, *_ in spans])
    s = np.array([x[2] for x in spans])
    e = np.array([x[3] for x in spans])
    rate = np.array([x[4] for x in spans])
    banks = prog.cfg.tcdm.banks
    out = {}
    for n in range(len(spans)):
        if not (unit[n].startswith("dw") or unit[n] == "dma") or e[n] <= s[n]:
            continue
        ov = np.clip(np.minimum(e, e[n]) - np.maximum(s, s[n]), 0, None)
        ov[unit == unit[n]] = 0
        out[idx[n]] = float(ov @ rate) / (e[n] - s[n]) / banks
    return out


def _simulate(prog: Program, k: Constants, speed: dict[str, float] | None,
              lookahead: int | None, loads: dict[int, float],
              walker_load=None) -> tuple[dict, list]:
    """One pass of :func:`predict` with each job's ``loads`` and core 0's
    (``walker_load``: time -> the units' words per cycle and bank): the result
    and each job's (entry index, unit, start, end, TCDM words per cycle)."""
    # as the walker reads the header: 0 means the whole ring
    ahead = min((prog.lookahead if lookahead is None else lookahead) or WINDOW, WINDOW)
    speed = speed or {}
    if speed.get(WALKER, 1) != 1:
        f = speed[WALKER]
        k = replace(k, **{n: getattr(k, n) / f
                          for n in ("issue", "per_word", "parse", "scan", "per_unit", "skip", "wake",
                                    "gate", "gate_try")})
    # a DW sharing IMA k's data ports (dw.ports = "shared") holds them for its whole
    # job and the IMA streams only between the DW's jobs: the pair runs one job at a time
    from imcc.rtl.registry import compose
    comp = compose(prog.cfg)
    group = {u: u for u in prog.units}
    if prog.cfg.dw.ports == "shared":
        imas = [i.name for i in comp.of_kind("ima")]
        for n, d in enumerate(i.name for i in comp.of_kind("dw")):
            if n < len(imas) and d in group and imas[n] in group:
                group[d] = imas[n]
    table = dict(zip(prog.units, prog.unit_table()))
    room = {u: row[4] for u, row in table.items()}
    gates = {u: (row[5] >> 8) & 0xFF for u, row in table.items()}
    source = {u: row[5] & 0xFF for u, row in table.items()}
    is_dma = {u: row[1] == UNIT_DMA for u, row in table.items()}
    writes = prog.register_writes()
    entries = prog.entries
    ended: dict[str, list[float]] = {u: [] for u in prog.units}   # end times, in order
    free = dict.fromkeys(prog.units, 0.0)       # per group of units sharing ports
    issued = dict.fromkeys(prog.units, 0)
    busy = dict.fromkeys(prog.units, 0.0)
    events: list[float] = []                 # end times not yet passed (heap)
    array_free: dict[int, float] = {}        # a pool: when each array is free

    def pool_array(u, e):
        """The array of an IMA job on a pool (ima.macro_ports = "pool"), else None."""
        if not prog.cfg.ima.pooled or not u.startswith("ima"):
            return None
        return _fields(IMA_REGS, e.regs)["ARRAY"]["INDEX"]
    marks: list[float] = []
    spans: list = []
    t, walker = 0.0, 0.0

    def done(u, at):
        """Jobs of u ended by time ``at`` (a unit ends its jobs in order)."""
        e = ended[u]
        lo, hi = 0, len(e)
        while lo < hi:
            mid = (lo + hi) // 2
            if e[mid] <= at:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def met(e, at):
        return all(done(u, at) >= n for u, n in e.waits.items())

    n = len(entries)
    gone = [False] * n
    units = list(prog.units)                # the walker's unit table order
    head = tail = 0
    first: dict[str, int | None] = dict.fromkeys(units)   # each unit's first entry not issued
    bar: int | None = None                  # the first barrier not passed

    def after(i, want):
        """The next ring entry after i that is ``want`` (a unit, or None: a barrier),
        and the walker's cycles to find it."""
        j = i + 1
        while j < tail and not (isinstance(entries[j], Mark) if want is None
                                else not isinstance(entries[j], Mark) and entries[j].unit == want):
            j += 1
        return (j if j < tail else None), (j - i) * w * k.skip

    w = 1.0         # core 0's slowdown by the bank conflicts of the units' streams
    while head < n:
        if walker_load is not None:
            w = 1.0 + k.core_load * walker_load(t)
        more, parsed, t0 = False, 0, t
        while tail - head < ahead and tail < n:      # parse ahead into the ring
            if parsed == PARSE_STEP:
                more = True
                break
            parsed += 1
            e = entries[tail]
            if isinstance(e, Mark):
                bar = tail if bar is None else bar
            elif first[e.unit] is None:
                first[e.unit] = tail
            tail += 1
        t += w * k.parse * parsed
        at = t                                # the scan's snapshot of the end counts
        t += w * k.scan
        progress = False
        while bar is not None and bar == head and met(entries[bar], at):
            t += w * k.per_unit
            if entries[bar].index >= 0:
                marks.append(t)
            gone[bar] = progress = True
            while head < tail and gone[head]:
                head += 1
            bar, dt = after(bar, None)
            t += dt
        # the units' first entries before the barrier, in the unit table's order
        heads = [(first[u], u) for u in units
                 if first[u] is not None and (bar is None or first[u] < bar)]
        t += w * k.per_unit * len(heads)
        for i, u in heads:
            e = entries[i]
            late = [(v, c) for v, c in e.waits.items() if done(v, at) < c]
            if (late and not gates[u]) or issued[u] - done(u, at) >= room[u]:
                continue
            # the waits not met: the unit's WAIT registers take them if they name
            # issued jobs of job sources (within the walker's 256 DMA ids)
            if late:
                t += w * k.gate_try
                if not (len(late) <= gates[u] and all(
                        source[v] != NO_SOURCE and issued[v] >= c
                        and (not is_dma[v] or issued[v] - c < 256) for v, c in late)):
                    continue
            dep = max((ended[v][c - 1] for v, c in late), default=0.0)
            words = 1 + len(e.waits) + 2 * len(writes[id(e)])
            t += w * (k.issue + k.per_word * words + (k.gate if gates[u] else 0.0))
            dur = job_cycles(prog, e, k, loads.get(i, 0.0)) / speed.get(u, 1)
            g = group[u]
            start = max(t, free[g], dep)
            a = pool_array(u, e)
            if a is not None:       # a pool's array computes one MVM at a time
                start = max(start, array_free.get(a, 0.0))
                array_free[a] = start + dur
            free[g] = start + dur
            busy[u] += dur
            # its words per cycle at the unit's own speed (a what-if's faster unit
            # loads the banks as before: the model stays linear in its times)
            spans.append((i, u, start, start + dur, job_words(prog, e) / max(dur * speed.get(u, 1), 1.0)))
            ended[u].append(free[g])
            heapq.heappush(events, free[g])
            issued[u] += 1
            gone[i] = progress = True
            # (the walker links each unit's entries as it parses them: no search)
            first[u], _ = after(i, u)
        while head < tail and gone[head]:
            head += 1
        walker += t - t0
        if not progress and not more:
            while events and events[0] <= at:
                heapq.heappop(events)
            if not events:
                raise AssertionError("the model's walker is stuck: a wait no job meets")
            t = max(t, heapq.heappop(events)) + w * k.wake
    return ({"cycles": round(marks[-1]) if marks else 0, "marks": [round(m) for m in marks],
             "busy": {u: round(b) for u, b in busy.items()}, "walker": round(walker)}, spans)


def sensitivity(prog: Program, factor: float = 2.0, k: Constants = CONSTANTS) -> dict:
    """What bounds the run, by the model: per unit (and ``WALKER``, core 0's
    walking) and per kind of several instances (``"ima*"``: all of them), the
    share of the run saved if that one were ``factor`` times faster, all else
    equal.  A share near 0 means the unit does not bound the
    run however busy it is; the largest share names the bound (what hardware
    would buy the most: a faster or second unit, job chaining for the walker).
    {"cycles": the model's cycles, "saving": {unit: share}, "bound": unit}."""
    base = predict(prog, k)["cycles"]
    groups = {u: [u] for u in [*prog.units, WALKER]}
    kinds: dict[str, list[str]] = {}
    for u in prog.units:
        kinds.setdefault(u.rstrip("0123456789"), []).append(u)
    # every instance of a kind at once ("ima*": both IMAs twice as fast)
    groups.update({f"{n}*": us for n, us in kinds.items() if len(us) > 1})
    saving = {}
    for g, us in groups.items():
        c = predict(prog, k, dict.fromkeys(us, factor))["cycles"]
        saving[g] = round(1 - c / base, 4) if base else 0.0
    return {"cycles": base, "factor": factor, "saving": saving,
            "bound": max(saving, key=saving.get) if saving else None}
