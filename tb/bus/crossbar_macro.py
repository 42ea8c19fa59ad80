"""The behavioural crossbar (imcc.sim.crossbar) answering the IMA's macro port
(rtl/ima/macro.py) in a cocotb simulation.

Two tasks, each asleep until the port asks for something: the MVM task
wakes on the rising edge of ``start`` (sampling the DAC vector, window and
ADC settings in the read-only phase), computes the ADC vector with the
model, sleeps ``mvm_cycles`` with one timer and drives ``done``/``y`` for one
cycle; the programming task wakes on ``prog_valid``, takes the operation at
the handshake edge, drops ``prog_ready`` for the model's programming time
(or read time) and answers reads with ``prog_rvalid``.  Nothing wakes per
clock cycle, so long MVM streams cost a few wake-ups per MVM.

Latencies come from the model (``Crossbar.mvm_cycles`` / ``prog_cycles``); a
read-back takes ``mvm_cycles`` too (sensing a row is an analog read).  The
IMA samples the macro's outputs in a register (rtl/ima/macro.py), and the
contract counts a latency to that register: the task drives ``done`` (or
``prog_ready``) one edge early, so the engine sees it exactly ``mvm_cycles``
after ``start`` (the model's latencies are at least ``MACRO_MIN_CYCLES``).
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from imcc.sim.crossbar import Crossbar

__all__ = ["CrossbarMacro", "macro_prefix", "attach_crossbars"]


def macro_prefix(cfg, instance: str, array: int) -> str:
    """The top-level port prefix of an IMA instance's crossbar array (of its bank:
    ``ima.macro_ports = "bank"``)."""
    per_array = cfg.ima.arrays > 1 and not cfg.ima.bank_port
    return f"{instance}_macro" + (f"__{array}" if per_array else "")


def attach_crossbars(dut, cfg, make=None) -> dict:
    """A behavioural crossbar on every array of every IMA instance of ``dut``:
    ``{(instance, array): Crossbar}``.  Each array has its own device state:
    its seed is ``crossbar.seed + 1000 * instance index + array``
    (``make(seed)`` builds a model; by default :class:`Crossbar` of ``cfg``).
    A pool (``ima.macro_ports = "pool"``) has one model per array, the first
    instance's seeds, under every instance's key; an array busy with another
    port's MVM delays the next one (rtl/ima/macro.py)."""
    from imcc.rtl.registry import compose
    out = {}
    bank = cfg.ima.bank_port
    pool: list = []         # ima.macro_ports = "pool": one set of models behind every port
    for inst in compose(cfg).of_kind("ima"):
        models = []
        for k in range(cfg.ima.arrays):
            if cfg.ima.pooled and len(pool) > k:
                xbar = pool[k]
                models.append(xbar)
                out[inst.name, k] = xbar
                continue
            seed = cfg.crossbar.seed + 1000 * inst.index + k
            xbar = make(seed) if make else Crossbar(cfg, seed=seed)
            if cfg.ima.pooled:
                pool.append(xbar)
            if not bank:
                CrossbarMacro(dut, macro_prefix(cfg, inst.name, k), xbar, dut.clk,
                              cfg.clock.period_ns)
            models.append(xbar)
            out[inst.name, k] = xbar
        if bank:    # one port: the array index the IMA drives picks the model
            index = getattr(dut, f"{inst.name}_macro_array")
            CrossbarMacro(dut, macro_prefix(cfg, inst.name, 0), models[0], dut.clk,
                          cfg.clock.period_ns, pick=lambda m=models, i=index: m[int(i.value)])
    return out


