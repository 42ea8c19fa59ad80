"""The depthwise accelerator's register description: the one source of its RTL
decode, C header (``imcc_dw.h``), Python constants and docs/dw-registers.md."""

from ..hwpe.regs import ERR_WAIT, Field, Register, RegisterMap, control_registers, wait_registers

__all__ = ["DW_REGS", "ERR", "OP"]

# Error codes in STATUS.ERROR (checked in this order; the first failing one is reported).
ERR = [
    ("OK", 0, "no error"),
    ("MODE", 1, "MODE.OP is not a known operation"),
    ("STRIDE", 2, "DW3X3 with MODE.STRIDE other than 1 or 2"),
    ("ZERO", 3, "SIZE.H, SIZE.W or CHANNELS.C is zero"),
    ("SHAPE", 4, "DW3X3: the padded input is smaller than the 3x3 kernel (H + PAD_T + PAD_B < 3 "
                 "or W + PAD_L + PAD_R < 3)"),
    ("CLIP", 5, "QUANT.LO > QUANT.HI"),
    ("ADDRESS", 6, "a byte of an operand or of the result lies outside the TCDM"),
    ("OVERLAP", 8, "the result's bytes overlap an operand: DW3X3 in place or over its weights, "
                   "bias or scale; ADD over an operand other than exactly in place (DST_ADDR = "
                   "SRC_ADDR or SRC2_ADDR, which is safe: each element is read before it is "
                   "written)"),
    ("BUS", 7, "a data port answered with a bus error (the job still ran to its end)"),
    ERR_WAIT,
]
OP = [
    ("DW3X3", 0, "depthwise 3x3: y[c] = clip(round(((sum of 9 taps x[.]*w[.][c]) + bias[c]) "
                 "* scale[c] / 2^SHIFT), LO, HI)"),
    ("ADD", 1, "element-wise add of two int8 tensors of H*W*C elements: "
               "y = clip(round((a*SCALE_A + b*SCALE_B) / 2^SHIFT), LO, HI)"),
]

_JOB = [
    Register("MODE", 0x20, "rw", "operation, stride and zero padding of the job",
             fields=(Field("OP", 0, 4, "operation (OP values below)"),
                     Field("STRIDE", 4, 4, "DW3X3: stride, 1 or 2"),
                     Field("PAD_T", 8, 4, "DW3X3: zero rows above the input"),
                     Field("PAD_B", 12, 4, "DW3X3: zero rows below the input"),
                     Field("PAD_L", 16, 4, "DW3X3: zero columns left of the input"),
                     Field("PAD_R", 20, 4, "DW3X3: zero columns right of the input")),
             reset=0x0011_1110),
    Register("SIZE", 0x24, "rw", "input height and width (ADD: the tensor's H and W)",
             fields=(Field("H", 0, 16, "height"), Field("W", 16, 16, "width")),
             reset=0x0001_0001),
    Register("CHANNELS", 0x28, "rw", "channels C (HWC layout, any value; blocks of "
             "cfg.dw.channels run one after another)",
             fields=(Field("C", 0, 16, "channels"),), reset=1),
    Register("SRC_ADDR", 0x2C, "rw", "byte address of the int8 HWC input (ADD: operand a); "
             "any alignment"),
    Register("SRC2_ADDR", 0x30, "rw", "ADD: byte address of operand b"),
    Register("WEIGHT_ADDR", 0x34, "rw", "DW3X3: byte address of the int8 weights w[ky][kx][C]"),
    Register("BIAS_ADDR", 0x38, "rw", "DW3X3: byte address of the int32 bias[C]"),
    Register("SCALE_ADDR", 0x3C, "rw", "DW3X3: byte address of the unsigned 32-bit scale[C]"),
    Register("DST_ADDR", 0x40, "rw", "byte address of the int8 HWC output"),
    Register("QUANT", 0x44, "rw", "requantisation: right shift with rounding and clip range",
             fields=(Field("SHIFT", 0, 6, "right shift with rounding (0: none)"),
                     Field("LO", 8, 8, "lower clip bound", signed=True),
                     Field("HI", 16, 8, "upper clip bound", signed=True)),
             reset=0x007F_8000),
    Register("SCALE_A", 0x48, "rw", "ADD: scale of operand a", signed=True, reset=1),
    Register("SCALE_B", 0x4C, "rw", "ADD: scale of operand b", signed=True, reset=1),
]

DW_REGS = RegisterMap(
    name="dw",
    title="Depthwise 3x3 and element-wise add accelerator (DW)",
    registers=tuple(control_registers() + _JOB + wait_registers()),
    constants={"ERR": ERR, "OP": OP},
    notes=("Job registers (0x20-0x4c) exist once per job context; reads and writes reach the "
           "context being configured. Tensors are int8 HWC; the output of DW3X3 has "
           "Ho = (H + PAD_T + PAD_B - 3) / STRIDE + 1 rows and Wo = (W + PAD_L + PAD_R - 3) / "
           "STRIDE + 1 columns (floor). Rounding: round(v / 2^s) = floor((v + 2^(s-1)) / 2^s), "
           "v itself for s = 0. See docs/dw.md."),
)
