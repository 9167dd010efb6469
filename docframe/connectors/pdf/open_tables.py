"""An open table's rows and columns (horizontal rules only: booktabs, word-processor exports).

``regions`` finds the stacked rules; here the words between them become a grid of
the lattice's shape, so ``table_rows`` reads it like a ruled one. The header is
what lies above the second rule; body lines are rows, a line with text in one
column only, close under a row with text there, continuing that cell (a wrapped
name). Columns come from where the top rule's pieces meet (a word processor draws
each header cell's border on its own), else from white gutters down the body;
then a column must be mostly numbers, as two columns of prose between two rules
would otherwise read as a table.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from docframe.connectors.pdf.cell_text import text_lines
from docframe.connectors.pdf.cell_types import parse_number
from docframe.connectors.pdf.lattice import Grid, Header, Row
from docframe.connectors.pdf.regions import Region

OPEN_MIN_ROWS = 3  # body rows an open table needs
GUTTER = 8.0  # points of white space between the columns of an open table without joints


def read_open_table(region: Region) -> Grid | None:
    """An open table's rows and columns, from its words between the rules.

    The header is what lies above the second rule when that rule is near the top.
    Body lines are rows, except that a line with text in one column only, close
    under a row with text in that column, continues that cell (a wrapped name).
    Columns come from the top rule's joints, else from white gutters running
    down every body line; then at least one column must be mostly numbers, as
    two columns of prose between rules would otherwise read as a table.
    """
    x0, top, x1, bottom = region.outline.x0, region.outline.y0, region.outline.x1, region.outline.y1
    ys = region.rules or [top, bottom]
    head = ys[1] if len(ys) >= 3 and ys[1] - top <= 0.3 * (bottom - top) else None
    body = [w for w in region.words if (head or top) < (w[1] + w[3]) / 2 < bottom]
    lines = text_lines(body)  # words are phrases of one word
    if len(lines) < OPEN_MIN_ROWS:
        return None
    borders = sorted(b for b in (region.joints or []) if x0 < b < x1)
    numbers_needed = not borders
    if not borders:
        borders = _gutters(body, x0, x1)
    if not borders:
        return None
    edges = [x0, *borders, x1]

    def column(w: Sequence[Any]) -> int:
        return bisect.bisect_right(borders, (w[0] + w[2]) / 2)

    rows: list[list[Any]] = []  # [y0, y1, {column: text}]
    for line in lines:
        cells: dict[int, list[str]] = {}
        for w in line:
            cells.setdefault(column(w), []).append(w[4])
        y0, y1 = min(w[1] for w in line), max(w[3] for w in line)
        if rows and len(cells) == 1:
            (c,) = cells
            last = rows[-1]
            if c in last[2] and y0 - last[1] <= 0.6 * (y1 - y0):
                last[1] = max(last[1], y1)
                continue  # a wrapped cell
        rows.append([y0, y1, set(cells)])
    if len(rows) < OPEN_MIN_ROWS:
        return None
    if numbers_needed and not _numeric_column(body, column, len(edges) - 1):
        return None
    bands = [head or top]
    bands += [(a[1] + b[0]) / 2 for a, b in zip(rows, rows[1:], strict=False)]
    bands.append(bottom)
    grid_rows = []
    if head is not None:
        grid_rows.append(Row([(a, top, b, head) for a, b in zip(edges, edges[1:], strict=False)]))
    for y0, y1 in zip(bands, bands[1:], strict=False):
        grid_rows.append(Row([(a, y0, b, y1) for a, b in zip(edges, edges[1:], strict=False)]))
    return Grid(grid_rows, (x0, top, x1, bottom), Header())


def _gutters(words: list[Sequence[Any]], x0: float, x1: float) -> list[float]:
    """Middles of the white vertical strips (at least GUTTER wide) no word crosses."""
    spans = sorted((w[0], w[2]) for w in words)
    out = []
    reach = spans[0][1] if spans else x1
    for a, b in spans[1:]:
        if a - reach >= GUTTER and x0 < reach and a < x1:
            out.append((reach + a) / 2)
        reach = max(reach, b)
    return out


def _numeric_column(words: list[Sequence[Any]], column: Any, ncols: int) -> bool:
    """Is some column's text mostly numbers (at least 60 % of its words)?"""
    seen = [0] * ncols
    numbers = [0] * ncols
    for w in words:
        c = column(w)
        seen[c] += 1
        numbers[c] += parse_number(w[4]) is not None
    return any(n >= 3 and n >= 0.6 * s for n, s in zip(numbers, seen, strict=True))