class CrossbarMacro:
    def __init__(self, dut, prefix: str, xbar: Crossbar, clk, period_ns: float, pick=None):
        self.x = xbar
        # a bank port: pick() -> the model of the array the IMA reaches now
        self.pick = pick or (lambda: xbar)
        self.clk = clk
        self.period = period_ns
        self.p = lambda n: getattr(dut, f"{prefix}__{n}")
        self.rows, self.cols = xbar.rows, xbar.cols
        self.mvm_log: list[tuple[float, float]] = []   # (start ns, done ns) of each MVM
        self.errors: list[str] = []
        self.p("done").value = 0
        self.p("y").value = 0
        self.p("prog_ready").value = 1
        self.p("prog_rvalid").value = 0
        self.p("prog_rdata").value = 0
        self.tasks = [cocotb.start_soon(self._mvm()), cocotb.start_soon(self._prog())]

    async def _edges(self, n: int):
        """From just after a clock edge to just after the n-th next one, with
        one timer instead of n wake-ups."""
        if n > 1:
            await Timer((n - 1) * self.period + self.period / 2, "ns")
        await RisingEdge(self.clk)

    def _int(self, name) -> int:
        return int(self.p(name).value)

    def _signed8(self, name) -> int:
        v = self._int(name)
        return v - 256 if v > 127 else v

    async def _wait_high(self, name):
        await ReadOnly()
        if not self._int(name):
            await RisingEdge(self.p(name))
            await ReadOnly()

    async def _mvm(self):
        while True:
            await self._wait_high("start")
            t0 = get_sim_time("ns")
            n_rows, n_cols = self._int("n_rows"), self._int("n_cols")
            x = np.frombuffer(self._int("x").to_bytes(self.rows, "little"), np.int8)[:n_rows]
            args = (x, self._int("row_off"), n_rows, self._int("col_off"), n_cols,
                    self._int("gain"), self._int("shift"), self._signed8("lo"), self._signed8("hi"))
            xbar = self.pick()
            # a pool's array computes one MVM at a time: wait for another port's
            wait = max(0, round((getattr(xbar, "busy_until_ns", 0.0) - t0) / self.period))
            xbar.busy_until_ns = t0 + (wait + xbar.mvm_cycles) * self.period
            xbar.pool_wait_cycles = getattr(xbar, "pool_wait_cycles", 0) + wait
            try:
                y = xbar.mvm(*args)
            except ValueError as e:     # the engine must never start such an MVM
                self.errors.append(f"MVM at {t0} ns: {e}")
                raise AssertionError(f"macro port: bad MVM at {t0} ns: {e}") from None
            out = np.zeros(self.cols, np.int8)
            out[:n_cols] = y
            await self._edges(wait + xbar.mvm_cycles - 1)     # + the IMA's input register
            self.p("y").value = int.from_bytes(out.tobytes(), "little")
            self.p("done").value = 1
            await RisingEdge(self.clk)
            self.p("done").value = 0
            self.mvm_log.append((t0, get_sim_time("ns")))

    async def _prog(self):
        while True:
            await self._wait_high("prog_valid")
            we, row, group = self._int("prog_we"), self._int("prog_row"), self._int("prog_group")
            wdata = self._int("prog_wdata")
            xbar = self.pick()
            await RisingEdge(self.clk)          # the handshake edge (prog_ready is high)
            self.p("prog_ready").value = 0
            try:
                if we:
                    busy = xbar.program(row, group, wdata)
                else:
                    data = xbar.read_word(row, group)
                    busy = xbar.mvm_cycles
            except ValueError as e:
                self.errors.append(f"programming at row {row}, group {group}: {e}")
                raise AssertionError(f"macro port: bad programming operation: {e}") from None
            # a pool's array: after another port's MVM or programming on it
            now = get_sim_time("ns")
            wait = max(0, round((getattr(xbar, "busy_until_ns", 0.0) - now) / self.period))
            xbar.busy_until_ns = now + (wait + busy) * self.period
            await self._edges(wait + busy - 1)           # + the IMA's input register
            self.p("prog_ready").value = 1
            if not we:
                self.p("prog_rdata").value = data
                self.p("prog_rvalid").value = 1
            # The IMA registers prog_ready at this edge: an operation it offers from
            # the next cycle on is the next handshake, not one still shown before it.
            await RisingEdge(self.clk)
            self.p("prog_rvalid").value = 0
