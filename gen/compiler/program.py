"""The network compiler's back end: buffers in L1 and L2, row bands, the job
list core 0 walks (sw/apps/network.c), and its binary encoding.

Schedule ``layer`` (the paper's): layers one after another; a layer runs on
row bands of its output, double-buffered in L1 so that the DMA brings band
b+1 in and takes band b-1 out while the accelerators compute band b.  Every
tensor lives in L2 (its own buffer, so every layer can be checked after the
run); the network input is stored with the zero border its first
convolution needs.  A band's input rows include the halo rows of a 3x3
layer; padding at the tensor's edges comes from the DW's PAD_* fields (or
the stored border for the IMA's convolution).

Dependencies are found from the buffers each job reads and writes (read
after write, write after read, write after write): a job waits until the
jobs it depends on have ended, as counts of ended jobs per unit (each unit
ends its jobs in order).  A *mark* after each layer waits for everything
and records the cycle counter: the per-layer cycles of the report.

Job list format (little-endian words; docs/compiler.md):

    boot record at the L2 base: BOOT_MAGIC, address of the job list
    header (HEADER_BYTES): MAGIC, VERSION, entries, marks, units, chunk bytes,
        bytes of the entries, lookahead (entries the walker parses ahead, 1..64), then per unit: base address, kind (0 HWPE, 1 DMA), done event bit,
        error event bit
    entries, in chunks of CHUNK bytes (an entry never straddles two):
        word 0: kind (4 bits: JOB, MARK, NEXT, END, WAIT) | unit << 4 | waits << 8 | regs << 16
        waits:  unit << 24 | count    (until that many jobs of the unit have ended)
        JOB:    regs x (offset, value)   (HWPE: ACQUIRE, writes, TRIGGER; DMA: writes, NEXT_ID)
        MARK:   one word, the mark's index
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imcc.gen.config import ClusterConfig
from imcc.gen.mapping import MappingError
from imcc.rtl.cores.event_unit import EVT_ACC
from imcc.rtl.dma.regs import DMA_REGS
from imcc.rtl.dw.regs import DW_REGS
from imcc.rtl.ima.regs import IMA_REGS
from imcc.sim.network import IMA_OPS, Layer

from .lower import Lowered

__all__ = ["Job", "Mark", "Program", "Tap", "compile_layers", "l2_layout", "cores_add", "CORES", "arena_bytes", "MAGIC", "CHUNK",
           "HEADER_BYTES", "ima_streams", "KIND_JOB", "KIND_MARK", "KIND_NEXT", "KIND_END", "RESERVED_L1"]

MAGIC, VERSION = 0x4E43_4D49, 1          # "IMCN"
BOOT_MAGIC, BOOT_BYTES = 0x544F_4F42, 64   # L2 starts with {"BOOT", job list address}
CHUNK = 4096                             # bytes core 0 fetches at a time (two buffers)
HEADER_BYTES = 256
KIND_JOB, KIND_MARK, KIND_NEXT, KIND_END, KIND_WAIT = 0, 1, 2, 3, 4
UNIT_HWPE, UNIT_DMA, UNIT_CORES = 0, 1, 2
CORES = "cores"          # the pseudo-unit of work core 0 does with the other cores
NO_EVENT = 0xFF
NO_SOURCE = 0xFF                         # a unit whose job count no WAIT may name
# L1 kept for network.c's own data (two job-list chunks, DMA ids, marks) and the stacks
RESERVED_L1 = 16 * 1024
STACK_BYTES = 2048
_ALIGN = 16
BANDS = 4                                # bands per layer when memory allows fewer


def arena_bytes(cfg: ClusterConfig) -> int:
    """L1 bytes the compiler may use (network.c's ``arena``, at the TCDM's base)."""
    return cfg.tcdm.size_bytes - RESERVED_L1 - cfg.cores.count * STACK_BYTES


def _align(n: int, a: int = _ALIGN) -> int:
    return (n + a - 1) // a * a


@dataclass
class Job:
    unit: str                                   # instance: ima, dw, dma, ...
    regs: list[tuple[int, int]]                 # (offset, value)
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    layer: str
    what: str
    seq: int = 0                                # 1-based, per unit
    waits: dict[str, int] = field(default_factory=dict)
    l2_bytes: int = 0                           # DMA: bytes moved
    parts: tuple[str, ...] = ()                 # keys written in part (see _Hazards)


@dataclass
class Mark:
    index: int                                  # < 0: a fence (waits, no record)
    layer: str
    waits: dict[str, int] = field(default_factory=dict)


@dataclass
class Tensor:
    addr: int                                   # L2 byte address of element (0, 0, 0) of the border
    shape: tuple[int, int, int]
    pad: int = 0                                # stored zero border

    @property
    def pitch(self) -> int:                     # bytes per stored row
        return (self.shape[1] + 2 * self.pad) * self.shape[2]

    @property
    def nbytes(self) -> int:
        return (self.shape[0] + 2 * self.pad) * self.pitch

    def row_addr(self, r: int) -> int:          # stored row r (border rows count)
        return self.addr + r * self.pitch


@dataclass
class Tap:
    """Rows of an intermediate tensor the check reads in L1 as the jobs that
    write them end, instead of a DMA copy to L2 the deployed job list would not
    make: ``nbytes`` at L1 ``l1_addr`` are the tensor's stored bytes from L2
    ``l2_addr`` on.  ``waits``: per unit, the last of its jobs that write them
    (a unit ends its jobs in order); ``after``: the index of the last such entry
    (a sequential run of the list reads them there)."""
    tensor: str
    l1_addr: int
    l2_addr: int
    nbytes: int
    waits: dict[str, int] = field(default_factory=dict)
    after: int = -1


@dataclass
class Program:
    cfg: ClusterConfig
    lowered: Lowered
    units: list[str]
    entries: list = field(default_factory=list)     # Job | Mark
    tensors: dict[str, Tensor] = field(default_factory=dict)
    l2_blobs: dict[int, bytes] = field(default_factory=dict)   # address -> bytes (params)
    marks: list[str] = field(default_factory=list)  # layer of each mark
    joblist_addr: int = 0
    l2_end: int = 0                                 # first L2 byte after the job list
    l2_next: int = 0                                # where the job list goes
    l1_tensors: dict = field(default_factory=dict)  # tensors checked in L1: name -> (addr, shape)
    taps: list[Tap] = field(default_factory=list)   # bands checked in L1 as their jobs end
    bands: dict[str, int] = field(default_factory=dict)
    l1_peak: int = 0
    model: dict = field(default_factory=dict)       # fused: the list scheduler's estimate
    # entries the walker parses ahead (sw/apps/network.c WINDOW at most).  Further
    # lets a unit's ready job be seen past other units' jobs, but costs core 0
    # time (finding each unit's next entry, issuing jobs not urgent yet); measured
    # (scripts/fit_perf.py, 5 runs at 4..64) shorter was never slower by more than
    # 0.2 % and up to 4 % faster from 64 down to 8
    lookahead: int = 8
    # the walker hands waits to the HWPEs' WAIT registers (ima.job_waits, dw.job_waits);
    # off: it waits for every job itself (gen/compiler/network.py keeps the faster)
    use_waits: bool = True
    # the fused list's choices, per segment or for all (gen/compiler/network.py
    # CHOICES: split, wide, cost, narrow, cut, seed, even; fused.compile_fused)
    choice: tuple = ()

    @property
    def jobs(self) -> list[Job]:
        return [e for e in self.entries if isinstance(e, Job)]

    def finish(self) -> "Program":
        """Place the job list after the tensors in L2 and check that it all fits."""
        self.joblist_addr = self.l2_next
        end = self.l2_end = self.joblist_addr + len(self.encode())
        if end > self.cfg.l2.base + self.cfg.l2.size_bytes:
            raise MappingError(f"the network's tensors, parameters and job list need "
                               f"{(end - self.cfg.l2.base) / 1024:.0f} KiB of L2, l2.size_kib "
                               f"is {self.cfg.l2.size_kib}")
        return self

    def job(self, unit: str, seq: int) -> Job | None:
        """The ``seq``-th job (1-based) of ``unit``."""
        return next((j for j in self.jobs if j.unit == unit and j.seq == seq), None)

    def failure(self, status) -> str:
        """The walker's ``net_status`` (entries done, job number, unit, code) in words."""
        done, seq, unit, code = status
        if unit >= len(self.units):
            return f"the job list could not be fetched (DMA error {code}) after {done} entries"
        j = self.job(self.units[unit], seq)
        what = j.what if j else f"job {seq}"
        return f"{self.units[unit]} job {seq} ({what}) ended with error {code}"

    @property
    def l2_traffic(self) -> int:
        return sum(j.l2_bytes for j in self.jobs)

    def l2_image(self, x: np.ndarray) -> dict[int, bytes]:
        """What the testbench writes into L2 before the start: the network input
        (with its stored border), the layers' parameters and the job list."""
        t = self.tensors[self.lowered.net.input]
        p = t.pad
        xp = np.pad(np.asarray(x, np.int8), ((p, p), (p, p), (0, 0)))
        boot = struct.pack("<2I", BOOT_MAGIC, self.joblist_addr)
        return {self.cfg.l2.base: boot, t.addr: xp.tobytes(), **self.l2_blobs,
                self.joblist_addr: self.encode()}

    def read_tensor(self, name: str, l2_read) -> np.ndarray:
        """A tensor out of L2 (``l2_read(addr, n) -> bytes``), border removed."""
        t = self.tensors[name]
        raw = np.frombuffer(l2_read(t.addr, t.nbytes), np.int8)
        h, w, c = t.shape
        a = raw.reshape(h + 2 * t.pad, w + 2 * t.pad, c)
        return a[t.pad:t.pad + h, t.pad:t.pad + w].copy()

    # -- encoding -------------------------------------------------------------------------------
    def _contexts(self, unit: str) -> int:
        if unit == CORES:
            return 1
        from imcc.rtl.registry import compose
        kind = compose(self.cfg).instance(unit).kind.name
        return getattr(self.cfg, kind).job_contexts

    def register_writes(self) -> dict[int, list[tuple[int, int]]]:
        """The registers each job must write (``id(job)`` -> [(offset, value)]): those
        whose value differs from what the same job context (an HWPE's contexts take
        jobs in ring order and keep their registers) holds from an earlier job; a
        DMA transfer writes all of its registers.  A band's job mostly changes its addresses: a few writes
        instead of thirty, so core 0 keeps up with four units."""
        table = dict(zip(self.units, self.unit_table()))
        state: dict[tuple[str, int], dict[int, int]] = {}
        out = {}
        for j in self.jobs:
            if table[j.unit][1] != UNIT_HWPE:
                # the walker's own job-list fetches rewrite the DMA's registers
                # between data transfers: a transfer writes all of its own
                out[id(j)] = list(j.regs)
                continue
            ctx = (j.seq - 1) % self._contexts(j.unit)
            held = state.setdefault((j.unit, ctx), {})
            out[id(j)] = [(o, v) for o, v in j.regs if held.get(o) != v & 0xFFFF_FFFF]
            held.update((o, v & 0xFFFF_FFFF) for o, v in j.regs)
        return out

    def job_waits(self, unit: str) -> int:
        """The unit's hardware job waits the walker uses (WAIT registers per job
        context; 0: none, or ``use_waits`` off: the compiler found the list faster
        with core 0 waiting for every job itself)."""
        if unit == CORES or not self.use_waits:
            return 0
        from imcc.rtl.registry import compose
        kind = compose(self.cfg).instance(unit).kind.name
        return getattr(getattr(self.cfg, kind), "job_waits", 0)

    def unit_table(self) -> list[tuple[int, ...]]:
        """Per unit: base address, kind, done and error event bits, room (HWPE job
        contexts, DMA queue slots), and its job waits (bits 15:8) and job source
        index (bits 7:0, ``NO_SOURCE``: not one), docs/compiler.md "Job waits"."""
        from imcc.rtl.registry import compose
        comp = compose(self.cfg)
        sources = comp.job_sources
        out = []
        for u in self.units:
            if u == CORES:          # runs on the cores themselves: no events, no room limit
                out.append((0, UNIT_CORES, NO_EVENT, NO_EVENT, 1, NO_SOURCE))
                continue
            bits = comp.event_bits(u)
            kind = UNIT_DMA if comp.instance(u).kind.name == "dma" else UNIT_HWPE
            room = self.cfg.dma.queue if kind == UNIT_DMA else self._contexts(u)
            src = sources.index(u) if u in sources else NO_SOURCE
            out.append((comp.base(comp.window_of(u)), kind, EVT_ACC + bits["done"],
                        EVT_ACC + bits["error"], room, self.job_waits(u) << 8 | src))
        return out

    def encode(self) -> bytes:
        table = self.unit_table()
        out, chunk = [], bytearray()
        uidx = {u: i for i, u in enumerate(self.units)}
        deltas = self.register_writes()
        for e in self.entries + ["END"]:
            if e == "END":
                words = [KIND_END]
            else:
                waits = [uidx[u] << 24 | n for u, n in sorted(e.waits.items()) if n > 0]
                if isinstance(e, Mark) and e.index < 0:      # a fence: waits only
                    words = [KIND_WAIT | len(waits) << 8] + waits
                elif isinstance(e, Mark):
                    words = [KIND_MARK | len(waits) << 8] + waits + [e.index]
                else:
                    regs = deltas[id(e)]
                    words = [KIND_JOB | uidx[e.unit] << 4 | len(waits) << 8 | len(regs) << 16]
                    words += waits + [v & 0xFFFF_FFFF for r in regs for v in r]
            b = struct.pack(f"<{len(words)}I", *words)
            if len(chunk) + len(b) > CHUNK - 4:          # room for a NEXT word
                chunk += struct.pack("<I", KIND_NEXT)
                out.append(bytes(chunk.ljust(CHUNK, b"\0")))
                chunk = bytearray()
            chunk += b
        out.append(bytes(chunk))
        body = b"".join(out)
        head = [MAGIC, VERSION, len(self.entries), len(self.marks), len(self.units), CHUNK,
                len(body), self.lookahead]
        for row in table:
            head += list(row)
        hb = struct.pack(f"<{len(head)}I", *head)
        assert len(hb) <= HEADER_BYTES
        return hb.ljust(HEADER_BYTES, b"\0") + body


