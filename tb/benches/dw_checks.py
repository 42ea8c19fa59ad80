"""The DW accelerator's job check beyond tb/benches/dw.py's ``bad_jobs``
(tb/test_dw.py): results that would overwrite their own operands (OVERLAP),
the address checks of BIAS_ADDR and of ADD's DST_ADDR, an ADD exactly in
place (allowed, bit-exact) and padding above 2 (the fields allow 15).
Same cluster, control and data paths as tb/benches/dw.py, whose helpers it
uses."""

from __future__ import annotations

import random

import cocotb
import numpy as np

from imcc.sim import golden
from imcc.tb.benches.dw import ERR, OP, Alloc, _i8, dw_job, setup


@cocotb.test()
async def overlap_and_address_checks(dut):
    """Each refused job ends at once with its code and the error event; the
    next job runs.  The output of the base job is 4x4x8 = 128 bytes."""
    cfg, dw = await setup(dut)
    t = cfg.tcdm
    end = t.base + t.size_bytes
    ok = dict(MODE=dict(OP=OP["DW3X3"], STRIDE=1, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1),
              SIZE=dict(H=4, W=4), CHANNELS=dict(C=8), SRC_ADDR=t.base, WEIGHT_ADDR=t.base + 0x400,
              BIAS_ADDR=t.base + 0x500, SCALE_ADDR=t.base + 0x600, DST_ADDR=t.base + 0x800,
              SRC2_ADDR=t.base + 0x200, QUANT=dict(SHIFT=0, LO=-128, HI=127))
    add = dict(MODE=dict(OP=OP["ADD"]))
    cases = [
        ("ADDRESS", dict(BIAS_ADDR=end - 4 * 8 + 1)),
        ("ADDRESS", dict(**add, DST_ADDR=end - 4 * 4 * 8 + 1)),
        # DW3X3 in place, over the weights, the bias, the scale
        ("OVERLAP", dict(DST_ADDR=t.base)),
        ("OVERLAP", dict(DST_ADDR=t.base + 0x400 - 0x20)),
        ("OVERLAP", dict(DST_ADDR=t.base + 0x500 - 0x7F)),
        ("OVERLAP", dict(DST_ADDR=t.base + 0x600 + 0x1F)),
        # ADD over operand a shifted, over operand b shifted by one byte
        ("OVERLAP", dict(**add, DST_ADDR=t.base + 0x40)),
        ("OVERLAP", dict(**add, DST_ADDR=t.base + 0x200 + 1)),
        ("OK", dict(DST_ADDR=t.base + 0x600 + 0x20)),       # right after the scale
    ]
    for name, change in cases:
        err, cycles = await dw.run(1000, **{**ok, **change})
        assert err == ERR[name], f"{change}: error {err}, expected {name} ({ERR[name]})"
        assert name == "OK" or cycles < 100, f"{change}: the error took {cycles} cycles"


@cocotb.test()
async def in_place_add_and_wide_padding(dut):
    """ADD exactly in place over either operand is bit-exact; DW3X3 with
    padding 3..15 on some sides, both strides, is bit-exact."""
    cfg, dw = await setup(dut)
    rng = np.random.default_rng(9)
    for k, (shape, which) in enumerate([((3, 5, 7), "a"), ((7, 9, 33), "b")]):
        alloc = Alloc(cfg, random.Random(k))
        a = rng.integers(-128, 128, shape, dtype=np.int64)
        b = rng.integers(-128, 128, shape, dtype=np.int64)
        sa, sb, shift = int(rng.integers(-2**15, 2**15)), int(rng.integers(-2**15, 2**15)), 9
        ref = golden.residual_add(a, b, sa, sb, shift, -128, 127)
        aa, ab = alloc.take(a.size), alloc.take(b.size)
        dw.mem.write(aa, _i8(a).tobytes())
        dw.mem.write(ab, _i8(b).tobytes())
        dst = aa if which == "a" else ab
        h, w_, c = shape
        err, _ = await dw.run(200 + 4 * a.size, MODE=dict(OP=OP["ADD"]), SIZE=dict(H=h, W=w_),
                              CHANNELS=dict(C=c), SRC_ADDR=aa, SRC2_ADDR=ab, DST_ADDR=dst,
                              SCALE_A=sa, SCALE_B=sb, QUANT=dict(SHIFT=shift, LO=-128, HI=127))
        assert err == 0, f"add in place over {which}: error {err}"
        got = np.frombuffer(dw.mem.read(dst, a.size), np.int8).reshape(shape)
        assert np.array_equal(got, ref), f"add in place over {which}: {(got != ref).sum()} differ"
    await dw_job(dw, Alloc(cfg, random.Random(5)), rng, 4, 5, 7, 1, (3, 15, 0, 4))
    await dw_job(dw, Alloc(cfg, random.Random(6)), rng, 3, 4, 9, 2, (15, 2, 7, 3))
