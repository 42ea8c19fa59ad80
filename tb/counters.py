"""The cluster's activity counters as a flat dict (docs/counters.md).

Keys (indices from 0; units the configuration lacks have none):
``cycles``, ``gated_cycles``, ``core{n}.active``, ``core{n}.sleep``,
``ima{i}.busy``, ``ima{i}.array{j}.mvm``, ``ima{i}.array{j}.pcm_writes``,
``dw{i}.busy``, ``dw{i}.macs``, ``dma.busy``, ``dma.bytes``, ``tcdm.cores``,
``tcdm.ima``, ``tcdm.dw``, ``tcdm.dma``, ``tcdm.soc``.

Two ways to read them, with the same keys:

* :func:`read_vpi`: the counter registers by VPI (tb/csrc/public.vlt), in zero
  simulated time: snapshots at layer boundaries that change no cycle count;
* :func:`read_regs`: through the register map (CNT_CTRL.FREEZE, every
  counter word, unfreeze), as software or a SoC reads them.

:func:`delta` subtracts two snapshots modulo each counter's width.
"""

from __future__ import annotations

from imcc.gen.config import ClusterConfig
from imcc.rtl.ctrl.counters import counter_specs
from imcc.rtl.registry import compose

__all__ = ["counter_keys", "widths", "read_vpi", "read_regs", "clear_regs", "delta",
           "monitor_grants", "network_expected"]


def widths(cfg: ClusterConfig) -> dict[str, int]:
    """``{key: counter bits}`` of ``cfg``'s counters (empty when they are off)."""
    specs = counter_specs(cfg, compose(cfg))
    if not specs:
        return {}
    out = {"cycles": 32, "gated_cycles": 32}
    out.update({s.key: s.width for s in specs})
    return out


def counter_keys(cfg: ClusterConfig) -> list[str]:
    return list(widths(cfg))


def _root(dut):
    return dut.cluster if hasattr(dut, "cluster") else dut   # tb/tops/cluster_l2 wraps it


def read_vpi(dut, cfg: ClusterConfig) -> dict[str, int]:
    """Every counter, read from its register by VPI (no simulated time)."""
    ctrl = _root(dut).ctrl
    out = {"gated_cycles": int(ctrl.gated_cycles.value)}
    for s in counter_specs(cfg, compose(cfg)):
        out[s.key] = int(getattr(ctrl.counters, f"cnt_{s.ident}").value)
    return {k: out[k] for k in counter_keys(cfg)}


async def read_regs(regs, cfg: ClusterConfig) -> dict[str, int]:
    """Every counter through the register map: ``regs`` has ``async read(addr)``
    and ``async write(addr, value)`` (tb/bus/hwpe_axi.AxiRegs: the SoC port).
    The counters are frozen while they are read and counting resumes after."""
    comp = compose(cfg)
    rm = next(rm for rm, _ in comp.register_maps() if rm.name == "ctrl")
    base = comp.base("ctrl")
    await regs.write(base + rm["CNT_CTRL"].offset, 1)
    out = {"gated_cycles": await regs.read(base + rm["GATED_CYCLES"].offset)}
    for s in counter_specs(cfg, comp):
        if s.words == 1:
            out[s.key] = await regs.read(base + rm[s.reg].offset)
        else:
            lo = await regs.read(base + rm[s.reg + "_LO"].offset)
            out[s.key] = lo | await regs.read(base + rm[s.reg + "_HI"].offset) << 32
    await regs.write(base + rm["CNT_CTRL"].offset, 0)
    return {k: out[k] for k in counter_keys(cfg)}


async def clear_regs(regs, cfg: ClusterConfig):
    """A new counting window: every counter to 0 (CNT_CLEAR)."""
    comp = compose(cfg)
    rm = next(rm for rm, _ in comp.register_maps() if rm.name == "ctrl")
    await regs.write(comp.base("ctrl") + rm["CNT_CLEAR"].offset, 1)


def delta(after: dict[str, int], before: dict[str, int], cfg: ClusterConfig) -> dict[str, int]:
    """``after - before`` per key, modulo each counter's width (a counter that
    wrapped once in between still gives the right difference)."""
    w = widths(cfg)
    return {k: (after[k] - before[k]) % (1 << w[k]) for k in after}


def monitor_grants(dut, cfg: ClusterConfig) -> dict[str, int]:
    """The testbench's own count of TCDM accesses per master class: the sum of
    the protocol checkers' ``tcdm_grants`` (tb/tops/cluster_tb.counting_checker)
    over the masters of each class, counted at the interconnect's ports (after
    any port mux: the shared ``hwpe*`` ports count under ``"hwpe"``)."""
    root = _root(dut)
    comp = compose(cfg)
    out: dict[str, int] = {}
    for name in comp.masters:
        owner = next(i for i in comp.instances if name in i.kind.masters(cfg, i.index))
        cls = "hwpe" if name.startswith("hwpe") else owner.kind.tcdm_class
        out[cls] = out.get(cls, 0) + int(getattr(root, f"chk_{name}").tcdm_grants.value)
    return out


def network_expected(compiled) -> list[dict[str, int]]:
    """Per mark of a compiled network's job list, the MVMs and PCM writes per
    array and the DMA bytes its jobs do (the jobs listed since the previous
    mark: a mark is a barrier, so they run in between): the independent count
    that :func:`imcc.tb.programs.run_network`'s ``layer_activity`` must match.
    DMA bytes exclude the walker's own job-list fetches."""
    from imcc.gen.compiler.program import Mark
    from imcc.rtl.dma.regs import DMA_REGS as D
    from imcc.rtl.ima.regs import IMA_REGS as R
    cfg = compiled.cfg
    insts = {i.name: i.index for i in compose(cfg).of_kind("ima")}
    mvm = R.constant("OP", "MVM")
    out: list[dict[str, int]] = [{}]
    for e in compiled.program.entries:
        if isinstance(e, Mark):
            if e.index >= 0:
                out.append({})
            continue
        regs, cur = dict(e.regs), out[-1]

        def f(rm, reg, name):
            return rm[reg].unpack(regs.get(rm[reg].offset, rm[reg].reset))[name]
        if e.unit in insts:
            k = f"ima{insts[e.unit]}.array{f(R, 'ARRAY', 'INDEX')}"
            n = f(R, "STEPS", "INNER") * f(R, "STEPS", "OUTER")
            if f(R, "MODE", "OP") == mvm:
                cur[f"{k}.mvm"] = cur.get(f"{k}.mvm", 0) + n
            else:
                words = n * f(R, "COLS", "COUNT") // 8
                cur[f"{k}.pcm_writes"] = cur.get(f"{k}.pcm_writes", 0) + words
        elif e.unit == "dma":
            reps = f(D, "NUM_REPS", "REPS") if f(D, "CONF", "TWO_D") else 1
            cur["dma.bytes"] = cur.get("dma.bytes", 0) + regs[D["NUM_BYTES"].offset] * reps
    return out[:len(compiled.program.marks)]