def _cores_unit(net) -> list[str]:
    return [CORES] if any(L.op == "add" and L.unit == CORES for L in net.layers) else []


def l2_layout(prog: Program) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Every tensor its own L2 buffer (the network input with the border its
    first convolution needs), then each depthwise layer's parameters (weights,
    bias, scale) as one blob; the job list follows at ``prog.l2_next``.
    Returns (stored border per tensor, {dw layer: (L2 address, bytes)})."""
    net, cfg = prog.lowered.net, prog.cfg
    top = [cfg.l2.base + BOOT_BYTES]

    def alloc(n):
        a = top[0]
        top[0] += _align(n, 64)
        return a

    pads = {net.input: max([L.pad for L in net.layers if net.input in L.inputs], default=0)}
    for name, shape in net.shapes.items():
        t = Tensor(0, tuple(shape), pads.get(name, 0))
        t.addr = alloc(t.nbytes)
        prog.tensors[name] = t
    dw_params = {}
    for L in net.layers:
        if L.op == "dw":
            c = net.shapes[L.output][2]
            blob = (np.asarray(L.w, np.int8).tobytes().ljust(_align(9 * c, 4), b"\0")
                    + np.asarray(L.bias, "<i4").tobytes() + np.asarray(L.scale, "<u4").tobytes())
            dw_params[L.name] = (alloc(len(blob)), len(blob))
            prog.l2_blobs[dw_params[L.name][0]] = blob
    prog.l2_next = top[0]
    return pads, dw_params


# -- the scheduler -------------------------------------------------------------------------------
class _Hazards:
    """The writers and the readers since of every buffer key, and what a new
    access must come after.  A part write (a column tile of an IMA layer's
    rows: the tiles write disjoint bytes of the same rows) comes after what a
    write would, except the other parts written since the key was last read
    or wholly written: the tiles run at the same time, their reader after all."""

    def __init__(self):
        self.writers: dict[str, list] = {}
        self.readers: dict[str, list] = {}
        self.before: dict[str, list] = {}       # key -> what its open group of parts follows

    def deps(self, reads, writes, parts=()) -> list:
        dep = []
        for k in reads:
            dep += self.writers.get(k, [])
        for k in writes:
            dep += self.writers.get(k, []) + self.readers.get(k, [])
        for k in parts:
            dep += self.before[k] if k in self.before else \
                self.writers.get(k, []) + self.readers.get(k, [])
        return dep

    def add(self, x, reads, writes, parts=()):
        for k in reads:
            self.readers.setdefault(k, []).append(x)
            self.before.pop(k, None)
        for k in writes:
            self.writers[k], self.readers[k] = [x], []
            self.before.pop(k, None)
        for k in parts:
            if k not in self.before:
                self.before[k] = self.writers.get(k, []) + self.readers.get(k, [])
                self.writers[k], self.readers[k] = [], []
            self.writers[k].append(x)

    def clear(self):
        self.writers.clear()
        self.readers.clear()
        self.before.clear()


class _Deps:
    """A job's waits from its hazards (:class:`_Hazards`)."""

    def __init__(self):
        self.h = _Hazards()
        self.last: dict[str, int] = {}          # unit -> seq of its last job

    def add(self, job: Job):
        for d in self.h.deps(job.reads, job.writes, job.parts):
            job.waits[d.unit] = max(job.waits.get(d.unit, 0), d.seq)
        job.seq = self.last.get(job.unit, 0) + 1
        self.last[job.unit] = job.seq
        self.h.add(job, job.reads, job.writes, job.parts)

    def barrier(self) -> dict[str, int]:
        w = dict(self.last)
        self.h.clear()
        return w


