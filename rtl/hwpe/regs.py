"""Register descriptions of HWPE accelerators: the single source of the RTL
decode (:class:`imcc.rtl.hwpe.HwpeController`), the C header, the Python
constants module used by testbenches and the Markdown table in docs/.

A :class:`RegisterMap` is a plain Python value: registers with an offset, an
access mode, fields (or one whole-width value), a reset value and a doc line,
plus named constant sets (error codes, mode values).  Registers come in three
kinds:

* ``ctrl``: the HWPE control registers of the system contract, implemented by
  the controller itself (:func:`control_registers`);
* ``job``: one copy per job context, written between ACQUIRE and TRIGGER and
  read by the accelerator while that job runs;
* ``io``: implemented by the accelerator (the controller forwards accesses);
* ``wait``: one copy per job context like ``job``, read by the controller
  itself: a queued job starts only once the counts it names are reached
  (:func:`wait_registers`; built when the kind's ``job_waits`` is set).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from imcc.gen.config import MAX_JOB_WAITS

__all__ = ["Field", "Register", "RegisterMap", "control_registers", "wait_registers",
           "STATUS_BUSY", "STATUS_ERROR", "ACCESS", "HWPE_REGS", "MAX_WAITS", "WAIT_OFFSET",
           "ERR_WAIT"]

ACCESS = {"rw": "read/write", "ro": "read-only", "wo": "write-only"}
KINDS = ("ctrl", "job", "io", "wait")


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str = ""
    signed: bool = False

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str
    doc: str
    kind: str = "job"
    fields: tuple[Field, ...] = ()
    width: int = 32
    reset: int = 0
    signed: bool = False    # for a register without fields

    def __post_init__(self):
        if self.access not in ACCESS:
            raise ValueError(f"register {self.name}: access {self.access!r} not in {list(ACCESS)}")
        if self.kind not in KINDS:
            raise ValueError(f"register {self.name}: kind {self.kind!r} not in {KINDS}")
        if self.offset % 4:
            raise ValueError(f"register {self.name}: offset {self.offset:#x} is not word aligned")
        used = 0
        for f in self.fields:
            if f.lsb < 0 or f.msb >= self.width:
                raise ValueError(f"register {self.name}: field {f.name} leaves bits 0..{self.width - 1}")
            if used & f.mask:
                raise ValueError(f"register {self.name}: field {f.name} overlaps another field")
            used |= f.mask

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """The fields, or one field named ``VALUE`` covering the register."""
        return self.fields or (Field("VALUE", 0, self.width, self.doc, self.signed),)

    def field(self, name: str) -> Field:
        for f in self.all_fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name}.{name}")

    def pack(self, **values) -> int:
        """The register word with the given field values (negative values of
        signed fields in two's complement); unnamed fields are 0."""
        word = 0
        names = {f.name for f in self.all_fields}
        for k, v in values.items():
            if k not in names:
                raise KeyError(f"{self.name} has no field {k} (fields: {sorted(names)})")
            f = self.field(k)
            lo, hi = (-(1 << (f.width - 1)), (1 << (f.width - 1)) - 1) if f.signed else (0, (1 << f.width) - 1)
            if not lo <= v <= hi:
                raise ValueError(f"{self.name}.{k} = {v} does not fit {f.width} bits "
                                 f"({'signed' if f.signed else 'unsigned'})")
            word |= (v & ((1 << f.width) - 1)) << f.lsb
        return word

    def unpack(self, word: int) -> dict[str, int]:
        out = {}
        for f in self.all_fields:
            v = word >> f.lsb & ((1 << f.width) - 1)
            if f.signed and v >> (f.width - 1):
                v -= 1 << f.width
            out[f.name] = v
        return out


# STATUS fields the controller implements itself; accelerators add theirs in between.
STATUS_BUSY = Field("BUSY", 0, 1, "a job is queued or running, or the accelerator is not idle")
STATUS_ERROR = Field("ERROR", 8, 8, "error code of the last finished job (0: none)")


def control_registers(status_fields: tuple[Field, ...] = ()) -> list[Register]:
    """The HWPE control registers of the system contract (offsets 0x00-0x14).

    ``status_fields``: accelerator-specific STATUS bits (driven by the
    accelerator), placed between BUSY (bit 0) and ERROR (bits 8-15)."""
    return [
        Register("TRIGGER", 0x00, "wo", "commit the acquired (or next free) job context; "
                 "answers a bus error when no context is free", kind="ctrl"),
        Register("ACQUIRE", 0x04, "ro", "read: lock the next job context and return its job id, "
                 "or all-ones when no context is free", kind="ctrl"),
        Register("FINISHED_JOBS", 0x08, "ro", "number of jobs finished since reset or SOFT_CLEAR "
                 "(with or without error)", kind="ctrl"),
        Register("STATUS", 0x0C, "ro", "accelerator status", kind="ctrl",
                 fields=(STATUS_BUSY, *status_fields, STATUS_ERROR)),
        Register("RUNNING_JOB", 0x10, "ro", "job id of the running job, all-ones when none",
                 kind="ctrl"),
        Register("FAILED", 0x18, "ro", "the last job that ended with an error since reset or "
                 "SOFT_CLEAR (0: none); kept when later jobs end without one, so software that "
                 "sees the error event late still learns which job failed and why", kind="ctrl",
                 fields=(Field("ERROR", 0, 8, "its error code"),
                         Field("JOB", 16, 16, "its number: FINISHED_JOBS as it ended (low 16 "
                                              "bits)"))),
        Register("SOFT_CLEAR", 0x14, "wo", "write: abort the running job, drop queued jobs, "
                 "clear counters and status (the accelerator drains its in-flight "
                 "transfers first; STATUS.BUSY shows when it is done)", kind="ctrl"),
    ]


MAX_WAITS = MAX_JOB_WAITS   # WAIT registers per job context at most (the configuration's limit)
WAIT_OFFSET = 0xC0     # WAIT0; WAITk at WAIT_OFFSET + 4k
# STATUS.ERROR of a job whose WAIT names no job source (every accelerator's ERR set has it)
ERR_WAIT = ("WAIT", 15, "a WAIT register with ON set names a SOURCE the cluster does not have "
                        "(the job ends without running)")


def wait_registers() -> list[Register]:
    """The job waits (kind ``wait``, offsets ``WAIT_OFFSET`` + 4k): hardware
    dependencies of a queued job, so software may queue a job before the jobs it
    depends on have ended.  The controller starts the job at the head of its
    queue only when, for every WAIT with ON set, the job count of SOURCE has
    reached COUNT (compared modulo 2^16: count - COUNT as a signed 16-bit
    number is not negative).  The job sources are the cluster's HWPEs (their
    FINISHED_JOBS) and its DMA (its DONE_ID), in instance order
    (``Composition.job_sources``; the network compiler's unit table gives each
    unit's index).  Built only when the kind's ``job_waits`` configuration is at
    least k + 1; otherwise WAITk is unmapped (a bus error)."""
    fields = (Field("COUNT", 0, 16, "the count to reach (low 16 bits)"),
              Field("SOURCE", 16, 8, "the job source whose count is compared"),
              Field("ON", 31, 1, "1: the job waits for this count; 0: this WAIT is ignored"))
    return [Register(f"WAIT{k}", WAIT_OFFSET + 4 * k, "rw",
                     f"hardware wait {k} of the job context: start only once SOURCE's job "
                     "count reaches COUNT", kind="wait", fields=fields)
            for k in range(MAX_WAITS)]


@dataclass(frozen=True)
class RegisterMap:
    """All registers of one accelerator and its named constants.

    ``constants``: {set name: [(name, value, doc), ...]}, e.g. the error codes."""

    name: str                      # short name, e.g. "ima"
    title: str
    registers: tuple[Register, ...]
    constants: dict = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self):
        seen = {}
        for r in self.registers:
            if r.offset in seen:
                raise ValueError(f"{r.name} and {seen[r.offset]} share offset {r.offset:#x}")
            if not r.name.isidentifier() or keyword.iskeyword(r.name.lower()):
                raise ValueError(f"register name {r.name!r} is not an identifier")
            seen[r.offset] = r.name
        names = [r.name for r in self.registers]
        if len(set(names)) != len(names):
            raise ValueError("duplicate register names")

    # -- lookup ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(name)

    def of_kind(self, kind: str) -> list[Register]:
        return [r for r in self.registers if r.kind == kind]

    @property
    def span(self) -> int:
        return max(r.offset for r in self.registers) + 4

    def constant(self, group: str, name: str) -> int:
        for n, v, _ in self.constants[group]:
            if n == name:
                return v
        raise KeyError(f"{group}.{name}")

    # -- emitters ---------------------------------------------------------------------------
    def c_header(self, base: int | None = None, *, prefix: str = "IMCC", digest: str = "",
                 bases: dict[str, int] | None = None) -> str:
        """``base``: the (first instance's) base address; ``bases``: ``{instance
        name: base}`` when several instances share this layout (one header per
        kind: ``<P>_INSTANCES`` and ``<P>_BASE_OF(k)`` for instance k, whose
        windows follow each other)."""
        p = f"{prefix}_{self.name.upper()}"
        guard = f"{p}_H"
        out = [f"/* {self.title}: registers. Generated by imcc from the register description"
               f"{f' (configuration {digest})' if digest else ''}; do not edit. */",
               f"#ifndef {guard}", f"#define {guard}", ""]
        if base is not None:
            out += [f"#define {p + '_BASE':<40} 0x{base:08x}u", ""]
        if bases and len(bases) > 1:
            vals = list(bases.values())
            step = vals[1] - vals[0]
            assert all(b == vals[0] + k * step for k, b in enumerate(vals)), bases
            out += [f"#define {p + '_INSTANCES':<40} {len(vals)}u",
                    f"#define {p + '_BASE_OF(k)':<40} ({p}_BASE + (k) * 0x{step:x}u)", ""]
        for r in self.registers:
            out.append(f"/* {r.name} ({r.access}, {r.kind}): {r.doc} */")
            out.append(f"#define {p + '_' + r.name:<40} 0x{r.offset:03x}u")
            for f in r.fields:
                q = f"{p}_{r.name}_{f.name}"
                out.append(f"#define {q + '_LSB':<40} {f.lsb}u")
                out.append(f"#define {q + '_WIDTH':<40} {f.width}u")
                out.append(f"#define {q + '_MASK':<40} 0x{f.mask:08x}u")
            out.append("")
        for group, items in self.constants.items():
            out.append(f"/* {group} */")
            for n, v, doc in items:
                out.append(f"#define {p + '_' + group + '_' + n:<40} {v}u  /* {doc} */")
            out.append("")
        out.append(f"#endif /* {guard} */")
        return "\n".join(out) + "\n"

    def python_source(self, base: int | None = None, *, digest: str = "",
                      bases: dict[str, int] | None = None) -> str:
        """A Python module of constants: ``<REG>`` offsets, ``<REG>_<FIELD>`` as
        (lsb, width), ``<GROUP>_<NAME>`` constants, and ``REGISTERS``/``FIELDS``
        tables; ``BASES`` (``{instance name: base}``) with ``bases``."""
        out = [f'"""{self.title}: register constants.  Generated by imcc from the register '
               f'description{f" (configuration {digest})" if digest else ""}; do not edit."""',
               ""]
        if base is not None:
            out += [f"BASE = 0x{base:08x}", ""]
        if bases:
            out += ["BASES = {" + ", ".join(f'"{n}": 0x{b:08x}' for n, b in bases.items()) + "}", ""]
        for r in self.registers:
            out.append(f"{r.name} = 0x{r.offset:03x}  # {r.access} {r.kind}: {r.doc}")
        out.append("")
        for r in self.registers:
            for f in r.fields:
                out.append(f"{r.name}_{f.name} = ({f.lsb}, {f.width})  # {f.doc}")
        out.append("")
        for group, items in self.constants.items():
            for n, v, doc in items:
                out.append(f"{group}_{n} = {v}  # {doc}")
            out.append("")
        regs = ", ".join(f'"{r.name}": (0x{r.offset:03x}, "{r.access}", "{r.kind}")'
                         for r in self.registers)
        out.append(f"REGISTERS = {{{regs}}}")
        flds = []
        for r in self.registers:
            inner = ", ".join(f'"{f.name}": ({f.lsb}, {f.width}, {f.signed})' for f in r.all_fields)
            flds.append(f'    "{r.name}": {{{inner}}},')
        out += ["FIELDS = {", *flds, "}"]
        for group, items in self.constants.items():
            body = ", ".join(f'"{n}": {v}' for n, v, _ in items)
            out.append(f"{group} = {{{body}}}")
        return "\n".join(out) + "\n"

    def namespace(self, base: int | None = None):
        """The constants module of :meth:`python_source`, executed (what a
        testbench that imports the generated file sees)."""
        import types
        mod = types.ModuleType(f"imcc_{self.name}_regs")
        exec(compile(self.python_source(base), mod.__name__, "exec"), mod.__dict__)
        return mod

    def markdown(self, base: int | None = None) -> str:
        kinds = {"ctrl": "control", "job": "job context", "io": "direct",
                 "wait": "job context (waits)"}
        out = [f"# {self.title}: registers", "",
               "Generated from the register description "
               f"(`{self.name}` register map) by `imcc gen`; do not edit by hand.", ""]
        if base is not None:
            out += [f"Base address: `0x{base:08x}` (default configuration).", ""]
        if self.notes:
            out += [self.notes.strip(), ""]
        out += ["| offset | register | access | kind | reset | description |",
                "|---|---|---|---|---|---|"]
        for r in self.registers:
            out.append(f"| 0x{r.offset:03x} | {r.name} | {r.access} | {kinds[r.kind]} | "
                       f"0x{r.reset:x} | {r.doc} |")
        out.append("")
        for r in self.registers:
            if not r.fields:
                continue
            out += [f"## {r.name} (0x{r.offset:03x}) fields", "",
                    "| bits | field | description |", "|---|---|---|"]
            for f in r.fields:
                bits = f"{f.msb}:{f.lsb}" if f.width > 1 else f"{f.lsb}"
                sign = " (signed)" if f.signed else ""
                out.append(f"| {bits} | {f.name} | {f.doc}{sign} |")
            out.append("")
        for group, items in self.constants.items():
            out += [f"## {group} values", "", "| value | name | meaning |", "|---|---|---|"]
            out += [f"| {v} | {n} | {doc} |" for n, v, doc in items]
            out.append("")
        return "\n".join(out)


# The control registers alone: what every accelerator shares (the generated
# imcc_hwpe.h behind sw/hal/hwpe.h; each kind's own map adds its STATUS bits
# and job registers).
HWPE_REGS = RegisterMap("hwpe", "HWPE control registers (every accelerator)",
                        tuple(control_registers() + wait_registers()))
