"""A found grid read as caption, column names and rows of text (typed later, ``cell_types``).

Leading rows that are one cell across the table are a caption (kept in the notes
and the text); trailing ones are footnotes (dropped, noted). Columns are the cell
boundaries the body rows draw; a row whose cells each stack the same number of
lines, with a column of numbers, is several rows printed in one ruled band and is
split (the NICS table rules every fifth state). Names come from ``table_header``;
empty ones become ``column_N`` and duplicates get ``_2``
(:func:`docframe.connectors.schema.unique_names`). Not tables: fewer than two rows
or two columns, mostly empty grids (figures, forms, plots), boxed prose.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from docframe.connectors.pdf.cell_text import cell_texts, flat
from docframe.connectors.pdf.cell_types import parse_number
from docframe.connectors.pdf.table_header import external_labels, groups_over, header_labels
from docframe.connectors.schema import unique_names

MIN_FILL = 0.6  # share of non-empty cells below which a grid is a figure or a form
MIN_CELLS = 6  # smaller grids are a figure's frame far more often than a table
MAX_CELL_WORDS = 40  # mean words per cell above which a grid is boxed prose


class Parsed:
    def __init__(
        self,
        caption: str,
        names: list[str],
        rows: list[list[str]],
        bbox: tuple[float, float, float, float],
        notes: list[str],
    ) -> None:
        self.caption = caption
        self.names = names
        self.rows = rows
        self.bbox = bbox
        self.notes = notes


def read_table(found: Any, words: list[Sequence[Any]]) -> Parsed | None:
    """``found`` (a :class:`Grid` or a PyMuPDF ``Table``) as caption, names and rows."""
    grid = [row.cells for row in found.rows]  # cell bbox or None, per column slot
    if not grid:
        return None
    nslots = max(len(r) for r in grid)
    grid = [list(r) + [None] * (nslots - len(r)) for r in grid]
    texts = cell_texts(grid, words)
    drawn = [(i, j) for i, r in enumerate(grid) for j, c in enumerate(r) if c is not None]
    if len(drawn) < MIN_CELLS or sum(bool(texts[i][j]) for i, j in drawn) < MIN_FILL * len(drawn):
        return None  # mostly empty: a plot's grid, a diagram, a form
    x0, y0, x1, y1 = found.bbox
    width = max(x1 - x0, 1e-6)
    notes: list[str] = []

    def spanning(i: int) -> bool:  # one non-empty cell across (most of) the table
        filled = [j for j, t in enumerate(texts[i]) if t]
        if len(filled) != 1:
            return False
        cell = grid[i][filled[0]]
        return cell is not None and (cell[2] - cell[0]) >= 0.6 * width and nslots > 1

    keep = [i for i in range(len(grid)) if any(texts[i])]  # empty rows go
    caption_rows = []
    while keep and spanning(keep[0]):
        caption_rows.append(keep.pop(0))
    footer_rows = []
    while keep and spanning(keep[-1]):
        footer_rows.insert(0, keep.pop())
    caption = " ".join(flat(t) for i in caption_rows for t in texts[i] if t)
    if footer_rows:
        notes.append(f"dropped {len(footer_rows)} footnote row(s) under the table")
    if not keep:
        return None

    header = found.header
    external = bool(getattr(header, "external", False))
    if external:
        head_rows: list[int] = []
    else:
        head_rows = [keep[0]] if not all_numeric(texts[keep[0]]) else []
        while (
            head_rows
            and len(head_rows) < 3
            and len(keep) > len(head_rows) + 1
            and groups_over(grid[head_rows[-1]], grid[keep[len(head_rows)]])
            and not _has_number(texts[keep[len(head_rows)]])
        ):
            head_rows.append(keep[len(head_rows)])
    body_rows = [i for i in keep if i not in head_rows]
    if not body_rows and not head_rows:
        return None

    # columns: the slots where a body row starts a cell (the header may merge them)
    starts = sorted({j for i in body_rows for j in range(nslots) if grid[i][j] is not None})
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    slots_xs = _slot_edges(grid, nslots, x0, x1)
    spans = [
        (s, (starts[k + 1] if k + 1 < len(starts) else nslots) - 1) for k, s in enumerate(starts)
    ]
    col_x = [(slots_xs[a], slots_xs[b + 1]) for a, b in spans]

    rows: list[list[str]] = []
    for i in body_rows:
        values = [" ".join(t for t in texts[i][a : b + 1] if t) for a, b in spans]
        rows.extend(_unstack(values))
    if len(rows) > len(body_rows):
        notes.append(
            f"split {len(body_rows)} ruled band(s) holding several lines each into {len(rows)} rows"
        )

    if external:
        labels = external_labels(header, col_x)
    else:
        labels = header_labels(words, grid, head_rows, col_x)

    # columns with neither a name nor a value carry nothing
    used = [k for k in range(len(spans)) if labels[k] or any(r[k] for r in rows)]
    labels = [labels[k] for k in used]
    rows = [[r[k] for k in used] for r in rows]
    col_x = [col_x[k] for k in used]

    ncols = len(labels)
    if ncols < 2 or len(rows) + (1 if any(labels) else 0) < 2:
        return None
    filled = [v for v in [*labels, *(v for r in rows for v in r)] if v]
    if statistics.fmean(len(v.split()) for v in filled) > MAX_CELL_WORDS:
        return None  # boxed paragraphs
    if len({v for r in rows for v in r if v}) < 2:
        return None  # one value repeated (a grid of marks) says nothing
    names, renamed = unique_names(labels)
    notes.extend(renamed)
    return Parsed(caption, names, rows, (x0, y0, x1, y1), notes)


def all_numeric(row: Sequence[str]) -> bool:
    filled = [t for t in row if t]
    return bool(filled) and all(parse_number(flat(t)) is not None for t in filled)


def _has_number(row: Sequence[str]) -> bool:
    return any(parse_number(line) is not None for t in row for line in t.split("\n"))


def _slot_edges(grid: list[list[Any]], nslots: int, x0: float, x1: float) -> list[float]:
    """x of each slot's left edge, and the table's right edge last."""
    xs = [x0] * (nslots + 1)
    xs[nslots] = x1
    for j in range(nslots):
        lefts = [r[j][0] for r in grid if r[j] is not None]
        xs[j] = min(lefts) if lefts else (xs[j - 1] if j else x0)
    return xs


def _unstack(values: list[str]) -> list[list[str]]:
    """Split a row whose cells all stack k lines (with a column of numbers) into k rows."""
    filled = [v for v in values if v]
    if len(filled) < 2:
        return [[flat(v) for v in values]]
    counts = {v.count("\n") + 1 for v in filled}
    k = counts.pop() if len(counts) == 1 else 1
    numeric = any(all(parse_number(x) is not None for x in v.split("\n")) for v in filled)
    if k < 2 or not numeric:
        return [[flat(v) for v in values]]
    split = [v.split("\n") if v else [""] * k for v in values]
    return [[col[n] for col in split] for n in range(k)]