class _Arena:
    """L1 buffers: from the bottom up (``alloc``) and from the top down
    (``alloc_high``: a tensor left in L1 for the next segment, at the end the
    segment's own input does not hold)."""
    def __init__(self, base: int, size: int):
        self.base, self.size, self.top, self.high, self.peak = base, size, 0, size, 0

    def reset(self, low: int = 0, high: int | None = None):
        """Free everything but [base, base + low) and [base + high, base + size)."""
        self.top, self.high = low, self.size if high is None else high

    def alloc(self, n: int) -> int:
        a = self.base + self.top
        self.top += _align(n)
        return self._used(a)

    def alloc_high(self, n: int) -> int:
        self.high -= _align(n)
        return self._used(self.base + self.high)

    def _used(self, a: int) -> int:
        assert self.top <= self.high, "L1 arena overflow"
        self.peak = max(self.peak, self.top + self.size - self.high)
        return a


def _dma(src: int, dst: int, n: int, *, rows: int = 1, src_stride: int = 0,
         dst_stride: int = 0) -> list[tuple[int, int]]:
    R = DMA_REGS
    regs = [(R["SRC_ADDR"].offset, src), (R["DST_ADDR"].offset, dst), (R["NUM_BYTES"].offset, n),
            (R["CONF"].offset, R["CONF"].pack(TWO_D=int(rows > 1)))]
    if rows > 1:
        regs += [(R["SRC_STRIDE"].offset, src_stride), (R["DST_STRIDE"].offset, dst_stride),
                 (R["NUM_REPS"].offset, R["NUM_REPS"].pack(REPS=rows))]
    return regs


