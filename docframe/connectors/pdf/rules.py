"""Ruling lines: the strokes a page draws, as the edges tables are made of.

``get_cdrawings()`` gives lines, rectangles (a thin one is a rule, a larger one
four edges) and quads; each horizontal or vertical stroke becomes an edge
``(x0, y0, x1, y1, "h"|"v")``, while slanted strokes and curves are counted apart
(they mark plots and diagrams). Edges are grouped into runs (the pieces of one
rule) and runs into clusters of touching edges, each a possible table (see
``regions``). Plain geometry on tuples: pages full of vector art make these the
hot loops, so they stay free of objects and of PyMuPDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MIN_EDGE = 3.0  # shorter strokes are not table rules (PyMuPDF's edge_min_length)
AXIS_TOL = 1.0  # a stroke within this of horizontal/vertical counts as such
JOIN_TOL = 3.0  # edges this close belong to one grid (PyMuPDF's snap/join tolerance)
BUCKET = 48.0  # grid square (points) for finding touching edges


def bounding_box(points: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def add_segment(edges: list, p: Sequence[float], q: Sequence[float]) -> bool:
    """Add a horizontal or vertical stroke as an edge; False for a slanted one."""
    (x0, y0), (x1, y1) = p, q
    if abs(y1 - y0) <= AXIS_TOL:
        if abs(x1 - x0) >= MIN_EDGE:
            edges.append((min(x0, x1), y0, max(x0, x1), y0, "h"))
        return True
    if abs(x1 - x0) <= AXIS_TOL:
        if abs(y1 - y0) >= MIN_EDGE:
            edges.append((x0, min(y0, y1), x0, max(y0, y1), "v"))
        return True
    return max(abs(x1 - x0), abs(y1 - y0)) < MIN_EDGE  # a speck is not a stroke


def add_rect(edges: list, rect: Sequence[float], page_area: float) -> None:
    x0, y0, x1, y1 = rect[0], rect[1], rect[2], rect[3]
    if x0 > x1:
        x0, x1 = x1, x0
    if y0 > y1:
        y0, y1 = y1, y0
    w, h = x1 - x0, y1 - y0
    if w <= 2 * AXIS_TOL and h >= MIN_EDGE:  # a thin rectangle is a vertical rule
        edges.append(((x0 + x1) / 2, y0, (x0 + x1) / 2, y1, "v"))
    elif h <= 2 * AXIS_TOL and w >= MIN_EDGE:
        edges.append((x0, (y0 + y1) / 2, x1, (y0 + y1) / 2, "h"))
    elif w >= MIN_EDGE and h >= MIN_EDGE and w * h < 0.9 * page_area:  # not a page background
        edges += [(x0, y0, x1, y0, "h"), (x0, y1, x1, y1, "h")]
        edges += [(x0, y0, x0, y1, "v"), (x1, y0, x1, y1, "v")]


def on_page(box: tuple, bound: Any) -> tuple | None:
    """``box`` clamped to the page, or None when it is off the page or not finite."""
    x0, y0, x1, y1 = box[:4]
    if not math.isfinite(x0 + y0 + x1 + y1):  # an inf or a NaN (or a sum past 1e308)
        return None
    if x0 > bound.x1 or x1 < bound.x0 or y0 > bound.y1 or y1 < bound.y0:
        return None
    clamped = (max(x0, bound.x0), max(y0, bound.y0), min(x1, bound.x1), min(y1, bound.y1))
    return clamped + tuple(box[4:])


def rule_runs(edges: list) -> list[list]:
    """Edges in runs of pieces of one rule: same y (``h``) or x (``v``), gaps within
    :data:`JOIN_TOL`. They touch anyway, so the clustering starts from the runs; a table
    drawn cell by cell has each rule in as many pieces as it has cells. Runs keep the
    order of their first edge, so tables are numbered as before.
    """
    order = sorted(
        range(len(edges)),
        key=lambda i: (
            (edges[i][4], edges[i][1], edges[i][0])
            if edges[i][4] == "h"
            else (edges[i][4], edges[i][0], edges[i][1])
        ),
    )
    runs: list[list[int]] = []
    line = reach = math.nan
    kind = ""
    for i in order:
        x0, y0, x1, y1, k = edges[i]
        at, start, end = (y0, x0, x1) if k == "h" else (x0, y0, y1)
        if k == kind and at == line and start <= reach + JOIN_TOL:
            runs[-1].append(i)
            reach = max(reach, end)
        else:
            runs.append([i])
            kind, line, reach = k, at, end
    runs.sort(key=min)
    return [[edges[i] for i in sorted(run)] for run in runs]


def cluster(runs: list[list]) -> list[tuple[float, float, float, float, list]]:
    """Group edges that touch (within :data:`JOIN_TOL`), starting from their
    :func:`rule_runs`; then groups whose boxes touch."""
    groups = runs
    boxes = [bounds(g) for g in groups]
    while True:
        merged = _touching(boxes, JOIN_TOL)
        if len(merged) == len(groups):
            break
        groups = [[e for i in idx for e in groups[i]] for idx in merged]
        boxes = [bounds(g) for g in groups]
    return [(*box, g) for box, g in zip(boxes, groups, strict=True)]


def bounds(edges: list) -> tuple[float, float, float, float]:
    return (
        min(e[0] for e in edges),
        min(e[1] for e in edges),
        max(e[2] for e in edges),
        max(e[3] for e in edges),
    )


def _touching(boxes: list[tuple[float, float, float, float]], t: float) -> list[list[int]]:
    """Indexes of ``boxes`` in groups of (transitively) touching boxes.

    Boxes are hashed into a grid of :data:`BUCKET`-point squares and only
    compared within a square, so the cost follows local density, not n².
    """
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    buckets: dict[tuple[int, int], list[int]] = {}
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        # apart inlined, with the tolerance folded in: this loop is the hot spot
        # of pages full of vector art
        a0, b0, a1, b1 = x0 - t, y0 - t, x1 + t, y1 + t
        for bx in range(int(a0 // BUCKET), int(a1 // BUCKET) + 1):
            for by in range(int(b0 // BUCKET), int(b1 // BUCKET) + 1):
                seen = buckets.setdefault((bx, by), [])
                for j in seen:
                    c0, d0, c1, d1 = boxes[j]
                    if a1 < c0 or c1 < a0 or b1 < d0 or d1 < b0:
                        continue
                    ri, rj = find(i), find(j)
                    if ri != rj:
                        parent[rj] = ri
                seen.append(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def apart(a: Sequence[Any], b: Sequence[Any], t: float) -> bool:
    return a[2] + t < b[0] or b[2] + t < a[0] or a[3] + t < b[1] or b[3] + t < a[1]
