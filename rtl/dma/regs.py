"""The cluster DMA's register description (after PULP's iDMA register
front-end): the one source of its decode, ``imcc_dma.h``, the Python
constants and docs/dma-registers.md."""

from ..hwpe.regs import Field, Register, RegisterMap

__all__ = ["DMA_REGS", "ERR"]

# Error codes (STATUS.ERROR).  A refused launch (ZERO, ADDRESS) enqueues
# nothing; AXI ends a transfer that had started.  A full queue is no error:
# NEXT_ID answers 0 with STATUS.FULL set and nothing else changes.
ERR = [
    ("OK", 0, "no error"),
    ("ZERO", 1, "NUM_BYTES is 0, or NUM_REPS is 0 with CONF.TWO_D"),
    ("ADDRESS", 2, "a byte of some row lies outside its window: one side must lie in the TCDM, "
                   "the other in L2"),
    ("AXI", 3, "the L2 answered an error response: the transfer ended there; no TCDM byte of "
               "the failing beat or after it was written"),
]

_W = "rw"
DMA_REGS = RegisterMap(
    name="dma",
    title="Cluster DMA",
    registers=(
        Register("SRC_ADDR", 0x00, _W, "source byte address (TCDM or L2, any alignment)", kind="io"),
        Register("DST_ADDR", 0x04, _W, "destination byte address (L2 or TCDM, any alignment)",
                 kind="io"),
        Register("NUM_BYTES", 0x08, _W, "bytes per row (the whole transfer when 1-D)", kind="io"),
        Register("CONF", 0x0C, _W, "transfer options", kind="io",
                 fields=(Field("TWO_D", 0, 1, "2-D: NUM_REPS rows, SRC_STRIDE / DST_STRIDE apart"),)),
        Register("SRC_STRIDE", 0x10, _W, "2-D: bytes between source rows (signed)", kind="io",
                 signed=True),
        Register("DST_STRIDE", 0x14, _W, "2-D: bytes between destination rows (signed)", kind="io",
                 signed=True),
        Register("NUM_REPS", 0x18, _W, "2-D: rows", kind="io",
                 fields=(Field("REPS", 0, 16, "number of rows"),)),
        Register("NEXT_ID", 0x1C, "ro", "read to launch the transfer the registers above describe: "
                 "its id (1, 2, ... wrapping past 0); 0 when the queue is full (STATUS.FULL: "
                 "launch again after a transfer ends) or the transfer is refused (STATUS.ERROR "
                 "says why; the error event fires)", kind="io"),
        Register("DONE_ID", 0x20, "ro", "id of the last transfer that ended (with or without "
                 "error); transfers end in launch order", kind="io"),
        Register("STATUS", 0x24, "ro", "DMA status", kind="io", fields=(
            Field("BUSY", 0, 1, "a transfer is running or queued"),
            Field("QUEUED", 1, 5, "transfers launched and not yet ended"),
            Field("FULL", 6, 1, "the queue is full: a launch now answers 0"),
            Field("ERROR", 8, 8, "error code of the last refused launch or failed transfer"),
            Field("ERROR_ID", 16, 16, "id of the last failed transfer (0: a refused launch)"))),
    ),
    constants={"ERR": ERR},
    notes=("One transfer moves NUM_BYTES bytes from SRC_ADDR to DST_ADDR (1-D), or NUM_REPS "
           "rows of NUM_BYTES bytes, row r from SRC_ADDR + r*SRC_STRIDE to DST_ADDR + "
           "r*DST_STRIDE (CONF.TWO_D). One side is in the TCDM, the other in L2; the direction "
           "follows from the addresses. Reading NEXT_ID launches it; an end-of-transfer event "
           "(dma_done, with dma_error for a failure or a refusal) goes to the cores and the "
           "interrupt lines. See docs/dma.md."),
)
