"""Tile&Pack: cut every IMA layer's weight matrix into tiles that fit a crossbar array
and pack the tiles into as few arrays as possible.

A layer's matrix has ``rows`` crossbar rows (k*k*cin inputs) and ``cols`` columns
(cout outputs).  Row cuts are kept to the minimum, ceil(rows / array rows) (at the
layer's ``row_quantum``): each extra one costs a partial-sum addition in the digital
domain.  Column cuts are free arithmetically, so the packer may split columns as it
likes, at multiples of ``col_align`` (programming writes whole groups of 8 columns; a
tile occupies its column count rounded up to that group).

The paper (arXiv 2201.01089) packs tiles of at most 256 x 256 with rectpack's
MaxRectsBssf and reaches 34 arrays for MobileNetV2 224 x 1.0; the weights alone need
33.  Several strategies run and the best mapping is kept (fewest arrays, then fewest
tiles):

* rectpack, on fixed tiles: row cuts "max" (full 256-row tiles + remainder) or
  "balanced" (equal heights); column pieces of at most 256 (max or balanced) or of a
  fixed width; several pack algorithms and sort orders;
* "columns": our own first-fit-decreasing that exploits the free column cuts.  Every
  array is seen as col-groups of 8 columns, each a 1-D bin of the array's height; a
  row tile is an item of its height, repeated once per col-group.  Items go, highest
  first, onto the best-fitting run of adjacent col-groups filled to the same level,
  and every run placed becomes one tile, so a row tile is cut into columns only
  where it has to be.

Results (scripts/bench_tiling.py, MobileNetV2 224 x 224, arrays of 256 x 256):
width 1.0 needs 33 arrays, the weight bound, with 86 tiles, the tile bound (one per
row tile, conv_last's in 5 column pieces): rectpack MaxRectsBssf with short-side-first
sort on max-size tiles; the paper's setting (MaxRectsBssf, area sort) gives 34.  Of
the 480 strategies of the full sweep, 130 reach 33; none with balanced row tiles
(>= 39: heights such as 240 leave 16-row strips nothing fills); balanced column
pieces 37..41; narrower column pieces (128, 64, 32 columns) reach 33 more often but
with 138..443 tiles; columns-ffd reaches 33 with 105..109 tiles.  Width 0.5 and 0.35
reach their bounds (10, 6); width 0.75 needs 21 against a bound of 20 (conv_last's
240-row tiles leave 16-row strips; the row-cut search did not close the gap).

tile_and_pack runs a cheap part of the sweep (columns-ffd, rectpack MaxRectsBssf and
MaxRectsBaf with area or short-side sort, column pieces max / balanced / 128 / 64; both row
cut styles), stops as soon as one mapping reaches both the array and the tile lower
bound (13 ms at width 1.0), and searches the row-cut heights only when no mapping
reaches the array bound.  Everything is deterministic; all positions are integers.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import rectpack

from imcc.gen.mapping import MappingError

__all__ = ["MatrixLayer", "Tile", "Mapping", "MappingError", "tile_and_pack", "render_png",
           "sweep", "Attempt"]


@dataclass(frozen=True)
class MatrixLayer:
    """An IMA layer's weight matrix: `rows` crossbar rows (k*k*cin), `cols` columns (cout)."""
    name: str
    rows: int
    cols: int
    row_quantum: int = 1   # row cuts only at multiples of this (k*k*cin of a conv that may not cut a pixel; 1 for 1x1)


@dataclass(frozen=True)
class Tile:
    layer: str
    row0: int          # the slice of the layer's matrix rows [row0, row0+rows)
    rows: int
    col0: int          # the slice of its columns [col0, col0+cols)
    cols: int
    array: int         # 0-based array index
    arow: int          # position in the array; acol is a multiple of col_align
    acol: int


