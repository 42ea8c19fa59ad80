"""A run that fails on a job, on purpose (tb/test_waves.py): a depthwise job
that runs, then one the DW's job check refuses (its source lies past the end
of the TCDM), and the bench fails on that job's error, as a bench whose job
goes wrong does.  The report (``write_result``) gives the refused job's DW
register values; the waves layout must open on it."""

from __future__ import annotations

import cocotb
import numpy as np

from imcc.tb.env import ClusterEnv, write_result


@cocotb.test()
async def failing_job(dut):
    env = await ClusterEnv.start(dut, crossbars=False)
    cfg, dw = env.cfg, env.driver("dw")
    rng = np.random.default_rng(1)
    h, w, c = 8, 8, 16
    job = dict(MODE=dict(OP=dw.OP["DW3X3"], STRIDE=1, PAD_T=1, PAD_B=1, PAD_L=1, PAD_R=1),
               SIZE=dict(H=h, W=w), CHANNELS=dict(C=c),
               SRC_ADDR=env.put(rng.integers(-128, 128, (h, w, c)).astype(np.int8)),
               WEIGHT_ADDR=env.put(rng.integers(-128, 128, (3, 3, c)).astype(np.int8)),
               BIAS_ADDR=env.put(np.zeros(c, "<i4")), SCALE_ADDR=env.put(np.ones(c, "<u4")),
               DST_ADDR=env.alloc(h * w * c), QUANT=dict(SHIFT=0, LO=-128, HI=127))
    assert await dw.run(job) == 0, "the good job failed"
    bad = {**job, "SRC_ADDR": cfg.tcdm.base + cfg.tcdm.size_bytes}
    err = await dw.run(bad)
    write_result({"error": err, "error_code": dw.ERR["ADDRESS"]})
    assert err == 0, f"dw job failed with error {err}"