def _regs(rm, **values) -> list[tuple[int, int]]:
    out = []
    for name, v in values.items():
        out.append((rm[name].offset, rm[name].pack(**v) if isinstance(v, dict) else v))
    return out


def compile_layers(lowered: Lowered, cfg: ClusterConfig, *, dw: str = "dw",
                   dma: str = "dma", program: dict[str, list] | None = None) -> Program:
    """The ``layer`` schedule of a lowered network on ``cfg`` (see the module doc)."""
    from imcc.rtl.registry import compose
    comp = compose(cfg)
    for inst, what in ((dw, "dw"), (dma, "dma")):
        if not any(i.name == inst for i in comp.of_kind(what)):
            raise MappingError(f"the network needs the {what} instance {inst!r} "
                               f"({what}.instances / {what}.enabled)")
    if not cfg.cores.count:
        raise MappingError("the network's job list is walked by core 0 (cores.count = 0)")
    net, mapping = lowered.net, lowered.mapping
    imas = sorted(set(mapping.where.values()), key=lambda i: [x.name for x in comp.of_kind("ima")].index(i))
    prog = Program(cfg, lowered, imas + [dw, dma] + _cores_unit(net))
    arena = _Arena(cfg.tcdm.base, arena_bytes(cfg))
    deps = _Deps()

    pads, dw_params = l2_layout(prog)

    def emit(unit, regs, reads, writes, layer, what, l2_bytes=0):
        j = Job(unit, regs, tuple(reads), tuple(writes), layer, what, l2_bytes=l2_bytes)
        deps.add(j)
        prog.entries.append(j)
        return j

    def dma_in(t: Tensor, name, r0, r1, dst, key, layer, what):
        n = (r1 - r0) * t.pitch
        emit(dma, _dma(t.row_addr(r0), dst, n), [f"l2:{name}"], [key], layer, what, n)

    def dma_out(src, key, name, o0, o1, layer, what):
        t = prog.tensors[name]
        h, w, c = t.shape
        n = (o1 - o0) * w * c
        if t.pad:
            regs = _dma(src, t.row_addr(o0 + t.pad) + t.pad * c, w * c, rows=o1 - o0,
                        src_stride=w * c, dst_stride=t.pitch)
        else:
            regs = _dma(src, t.row_addr(o0), n)
        emit(dma, regs, [key], [f"l2:{name}"], layer, what, n)

    layers = []
    for L in net.layers:
        o = lowered.origin[L.name]
        if not layers or layers[-1][0] != o:
            layers.append((o, []))
        layers[-1][1].append(L)

    for layer, ops in layers:
        arena.reset()
        if program and layer in program:
            # a partition starts here: write its tiles into the arrays first (PROGRAM
            # jobs from packed weights the DMA brings from L2, two buffers alternating)
            _program_tiles(prog, program[layer], arena, emit, dma, layer)
            prog.entries.append(Mark(len(prog.marks), f"program:{layer}", deps.barrier()))
            prog.marks.append(f"program:{layer}")
            arena.reset()
        ho, wo, _ = net.shapes[ops[-1].output]
        first = ops[0]
        srcs = list(dict.fromkeys(n for op in ops for n in op.inputs if n in prog.tensors
                                  and lowered.origin.get(_producer(net, n), None) != layer))

        def in_rows(name, o0, o1):
            """Stored rows of input ``name`` a band of output rows [o0, o1) reads, and the
            padding the job adds (top, bottom)."""
            t = prog.tensors[name]
            if first.op == "dw":
                s, h = first.stride, t.shape[0]
                lo, hi = o0 * s - 1, (o1 - 1) * s + 1
                return max(lo, 0), min(hi, h - 1) + 1, int(lo < 0), max(0, hi - (h - 1))
            if first.op == "conv":
                s, k = first.stride, first.k
                return o0 * s, (o1 - 1) * s + k, 0, 0
            return o0, o1, 0, 0

        def band_bytes(r):
            n = 0
            for name in srcs:
                r0, r1, _, _ = in_rows(name, 0, r)
                n += _align((r1 - r0 + 2) * prog.tensors[name].pitch)
            n += sum(_align(r * wo * net.shapes[op.output][2]) for op in ops)
            return 2 * n

        fixed = _align(dw_params[first.name][1]) if first.op == "dw" else 0
        rmax = max((r for r in range(1, ho + 1) if fixed + band_bytes(r) <= arena.size), default=0)
        if rmax == 0:
            raise MappingError(f"{layer}: one output row band needs {(fixed + band_bytes(1)) / 1024:.1f}"
                               f" KiB of L1, {arena.size / 1024:.1f} KiB are free (tcdm.size_kib)")
        nb = max(-(-ho // rmax), min(BANDS, ho))
        step = -(-ho // nb)
        bands = [(o0, min(o0 + step, ho)) for o0 in range(0, ho, step)]
        prog.bands[layer] = len(bands)

        params = None
        if first.op == "dw":
            addr, n = dw_params[first.name]
            params = arena.alloc(n)
            emit(dma, _dma(addr, params, n), [], [f"l1:{layer}:params"], layer,
                 f"{layer} parameters", n)
        slots = []
        for q in range(min(2, len(bands))):
            s = {}
            for name in srcs:
                r0, r1, _, _ = in_rows(name, 0, step)
                s[name] = arena.alloc((r1 - r0 + 2) * prog.tensors[name].pitch)
            for op in ops:
                s[op.output] = arena.alloc(step * wo * net.shapes[op.output][2])
            slots.append(s)
        prog.l1_peak = max(prog.l1_peak, arena.peak)

        def key(q, name):
            return f"l1:{layer}:{q}:{name}"

        def do_in(b):
            o0, o1 = bands[b]
            q = b % 2
            for name in srcs:
                r0, r1, _, _ = in_rows(name, o0, o1)
                dma_in(prog.tensors[name], name, r0, r1, slots[q][name], key(q, name), layer,
                       f"{layer} band {b} in {name}")

        def do_comp(b):
            o0, o1 = bands[b]
            q, rows = b % 2, o1 - o0
            for op in ops:
                out = slots[q][op.output]
                c = net.shapes[op.output][2]
                if op.op in IMA_OPS:
                    xin = op.inputs[0]
                    t = prog.tensors[xin]
                    cin = t.shape[2]
                    unit = mapping.instance(lowered.origin[op.name])
                    r = mapping.rep(lowered.origin[op.name])
                    for tl in _tiles(mapping, op, lowered, unit):
                        src, dst = ima_streams(op, tl, r, slots[q][xin], cin, t.pitch, out, c, wo)
                        emit(unit, _ima_regs(tl, op, wo // r, rows, src, dst),
                             [key(q, xin)], [key(q, op.output)], layer,
                             f"{op.name} band {b} tile a{tl.array}@{tl.arow},{tl.acol}")
                elif op.op == "dw":
                    xin = op.inputs[0]
                    r0, r1, pt, pb = in_rows(xin, o0, o1)
                    h, w, _ = prog.tensors[xin].shape
                    regs = _regs(DW_REGS,
                                 MODE=dict(OP=DW_REGS.constant("OP", "DW3X3"), STRIDE=op.stride,
                                           PAD_T=pt, PAD_B=pb, PAD_L=1, PAD_R=1),
                                 SIZE=dict(H=r1 - r0, W=w), CHANNELS=dict(C=c),
                                 SRC_ADDR=slots[q][xin], WEIGHT_ADDR=params,
                                 BIAS_ADDR=params + _align(9 * c, 4),
                                 SCALE_ADDR=params + _align(9 * c, 4) + 4 * c,
                                 DST_ADDR=out, QUANT=dict(SHIFT=op.shift, LO=op.lo, HI=op.hi))
                    emit(dw, regs, [key(q, xin), f"l1:{layer}:params"], [key(q, op.output)],
                         layer, f"{op.name} band {b}")
                elif op.op == "add":
                    a, bb = op.inputs
                    if op.unit == CORES:
                        emit(CORES, cores_add(slots[q][a], slots[q][bb], out, rows * wo * c, op),
                             [key(q, a), key(q, bb)], [key(q, op.output)], layer,
                             f"{op.name} band {b}")
                        continue
                    regs = _regs(DW_REGS,
                                 MODE=dict(OP=DW_REGS.constant("OP", "ADD"), STRIDE=1, PAD_T=0,
                                           PAD_B=0, PAD_L=0, PAD_R=0),
                                 SIZE=dict(H=rows, W=wo), CHANNELS=dict(C=c),
                                 SRC_ADDR=slots[q][a], SRC2_ADDR=slots[q][bb], DST_ADDR=out,
                                 SCALE_A=op.sa & 0xFFFF_FFFF, SCALE_B=op.sb & 0xFFFF_FFFF,
                                 QUANT=dict(SHIFT=op.shift, LO=op.lo, HI=op.hi))
                    emit(dw, regs, [key(q, a), key(q, bb)], [key(q, op.output)], layer,
                         f"{op.name} band {b}")

        def do_out(b):
            o0, o1 = bands[b]
            q = b % 2
            for op in ops:
                dma_out(slots[q][op.output], key(q, op.output), op.output, o0, o1, layer,
                        f"{layer} band {b} out {op.output}")

        # issue order: band b+1 comes in and band b-1 goes out while band b computes
        do_in(0)
        for b in range(len(bands)):
            if b == 0 and len(bands) > 1:
                do_in(1)
            do_comp(b)
            if b >= 1:
                do_out(b - 1)
                if b + 1 < len(bands):
                    do_in(b + 1)
        do_out(len(bands) - 1)
        m = Mark(len(prog.marks), layer, deps.barrier())
        prog.entries.append(m)
        prog.marks.append(layer)

    return prog.finish()


def pack_tile(w) -> bytes:
    """Weights (rows, cols) in -7..7 -> the little-endian words a PROGRAM job streams:
    row by row, columns padded to whole groups of 8, column 8g+i in bits 4i+3:4i."""
    w = np.asarray(w, np.int64)
    cols8 = -(-w.shape[1] // 8) * 8
    p = np.zeros((w.shape[0], cols8), np.int64)
    p[:, :w.shape[1]] = w
    nib = (p & 0xF).reshape(w.shape[0], -1, 8)
    return np.sum(nib << (4 * np.arange(8)), axis=-1).astype("<u4").tobytes()


def _program_tiles(prog: Program, tiles, arena, emit, dma: str, layer: str):
    """PROGRAM jobs for ``tiles`` [(instance, tile, weights)] (the packed weights go
    to L2 as blobs at compile time)."""
    R = IMA_REGS
    bufs = []
    for k, (inst, t, w) in enumerate(tiles):
        words = pack_tile(w)
        addr = prog.l2_next
        prog.l2_next += _align(len(words), 64)
        prog.l2_blobs[addr] = words
        if len(bufs) < 2:
            bufs.append(arena.alloc(max(len(pack_tile(x)) for _, _, x in tiles)))
        buf = bufs[k % 2]
        key = f"l1:program:{k % 2}"
        emit(dma, _dma(addr, buf, len(words)), [], [key], layer, f"weights of {t.layer} tile {k}",
             len(words))
        cols8 = -(-t.cols // 8) * 8
        regs = _regs(R, MODE=dict(OP=R.constant("OP", "PROGRAM")),
                     ROWS=dict(OFFSET=t.arow, COUNT=t.rows), COLS=dict(OFFSET=t.acol, COUNT=cols8),
                     GAIN=1, ADC=dict(SHIFT=0, LO=-128, HI=127),
                     STEPS=dict(INNER=t.rows, OUTER=1), ARRAY=dict(INDEX=t.array))
        for p_, a, n, step in (("SRC", buf, cols8 // 2, cols8 // 2), ("DST", 0, 1, 0)):
            regs += _regs(R, **{f"{p_}_ADDR": a, f"{p_}_LEN": dict(LEN=n),
                                f"{p_}_COUNT": dict(C1=1, C2=1), f"{p_}_STRIDE1": 0,
                                f"{p_}_STRIDE2": 0, f"{p_}_STEP0": step, f"{p_}_STEP1": 0})
        emit(inst, regs, [key], [f"array:{inst}:{t.array}"], layer,
             f"program {t.layer} tile {k} into array {t.array}")


def _producer(net, tensor):
    for L in net.layers:
        if L.output == tensor:
            return L.name
    return None


def _tiles(mapping, op: Layer, lowered: Lowered, instance: str | None = None):
    """The mapping's tiles that compute op (a whole layer, or one row tile's columns)
    on ``instance`` (default: the layer's first)."""
    tiles = mapping.of(lowered.origin[op.name], instance)
    if op.cin is not None:          # a row tile's op: the tiles of its input rows
        tiles = [t for t in tiles if t.row0 == op.cin[0]]
    return tiles


def ima_streams(op: Layer, tl, r: int, xaddr: int, cin: int, pitch: int, out: int, c: int,
                wo: int) -> tuple[dict, dict]:
    """Source and destination streams of an IMA job computing tile ``tl`` of op
    over whole output rows: input rows from ``xaddr`` (``pitch`` bytes apart, cin
    channels), output rows from ``out`` (wo pixels of c channels).  With r copies
    in the tile a step is r consecutive pixels of a row: a 1x1 layer reads their
    r*cin contiguous bytes and writes r*c; a convolution reads a window
    k x (k + (r-1)s) pixels (virtual im2col, one segment per kernel row)."""
    if op.op == "conv":
        k, s = op.k, op.stride
        src = dict(addr=xaddr, length=(k + (r - 1) * s) * cin, c1=k, stride1=pitch,
                   step0=r * s * cin, step1=s * pitch)
    else:
        src = dict(addr=xaddr + tl.row0, length=tl.rows, c1=1, stride1=0, step0=r * cin,
                   step1=pitch)
    dst = dict(addr=out + tl.col0, length=tl.cols, c1=1, stride1=0, step0=r * c, step1=wo * c)
    return src, dst


def _ima_regs(tl, op, wo, rows, src, dst) -> list[tuple[int, int]]:
    R = IMA_REGS
    regs = _regs(R, MODE=dict(OP=R.constant("OP", "MVM")),
                 ROWS=dict(OFFSET=tl.arow, COUNT=tl.rows), COLS=dict(OFFSET=tl.acol, COUNT=tl.cols),
                 GAIN=op.gain, ADC=dict(SHIFT=op.shift, LO=op.lo, HI=op.hi),
                 STEPS=dict(INNER=wo, OUTER=rows), ARRAY=dict(INDEX=tl.array))
    for p, s in (("SRC", src), ("DST", dst)):
        regs += _regs(R, **{f"{p}_ADDR": s["addr"], f"{p}_LEN": dict(LEN=s["length"]),
                            f"{p}_COUNT": dict(C1=s["c1"], C2=1),
                            f"{p}_STRIDE1": s["stride1"] & 0xFFFF_FFFF, f"{p}_STRIDE2": 0,
                            f"{p}_STEP0": s["step0"] & 0xFFFF_FFFF,
                            f"{p}_STEP1": s["step1"] & 0xFFFF_FFFF})
    return regs


def cores_add(a: int, b: int, dst: int, n: int, op: Layer) -> list[tuple[int, int]]:
    """A residual add on the cores: the argument words of network.c's CORES entry
    (a, b, destination, elements, sa, sb, shift, lo | hi << 8), as (index, value)."""
    args = [a, b, dst, n, op.sa & 0xFFFF_FFFF, op.sb & 0xFFFF_FFFF, op.shift,
            (op.lo & 0xFF) | (op.hi & 0xFF) << 8]
    return list(enumerate(args))
