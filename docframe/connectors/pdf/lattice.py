"""A ruled grid's cells, read from its rules: docframe's lattice reader.

PyMuPDF's ``lines`` strategy (pdfplumber's algorithm: snap, join, cells whose four
sides are drawn, merged cells where a rule is missing) in a few passes over the
rules. PyMuPDF's ``page.find_tables`` does the same in a Python loop over every
character and edge (50-100 ms a table: 9.7 s for the 119 tables of a 101-page
corpus file, 0.7 s with the lattice, same cells). The result has the shape of
PyMuPDF's ``Table`` (rows of cell boxes, a bbox, a header), so one reader
(``table_rows.read_table``) reads either.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass

from docframe.connectors.pdf.regions import Region
from docframe.connectors.pdf.rules import JOIN_TOL


@dataclass
class Row:
    cells: list[tuple[float, float, float, float] | None]  # per column: a cell starting here


@dataclass
class Header:
    external: bool = False  # PyMuPDF's flag for a header found above the grid


@dataclass
class Grid:
    """A ruled table in the shape ``table_rows.read_table`` reads (PyMuPDF's ``Table``'s)."""

    rows: list[Row]
    bbox: tuple[float, float, float, float]
    header: Header


def read_lattice(region: Region) -> Grid | None:
    """The cells the region's rules draw, or None when they draw fewer than two.

    PyMuPDF's ``lines`` strategy (pdfplumber's algorithm) in a few array passes
    instead of its Python loop over every character and edge, which cost 50-100 ms
    a table: rules are snapped to shared rows and columns (within
    :data:`JOIN_TOL`), collinear pieces joined, and the grid between the rows and
    columns split into slots. Neighbouring slots with no rule between them are one
    (merged) cell; a cell counts only when rules draw all four of its sides.
    """
    o = region.outline
    edges = [*region.edges]  # the outline joins the grid, as add_boxes did for the finder
    edges += [(o.x0, o.y0, o.x1, o.y0, "h"), (o.x0, o.y1, o.x1, o.y1, "h")]
    edges += [(o.x0, o.y0, o.x0, o.y1, "v"), (o.x1, o.y0, o.x1, o.y1, "v")]
    ys = _snap([e[1] for e in edges if e[4] == "h"])
    xs = _snap([e[0] for e in edges if e[4] == "v"])
    if len(xs) < 2 or len(ys) < 2:
        return None
    across = _joined(edges, "h", ys)  # row line -> merged [x0, x1] pieces
    down = _joined(edges, "v", xs)  # column line -> merged [y0, y1] pieces
    ny, nx = len(ys) - 1, len(xs) - 1
    # right[i][j]: the rule between slot (i, j) and (i, j + 1) is drawn; below: likewise
    right = [[_covers(down[j + 1], ys[i], ys[i + 1]) for j in range(nx - 1)] for i in range(ny)]
    below = [[_covers(across[i + 1], xs[j], xs[j + 1]) for j in range(nx)] for i in range(ny - 1)]
    parent = list(range(ny * nx))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i in range(ny):
        for j in range(nx):
            if j + 1 < nx and not right[i][j]:
                parent[find(i * nx + j + 1)] = find(i * nx + j)
            if i + 1 < ny and not below[i][j]:
                parent[find((i + 1) * nx + j)] = find(i * nx + j)
    spans: dict[int, list[int]] = {}  # component -> [i0, j0, i1, j1, slots] in slots
    for i in range(ny):
        for j in range(nx):
            box = spans.setdefault(find(i * nx + j), [i, j, i, j, 0])
            box[0], box[1] = min(box[0], i), min(box[1], j)
            box[2], box[3] = max(box[2], i), max(box[3], j)
            box[4] += 1
    drawn = {
        c: (i0, j0, i1, j1, n)
        for c, (i0, j0, i1, j1, n) in spans.items()
        if _covers(across[i0], xs[j0], xs[j1 + 1])
        and _covers(across[i1 + 1], xs[j0], xs[j1 + 1])
        and _covers(down[j0], ys[i0], ys[i1 + 1])
        and _covers(down[j1 + 1], ys[i0], ys[i1 + 1])
    }
    # a cell around a smaller box (a link or highlight frame inside it) is one
    # cell: the boxes inside it are not cells of the table
    inner: set[int] = set()
    for c, (i0, j0, i1, j1, n) in drawn.items():
        if n < (i1 - i0 + 1) * (j1 - j0 + 1):
            inner.update(find(i * nx + j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1))
            inner.discard(c)
    cells = {
        (i0, j0): (xs[j0], ys[i0], xs[j1 + 1], ys[i1 + 1])
        for c, (i0, j0, i1, j1, _) in drawn.items()
        if c not in inner
    }
    if len(cells) < 2:
        return None
    bands = sorted({i for i, _ in cells})
    columns = sorted({j for _, j in cells})
    rows = [Row([cells.get((i, j)) for j in columns]) for i in bands]
    bbox = (
        min(c[0] for c in cells.values()),
        min(c[1] for c in cells.values()),
        max(c[2] for c in cells.values()),
        max(c[3] for c in cells.values()),
    )
    return Grid(rows, bbox, Header())


def _snap(values: list[float]) -> list[float]:
    """Coordinates within :data:`JOIN_TOL` of their neighbour merged to their mean."""
    out: list[list[float]] = []
    for v in sorted(values):
        if out and v - out[-1][-1] <= JOIN_TOL:
            out[-1].append(v)
        else:
            out.append([v])
    return [statistics.fmean(group) for group in out]


def _joined(edges: list, kind: str, lines: list[float]) -> list[list[list[float]]]:
    """Per snapped line, the merged extents of the ``kind`` rules on it."""
    pieces: list[list[tuple[float, float]]] = [[] for _ in lines]
    for x0, y0, x1, y1, k in edges:
        if k != kind:
            continue
        at, lo, hi = (y0, x0, x1) if kind == "h" else (x0, y0, y1)
        n = bisect.bisect_left(lines, at)  # the nearest line: this one or the one before
        if n == len(lines) or (n > 0 and at - lines[n - 1] < lines[n] - at):
            n -= 1
        pieces[n].append((lo, hi))
    out: list[list[list[float]]] = []
    for found in pieces:
        merged: list[list[float]] = []
        for lo, hi in sorted(found):
            if merged and lo <= merged[-1][1] + JOIN_TOL:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        out.append(merged)
    return out


def _covers(pieces: list[list[float]], lo: float, hi: float) -> bool:
    """Does one rule on this line run from ``lo`` to ``hi`` (within :data:`JOIN_TOL`)?"""
    return any(a - JOIN_TOL <= lo and hi <= b + JOIN_TOL for a, b in pieces)
