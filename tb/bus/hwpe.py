"""The one HWPE driver: any accelerator instance that follows the HWPE
convention of the system contract (ACQUIRE, job registers, TRIGGER, an
end-of-job event, STATUS), whatever carries its register accesses and its
events.

* ``regs``: register accesses, an object with ``async read(addr, *, check)``
  and ``async write(addr, value, *, check)`` (tb/bus/hwpe_axi.AxiRegs over the
  SoC port, tb/bus/tcdm_master.TcdmMaster on a core's port, or an amaranth.sim
  adapter);
* ``events``: the end of a job, an object with ``mark()`` (a token taken
  before the job starts) and ``async wait(token) -> bool`` (the error flag of
  the first job end after the token), e.g. :class:`IrqEvents` (the cluster's interrupt line and
  EVT_PENDING, as software sees them) or :class:`PinEvents` (the instance's
  ``evt_done`` / ``evt_error`` lines, counted by a watcher).

Register offsets, fields, error codes and opcodes come from the kind's
register description (what the generated header gives software); a driver
for one instance is made with :func:`hwpe_driver`.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import Event, RisingEdge, ValueChange

__all__ = ["ALL_ONES", "HwpeDriver", "IrqEvents", "PinEvents", "hwpe_driver"]

ALL_ONES = 0xFFFF_FFFF


def _now_ps() -> float | None:
    """Simulated time in ps under cocotb; None elsewhere (an amaranth.sim adapter)."""
    try:
        from cocotb.simtime import get_sim_time
        return get_sim_time("ps")
    except Exception:
        return None


class HwpeDriver:
    """One accelerator instance at ``base`` with register map ``rm``.

    Members: ``rm``, ``base``, ``R`` (the generated constants module, offsets
    relative to ``base``), ``ERR`` and ``OP`` (``{name: value}`` from the
    register description, when it has them)."""

    def __init__(self, regs, rm, base: int, events=None, name: str = ""):
        self.regs, self.rm, self.base, self.evt = regs, rm, base, events
        self.name = name or rm.name
        self.R = rm.namespace()
        self.ERR = {n: v for n, v, _ in rm.constants.get("ERR", ())}
        self.OP = {n: v for n, v, _ in rm.constants.get("OP", ())}

    # -- registers ------------------------------------------------------------------------
    def word(self, reg: str, value) -> int:
        """A register value: an int, or ``{field: value}`` packed by the description."""
        return self.rm[reg].pack(**value) if isinstance(value, dict) else value & ALL_ONES

    async def write(self, reg: str, value, *, check: bool = True) -> int:
        return await self.regs.write(self.base + self.rm[reg].offset, self.word(reg, value),
                                     check=check)

    async def read(self, reg: str, *, check: bool = True) -> int:
        return await self.regs.read(self.base + self.rm[reg].offset, check=check)

    def field(self, reg: str, fld: str, word: int) -> int:
        return self.rm[reg].unpack(word)[fld]

    async def status(self) -> dict:
        return self.rm["STATUS"].unpack(await self.read("STATUS"))

    # -- jobs ------------------------------------------------------------------------------
    async def acquire(self) -> int:
        return await self.read("ACQUIRE")

    async def configure(self, job) -> int:
        """ACQUIRE a job context (it must be free) and write the job registers;
        ``job``: ``{register: value}``, ``[(register, value)]`` or an object
        with ``registers()``.  No TRIGGER yet; returns the job id."""
        jid = await self.acquire()
        if jid == ALL_ONES:
            raise AssertionError(f"{self.name}: ACQUIRE found no free job context")
        items = job.registers() if hasattr(job, "registers") else job
        for reg, value in (items.items() if isinstance(items, dict) else items):
            await self.write(reg, value)
        return jid

    async def trigger(self):
        self.triggered_ps = _now_ps()       # the job's start, for a failed run's waves
        await self.write("TRIGGER", 0)

    async def offload(self, job) -> int:
        """ACQUIRE, job registers, TRIGGER; returns the job id."""
        jid = await self.configure(job)
        await self.trigger()
        return jid

    async def wait_end(self, token=None) -> int:
        """Sleep until the end-of-job event (the first after ``token``, from
        ``self.evt.mark()`` taken before the TRIGGER; by default the next one);
        returns STATUS.ERROR, which must agree with the event's error flag."""
        flag = await self.evt.wait(token)
        err = (await self.status())["ERROR"]
        assert flag == (err != 0), f"{self.name}: error event {flag} but STATUS.ERROR {err}"
        if err:     # a failed run's waves open on this job (tb/env.record_failure)
            from imcc.tb.env import record_failure
            record_failure(f"{self.name} job (error {err})", getattr(self, "triggered_ps", None),
                           getattr(self.evt, "event_ps", None))
        return err

    async def run(self, job) -> int:
        """Offload ``job`` and wait for its end; returns its error code."""
        token = self.evt.mark()
        await self.offload(job)
        return await self.wait_end(token)

    async def wait_idle(self, what: str = "BUSY", limit: int = 1_000_000):
        """Poll STATUS until ``what`` is 0 (direct programming has no event)."""
        for _ in range(limit):
            if not (await self.status())[what]:
                return
        raise AssertionError(f"{self.name}: STATUS.{what} stayed set")


