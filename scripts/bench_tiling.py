#!/usr/bin/env python3
"""Tile&Pack benchmark (issue 21): arrays of 256 x 256 needed by the IMA layers of
MobileNetV2 at 224 x 224, widths 1.0 / 0.75 / 0.5 / 0.35, by every strategy of the
full sweep, next to the weight bound ceil(weights / 65536) and what tile_and_pack
(the compiler's default, smaller set) returns.  Prints JSON.

    python scripts/bench_tiling.py [--widths 1.0,0.75] [--png build/tiling.png]

The paper (arXiv 2201.01089) reaches 34 arrays at width 1.0 with MaxRectsBssf;
the weight bound is 33.
"""

from __future__ import annotations

import argparse
import json
import time

from imcc.gen.compiler.tiling import MatrixLayer, render_png, sweep, tile_and_pack

# (expansion t, output channels c, repeats n, first stride s), Sandler et al. 2018, Table 2
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))


def _divisible(v: float, d: int = 8) -> int:
    """Channel rounding of the reference implementation (never more than 10 % down)."""
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


def mobilenetv2_layers(width: float = 1.0) -> list[MatrixLayer]:
    """The IMA layers (the two standard convs and every 1x1) as weight matrices; the
    first conv (3x3x3 rows) may not be cut, the rest are 1x1 (cut anywhere)."""
    cin = _divisible(32 * width)
    out = [MatrixLayer("conv1", 27, cin, row_quantum=27)]
    i = 1
    for t, c, n, _ in STAGES:
        cout = _divisible(c * width)
        for _ in range(n):
            if t != 1:
                out.append(MatrixLayer(f"b{i}.expand", cin, cin * t))
            out.append(MatrixLayer(f"b{i}.project", cin * t, cout))
            cin, i = cout, i + 1
    last = _divisible(1280 * max(1.0, width))
    return out + [MatrixLayer("conv_last", cin, last)]


def bench(width: float, png: str | None) -> dict:
    layers = mobilenetv2_layers(width)
    weights = sum(l.rows * l.cols for l in layers)
    t0 = time.perf_counter()
    m = tile_and_pack(layers)
    dt = time.perf_counter() - t0
    if png:
        render_png(m, png.replace(".png", f"_{width:g}.png"))
    util = m.utilisation()
    attempts = sweep(layers, full=True, stop_at_bound=False)
    best = min(attempts, key=lambda a: (a.arrays, a.tiles))
    return {
        "width": width, "weights": weights, "weight_bound": -(-weights // (256 * 256)),
        "arrays_used": m.arrays_used, "method": m.method, "tiles": len(m.tiles),
        "mean_utilisation": round(sum(util) / len(util), 4),
        "tile_and_pack_seconds": round(dt, 4),
        "full_sweep": {"best_arrays": best.arrays, "best_tiles": best.tiles, "best_method": best.method,
                       "seconds": round(sum(a.seconds for a in attempts), 3)},
        "strategies": {a.method: {"arrays": a.arrays, "tiles": a.tiles} for a in attempts},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="1.0,0.75,0.5,0.35")
    ap.add_argument("--png", help="write the default mapping of each width as PNG (suffix _<width>)")
    args = ap.parse_args()
    print(json.dumps([bench(float(w), args.png) for w in args.widths.split(",")], indent=1))


if __name__ == "__main__":
    main()
