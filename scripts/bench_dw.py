#!/usr/bin/env python3
"""DW accelerator figures on the generated cluster (Verilator): MAC per cycle
of the MobileNetV2 depthwise layers 28x28x192 stride 1 and 56x56x144 stride 2,
and residual-add elements per cycle on 28x28x32, against the issue's targets
and the data-port bound.  Cycles are hardware cycles from the DW leaving idle
to its end-of-job event (job check and drain included).

    python scripts/bench_dw.py [--set dw.ports=own ...]
    python scripts/bench_dw.py --set ima.data_ports=8 --set dw.channels=32   # wider
"""

import argparse
from imcc.gen.config import ClusterConfig
from imcc.tb import harness


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    cfg = ClusterConfig.load(None, ["cores.count=0", *args.set])
    r = harness.run_bench(cfg, "dw", testcase="mobilenet", name="bench_dw",
                          env={"IMCC_SHAPES": "28x28x192/1,56x56x144/2"}).result
    peak = cfg.dw.macs
    # The segment port moves one segment (one pixel of a block: dw.channels bytes) at a
    # time, in beats of one word per port: ports beyond a segment's words stay idle.
    seg = cfg.dw.channels
    port_bytes = seg / -(-seg // (4 * cfg.ima.data_ports))
    print(f"DW accelerator: {cfg.dw.channels} channels per block, {peak} multipliers, "
          f"{cfg.ima.data_ports} data ports ({4 * cfg.ima.data_ports} B/cycle; "
          f"{port_bytes:g} B/cycle in segments of {seg} bytes)")
    for e in r["dw"]:
        h, w, c = (int(v) for v in e["shape"].split("/")[0].split("x"))
        s = int(e["shape"].split("/")[1])
        # every input and output byte moves at least once
        ho, wo = (h + 2 - 3) // s + 1, (w + 2 - 3) // s + 1
        bound = min(peak, e["macs"] / ((h * w * c + ho * wo * c) / port_bytes))
        print(f"  depthwise {e['shape']:<14} {e['cycles']:>7} cycles  "
              f"{e['macs'] / e['cycles']:6.2f} MAC/cycle  (target >= 34, peak {peak}, "
              f"data-port bound {bound:.1f}; paper 29.7){'  [2 jobs: row halves]' if e['jobs'] > 1 else ''}")
    for e in r["add"]:
        allow = port_bytes / 3
        epc = e["elements"] / e["cycles"]
        print(f"  residual add {e['shape']:<11} {e['cycles']:>7} cycles  {epc:6.2f} elements/cycle"
              f"  ({100 * epc / allow:.1f} % of the {allow:.2f} the ports allow; target >= 90 %; "
              f"paper's cores 0.8)")


if __name__ == "__main__":
    main()
