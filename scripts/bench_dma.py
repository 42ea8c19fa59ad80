#!/usr/bin/env python3
"""Cluster DMA throughput on the generated cluster with the simulated L2
(Verilator): AXI beats per cycle of a long L2 -> TCDM and TCDM -> L2
transfer and of 2-D rows of 96 bytes with strides, against the target of
0.9 beats per cycle, and the first while the IMA streams a layer; a table,
then one JSON line.  Cycles run from the
launch (the NEXT_ID read) to the end-of-transfer event.

    python scripts/bench_dma.py [--kib 64] [--set dma.ports=8 ...]
"""

import argparse
import json

from imcc.gen.config import ClusterConfig, ConfigError
from imcc.tb import harness
from imcc.tb.tops.cluster_l2 import ClusterL2

TARGET = 0.9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kib", type=int, default=64, help="bytes of each long transfer, in KiB")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    try:
        cfg = ClusterConfig.load(None, ["cores.count=0", *args.set])
    except ConfigError as e:
        ap.error(str(e))
    if not 1 <= args.kib <= min(cfg.tcdm.size_kib // 2, cfg.l2.size_kib // 2):
        ap.error("--kib must be between 1 and half the TCDM and L2 sizes")
    r = harness.run_bench(cfg, "dma", testcase="throughput", top="cluster_l2",
                          component=ClusterL2, name="bench_dma",
                          env={"IMCC_BYTES": args.kib * 1024}).result
    print(f"cluster DMA: {cfg.dma.data_width}-bit AXI, {cfg.dma.ports} TCDM ports, bursts of "
          f"up to {cfg.dma.max_burst} beats, L2 first-beat latency {cfg.l2.latency} cycles")
    print(f"{'transfer':12} {'bytes':>8} {'beats':>7} {'cycles':>8} {'beats/cycle':>12} {'target':>7}")
    out = {}
    for kind in ("l2_to_tcdm", "tcdm_to_l2", "two_d"):
        x = r[kind]
        ok = "ok" if x["beats_per_cycle"] >= TARGET else "MISSED"
        print(f"{kind:12} {x['bytes']:8d} {x['beats']:7d} {x['cycles']:8d} "
              f"{x['beats_per_cycle']:12.3f} {ok:>7}")
        out[f"{kind}_beats_per_cycle"] = round(x["beats_per_cycle"], 4)
    w = harness.run_bench(cfg, "dma", testcase="with_accelerators", top="cluster_l2",
                          component=ClusterL2, name="bench_dma_with_ima").result
    x = w["l2_to_tcdm_with_ima"]
    ok = "ok" if x["beats_per_cycle"] >= TARGET else "MISSED"
    print(f"{'l2_to_tcdm while the IMA streams a 256x256 layer and a DW layer waits':12}\n"
          f"{'':12} {x['bytes']:8d} {x['beats']:7d} {x['cycles']:8d} "
          f"{x['beats_per_cycle']:12.3f} {ok:>7}")
    out["l2_to_tcdm_with_ima_beats_per_cycle"] = round(x["beats_per_cycle"], 4)
    out.update(config={"data_width": cfg.dma.data_width, "ports": cfg.dma.ports,
                       "max_burst": cfg.dma.max_burst, "l2_latency": cfg.l2.latency},
               bytes=args.kib * 1024)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
