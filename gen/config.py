"""The one typed configuration of a cluster.

Every parameter of the RTL, the models and the testbenches comes from a
:class:`ClusterConfig`.  Defaults are the paper's cluster (system contract,
last section).  A configuration is validated when it is built: an error names
the dotted field, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError", "ClusterConfig", "TcdmConfig", "InterconnectConfig", "CoresConfig",
    "SocConfig", "ImaConfig", "DwConfig", "ClockConfig", "AddressWindow", "CrossbarConfig",
    "DmaConfig", "L2Config", "CountersConfig", "EnergyConfig",
    "parse_duration", "GEN_LIMITS",
]

WORD_BYTES = 4  # TCDM words are 32 bit (system contract)
IMA_WEIGHT_BITS = 4  # IMA weights: 4-bit signed, levels -7..7 (system contract)
IMA_WEIGHT_MAX = 2 ** (IMA_WEIGHT_BITS - 1) - 1  # -8 has no differential PCM pair
# Shortest macro latency in cycles (rtl/ima/macro.py): counted to the IMA's input
# register, so a macro answering after one edge is seen after two.
MACRO_MIN_CYCLES = 2
MAX_INSTANCES = 7   # accelerator instances per kind (a 3-bit field of the configuration readout)
MAX_ARRAYS = 64     # crossbar arrays per IMA (the paper's network needs 34)
MAX_JOB_WAITS = 2   # WAIT registers per HWPE job context (rtl/hwpe/regs.py wait_registers)
MACRO_INPUT_BITS = 62_000   # top-level input bits the macro ports may take (Amaranth: 2^16 in all)


# Largest values `imcc gen` elaborates in about a minute on two cores (measured:
# 128 banks 54 s, 256 banks over 100 s; a 16 MiB TCDM 66 s; a 1 MiB
# instruction memory 69 s, 16 MiB over 100 s and 5 GB; 58 masters x 32 banks
# 33 s, 64 x 128 over 300 s and 2 GB; the default 9 s).  Every bank, word of
# memory and master/bank pair of the interconnect is elaborated in Python.  The
# pair limit lets the default masters (18 with the DMA) reach 128 banks.
# A memory is elaborated word by word: one 2 MiB bank took minutes, so a
# bank holds at most 128 Ki words (512 KiB, the 16 MiB TCDM's banks).
GEN_LIMITS = {"tcdm.banks": 128, "tcdm.size_kib": 16 * 1024, "cores.imem_kib": 1024,
              "masters_x_banks": 2560, "bank_kib": 512}


class ConfigError(ValueError):
    """A configuration value is not allowed.  ``field`` is the dotted name."""

    def __init__(self, field: str, value: Any, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field} = {value!r} is not allowed: {allowed}")


def _doc(text: str, **kw):
    return field(metadata={"doc": text}, **kw)


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _check(cond: bool, name: str, value: Any, allowed: str):
    if not cond:
        raise ConfigError(name, value, allowed)


def _int_in(name, value, lo, hi):
    _check(isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi,
           name, value, f"an integer from {lo} to {hi}")


def _choice(name, value, choices):
    _check(value in choices, name, value, "one of " + ", ".join(repr(c) for c in choices))


def _positive(name, value):
    _check(isinstance(value, (int, float)) and not isinstance(value, bool)
           and math.isfinite(value) and value > 0, name, value, "a positive number")


@dataclass(frozen=True)
class TcdmConfig:
    base: int = _doc("byte address of the TCDM (L1) window", default=0x1000_0000)
    size_kib: int = _doc("TCDM size in KiB", default=512)
    banks: int = _doc("number of word-interleaved 32-bit banks (power of two)", default=32)

    @property
    def size_bytes(self) -> int:
        return self.size_kib * 1024

    @property
    def bank_words(self) -> int:
        return self.size_bytes // (self.banks * WORD_BYTES)

    def validate(self, p: str, root: "ClusterConfig"):
        # Upper limits are what generates in about a minute on two cores
        # (GEN_LIMITS); TCDM_CFG.SIZE_KIB, the control block's readout, is 16 bits.
        _int_in(f"{p}.banks", self.banks, 1, GEN_LIMITS["tcdm.banks"])
        _check(_power_of_two(self.banks), f"{p}.banks", self.banks,
               f"a power of two from 1 to {GEN_LIMITS['tcdm.banks']}")
        _int_in(f"{p}.size_kib", self.size_kib, 1, GEN_LIMITS["tcdm.size_kib"])
        _check(self.size_bytes % (self.banks * WORD_BYTES) == 0, f"{p}.size_kib", self.size_kib,
               f"a size that is a multiple of banks x 4 bytes ({self.banks * WORD_BYTES} bytes)")
        per_bank = GEN_LIMITS["bank_kib"]
        _check(self.size_kib <= per_bank * self.banks, f"{p}.size_kib", self.size_kib,
               f"at most {per_bank} KiB per bank ({per_bank * self.banks} KiB with {self.banks} "
               f"banks): each bank's SRAM is elaborated word by word")
        _int_in(f"{p}.base", self.base, 0, 2**32 - 1)
        _check(self.base % self.size_bytes == 0 if _power_of_two(self.size_bytes) else
               self.base % 4096 == 0, f"{p}.base", hex(self.base),
               "an address aligned to the TCDM size (or to 4 KiB for non-power-of-two sizes)")
        # The accelerators' job checks compare addresses as numbers: a window
        # that wrapped to 0 would pass a stream running past 4 GiB.
        _check(self.base + self.size_bytes <= 2**32, f"{p}.base", hex(self.base),
               f"a window that ends at or below 4 GiB (base + {self.size_bytes:#x} bytes "
               f"<= 0x100000000)")


@dataclass(frozen=True)
class InterconnectConfig:
    arbitration: str = _doc("per-bank arbitration policy", default="round_robin")
    periph_base: int = _doc("byte address of the peripheral window", default=0x1020_0000)
    periph_window_kib: int = _doc("size of each peripheral's window in KiB", default=4)

    def validate(self, p: str, root: "ClusterConfig"):
        _choice(f"{p}.arbitration", self.arbitration, ("round_robin",))
        _int_in(f"{p}.periph_window_kib", self.periph_window_kib, 1, 1024)
        _check(_power_of_two(self.periph_window_kib), f"{p}.periph_window_kib",
               self.periph_window_kib, "a power of two")
        _int_in(f"{p}.periph_base", self.periph_base, 0, 2**32 - 1)
        win = self.periph_window_kib * 1024
        _check(self.periph_base % win == 0, f"{p}.periph_base", hex(self.periph_base),
               f"an address aligned to the peripheral window ({win} bytes)")


@dataclass(frozen=True)
class CoresConfig:
    count: int = _doc("number of RISC-V cores (TCDM masters core0..)", default=8)
    imem_base: int = _doc("byte address of the cores' instruction memory (ideal I-cache)",
                          default=0x1C00_0000)
    imem_kib: int = _doc("instruction memory size in KiB (power of two)", default=32)

    @property
    def imem_bytes(self) -> int:
        return self.imem_kib * 1024

    def validate(self, p, root):
        _int_in(f"{p}.count", self.count, 0, 16)
        _int_in(f"{p}.imem_kib", self.imem_kib, 1, GEN_LIMITS["cores.imem_kib"])
        _check(_power_of_two(self.imem_kib), f"{p}.imem_kib", self.imem_kib, "a power of two")
        _int_in(f"{p}.imem_base", self.imem_base, 0, 2**32 - self.imem_bytes)
        _check(self.imem_base % self.imem_bytes == 0, f"{p}.imem_base", hex(self.imem_base),
               f"an address aligned to the instruction memory size ({self.imem_bytes} bytes)")


@dataclass(frozen=True)
class SocConfig:
    data_width: int = _doc("AXI data width in bits; one TCDM master per 32-bit lane", default=64)
    id_width: int = _doc("AXI ID width in bits", default=4)
    cluster_id: int = _doc("cluster id readable in the cluster control block", default=0)

    @property
    def lanes(self) -> int:
        return self.data_width // 32

    def validate(self, p, root):
        _choice(f"{p}.data_width", self.data_width, (32, 64))
        _int_in(f"{p}.id_width", self.id_width, 1, 16)
        _int_in(f"{p}.cluster_id", self.cluster_id, 0, 0xFFFF)


@dataclass(frozen=True)
class ImaConfig:
    enabled: bool = _doc("instantiate the in-memory accelerator (false: as instances = 0)",
                         default=True)
    instances: int = _doc("IMA subsystems, each with its own window, data ports, events and "
                          "crossbar macro port (ima, ima1, ...)", default=1)
    arrays: int = _doc("crossbar arrays per IMA, each with its own macro port; a job names "
                       "its array, one computes at a time (instances compute together); with "
                       "macro_ports = 'pool' the arrays of the one pool every IMA reaches",
                       default=1)
    macro_ports: str = _doc("'array': one macro port per crossbar array at the cluster's "
                            "boundary (separate hard macros); 'bank': one port per IMA and an "
                            "array index output (<ima>_macro_array), the arrays behind it one "
                            "bank macro; needed when the per-array ports exceed the generator's "
                            "top-level input limit (about 31 arrays of 256 columns); 'pool': "
                            "as 'bank', but one bank of `arrays` arrays shared by every IMA "
                            "instance, so several arrays compute at once, one per IMA "
                            "(rtl/ima/macro.py)",
                            default="array")
    rows: int = _doc("crossbar rows (inputs)", default=256)
    cols: int = _doc("crossbar columns (outputs)", default=256)
    data_ports: int = _doc("number of 32-bit TCDM data ports of the streamer", default=4)
    stream_ports: str = _doc("'shared': source and sink share the data ports round-robin "
                             "(the paper); 'separate': the sink has its own ports",
                             default="shared")
    mode: str = _doc("'pipelined' or 'sequential' engine", default="pipelined")
    mvm_ns: float = _doc("analog MVM time in ns", default=130.0)
    prog_ns: float = _doc("PCM programming time per 32-bit write (8 weights) in ns",
                          default=1000.0)
    job_contexts: int = _doc("job contexts of the HWPE controller", default=2)
    job_waits: int = _doc("hardware waits per job context (WAIT0, WAIT1: a queued job starts "
                          "once other units' job counts reach its counts, so core 0 may queue "
                          "it early); 0: none, the walker waits in software", default=0)

    @property
    def pooled(self) -> bool:
        """Every instance reaches one shared pool of ``arrays`` arrays."""
        return self.macro_ports == "pool"

    @property
    def bank_port(self) -> bool:
        """Each IMA has one macro port for its arrays and an array index output
        (a bank, or the pool), rather than a port per array."""
        return self.pooled or (self.arrays > 1 and self.macro_ports == "bank")

    @property
    def total_arrays(self) -> int:
        """Crossbar arrays in the cluster: the pool's, or every instance's own."""
        n = self.instances if self.enabled else 0
        return min(n, 1) * self.arrays if self.pooled else n * self.arrays

    def validate(self, p, root):
        for name in ("rows", "cols"):
            v = getattr(self, name)
            _check(isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= 1024 and v % 8 == 0,
                   f"{p}.{name}", v, "a multiple of 8 from 8 to 1024")
        _int_in(f"{p}.instances", self.instances, 0, MAX_INSTANCES)
        _int_in(f"{p}.arrays", self.arrays, 1, MAX_ARRAYS)
        _choice(f"{p}.macro_ports", self.macro_ports, ("array", "bank", "pool"))
        # Amaranth numbers a design's top-level input bits in 16 bits: every array's
        # ADC vector and programming answer (cols*8 + 35 bits) must fit beside the rest
        per_array = self.cols * 8 + 35
        arrays = self.instances * self.arrays if self.enabled else 0
        _check(self.macro_ports != "array" or arrays * per_array <= MACRO_INPUT_BITS,
               f"{p}.arrays", self.arrays,
               f"at most {MACRO_INPUT_BITS // per_array // max(1, self.instances)} arrays of "
               f"{self.cols} columns per IMA with one macro port each (set ima.macro_ports = "
               "'bank' for more)")
        _int_in(f"{p}.data_ports", self.data_ports, 1, 16)
        _choice(f"{p}.stream_ports", self.stream_ports, ("shared", "separate"))
        _choice(f"{p}.mode", self.mode, ("pipelined", "sequential"))
        _positive(f"{p}.mvm_ns", self.mvm_ns)
        _positive(f"{p}.prog_ns", self.prog_ns)
        _int_in(f"{p}.job_contexts", self.job_contexts, 2, 4)
        _int_in(f"{p}.job_waits", self.job_waits, 0, MAX_JOB_WAITS)


@dataclass(frozen=True)
class DwConfig:
    enabled: bool = _doc("instantiate the depthwise 3x3 accelerator (false: as instances = 0)",
                         default=True)
    instances: int = _doc("DW accelerators (dw, dw1, ...); with ports = 'shared', DW k shares "
                          "the data ports of IMA k (or has them alone)", default=1)
    channels: int = _doc("channels per block (weight-stationary)", default=16)
    macs: int = _doc("multipliers", default=36)
    ports: str = _doc("'shared': static mux on the IMA's data ports (the paper); "
                      "'own': as many ports of its own", default="shared")
    job_contexts: int = _doc("job contexts of the HWPE controller", default=2)
    job_waits: int = _doc("hardware waits per job context (WAIT0, WAIT1: a queued job starts "
                          "once other units' job counts reach its counts, so core 0 may queue "
                          "it early); 0: none, the walker waits in software", default=0)

    def validate(self, p, root):
        _int_in(f"{p}.instances", self.instances, 0, MAX_INSTANCES)
        _int_in(f"{p}.channels", self.channels, 1, 64)
        _int_in(f"{p}.macs", self.macs, 9, 1024)
        _check(self.macs % 9 == 0, f"{p}.macs", self.macs, "a multiple of 9 (3x3 taps)")
        _choice(f"{p}.ports", self.ports, ("shared", "own"))
        _int_in(f"{p}.job_contexts", self.job_contexts, 2, 4)
        _int_in(f"{p}.job_waits", self.job_waits, 0, MAX_JOB_WAITS)


CLOCK_MHZ_MIN, CLOCK_MHZ_MAX = 1.0, 5000.0


def _period_text(f) -> str:
    try:
        return f"{1e6 / f:.6g} ps"
    except (TypeError, ZeroDivisionError, OverflowError):
        return "no period"


@dataclass(frozen=True)
class ClockConfig:
    freq_mhz: float = _doc("clock frequency used to convert analog times to cycles", default=500.0)
    idle_gate: bool = _doc("stop the cluster's clock while every block is idle (a clock gate at "
                           "the cluster's clock root, as PULP clusters have); false keeps it running",
                           default=True)

    @property
    def period_ns(self) -> float:
        return 1000.0 / self.freq_mhz

    def validate(self, p, root):
        # The simulator's step is 1 ps and the clock toggles every half period.
        f = self.freq_mhz
        _check(isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f)
               and CLOCK_MHZ_MIN <= f <= CLOCK_MHZ_MAX
               and abs(1e6 / f - 2 * round(5e5 / f)) < 1e-6, f"{p}.freq_mhz", f,
               f"a frequency from {CLOCK_MHZ_MIN:g} to {CLOCK_MHZ_MAX:g} MHz whose period is an "
               "even number of picoseconds (the simulator's step is 1 ps, the clock toggles "
               "each half period), e.g. 500 (2000 ps), 400, 250, 125, 100; "
               f"{f!r} MHz would be {_period_text(f)}")


# Units of CrossbarConfig.t_inference; a month is a twelfth of a 365-day year.
_TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0,
               "mo": 365 * 86400.0 / 12, "y": 365 * 86400.0}


def parse_duration(name: str, text: str) -> float:
    """Seconds of ``text``: plain seconds ("3600") or a number with a unit
    (s, min, h, d, w, mo, y), e.g. "25s", "1h", "1mo", "10y".  Errors name ``name``."""
    allowed = ("seconds >= 0, or a number with unit " + ", ".join(_TIME_UNITS)
               + " (e.g. '1d', '10y')")
    if not isinstance(text, str):
        raise ConfigError(name, text, allowed)
    raw = text.strip().lower()
    num, unit = raw, "s"
    for u in sorted(_TIME_UNITS, key=len, reverse=True):
        if raw.endswith(u):
            num, unit = raw[: -len(u)].strip(), u
            break
    try:
        value = float(num) * _TIME_UNITS[unit]
    except ValueError:
        raise ConfigError(name, text, allowed) from None
    _check(math.isfinite(value) and value >= 0, name, text, allowed)
    return value


def _nonneg(name, value):
    _check(isinstance(value, (int, float)) and not isinstance(value, bool)
           and math.isfinite(value) and value >= 0, name, value, "a number >= 0")


@dataclass(frozen=True)
class CrossbarConfig:
    """Behavioural model of the IMA's analog crossbar (docs/models.md)."""

    model: str = _doc("'ideal': bit-exact integer crossbar; 'pcm': statistical PCM model",
                      default="ideal")
    t_inference: str = _doc("PCM: time since programming, seconds or with unit s/min/h/d/w/mo/y",
                            default="1d")
    seed: int = _doc("seed of the crossbar's random generator", default=0)
    gmax_us: float = _doc("PCM: largest target conductance in uS", default=25.0)
    gmin_us: float = _doc("PCM: conductance of a device at level 0 in uS", default=0.0)
    prog_noise_scale: float = _doc("PCM: factor on the programming noise", default=1.0)
    read_noise_scale: float = _doc("PCM: factor on the 1/f read noise", default=1.0)
    drift_scale: float = _doc("PCM: factor on the drift exponents", default=1.0)
    adc_noise_lsb: float = _doc("ADC output noise (Gaussian std) in output LSB", default=0.0)
    adc_offset_lsb: float = _doc("std of each column ADC's fixed offset in output LSB",
                                 default=0.0)
    drift_compensation: str = _doc("'none', 'global' (one alpha per array) or 'column'",
                                   default="global")
    read_noise_sampling: str = _doc("'device': per device and MVM; 'column': per column, "
                                    "same mean and variance (fast)",
                                    default="device")
    representation: str = _doc("'differential' or 'hybrid' (binary MSB + multi-level LSB pairs)",
                               default="differential")
    devices_per_weight: int = _doc("PCM devices per weight (2 per differential pair)", default=2)
    hybrid_binary_pairs: int = _doc("hybrid: pairs of binary devices (most significant)",
                                    default=1)
    hybrid_levels: int = _doc("hybrid: levels of each multi-level device, 0 included", default=4)
    hybrid_significance: int = _doc("hybrid: weight value of one binary pair", default=4)

    @property
    def t_inference_s(self) -> float:
        return parse_duration("crossbar.t_inference", self.t_inference)

    @property
    def pairs(self) -> int:
        return self.devices_per_weight // 2

    def validate(self, p, root):
        _choice(f"{p}.model", self.model, ("ideal", "pcm"))
        parse_duration(f"{p}.t_inference", self.t_inference)
        _int_in(f"{p}.seed", self.seed, 0, 2**63 - 1)
        _positive(f"{p}.gmax_us", self.gmax_us)
        _nonneg(f"{p}.gmin_us", self.gmin_us)
        _check(self.gmin_us < self.gmax_us, f"{p}.gmin_us", self.gmin_us,
               f"a value below gmax_us ({self.gmax_us})")
        for name in ("prog_noise_scale", "read_noise_scale", "drift_scale", "adc_noise_lsb",
                     "adc_offset_lsb"):
            _nonneg(f"{p}.{name}", getattr(self, name))
        _choice(f"{p}.drift_compensation", self.drift_compensation, ("none", "global", "column"))
        _choice(f"{p}.read_noise_sampling", self.read_noise_sampling, ("device", "column"))
        _choice(f"{p}.representation", self.representation, ("differential", "hybrid"))
        _int_in(f"{p}.devices_per_weight", self.devices_per_weight, 2, 16)
        _check(self.devices_per_weight % 2 == 0, f"{p}.devices_per_weight",
               self.devices_per_weight, "an even number (devices come in differential pairs)")
        _int_in(f"{p}.hybrid_binary_pairs", self.hybrid_binary_pairs, 0, 8)
        _int_in(f"{p}.hybrid_levels", self.hybrid_levels, 2, 64)
        _int_in(f"{p}.hybrid_significance", self.hybrid_significance, 1, IMA_WEIGHT_MAX)
        if self.representation == "hybrid":
            _check(self.hybrid_binary_pairs <= self.pairs, f"{p}.hybrid_binary_pairs",
                   self.hybrid_binary_pairs,
                   f"at most devices_per_weight / 2 = {self.pairs} pairs")
            # MSB first: as many binary pairs as fit, the rest on the multi-level pairs.
            nb, nm = self.hybrid_binary_pairs, self.pairs - self.hybrid_binary_pairs
            s, d = self.hybrid_significance, self.hybrid_levels - 1
            missing = [m for m in range(IMA_WEIGHT_MAX + 1) if m - min(nb, m // s) * s > nm * d]
            _check(not missing, f"{p}.devices_per_weight", self.devices_per_weight,
                   f"enough devices for the hybrid split ({nb} binary pair(s) of significance {s} "
                   f"+ {nm} pair(s) of {self.hybrid_levels}-level devices cannot hold "
                   f"|w| = {', '.join(map(str, missing))})")


@dataclass(frozen=True)
class DmaConfig:
    """The cluster DMA between the TCDM and the SoC's L2 (docs/dma.md)."""

    enabled: bool = _doc("instantiate the cluster DMA (an AXI4 manager port to the SoC's L2)",
                         default=True)
    data_width: int = _doc("AXI data width of the DMA's manager port in bits", default=64)
    id_width: int = _doc("AXI ID width of the DMA's manager port in bits", default=4)
    ports: int = _doc("TCDM data ports (32-bit interconnect masters dma0..)", default=4)
    queue: int = _doc("transfers queued behind the running one (launched, not started); "
                      "at least 2", default=4)
    max_burst: int = _doc("longest AXI burst in beats (bursts never cross 4 KiB)", default=16)
    outstanding: int = _doc("AXI read bursts in flight", default=4)

    def validate(self, p, root):
        _choice(f"{p}.data_width", self.data_width, (32, 64, 128))
        _int_in(f"{p}.id_width", self.id_width, 1, 16)
        _int_in(f"{p}.ports", self.ports, 1, 16)
        _int_in(f"{p}.queue", self.queue, 2, 16)
        _int_in(f"{p}.max_burst", self.max_burst, 1, 256)
        _int_in(f"{p}.outstanding", self.outstanding, 1, 16)


@dataclass(frozen=True)
class L2Config:
    """The SoC's L2 memory as the DMA sees it (outside the cluster; simulated by
    a testbench model behind the DMA's AXI port)."""

    base: int = _doc("byte address of the L2 window (PULP's SoC map)", default=0x1C00_0000)
    size_kib: int = _doc("L2 size in KiB", default=4096)
    latency: int = _doc("simulation model: cycles from an accepted read burst to its first "
                        "beat", default=4)

    @property
    def size_bytes(self) -> int:
        return self.size_kib * 1024

    def validate(self, p, root):
        _int_in(f"{p}.size_kib", self.size_kib, 4, 1024 * 1024)
        _check(self.size_kib % 4 == 0, f"{p}.size_kib", self.size_kib, "a multiple of 4 KiB")
        _int_in(f"{p}.base", self.base, 0, 2**32 - self.size_bytes)
        _check(self.base % 4096 == 0, f"{p}.base", hex(self.base), "an address aligned to 4 KiB")
        t = root.tcdm
        _check(not (self.base < t.base + t.size_bytes and t.base < self.base + self.size_bytes),
               f"{p}.base", hex(self.base),
               f"a window that does not overlap the TCDM [{t.base:#x}, {t.base + t.size_bytes:#x})")
        _int_in(f"{p}.latency", self.latency, 1, 1000)


@dataclass(frozen=True)
class EnergyConfig:
    """Per-event energies and leakage of the energy model (sim/energy.py,
    docs/energy.md).  GF22 FDX at 0.8 V and 500 MHz, the paper's (arXiv 2201.01089)
    point.  Each doc names its source; "derived" values are arithmetic on
    published figures, "fit" values are least squares on the paper's Fig. 12a
    per-layer energies (scripts/bench_energy.py --fit), "assumed" ones have no
    published figure for this cluster.  No field changes the RTL."""

    ima_mvm_fixed_pj: float = _doc(
        "IMA analog: pJ per MVM whatever its window (bias, sense and timing of the "
        "crossbar macro). Fit: Fig. 12a IMA rows of arXiv 2201.01089 (GF22); a full 256x256 "
        "MVM costs fixed + 256 x row + 256 x col = 16.4 nJ, HERMES (14 nm, 10.5 TOPS/W, "
        "JSSC 2022) 12.5 nJ", default=170.0)
    ima_mvm_row_pj: float = _doc(
        "IMA analog: pJ per active crossbar row and MVM (the pulse-width DAC driving one "
        "row). Fit: Fig. 12a IMA rows of arXiv 2201.01089 (GF22)", default=25.5)
    ima_mvm_col_pj: float = _doc(
        "IMA analog: pJ per active column and MVM (one 8-bit ADC conversion with its "
        "sense line). Fit: Fig. 12a IMA rows of arXiv 2201.01089 (GF22); HERMES's "
        "256 CCO ADCs: 12.5 nJ / 256 = 49 pJ per column at 14 nm with its digital unit",
        default=38.0)
    ima_pcm_write_pj: float = _doc(
        "IMA analog: pJ per 32-bit PCM programming write (8 weights = 16 devices, "
        "program-and-verify). Assumed: tens of pJ per RESET/SET pulse of a scaled PCM "
        "device (Wong et al., Proc. IEEE 2010; a device figure, no CMOS node) x 16 devices x "
        "about 10 iterations; "
        "programming only, never during inference", default=2000.0)
    ima_busy_pj: float = _doc(
        "IMA digital: pJ per busy cycle of an IMA (controller, streamer, DAC/ADC buffers). "
        "Fit with ima_mvm_fixed_pj on Fig. 12a (arXiv 2201.01089, GF22): the two share "
        "one constraint, split assumed", default=8.0)
    dw_busy_pj: float = _doc(
        "DW: pJ per busy cycle of a depthwise accelerator (window and weight buffers, "
        "control; MACs apart). Fit: Fig. 12a DW rows of arXiv 2201.01089 (GF22)",
        default=13.5)
    dw_mac_pj: float = _doc(
        "DW: pJ per 8x8-bit MAC into 32 bits. Derived: Horowitz ISSCC 2014 (45 nm, "
        "0.9 V): 8-bit multiply 0.2 pJ + 32-bit add 0.1 pJ, x0.5 to 22 nm at 0.8 V",
        default=0.15)
    core_active_pj: float = _doc(
        "Cores: pJ per active (not sleeping) core cycle, core and instruction fetch; its "
        "TCDM accesses apart. Fit: Fig. 12a ADD rows (8 cores, arXiv 2201.01089, GF22); "
        "Vega (arXiv 2110.09101, GF22, 9 cores 49.4 mW at 450 MHz) gives about 9 pJ at "
        "peak load (derived)", default=6.5)
    core_sleep_pj: float = _doc(
        "Cores: pJ per sleeping core cycle (clock gated by the event unit: the gate and "
        "wake-up logic; leakage is in leakage_mw). Assumed for GF22 at 0.8 V", default=0.3)
    tcdm_access_pj: float = _doc(
        "TCDM: pJ per granted 32-bit access, bank and logarithmic interconnect. Derived: "
        "Horowitz ISSCC 2014 (45 nm): 64-bit read of an 8-32 KiB SRAM 10-20 pJ, so about "
        "6 pJ for 32 bits of a 16 KiB bank, x0.5 to 22 nm at 0.8 V", default=3.0)
    dma_byte_pj: float = _doc(
        "DMA/L2: pJ per byte the DMA moves, L2 side and AXI (the TCDM side is "
        "tcdm_access_pj). Derived: Horowitz ISSCC 2014 (45 nm): 64-bit read of a 1 MiB "
        "SRAM 100 pJ = 12.5 pJ/B, x0.5 to 22 nm, + 1 pJ/B for the AXI wires (assumed)",
        default=7.0)
    dma_busy_pj: float = _doc(
        "DMA: pJ per busy cycle of the DMA's front-end, queue and AXI manager. Assumed "
        "(a small HWPE-sized block in GF22 at 0.8 V)", default=2.0)
    clock_pj: float = _doc(
        "Cluster: pJ per cycle the clock runs (not stopped by the idle gate): clock tree, "
        "interconnect, event unit, idle SRAM. Assumed 5 mW at 500 MHz for a 2.5 mm^2 GF22 "
        "cluster; the Fig. 12a fit constrains only its sum with the busy energies",
        default=10.0)
    leakage_mw: float = _doc(
        "Cluster: leakage power in mW, charged for every cycle whether or not the clock "
        "runs. Assumed: 2.5 mm^2 of GF22 FDX at 0.8 V without body bias, about 1 mW/mm^2 "
        "(order of magnitude; not published for this cluster)", default=2.5)

    def validate(self, p, root):
        for f in dataclasses.fields(self):
            _nonneg(f"{p}.{f.name}", getattr(self, f.name))

    def mvm_pj(self, rows: float, cols: float) -> float:
        """Analog energy of one MVM with ``rows`` x ``cols`` active."""
        return self.ima_mvm_fixed_pj + self.ima_mvm_row_pj * rows + self.ima_mvm_col_pj * cols


@dataclass(frozen=True)
class AddressWindow:
    name: str
    base: int
    size: int
    field: str | None = None    # the configuration field that places it (for errors)

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size


@dataclass(frozen=True)
class CountersConfig:
    """Activity counters in the cluster control block (docs/counters.md)."""

    enabled: bool = _doc("activity counters (MVMs, PCM writes, busy cycles, TCDM accesses per "
                         "master class, DW MACs, core active/sleep cycles, DMA bytes) readable "
                         "from the cluster control block; false removes them and their area",
                         default=True)

    def validate(self, p, root):
        _choice(f"{p}.enabled", self.enabled, (True, False))


_SECTIONS = {
    "tcdm": TcdmConfig, "interconnect": InterconnectConfig, "cores": CoresConfig,
    "soc": SocConfig, "ima": ImaConfig, "dw": DwConfig, "clock": ClockConfig,
    "crossbar": CrossbarConfig, "dma": DmaConfig, "l2": L2Config,
    "counters": CountersConfig, "energy": EnergyConfig,
}


@dataclass(frozen=True)
class ClusterConfig:
    """Resolved configuration of one cluster.  Build it with keyword sections,
    :meth:`from_dict`, :meth:`from_toml` or :meth:`load`; it validates itself."""

    tcdm: TcdmConfig = field(default_factory=TcdmConfig)
    interconnect: InterconnectConfig = field(default_factory=InterconnectConfig)
    cores: CoresConfig = field(default_factory=CoresConfig)
    soc: SocConfig = field(default_factory=SocConfig)
    ima: ImaConfig = field(default_factory=ImaConfig)
    dw: DwConfig = field(default_factory=DwConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    crossbar: CrossbarConfig = field(default_factory=CrossbarConfig)
    dma: DmaConfig = field(default_factory=DmaConfig)
    l2: L2Config = field(default_factory=L2Config)
    counters: CountersConfig = field(default_factory=CountersConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)

    def __post_init__(self):
        for name in _SECTIONS:
            getattr(self, name).validate(name, self)
        # The structure (which blocks, masters, windows) derives from the block
        # registry: imcc.rtl.registry.compose(cfg), which checks that it fits.

    def ns_to_cycles(self, ns: float) -> int:
        """Whole cycles an analog time of ``ns`` takes at the configured clock."""
        return max(1, math.ceil(ns * self.clock.freq_mhz / 1000.0 - 1e-9))

    def macro_cycles(self, ns: float) -> int:
        """A crossbar macro latency of ``ns`` as the IMA sees it, through its
        input register (rtl/ima/macro.py): at least ``MACRO_MIN_CYCLES``."""
        return max(MACRO_MIN_CYCLES, self.ns_to_cycles(ns))

    # -- conversion ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict) -> "ClusterConfig":
        if not isinstance(data, dict):
            raise ConfigError("<config>", data, "a table of sections")
        sections = {}
        for name, value in data.items():
            if name not in _SECTIONS:
                raise ConfigError(name, value, "a known section: " + ", ".join(_SECTIONS))
            if not isinstance(value, dict):
                raise ConfigError(name, value, "a table of fields")
            sec_cls = _SECTIONS[name]
            known = {f.name: f for f in dataclasses.fields(sec_cls)}
            kwargs = {}
            for key, v in value.items():
                if key not in known:
                    raise ConfigError(f"{name}.{key}", v,
                                      f"a known field of [{name}]: " + ", ".join(known))
                kwargs[key] = _coerce(f"{name}.{key}", known[key], v)
            sections[name] = sec_cls(**kwargs)
        return cls(**sections)

    @classmethod
    def from_toml(cls, path: str | Path) -> "ClusterConfig":
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as e:
            raise ConfigError("--config", str(path), f"a readable TOML file ({e.strerror})")
        except tomllib.TOMLDecodeError as e:
            raise ConfigError("--config", str(path), f"valid TOML ({e})")
        except UnicodeDecodeError:
            raise ConfigError("--config", str(path), "a TOML text file (UTF-8); this one is "
                              "binary or in another encoding") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: list[str] = ()) -> "ClusterConfig":
        """The configuration of ``path`` (or the defaults) with ``KEY=VALUE`` overrides."""
        data = {}
        if path is not None:
            data = cls.from_toml(path).to_dict()
        for item in overrides:
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep:
                raise ConfigError("--set", item, "KEY=VALUE, for instance ima.rows=128")
            sec, dot, fld = key.partition(".")
            if sec not in _SECTIONS or not dot:
                raise ConfigError(key, raw, "a SECTION.FIELD name; sections: " + ", ".join(_SECTIONS))
            known = {f.name: f for f in dataclasses.fields(_SECTIONS[sec])}
            if fld not in known:
                raise ConfigError(key, raw, f"a known field of [{sec}]: " + ", ".join(known))
            data.setdefault(sec, {})[fld] = _parse(key, known[fld], raw.strip())
        return cls.from_dict(data)

    def replace(self, **sections) -> "ClusterConfig":
        """A copy with some fields changed: ``cfg.replace(tcdm={"banks": 16})``."""
        data = self.to_dict()
        for sec, fields in sections.items():
            data.setdefault(sec, {}).update(fields)
        return ClusterConfig.from_dict(data)

    def describe(self) -> str:
        """The resolved configuration as TOML, with each field's meaning."""
        lines = []
        for name in _SECTIONS:
            sec = getattr(self, name)
            lines.append(f"[{name}]")
            for f in dataclasses.fields(sec):
                v = getattr(sec, f.name)
                if isinstance(v, bool):
                    text = "true" if v else "false"
                elif isinstance(v, str):
                    text = json.dumps(v)
                elif isinstance(v, int) and f.name.endswith("base"):
                    text = f"0x{v:08x}"
                else:
                    text = repr(v)
                lines.append(f"{f.name} = {text}".ljust(32) + f"# {f.metadata.get('doc', '')}")
            lines.append("")
        return "\n".join(lines)


def _type_of(f: dataclasses.Field):
    return {"int": int, "float": float, "bool": bool, "str": str}[f.type]


def _coerce(name: str, f: dataclasses.Field, v: Any):
    t = _type_of(f)
    if t is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if t is int and isinstance(v, bool) or not isinstance(v, t):
        raise ConfigError(name, v, f"a value of type {t.__name__}")
    return v


def _parse(name: str, f: dataclasses.Field, raw: str):
    t = _type_of(f)
    try:
        if t is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if t is int:
            return int(raw, 0)
        if t is float:
            return float(raw)
        return raw.strip('"\'')
    except ValueError:
        raise ConfigError(name, raw, f"a value of type {t.__name__}") from None
