"""The IMA's register description: the one source of its RTL decode, C header
(``imcc_ima.h``), Python constants and docs/ima-registers.md."""

from ..hwpe.regs import ERR_WAIT, Field, Register, RegisterMap, control_registers, wait_registers

__all__ = ["IMA_REGS", "ERR", "OP"]

# Error codes in STATUS.ERROR (the checks run in this order; the first failing one is reported).
ERR = [
    ("OK", 0, "no error"),
    ("MODE", 1, "MODE.OP is not a known operation"),
    ("ZERO", 2, "a zero count: ROWS/COLS.COUNT, STEPS, *_LEN or *_COUNT"),
    ("WINDOW", 3, "the row/column window leaves the crossbar (PROGRAM: columns not in whole "
                  "groups of 8)"),
    ("CLIP", 4, "ADC.LO > ADC.HI"),
    ("SHAPE", 5, "a step's stream does not match the window: SRC_LEN x C1 x C2 != ROWS.COUNT "
                 "or DST_LEN x C1 x C2 != COLS.COUNT (PROGRAM: SRC = COLS.COUNT / 2 bytes, "
                 "STEPS = ROWS.COUNT)"),
    ("ADDRESS", 6, "a source or destination byte of some step lies outside the TCDM (addresses "
                   "do not wrap past 2^32)"),
    ("OVERLAP", 8, "MVM: the destination's byte range (all steps, SRC/DST extents) overlaps the "
                   "source's, so outputs would overwrite inputs still to be read"),
    ("BUS", 7, "a data port answered with a bus error (the job still ran to its end)"),
    ("ARRAY", 9, "ARRAY.INDEX names no crossbar array of this IMA (configuration ima.arrays)"),
    ERR_WAIT,
]
OP = [
    ("MVM", 0, "one MVM per step: stream in ROWS.COUNT bytes, stream out COLS.COUNT bytes"),
    ("PROGRAM", 1, "bulk programming: step s streams the packed weights of window row "
                   "ROWS.OFFSET + s (COLS.COUNT / 8 words) and writes them to the crossbar"),
]


def _win(what: str, unit: str) -> tuple[Field, ...]:
    return (Field("OFFSET", 0, 16, f"first {what} of the window"),
            Field("COUNT", 16, 16, f"number of {unit} in the window"))


def _stream(prefix: str, base: int, what: str) -> list[Register]:
    p = prefix
    return [
        Register(f"{p}_ADDR", base, "rw", f"{what}: byte address of step 0 (any alignment)"),
        Register(f"{p}_LEN", base + 0x04, "rw", f"{what}: bytes of one contiguous segment",
                 fields=(Field("LEN", 0, 16, "segment length in bytes"),)),
        Register(f"{p}_COUNT", base + 0x08, "rw", f"{what}: segments per step, two nested loops",
                 fields=(Field("C1", 0, 16, "segments of the inner loop"),
                         Field("C2", 16, 16, "iterations of the outer loop")), reset=0x0001_0001),
        Register(f"{p}_STRIDE1", base + 0x0C, "rw", f"{what}: address step between inner-loop "
                 "segments (bytes, signed)", signed=True),
        Register(f"{p}_STRIDE2", base + 0x10, "rw", f"{what}: address step between outer-loop "
                 "iterations (bytes, signed)", signed=True),
        Register(f"{p}_STEP0", base + 0x14, "rw", f"{what}: address step between inner steps "
                 "(bytes, signed)", signed=True),
        Register(f"{p}_STEP1", base + 0x18, "rw", f"{what}: address step between outer steps "
                 "(bytes, signed)", signed=True),
    ]


