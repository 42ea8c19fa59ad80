"""What the parts of the DW engine share: the running job's layer as one
struct, the dataflow constants and the tag a load carries to its data."""

from amaranth.hdl import signed
from amaranth.lib import data

__all__ = ["Layer", "LoadTag", "BAND", "SLOTS", "STORE_DEPTH", "PARAM_SEGS", "ADDR"]

BAND = 2            # output rows computed per sweep (memory slack: 6 of 8 port cycles at s1)
SLOTS = 6           # column slots: 3 in use + room to load the next (2 at stride 2) + 1
STORE_DEPTH = 4     # output pixels in flight between the MAC array and the ports
PARAM_SEGS = 9 + 4 + 4   # weight vectors, bias and scale (4 bytes per channel) segments

# Input addresses of padded pixels: the first pixel of the padded input lies
# up to 15 rows (of up to 2^32 bytes) before the tensor.
ADDR = signed(40)


class Layer(data.Struct):
    """The running job, as its parts read it: register fields and the sizes
    the job check computed (constant while the job runs)."""
    add: 1                      # MODE.OP is ADD (else DW3X3)
    stride2: 1
    pad_top: 4
    pad_left: 4
    height: 16
    width: 16
    channels: 16
    out_height: 16              # Ho, Wo
    out_width: 16
    row_bytes: 32               # W * C: one input row
    out_row_bytes: 32           # Wo * C: one output row
    columns: 18                 # input columns per band: (Wo - 1) * stride + 3
    elements: 32                # H * W * C (ADD)
    origin: ADDR                # address of padded pixel (-PAD_T, -PAD_L), channel 0
    src: 32
    src2: 32
    weights: 32
    bias: 32
    scale: 32
    dst: 32
    shift: 6
    lo: signed(8)
    hi: signed(8)
    scale_a: signed(32)
    scale_b: signed(32)


class LoadTag(data.Struct):
    """What a load is for, carried by the segment port to its data."""
    param: 1        # a parameter segment (else a column pixel or ADD vector)
    slot: 3         # column slot
    index: 5        # pixel of the column (ADD: 0 = a, 1 = b) or parameter segment
    last: 1         # the column's (vector pair's) last load: the slot is complete