class PinEvents:
    """End-of-job events counted on an instance's ``evt_done`` / ``evt_error``
    lines (``events``: one error flag per finished job)."""

    def __init__(self, done, error):
        self._done, self._error = done, error
        self.events: list[bool] = []
        self.times_ps: list[float | None] = []     # when each event came
        self._evt = Event()
        cocotb.start_soon(self._watch())

    async def _watch(self):
        while True:
            # evt_error is registered in the same edge as evt_done: read it now
            # (not in the read-only phase, where the woken waiter could not drive).
            await RisingEdge(self._done)
            self.events.append(bool(int(self._error.value)))
            self.times_ps.append(_now_ps())
            self._evt.set()

    async def wait_count(self, n: int):
        """Until ``n`` end-of-job events have been seen in total."""
        while len(self.events) < n:
            self._evt.clear()
            await self._evt.wait()

    def mark(self) -> int:
        return len(self.events)

    async def wait(self, token: int | None = None) -> bool:
        n = self.mark() if token is None else token
        await self.wait_count(n + 1)
        self.event_ps = self.times_ps[n]
        return self.events[n]


class IrqEvents:
    """End-of-job events as software sees them: the instance's done bit on the
    cluster's interrupt line ``ctrl_irq``, then EVT_PENDING read and the
    instance's bits cleared through the control block (``ctrl``: the control
    block's :class:`HwpeDriver`-like register access).  :meth:`enable` sets
    the instance's bits in IRQ_MASK."""

    def __init__(self, irq, ctrl, bits: dict[str, int]):
        self.irq, self.ctrl = irq, ctrl
        self.bit_done, self.bit_err = bits["done"], bits["error"]
        self.mask = 1 << self.bit_done | 1 << self.bit_err

    async def enable(self):
        await self.ctrl.write("IRQ_MASK", await self.ctrl.read("IRQ_MASK") | self.mask)

    def mark(self):
        return None     # the pending bit is sticky until cleared: nothing to count

    async def wait(self, token=None) -> bool:
        while not int(self.irq.value) >> self.bit_done & 1:
            await ValueChange(self.irq)
        self.event_ps = _now_ps()          # the event, before the register reads
        pend = await self.ctrl.read("EVT_PENDING")
        assert pend >> self.bit_done & 1, f"EVT_PENDING {pend:#x} without the done bit"
        await self.ctrl.write("EVT_CLEAR", pend & self.mask)
        return bool(pend >> self.bit_err & 1)


def hwpe_driver(dut, cfg, regs, instance: str) -> HwpeDriver:
    """The driver of block instance ``instance`` (``"ima"``, ``"dw1"``, ...) of
    the cluster ``dut`` (the generated top, or a wrapper with the same port
    names), its events through the control block (:class:`IrqEvents`: the
    instance's bits must be set in IRQ_MASK, ``drv.evt.enable()``)."""
    from imcc.rtl.registry import compose
    comp = compose(cfg)
    inst = comp.instance(instance)
    rm = inst.kind.regmap(cfg, comp)
    base = comp.base(comp.window_of(inst))
    ctrl = HwpeDriver(regs, comp.instance("ctrl").kind.regmap(cfg, comp), comp.base("ctrl"),
                      name="ctrl")
    ev = IrqEvents(dut.ctrl_irq, ctrl, comp.event_bits(inst))
    return HwpeDriver(regs, rm, base, ev, name=instance)