_JOB = [
    Register("MODE", 0x20, "rw", "operation of the job",
             fields=(Field("OP", 0, 4, "operation (OP values below)"),)),
    Register("ROWS", 0x24, "rw", "active crossbar rows (MVM inputs / rows to program)",
             fields=_win("row", "rows"), reset=0x0001_0000),
    Register("COLS", 0x28, "rw", "active crossbar columns (MVM outputs / columns to program)",
             fields=_win("column", "columns"), reset=0x0001_0000),
    Register("GAIN", 0x2C, "rw", "ADC gain (unsigned): y = clip(round(acc * GAIN / 2^SHIFT), "
             "LO, HI)", reset=1),
    Register("ADC", 0x30, "rw", "ADC shift and clip range",
             fields=(Field("SHIFT", 0, 5, "right shift with rounding (0: none)"),
                     Field("LO", 8, 8, "lower clip bound", signed=True),
                     Field("HI", 16, 8, "upper clip bound", signed=True)),
             reset=0x007F_8000),
    Register("STEPS", 0x34, "rw", "steps (MVMs) of the job, two nested loops",
             fields=(Field("INNER", 0, 16, "steps of the inner loop"),
                     Field("OUTER", 16, 16, "iterations of the outer loop")), reset=0x0001_0001),
    *_stream("SRC", 0x38, "input stream"),
    *_stream("DST", 0x54, "output stream"),
    Register("ARRAY", 0x70, "rw", "the crossbar array the job runs on (MVM) or programs "
             "(PROGRAM); consecutive jobs may name different arrays",
             fields=(Field("INDEX", 0, 8, "array index, below the IMA_CFG.ARRAYS readout"),)),
]

_IO = [
    Register("PROG_ROWS", 0x80, "rw", "programming window: rows (writing it restarts PROG_DATA "
             "at the window's first word)", kind="io", fields=_win("row", "rows")),
    Register("PROG_COLS", 0x84, "rw", "programming window: column groups of 8 (writing it "
             "restarts PROG_DATA)", kind="io", fields=_win("column group", "column groups")),
    Register("PROG_DATA", 0x88, "wo", "8 packed 4-bit weights (column 8g+i in bits 4i+3:4i) "
             "for the next word of the programming window, row by row; bus error when the "
             "window is full or outside the crossbar or the queue is full (STATUS.PROG_FULL)",
             kind="io"),
    Register("READ_ADDR", 0x8C, "wo", "start a read-back of 8 weights; bus error when outside "
             "the crossbar or the queue is full", kind="io",
             fields=(Field("ROW", 0, 16, "row"), Field("GROUP", 16, 16, "column group of 8"))),
    Register("READ_DATA", 0x90, "ro", "the last read-back word (valid once STATUS.PROG_BUSY is 0)",
             kind="io"),
    Register("PROG_ARRAY", 0x94, "rw", "the array PROG_DATA and READ_ADDR reach (they act while "
             "no job runs); bus error for an array the IMA does not have", kind="io",
             fields=(Field("INDEX", 0, 8, "array index"),)),
]

_STATUS = (
    Field("PROG_BUSY", 1, 1, "programming writes or a read-back are queued or in flight"),
    Field("PROG_FULL", 2, 1, "the programming queue is full"),
)

IMA_REGS = RegisterMap(
    name="ima",
    title="In-memory accelerator (IMA)",
    registers=tuple(control_registers(_STATUS) + _JOB + _IO + wait_registers()),
    constants={"ERR": ERR, "OP": OP},
    notes=("Job registers (0x20-0x70) exist once per job context; reads and writes reach the "
           "context being configured. A job (one TRIGGER) runs STEPS.INNER x STEPS.OUTER "
           "steps; step (i, o) streams its input from SRC_ADDR + i*SRC_STEP0 + o*SRC_STEP1 "
           "and its output to DST_ADDR + i*DST_STEP0 + o*DST_STEP1. Within a step a stream "
           "is C2 x C1 segments of LEN contiguous bytes, segment (a, b) at +a*STRIDE2 + "
           "b*STRIDE1. Direct registers (0x80-0x90) act at once and are not part of a job. "
           "See docs/ima.md."),
)
