"""Build a program of sw/apps, run it on the generated cluster and return what
it left behind (helpers for tb/test_cores.py and scripts/)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from imcc.gen import sw
from imcc.gen.config import ClusterConfig
from imcc.sim.bottleneck import bottleneck, random_bottleneck
from imcc.tb import harness
from imcc.tb.tops.cluster_tb import cluster_tb

__all__ = ["run_app", "run_sw_bottleneck", "BOTTLENECK_LAYERS"]

BOTTLENECK_LAYERS = ("expand 1x1", "depthwise 3x3", "project 1x1", "residual add")


def run_app(cfg: ClusterConfig, app: str, *, testcase: str = "program", defines=None,
            inputs: dict[str, np.ndarray] | None = None, outputs: dict[str, int] | None = None,
            env: dict | None = None) -> dict:
    """Run ``sw/apps/<app>.c`` to its end on the cluster; the result dict has
    ``exit``, ``cycles``, ``wall_s``, ``console`` and ``outputs`` (bytes)."""
    elf = sw.build(cfg, app, harness.build_dir() / "sw" / cfg.digest(), defines=defines)
    b = harness.build(cfg, "cluster_tb", component=cluster_tb)
    with tempfile.TemporaryDirectory() as d:
        extra = {"IMCC_CONFIG": cfg.to_json(), "IMCC_ELF": str(elf),
                 "IMCC_RESULT": str(Path(d) / "result.json"),
                 **{k: str(v) for k, v in (env or {}).items()}}
        if inputs:
            np.savez(Path(d) / "inputs.npz", **{k: np.ascontiguousarray(v) for k, v in inputs.items()})
            extra["IMCC_INPUTS"] = str(Path(d) / "inputs.npz")
        if outputs:
            extra["IMCC_OUTPUTS"] = json.dumps(outputs)
        harness.run(b, "imcc.tb.benches.cores_sw", testcase=testcase, extra_env=extra)
        r = json.loads((Path(d) / "result.json").read_text())
    r["outputs"] = {k: bytes.fromhex(v) for k, v in r["outputs"].items()}
    r["build_s"], r["build_reused"] = b.seconds, b.reused
    return r


def run_sw_bottleneck(cfg: ClusterConfig, h=28, w=28, cin=32, t=6, cout=32, seed=0) -> dict:
    """The software bottleneck (sw/apps/bottleneck_sw.c) on a random block of this
    shape; returns the run with ``layer_cycles``, the golden result and the
    per-layer outputs as arrays."""
    x, p = random_bottleneck(h, w, cin, t, cout, stride=1, seed=seed)
    gold = bottleneck(x, p)
    cexp = cin * t
    params = np.array([p.expand_gain, p.expand_shift, p.expand_lo, p.expand_hi,
                       p.project_gain, p.project_shift, p.project_lo, p.project_hi,
                       p.dw_shift, p.dw_lo, p.dw_hi,
                       p.add_sa, p.add_sb, p.add_shift, p.add_lo, p.add_hi], dtype="<i4")
    inputs = {"x": x.astype(np.int8), "params": params,
              "w_expand_t": np.asarray(p.w_expand, np.int8).T,
              "w_dw": np.asarray(p.w_dw, np.int8), "dw_bias": np.asarray(p.dw_bias, "<i4"),
              "dw_scale": np.asarray(p.dw_scale, "<u4"),
              "w_project_t": np.asarray(p.w_project, np.int8).T}
    shapes = {"y_expand": (h, w, cexp), "y_dw": (h, w, cexp), "y_project": (h, w, cout),
              "y": (h, w, cout)}
    outputs = {k: int(np.prod(s)) for k, s in shapes.items()}
    outputs["layer_cycles"] = 16
    r = run_app(cfg, "bottleneck_sw", defines={"H": h, "W": w, "CIN": cin, "T": t, "COUT": cout},
                inputs=inputs, outputs=outputs, env={"IMCC_MAX_CYCLES": 20_000_000})
    r["layer_cycles"] = np.frombuffer(r["outputs"].pop("layer_cycles"), "<u4").tolist()
    r["arrays"] = {k: np.frombuffer(r["outputs"][k], np.int8).reshape(s) for k, s in shapes.items()}
    r["golden"] = {"y_expand": gold.y_expand, "y_dw": gold.y_dw, "y_project": gold.y_project,
                   "y": gold.y}
    macs = [h * w * cin * cexp, h * w * cexp * 9, h * w * cexp * cout, h * w * cout]
    r["macs"] = macs
    return r