@dataclass
class Mapping:
    tiles: list[Tile]
    rows: int          # array size
    cols: int
    arrays_used: int
    method: str        # what produced it

    def of(self, layer: str) -> list[Tile]:
        """A layer's tiles, ordered by (row0, col0)."""
        return sorted((t for t in self.tiles if t.layer == layer), key=lambda t: (t.row0, t.col0))

    def row_cuts(self, layer: str) -> list[tuple[int, int]]:
        """The distinct row ranges [row0, row0+rows) of a layer's tiles, ordered."""
        return sorted({(t.row0, t.row0 + t.rows) for t in self.tiles if t.layer == layer})

    def utilisation(self) -> list[float]:
        """Per array: weight cells used / (rows*cols) (the padding of a last col-group
        counts as unused)."""
        used = [0] * self.arrays_used
        for t in self.tiles:
            used[t.array] += t.rows * t.cols
        return [u / (self.rows * self.cols) for u in used]

    def to_json(self) -> dict:
        return {"arrays_used": self.arrays_used, "rows": self.rows, "cols": self.cols,
                "method": self.method, "tiles": [asdict(t) for t in self.tiles],
                "utilisation": self.utilisation()}


# -- tile shapes ------------------------------------------------------------------------------------
def _row_cuts(layer: MatrixLayer, R: int, how: str | int) -> list[tuple[int, int]]:
    """(row0, rows) of the layer's row tiles: the fewest possible, cut at multiples of
    row_quantum.  ``how``: "max" fills the first tiles to the top and leaves the rest to
    the last; "balanced" makes them equal; an int j keeps j full tiles and balances the
    rest (0 = balanced), which gives the row-cut search heights between the two."""
    q, n_rows = layer.row_quantum, layer.rows
    if n_rows <= R:
        return [(0, n_rows)]
    M = R // q * q                       # the highest tile that ends on a cut
    if M == 0:
        raise MappingError(f"layer {layer.name!r}: {n_rows} rows with row_quantum {q} cannot be "
                           f"cut to fit arrays of {R} rows")
    # the last tile may end off the quantum (at the matrix's end); the cut before it must
    # leave at most R rows, and the n-1 tiles before can reach at most (n-1)*M
    last_cut = -(-(n_rows - R) // q) * q
    n = 1 + -(-last_cut // M)
    cuts = [i * M for i in range(n)]
    j = {"max": n - 1, "balanced": 0}.get(how, how)
    if j < n - 1:
        rest, k = n_rows - j * M, n - j
        if q == 1:
            sizes = [M] * j + [rest // k + (i < rest % k) for i in range(k)]
            cuts = [sum(sizes[:i]) for i in range(n)]
        else:
            s = -(-rest // k // q) * q
            bal = [i * M for i in range(j)] + [j * M + i * s for i in range(k)]
            if s <= M and 0 < n_rows - bal[-1] <= R:
                cuts = bal
    ends = cuts[1:] + [n_rows]
    return [(a, b - a) for a, b in zip(cuts, ends)]


def _col_pieces(units: int, U: int, how: str) -> list[int]:
    """Widths, in col-groups, of a row tile's column pieces."""
    if how == "max":
        w = U
    elif how == "balanced":
        k = -(-units // U)
        return [units // k + (i < units % k) for i in range(k)]
    else:                                # a fixed width, e.g. "w16" = 16 col-groups
        w = min(U, int(how[1:]))
    return [w] * (units // w) + ([units % w] if units % w else [])


@dataclass(frozen=True)
class _Item:
    """One row tile of a layer: height h, ``units`` col-groups wide."""
    layer: MatrixLayer
    order: int         # the layer's index in the given order
    row0: int
    h: int
    units: int


def _items(layers: Sequence[MatrixLayer], R: int, ca: int, row_how: str) -> list[_Item]:
    return [_Item(l, i, r0, h, -(-l.cols // ca))
            for i, l in enumerate(layers) for r0, h in _row_cuts(l, R, row_how)]


def _tile(it: _Item, u0: int, n: int, ca: int, array: int, arow: int, au: int) -> Tile:
    """The tile of col-groups [u0, u0+n) of item ``it``, at col-group ``au`` of an array."""
    c0 = u0 * ca
    return Tile(it.layer.name, it.row0, it.h, c0, min(n * ca, it.layer.cols - c0), array, arow, au * ca)


# -- packers ----------------------------------------------------------------------------------------
def _pack_columns(items: list[_Item], R: int, U: int, ca: int, sort: str) -> list[Tile]:
    """First-fit decreasing over col-groups (see the module docstring).

    sort "height": highest first, then widest; "area": largest h*units first."""
    key = {"height": lambda it: (-it.h, -it.units, it.order, it.row0),
           "area": lambda it: (-it.h * it.units, -it.h, it.order, it.row0)}[sort]
    levels: list[list[int]] = []         # per array, per col-group: rows filled from the top
    tiles = []
    for it in sorted(items, key=key):
        u0 = 0
        while u0 < it.units:
            need = it.units - u0
            best = None
            for a, lv in enumerate(levels):
                s = 0
                while s < U:
                    e = s
                    while e < U and lv[e] == lv[s]:
                        e += 1
                    if lv[s] + it.h <= R:
                        n = e - s
                        # tightest height first (that is what saves arrays), then a run
                        # that takes the rest whole (the smallest such), else the longest
                        k = (R - lv[s] - it.h, n < need, n if n >= need else -n, a, s)
                        if best is None or k < best[0]:
                            best = (k, a, s, n)
                    s = e
            if best is None:
                levels.append([0] * U)
                continue
            _, a, s, n = best
            n = min(n, need)
            tiles.append(_tile(it, u0, n, ca, a, levels[a][s], s))
            for j in range(s, s + n):
                levels[a][j] += it.h
            u0 += n
    return tiles


PACK_ALGOS = {name: getattr(rectpack, name) for name in (
    "MaxRectsBssf", "MaxRectsBaf", "MaxRectsBlsf", "MaxRectsBl",
    "GuillotineBssfSas", "GuillotineBafSas", "GuillotineBlsfSas", "GuillotineBssfMaxas",
    "SkylineBl", "SkylineBlWm", "SkylineMwf", "SkylineMwfl")}
# rectpack's sort keys; "sside" = short side first (the width in col-groups, mostly)
SORT_ALGOS = {"area": rectpack.SORT_AREA, "sside": rectpack.SORT_SSIDE, "peri": rectpack.SORT_PERI,
              "lside": rectpack.SORT_LSIDE, "diff": rectpack.SORT_DIFF}


def _pack_rectpack(items: list[_Item], R: int, U: int, ca: int, col_how: str, algo: str,
                   sort: str) -> list[Tile]:
    """rectpack on fixed tiles; widths in col-groups, so acol lands on a col-group."""
    packer = rectpack.newPacker(mode=rectpack.PackingMode.Offline, pack_algo=PACK_ALGOS[algo],
                                sort_algo=SORT_ALGOS[sort], rotation=False)
    pieces = []
    for it in items:
        u0 = 0
        for w in _col_pieces(it.units, U, col_how):
            packer.add_rect(w, it.h, rid=len(pieces))
            pieces.append((it, u0, w))
            u0 += w
    packer.add_bin(U, R, count=float("inf"))
    packer.pack()
    placed = packer.rect_list()
    if len(placed) != len(pieces):       # rectpack drops what it cannot place; never expected
        raise AssertionError(f"rectpack {algo} placed {len(placed)} of {len(pieces)} tiles")
    return [_tile(pieces[rid][0], pieces[rid][1], w, ca, b, y, x) for b, x, y, w, _, rid in placed]


# -- strategies -------------------------------------------------------------------------------------
@dataclass
class Attempt:
    """One strategy's outcome (the bench reports them all)."""
    method: str
    arrays: int
    tiles: int
    seconds: float
    mapping: Mapping = field(repr=False)


def _strategies(full: bool) -> list[tuple[str, Callable]]:
    """(method, packer(items, R, U, ca)) pairs; the default set is the cheap, useful part
    of the full sweep (the bench runs the full one)."""
    out = [(f"columns-ffd, sort {s}", lambda it, R, U, ca, s=s: _pack_columns(it, R, U, ca, s))
           for s in ("height", "area")]
    if full:
        cols, algos, sorts = ("max", "balanced", "w16", "w8", "w4"), PACK_ALGOS, SORT_ALGOS
    else:
        cols, algos, sorts = ("max", "balanced", "w16", "w8"), ("MaxRectsBssf", "MaxRectsBaf"), ("area", "sside")
    for c in cols:
        for a in algos:
            for s in sorts:
                out.append((f"rectpack {a}, sort {s}, col pieces {c}",
                            lambda it, R, U, ca, c=c, a=a, s=s: _pack_rectpack(it, R, U, ca, c, a, s)))
    return out


def _check(layers: Sequence[MatrixLayer], tiles: list[Tile], R: int, U: int, ca: int) -> None:
    """Cheap sanity check of a packer's output: per layer, the tiles' areas add up and
    each tile sits in its array on a col-group; a packer bug must not reach the caller."""
    area: dict[str, int] = {}
    for t in tiles:
        if not (0 <= t.arow and t.arow + t.rows <= R and t.acol % ca == 0
                and t.acol // ca + -(-t.cols // ca) <= U and t.rows > 0 and t.cols > 0):
            raise AssertionError(f"tile out of its array: {t}")
        area[t.layer] = area.get(t.layer, 0) + t.rows * t.cols
    for l in layers:
        if area.get(l.name) != l.rows * l.cols:
            raise AssertionError(f"layer {l.name!r} not covered exactly")


def sweep(layers: Sequence[MatrixLayer], rows: int = 256, cols: int = 256, *, col_align: int = 8,
          full: bool = False, stop_at_bound: bool = True) -> list[Attempt]:
    """Run the strategies; each attempt's mapping is valid.  With ``stop_at_bound`` the
    sweep stops as soon as one reaches both lower bounds (arrays and tiles)."""
    if col_align < 1 or cols < col_align or rows < 1:
        raise MappingError(f"arrays of {rows} x {cols} with col_align {col_align}: no tile fits")
    names = [l.name for l in layers]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names must be distinct: {names}")
    for l in layers:
        if l.rows < 1 or l.cols < 1 or l.row_quantum < 1:
            raise ValueError(f"layer {l.name!r}: rows, cols and row_quantum must be positive")
    R, U, ca = rows, cols // col_align, col_align
    # row cuts: the fewest; which heights is part of the strategy
    by_rows = {how: _items(layers, R, ca, how) for how in ("max", "balanced")}
    area = sum(it.h * it.units for it in by_rows["max"])
    arrays_lb = -(-area // (R * U))
    tiles_lb = sum(-(-it.units // U) for it in by_rows["max"])
    out = []
    for row_how, items in by_rows.items():
        for method, pack in _strategies(full):
            t0 = time.perf_counter()
            tiles = pack(items, R, U, ca)
            dt = time.perf_counter() - t0
            _check(layers, tiles, R, U, ca)
            n = 1 + max((t.array for t in tiles), default=-1)
            m = Mapping(tiles, rows, cols, n, f"{method}, row tiles {row_how}")
            out.append(Attempt(m.method, n, len(tiles), dt, m))
            if stop_at_bound and n == arrays_lb and len(tiles) == tiles_lb:
                return out
    best = min(out, key=lambda a: (a.arrays, a.tiles))
    if best.arrays > arrays_lb:
        for sort in ("height", "area"):
            t0 = time.perf_counter()
            tiles, how = _search_row_cuts(layers, R, U, ca, sort)
            dt = time.perf_counter() - t0
            _check(layers, tiles, R, U, ca)
            n = 1 + max((t.array for t in tiles), default=-1)
            m = Mapping(tiles, rows, cols, n, f"columns-ffd, sort {sort}, row tiles searched ({how})")
            out.append(Attempt(m.method, n, len(tiles), dt, m))
    return out


def _search_row_cuts(layers: Sequence[MatrixLayer], R: int, U: int, ca: int,
                     sort: str) -> tuple[list[Tile], str]:
    """Coordinate descent over the row-cut heights of each layer cut in rows (the
    number of row tiles stays the fewest), packing with columns-ffd: heights that
    complement each other fill the col-groups better.  Scored by arrays, then the
    col-group rows used in the last array (emptying it is the way to one array fewer),
    then tiles.  Two passes at most, in layer order: deterministic and bounded."""
    def items_of(i: int, how) -> list[_Item]:
        l = layers[i]
        return [_Item(l, i, r0, h, -(-l.cols // ca)) for r0, h in _row_cuts(l, R, how)]

    def score(choice: list) -> tuple:
        tiles = _pack_columns([it for i, h in enumerate(choice) for it in items_of(i, h)], R, U, ca, sort)
        last = max(t.array for t in tiles)
        fill = sum(t.rows * -(-t.cols // ca) for t in tiles if t.array == last)
        return (last + 1, fill, len(tiles)), tiles

    choice: list = ["max"] * len(layers)
    best, tiles = score(choice)
    options = {i: ["max", "balanced"] + list(range(1, len(items_of(i, "max")) - 1))
               for i, l in enumerate(layers) if l.rows > R}
    for _ in range(2):
        improved = False
        for i, opts in options.items():
            for how in opts:
                if how == choice[i]:
                    continue
                trial = choice[:i] + [how] + choice[i + 1:]
                k, t = score(trial)
                if k < best:
                    best, tiles, choice, improved = k, t, trial, True
        if not improved:
            break
    changed = sum(1 for h in choice if h != "max")
    return tiles, f"{changed} layers off max"


def tile_and_pack(layers: Sequence[MatrixLayer], rows: int = 256, cols: int = 256, *,
                  max_arrays: int | None = None, col_align: int = 8) -> Mapping:
    """The best mapping found of ``layers`` onto arrays of ``rows`` x ``cols``: fewest
    arrays, then fewest tiles (then the earliest strategy, so it is deterministic).

    Raises MappingError if it needs more than ``max_arrays`` arrays, naming the first
    layer (in the given order) with a tile beyond them, or if a layer cannot be cut."""
    attempts = sweep(layers, rows, cols, col_align=col_align)
    best = min(attempts, key=lambda a: (a.arrays, a.tiles)).mapping
    if max_arrays is not None and best.arrays_used > max_arrays:
        over = {t.layer for t in best.tiles if t.array >= max_arrays}
        name = next(l.name for l in layers if l.name in over)
        raise MappingError(f"layer {name!r} does not fit: the layers need {best.arrays_used} arrays "
                           f"of {rows} x {cols}, {max_arrays} available")
    best.tiles.sort(key=lambda t: (t.array, t.acol, t.arow))
    return best


# -- picture ----------------------------------------------------------------------------------------
def render_png(mapping: Mapping, path) -> None:
    """One small square per array, its tiles coloured by layer and labelled with it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = max(mapping.arrays_used, 1)
    ncol = math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    R, C = mapping.rows, mapping.cols
    gap = 0.15 * max(R, C)
    fig, ax = plt.subplots(figsize=(2.0 * ncol, 2.0 * nrow * R / C + 0.6))
    layers = list(dict.fromkeys(t.layer for t in mapping.tiles))
    cmap = plt.get_cmap("tab20")
    colour = {l: cmap(i % 20) for i, l in enumerate(layers)}
    for a in range(n):
        x0, y0 = (a % ncol) * (C + gap), (a // ncol) * (R + gap)
        ax.add_patch(Rectangle((x0, y0), C, R, fill=False, lw=0.8, ec="black"))
        ax.text(x0, y0 - 0.03 * R, f"array {a}", fontsize=6, va="bottom")
    for t in mapping.tiles:
        x0, y0 = (t.array % ncol) * (C + gap) + t.acol, (t.array // ncol) * (R + gap) + t.arow
        ax.add_patch(Rectangle((x0, y0), t.cols, t.rows, fc=colour[t.layer], ec="white", lw=0.3))
        if t.cols >= 0.12 * C and t.rows >= 0.06 * R:
            ax.text(x0 + t.cols / 2, y0 + t.rows / 2, t.layer, fontsize=4, ha="center", va="center")
    ax.set_xlim(-gap / 2, ncol * (C + gap))
    ax.set_ylim(nrow * (R + gap), -gap)        # row 0 at the top, as in a crossbar
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{mapping.arrays_used} arrays of {R} x {C}: {mapping.method}", fontsize=7)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
