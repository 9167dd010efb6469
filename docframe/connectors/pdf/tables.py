"""Tables drawn on PDF pages, turned into typed Arrow tables (and text for search).

The PDF connector calls :func:`find_tables_with_text` once per page (with the
page already open in its worker process) and gets, per table found, a
:class:`~docframe.connectors.tables.TableData` ready for the lake and the
table rendered as text lines for the chunks, so search finds it too.

How a table is read:

1. **Is there a ruled grid at all?** The page's vector graphics
   (``get_cdrawings``, C speed) are clustered; only clusters with at least two
   horizontal and two vertical rules (more than one cell), not full of curves or
   slanted strokes (plots, diagrams) and with some text inside are read.
2. **The cells** come from docframe's own lattice reader (:func:`_lattice`):
   PyMuPDF's ``lines`` strategy (pdfplumber's algorithm: snap, join, cells whose
   four sides are drawn, merged cells where a rule is missing) in a few passes
   over the rules. PyMuPDF's ``page.find_tables`` does the same in a Python loop
   over every character and edge (50-100 ms a table: 9.7 s for the 119 tables
   of a 101-page corpus file, 0.7 s with the lattice, same cells). The finder is
   still used where it knows more: rotated pages, and grids whose first row is
   all numbers, whose header is printed above the rules (its header detection
   reads there). The ``text`` strategy (columns from word alignment) is not
   used: on the corpus it shifts cells into the wrong columns (FBI NICS table)
   and finds "tables" in multi-column prose.
3. **Rows and columns.** Leading rows that are one cell across the table are a
   caption (kept in the notes and the text); trailing ones are footnotes
   (dropped, noted). Columns are the cell boundaries the body rows draw; a row
   whose cells each stack the same number of lines, with a column of numbers,
   is several rows printed in one ruled band, and is split (the NICS table rules
   every fifth state).
4. **Column names** come from the header row(s) (PyMuPDF's ``header.names`` when
   it finds the header above the grid): a label inside a merged header cell
   over several columns (``Pre-Pawn`` over ``Handgun | Long Gun | *Other``)
   prefixes each column under it. Names are cleaned (newlines, footnote
   asterisks), empty ones become ``column_N`` and duplicates get ``_2``
   (:func:`docframe.connectors.schema.unique_names`).
5. **Types**, one per column: integers (``1,234``, ``98 452``, ``(1,234)`` as
   -1234, ``−5`` with a Unicode minus), floats, percentages (``12.5%`` -> 12.5
   when every value has the sign; noted), one currency symbol (``$85``; noted),
   ISO dates; else text. A lone dash or :data:`~docframe.connectors.schema.NULL_TOKENS`
   is null in a numeric column. Numbers with leading zeros (``01``) are codes and
   keep the column text.
6. **Not tables:** fewer than two rows or two columns, mostly empty grids
   (figures, forms, plots), and grids of prose paragraphs are skipped.
7. **Open tables** (horizontal rules only: LaTeX booktabs, most word-processor
   exports) are found apart from grids (:func:`_open_regions`): two or more wide
   rules that start and end together, with no vertical rules between them. The
   header is what lies above the second rule; body lines are rows, a line with
   text in one column only, close under a row with text there, continuing that
   cell (a wrapped name). Columns come from where the top rule's pieces meet (a
   word processor draws each header cell's border on its own), else from white
   gutters down the body; then a column must be mostly numbers, as two columns of
   prose between two rules would otherwise read as a table (:func:`_open_grid`).

Coordinates (``location["bbox"]``) are PDF points in the same space as
``page.get_text()``: the unrotated page, origin at the crop box's top left.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import math
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.connectors.schema import ISO_DATE, NULL_TOKENS, unique_names
from docframe.connectors.tables import TableData, table_name

# the table finder prints an advert for another package on first use; keep stdout clean
os.environ.setdefault("PYMUPDF_SUGGEST_LAYOUT_ANALYZER", "0")

MIN_EDGE = 3.0  # shorter strokes are not table rules (PyMuPDF's edge_min_length)
AXIS_TOL = 1.0  # a stroke within this of horizontal/vertical counts as such
JOIN_TOL = 3.0  # edges this close belong to one grid (PyMuPDF's snap/join tolerance)
CLIP_MARGIN = 5.0
BUCKET = 48.0  # grid square (points) for finding touching edges
MAX_EDGES = 50_000  # more rules than this on a page: vector art, not tables
FIGURE_CURVE = 8.0  # curves at least this big are drawing, not a table's rounded corner
FIGURE_SHARE = 0.2  # slanted strokes and curves per rule above which a cluster is a figure
MIN_FILL = 0.6  # share of non-empty cells below which a grid is a figure or a form
# words per grid slot ((rules across - 1) x (rules down - 1)) below which the
# finder is not even run; corpus tables have 0.33 or more, plot grids 0-0.11
MIN_WORDS_PER_SLOT = 0.15
MIN_CELLS = 6  # smaller grids are a figure's frame far more often than a table
MAX_CELL_WORDS = 40  # mean words per cell above which a grid is boxed prose
# open tables (horizontal rules only): rules at least this wide (share of the page
# width, and points) that start and end within OPEN_TOL of each other
OPEN_MIN_WIDTH = 0.3
OPEN_MIN_POINTS = 100.0
OPEN_TOL = 3.0
OPEN_MIN_ROWS = 3  # body rows an open table needs
GUTTER = 8.0  # points of white space between the columns of an open table without joints
MAX_OPEN_RULES = 300  # more wide rules than this on a page: ruled paper or a form
_DASHES = frozenset(
    {"-", "\u2013", "\u2014", "\u2012", "\u2212"}
)  # hyphen, en/em/figure dash, minus
_CURRENCY = "$€£¥₹"
_GROUPED = re.compile(r"\d{1,3}(?P<sep>[, \u00a0\u202f'])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?")
_PLAIN = re.compile(r"(?:0|[1-9]\d*)(?:\.\d+)?|0?\.\d+")
_SEPARATORS = re.compile(r"[, \u00a0\u202f']")
_FOOTNOTE_MARKS = "*†‡§¹²³"
_INT64_MAX = 2**63 - 1


# -- public API ----------------------------------------------------------------------


def find_tables(
    page: Any,
    doc_key: str,
    path: Path,
    page_number: int,
    *,
    textpage: Any = None,
) -> list[TableData]:
    """The tables on a PyMuPDF ``page`` as lake tables (see :func:`find_tables_with_text`)."""
    found = find_tables_with_text(page, doc_key, path, page_number, textpage=textpage)
    return [table for table, _ in found]


def find_tables_with_text(
    page: Any,
    doc_key: str,
    path: Path,
    page_number: int,
    *,
    textpage: Any = None,
) -> list[tuple[TableData, str]]:
    """Each table on ``page`` with its text rendering (for the chunks).

    ``page_number`` is 1-based; table names are ``<file stem>_p<page>_t<i>``
    (``i`` from 1, counting the tables kept on the page).

    ``textpage``: the page's ``get_textpage(flags=extract.TEXT_FLAGS)`` when the
    caller has made it (the connector has, for the page's text). A grid's words
    then come from it instead of a second text page clipped to the grid, which
    would run the page's whole content stream again.
    """
    import pymupdf

    out: list[tuple[TableData, str]] = []
    # The finder works on a rotated page by rotating its content to 0 first: its
    # clip and results are in the rotated (as displayed) space, get_text's are not.
    to_shown = page.rotation_matrix if page.rotation else None
    to_text = page.derotation_matrix if page.rotation else None
    for region in candidate_regions(page, textpage):
        if region.rules is not None:  # horizontal rules only
            grid = _open_grid(region) if to_shown is None else None
            candidates = [(grid, region.words)] if grid is not None else []
        else:
            grid = _lattice(region) if to_shown is None else None
            if grid is not None and not _all_numeric_top(grid, region.words):
                candidates = [(grid, region.words)]
            else:
                candidates = _finder_tables(page, region, to_shown)
        for found, words in candidates:
            parsed = _read_table(found, words)
            if parsed is None:
                continue
            if to_text is not None:
                parsed.bbox = tuple(pymupdf.Rect(parsed.bbox) * to_text)
            i = len(out) + 1
            name = table_name(f"{Path(path).stem}_p{page_number}_t{i}")
            table = _to_table_data(parsed, name, doc_key, page_number)
            out.append((table, table_text(table)))
    return out


def table_text(table: TableData) -> str:
    """``table`` rendered as text lines: caption, ``| a | b |`` header and rows.

    Reads the table's batches and puts them back (a fresh list iterator), so
    the table can still be written afterwards.
    """
    batches = list(table.batches)
    table.batches = iter(batches)
    caption = next((n[len("caption: ") :] for n in table.notes if n.startswith("caption: ")), "")
    rows: list[list[str]] = []
    for batch in batches:
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        rows.extend([_show(v) for v in row] for row in zip(*columns, strict=True))
    return render_text(caption, list(table.schema.names), rows)


def render_text(caption: str, names: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Markdown-style lines: ``caption``, ``| name | ... |``, ``| --- |``, a line a row."""
    lines = [caption] if caption else []
    lines.append("| " + " | ".join(names) + " |")
    lines.append("|" + "---|" * len(names))
    lines.extend("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows)
    return "\n".join(lines)


# -- where the ruled grids are ---------------------------------------------------------


def candidate_regions(page: Any, textpage: Any = None) -> list[_Region]:
    """Each cluster of ruling lines that could be a table (see :class:`_Region`).

    Cheap (one ``get_cdrawings`` call): a page with no such cluster has no
    table the ``lines`` strategy could find, so ``find_tables`` is not run.
    """
    import pymupdf

    bound = page.rect * page.derotation_matrix if page.rotation else page.rect
    page_area = abs(bound.width * bound.height) or 1.0
    edges: list[tuple[float, float, float, float, str]] = []  # x0, y0, x1, y1, "h"|"v"
    strokes: list[tuple[float, float, float, float]] = []  # curves and slanted lines
    drawings = page.get_cdrawings()
    for path in drawings:
        for item in path.get("items", ()):
            kind = item[0]
            if kind == "l":
                if not _add_segment(edges, item[1], item[2]):
                    strokes.append(_box(item[1:3]))
            elif kind == "re":
                _add_rect(edges, item[1], page_area)
            elif kind == "qu":
                quad = pymupdf.Quad(item[1])
                if quad.is_rectangular:
                    _add_rect(edges, tuple(quad.rect), page_area)
            elif kind == "c":
                box = _box(item[1:5])
                if max(box[2] - box[0], box[3] - box[1]) >= FIGURE_CURVE:
                    strokes.append(box)
    if len(edges) > MAX_EDGES or len(strokes) > MAX_EDGES:
        return []  # a drawing (a map, a chart, vector art), and clustering it costs seconds
    # off-page and non-finite coordinates (damaged files) would only mislead the grid
    edges = [e for e in (_on_page(e, bound) for e in edges) if e is not None]
    strokes = [b for b in (_on_page(b, bound) for b in strokes) if b is not None]
    stroke_buckets: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
    for b in strokes:
        key = (int((b[0] + b[2]) / 2 // BUCKET), int((b[1] + b[3]) / 2 // BUCKET))
        stroke_buckets.setdefault(key, []).append(b)
    regions = []
    page_words: list[Sequence[Any]] | None = None

    def words_in(clip: Any) -> list[Sequence[Any]]:
        """The words in ``clip``: from the caller's text page when there is one."""
        nonlocal page_words
        if textpage is None:
            from docframe.connectors.pdf.extract import TEXT_FLAGS

            return page.get_text("words", clip=clip, flags=TEXT_FLAGS)
        if page_words is None:
            page_words = textpage.extractWORDS()
        return _words_in(page_words, clip)

    runs = _rule_runs(edges)  # the grid clustering and the open tables both start here
    for x0, y0, x1, y1, members in _cluster(runs):
        rows = {round(e[1]) for e in members if e[4] == "h"}
        cols = {round(e[0]) for e in members if e[4] == "v"}
        if len(rows) < 2 or len(cols) < 2 or len(rows) + len(cols) < 5:
            continue
        drawn = sum(
            1
            for bx in range(int((x0 - 1) // BUCKET), int((x1 + 1) // BUCKET) + 1)
            for by in range(int((y0 - 1) // BUCKET), int((y1 + 1) // BUCKET) + 1)
            for b in stroke_buckets.get((bx, by), ())
            if x0 - 1 <= b[0] and b[2] <= x1 + 1 and y0 - 1 <= b[1] and b[3] <= y1 + 1
        )
        if drawn >= 4 and drawn >= FIGURE_SHARE * len(members):
            continue  # curves and slanted lines among the rules: a plot or a diagram
        outline = pymupdf.Rect(x0, y0, x1, y1)
        slots = (len(rows) - 1) * (len(cols) - 1)
        m = CLIP_MARGIN
        clip = pymupdf.Rect(x0 - m, y0 - m, x1 + m, y1 + m) & bound
        # words by the margin, as the finder reads them: a line may poke out of its cell
        words = words_in(clip)
        if len(words) < MIN_WORDS_PER_SLOT * slots:
            continue  # a grid with hardly any text: a plot's grid lines, a form
        if not clip.is_empty:
            box = tuple(clip)
            paths = [d for d in drawings if not _apart(d["rect"], box, 0.0)]
            regions.append(_Region(clip, outline, paths, members, words))
    for x0, y0, x1, y1, ys, joints in _open_regions(runs, edges, bound, regions):
        clip = pymupdf.Rect(x0, y0, x1, y1)
        regions.append(_Region(clip, clip, [], [], words_in(clip), rules=ys, joints=joints))
    return regions


def _open_regions(
    runs: list[list], edges: list, bound: Any, regions: list[_Region]
) -> list[tuple[float, float, float, float, list[float], list[float]]]:
    """Where tables are drawn with horizontal rules only (booktabs; most word-processor
    exports): two or more rules that start and end together, stacked, with no ruled
    grid among them. Each as (x0, top, x1, bottom, the rules' y, column borders),
    the borders being where the top rule's pieces meet (a word processor draws each
    header cell's border separately); none when the rule is one stroke.
    """
    wide = max(OPEN_MIN_POINTS, OPEN_MIN_WIDTH * (bound.x1 - bound.x0))
    rules = []
    for run in runs:
        x0, _, x1, _ = _bounds(run)
        if run[0][4] == "h" and x1 - x0 >= wide:
            rules.append((run[0][1], x0, x1, _joints(run)))
    if len(rules) > MAX_OPEN_RULES:
        return []  # pairing them costs rules squared
    rules.sort()
    grids = [tuple(r.outline) for r in regions]
    out = []
    used: set[int] = set()
    for i, (top, x0, x1, joints) in enumerate(rules):
        if i in used:
            continue
        stack = [i]
        for k in range(i + 1, len(rules)):
            y, a, b, _ = rules[k]
            if abs(a - x0) <= OPEN_TOL and abs(b - x1) <= OPEN_TOL and y - rules[stack[-1]][0] > 2:
                stack.append(k)
        if len(stack) < 2:
            continue
        used.update(stack)
        bottom = rules[stack[-1]][0]
        box = (x0, top, x1, bottom)
        if any(not _apart(box, g, 0.0) for g in grids):
            continue  # a ruled grid's own rules: the lattice reads it
        crossing = [
            e for e in edges if e[4] == "v" and x0 < e[0] < x1 and e[1] < bottom and e[3] > top
        ]
        if len(crossing) >= 2:
            continue  # vertical rules inside: a grid, or a frame around something else
        ys = [rules[k][0] for k in stack]
        out.append((x0, top, x1, bottom, ys, joints or rules[stack[1]][3]))
    return out


def _joints(run: list) -> list[float]:
    """Where the pieces of one horizontal rule meet (end to end, within JOIN_TOL)."""
    pieces = sorted(run, key=lambda e: e[0])
    return [
        (a[2] + b[0]) / 2
        for a, b in zip(pieces, pieces[1:], strict=False)
        if -JOIN_TOL <= b[0] - a[2] <= JOIN_TOL
    ]


def _open_grid(region: _Region) -> _Grid | None:
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
    lines = _text_lines(body)  # words are phrases of one word
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
        grid_rows.append(_Row([(a, top, b, head) for a, b in zip(edges, edges[1:], strict=False)]))
    for y0, y1 in zip(bands, bands[1:], strict=False):
        grid_rows.append(_Row([(a, y0, b, y1) for a, b in zip(edges, edges[1:], strict=False)]))
    return _Grid(grid_rows, (x0, top, x1, bottom), _Header())


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
        numbers[c] += _number(w[4]) is not None
    return any(n >= 3 and n >= 0.6 * s for n, s in zip(numbers, seen, strict=True))


@dataclass
class _Region:
    """A cluster of ruling lines that may be a table, with what reading it needs."""

    clip: Any  # pymupdf.Rect: the outline plus a margin, clamped to the page
    outline: Any  # pymupdf.Rect around the rules
    paths: list[dict]  # get_cdrawings() paths touching the clip
    edges: list[tuple[float, float, float, float, str]]  # the rules: x0, y0, x1, y1, "h"|"v"
    words: list[Sequence[Any]]  # get_text("words") inside the clip
    # an open table (horizontal rules only): the rules' y, top to bottom, and the
    # column borders the top rules' pieces draw (see _open_regions); None for a grid
    rules: list[float] | None = None
    joints: list[float] | None = None


_PATH_KEYS = (
    "closePath",
    "fill",
    "color",
    "width",
    "lineCap",
    "lineJoin",
    "dashes",
    "stroke_opacity",
    "fill_opacity",
    "even_odd",
)


def _words_in(words: list[Sequence[Any]], clip: Any) -> list[Sequence[Any]]:
    """The words with at least half their area inside ``clip`` (PyMuPDF's own rule
    for ``get_text("words", clip=..., textpage=...)``), in text page order."""
    cx0, cy0, cx1, cy1 = clip.x0, clip.y0, clip.x1, clip.y1
    out = []
    for w in words:
        x0, y0, x1, y1 = w[0], w[1], w[2], w[3]
        if x1 <= cx0 or x0 >= cx1 or y1 <= cy0 or y0 >= cy1:
            continue
        inside = (min(x1, cx1) - max(x0, cx0)) * (min(y1, cy1) - max(y0, cy0))
        if inside >= 0.5 * (x1 - x0) * (y1 - y0):
            out.append(w)
    return out


def _as_drawings(paths: list[dict]) -> list[dict]:
    """``get_cdrawings()`` paths in ``get_drawings()`` form (Point/Rect/Quad objects)."""
    import pymupdf

    out = []
    for raw in paths:
        path = dict(raw)
        path["rect"] = pymupdf.Rect(path["rect"])
        items = []
        for item in path["items"]:
            if item[0] == "re":
                items.append(("re", pymupdf.Rect(item[1]).normalize(), item[2]))
            elif item[0] == "qu":
                items.append(("qu", pymupdf.Quad(item[1])))
            else:
                items.append((item[0], *(pymupdf.Point(p) for p in item[1:])))
        path["items"] = items
        if path.get("type") in ("f", "s", "fs"):
            for key in _PATH_KEYS:
                path.setdefault(key, None)
        out.append(path)
    return out


def _on_page(box: tuple, bound: Any) -> tuple | None:
    """``box`` clamped to the page, or None when it is off the page or not finite."""
    x0, y0, x1, y1 = box[:4]
    if not math.isfinite(x0 + y0 + x1 + y1):  # an inf or a NaN (or a sum past 1e308)
        return None
    if x0 > bound.x1 or x1 < bound.x0 or y0 > bound.y1 or y1 < bound.y0:
        return None
    clamped = (max(x0, bound.x0), max(y0, bound.y0), min(x1, bound.x1), min(y1, bound.y1))
    return clamped + tuple(box[4:])


def _box(points: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _add_segment(edges: list, p: Sequence[float], q: Sequence[float]) -> bool:
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


def _add_rect(edges: list, rect: Sequence[float], page_area: float) -> None:
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


def _cluster(runs: list[list]) -> list[tuple[float, float, float, float, list]]:
    """Group edges that touch (within :data:`JOIN_TOL`), starting from their
    :func:`_rule_runs`; then groups whose boxes touch."""
    groups = runs
    boxes = [_bounds(g) for g in groups]
    while True:
        merged = _touching(boxes, JOIN_TOL)
        if len(merged) == len(groups):
            break
        groups = [[e for i in idx for e in groups[i]] for idx in merged]
        boxes = [_bounds(g) for g in groups]
    return [(*box, g) for box, g in zip(boxes, groups, strict=True)]


def _bounds(edges: list) -> tuple[float, float, float, float]:
    return (
        min(e[0] for e in edges),
        min(e[1] for e in edges),
        max(e[2] for e in edges),
        max(e[3] for e in edges),
    )


def _rule_runs(edges: list) -> list[list]:
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
        # _apart inlined, with the tolerance folded in: this loop is the hot spot
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


def _apart(a: Sequence[Any], b: Sequence[Any], t: float) -> bool:
    return a[2] + t < b[0] or b[2] + t < a[0] or a[3] + t < b[1] or b[3] + t < a[1]


# -- a found grid -> caption, names, rows --------------------------------------------


class _Parsed:
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


def _read_table(found: Any, words: list[Sequence[Any]]) -> _Parsed | None:
    """``found`` (a :class:`_Grid` or a PyMuPDF ``Table``) as caption, names and rows."""
    grid = [row.cells for row in found.rows]  # cell bbox or None, per column slot
    if not grid:
        return None
    nslots = max(len(r) for r in grid)
    grid = [list(r) + [None] * (nslots - len(r)) for r in grid]
    texts = _cell_texts(grid, words)
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
    caption = " ".join(_flat(t) for i in caption_rows for t in texts[i] if t)
    if footer_rows:
        notes.append(f"dropped {len(footer_rows)} footnote row(s) under the table")
    if not keep:
        return None

    header = found.header
    external = bool(getattr(header, "external", False))
    if external:
        head_rows: list[int] = []
    else:
        head_rows = [keep[0]] if not _all_numeric(texts[keep[0]]) else []
        while (
            head_rows
            and len(head_rows) < 3
            and len(keep) > len(head_rows) + 1
            and _groups_over(grid[head_rows[-1]], grid[keep[len(head_rows)]])
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
        labels = _external_labels(header, col_x)
    else:
        labels = _header_labels(words, grid, head_rows, col_x)

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
    return _Parsed(caption, names, rows, (x0, y0, x1, y1), notes)


def _cell_texts(grid: list[list[Any]], words: list[Sequence[Any]]) -> list[list[str]]:
    """Each cell's words, one text line per line (``\\n``-joined), by word centre.

    The same text as PyMuPDF's ``Table.extract()`` but from the words of the
    finder's text page rather than a Python pass over every character, which
    was the largest cost of a table after the finder itself.
    """
    texts = [["" for _ in row] for row in grid]
    rows = [
        (min(c[1] for c in row if c), max(c[3] for c in row if c), i)
        for i, row in enumerate(grid)
        if any(row)
    ]
    rows.sort()
    tops = [r[0] for r in rows]
    buckets: dict[tuple[int, int], list[Sequence[Any]]] = {}
    for w in words:
        cx, cy = (w[0] + w[2]) / 2, (w[1] + w[3]) / 2
        k = bisect.bisect_right(tops, cy) - 1
        if k < 0 or cy >= rows[k][1]:
            continue
        i = rows[k][2]
        for j, cell in enumerate(grid[i]):
            if cell is not None and cell[0] <= cx < cell[2] and cell[1] <= cy < cell[3]:
                buckets.setdefault((i, j), []).append(w)
                break
    for (i, j), ws in buckets.items():
        if len(ws) == 1:  # most cells: one number or one word
            texts[i][j] = ws[0][4]
            continue
        lines = _text_lines(_phrases(ws))
        texts[i][j] = "\n".join(" ".join(p[4] for p in line) for line in lines)
    return texts


def _clean(text: str | None) -> str:
    """Whitespace runs collapsed in each line; empty lines dropped."""
    if not text:
        return ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _flat(text: str) -> str:
    out = ""
    for line in text.split("\n"):
        if out.endswith("-") and not out.endswith(" -"):
            out += line
        else:
            out = f"{out} {line}" if out else line
    return out


def _all_numeric(row: Sequence[str]) -> bool:
    filled = [t for t in row if t]
    return bool(filled) and all(_number(_flat(t)) is not None for t in filled)


def _has_number(row: Sequence[str]) -> bool:
    return any(_number(line) is not None for t in row for line in t.split("\n"))


def _groups_over(upper: Sequence[Any], lower: Sequence[Any]) -> bool:
    """Does a cell in ``upper`` span several slots that ``lower`` splits into cells?"""
    for j, cell in enumerate(upper):
        if cell is None:
            continue
        k = j + 1
        while k < len(upper) and upper[k] is None:
            k += 1
        if k - j > 1 and sum(c is not None for c in lower[j:k]) > 1:
            return True
    return False


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
        return [[_flat(v) for v in values]]
    counts = {v.count("\n") + 1 for v in filled}
    k = counts.pop() if len(counts) == 1 else 1
    numeric = any(all(_number(x) is not None for x in v.split("\n")) for v in filled)
    if k < 2 or not numeric:
        return [[_flat(v) for v in values]]
    split = [v.split("\n") if v else [""] * k for v in values]
    return [[col[n] for col in split] for n in range(k)]


def _header_labels(
    words: list[Sequence[Any]],
    grid: list[list[Any]],
    head_rows: list[int],
    col_x: list[tuple[float, float]],
) -> list[str]:
    """Column labels from the words in the header cells.

    A header cell over one column labels it. In a cell over several columns, a
    text line with one phrase is a group label for all of them; a line with
    several phrases gives each column the phrase above it.
    """
    parts: list[list[str]] = [[] for _ in col_x]
    if not head_rows:
        return ["" for _ in col_x]
    centers = [(a + b) / 2 for a, b in col_x]
    for i in head_rows:
        for cell in grid[i]:
            if cell is None:
                continue
            cx0, cy0, cx1, cy1 = cell
            under = [k for k, c in enumerate(centers) if cx0 <= c < cx1]
            if not under:
                under = [min(range(len(centers)), key=lambda k: abs(centers[k] - (cx0 + cx1) / 2))]
            inside = [
                w
                for w in words
                if cx0 <= (w[0] + w[2]) / 2 < cx1 and cy0 <= (w[1] + w[3]) / 2 < cy1
            ]
            for line in _text_lines(_phrases(inside)):
                if len(under) == 1:
                    parts[under[0]].append(" ".join(_label(p[4]) for p in line))
                elif len(line) == 1:
                    for k in under:
                        parts[k].append(_label(line[0][4]))
                else:
                    for p in line:
                        mid = (p[0] + p[2]) / 2
                        k = min(under, key=lambda k: _distance(mid, col_x[k]))
                        parts[k].append(_label(p[4]))
    return [_label(" ".join(p)) for p in parts]


def _phrases(words: list[Sequence[Any]]) -> list[tuple[float, float, float, float, str]]:
    """Words joined into PyMuPDF's text lines (block, line): one phrase each."""
    groups: dict[tuple[int, int], list[Sequence[Any]]] = {}
    for w in words:
        groups.setdefault((w[5], w[6]), []).append(w)
    out = []
    for ws in groups.values():
        ws = sorted(ws, key=lambda w: (w[7], w[0]))
        out.append(
            (
                min(w[0] for w in ws),
                min(w[1] for w in ws),
                max(w[2] for w in ws),
                max(w[3] for w in ws),
                " ".join(w[4] for w in ws),
            )
        )
    return out


def _text_lines(phrases: list[tuple[float, float, float, float, str]]) -> list[list[Any]]:
    """Phrases grouped by baseline band, top to bottom, each line left to right."""
    lines: list[list[Any]] = []
    for p in sorted(phrases, key=lambda p: ((p[1] + p[3]) / 2, p[0])):
        mid = (p[1] + p[3]) / 2
        if lines and abs(mid - lines[-1][0]) <= max(2.0, 0.4 * (p[3] - p[1])):
            lines[-1][1].append(p)
        else:
            lines.append([mid, [p]])
    return [sorted(ps, key=lambda p: p[0]) for _, ps in lines]


def _distance(x: float, span: tuple[float, float]) -> float:
    a, b = span
    return 0.0 if a <= x < b else min(abs(x - a), abs(x - b))


def _external_labels(header: Any, col_x: list[tuple[float, float]]) -> list[str]:
    parts: list[list[str]] = [[] for _ in col_x]
    for cell, name in zip(header.cells, header.names, strict=False):
        if cell is None or not name:
            continue
        mid = (cell[0] + cell[2]) / 2
        k = min(range(len(col_x)), key=lambda k: _distance(mid, col_x[k]))
        parts[k].append(_label(_flat(_clean(name))))
    return [_label(" ".join(p)) for p in parts]


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text.strip(_FOOTNOTE_MARKS + " ").strip()


# -- reading a ruled grid --------------------------------------------------------------


@dataclass
class _Row:
    cells: list[tuple[float, float, float, float] | None]  # per column: a cell starting here


@dataclass
class _Header:
    external: bool = False  # PyMuPDF's flag for a header found above the grid


@dataclass
class _Grid:
    """A ruled table in the shape :func:`_read_table` reads (PyMuPDF's ``Table``'s)."""

    rows: list[_Row]
    bbox: tuple[float, float, float, float]
    header: _Header


def _lattice(region: _Region) -> _Grid | None:
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
    rows = [_Row([cells.get((i, j)) for j in columns]) for i in bands]
    bbox = (
        min(c[0] for c in cells.values()),
        min(c[1] for c in cells.values()),
        max(c[2] for c in cells.values()),
        max(c[3] for c in cells.values()),
    )
    return _Grid(rows, bbox, _Header())


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


def _all_numeric_top(grid: _Grid, words: list[Sequence[Any]]) -> bool:
    """Is the grid's first row of several cells all numbers (its header is outside)?"""
    cells = [row.cells for row in grid.rows]
    for row in _cell_texts(cells, words):
        if sum(bool(t) for t in row) >= 2:
            return _all_numeric(row)
    return False


def _finder_tables(page: Any, region: _Region, to_shown: Any) -> list[tuple[Any, list]]:
    """PyMuPDF's table finder on the region: for headers above the grid and rotated pages.

    Its header detection looks at the text above a grid, which the lattice does
    not; it is kept for the grids whose first row is all numbers. The cluster's
    outline joins the grid (PyMuPDF means to add it, but its check compares
    flipped and unflipped y, so it happens only by luck), and passing the
    cluster's own paths spares it a ``get_drawings()`` of the whole page.
    """
    if to_shown is None:
        finder = page.find_tables(
            clip=region.clip, add_boxes=[region.outline], paths=_as_drawings(region.paths)
        )
    else:
        finder = page.find_tables(
            clip=region.clip * to_shown, add_boxes=[region.outline * to_shown]
        )
    if finder is None:  # PyMuPDF caught an exception inside the finder
        return []
    out = []
    for found in finder.tables:
        words = found.textpage.extractWORDS() if found.textpage is not None else []
        out.append((found, words))
    return out


# -- typing ----------------------------------------------------------------------------


def _number(text: str) -> tuple[int | float, str, bool] | None:
    """``text`` as (value, currency symbol or "", had a % sign), or None if not a number."""
    s = text.strip().replace("\u2212", "-")
    if not s:
        return None
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg, s = True, s[1:-1].strip()
    if s[:1] in "+-":
        neg, s = (s[0] == "-"), s[1:].lstrip()
    currency = ""
    if s[:1] and s[0] in _CURRENCY:
        currency, s = s[0], s[1:].lstrip()
        if s[:1] == "-" and not neg:
            neg, s = True, s[1:].lstrip()
    percent = s.endswith("%")
    if percent:
        s = s[:-1].rstrip()
    if _GROUPED.fullmatch(s):
        s = _SEPARATORS.sub("", s)
    elif not _PLAIN.fullmatch(s):
        return None
    value: int | float = float(s) if "." in s else int(s)
    if isinstance(value, int) and value > _INT64_MAX:
        value = float(value)
    return (-value if neg else value), currency, percent


def _type_column(name: str, values: list[str]) -> tuple[pa.Array, str | None]:
    """One column's values as the narrowest fitting Arrow array, and a note if any."""
    present = [v for v in values if v and v not in NULL_TOKENS]
    if not present:
        return pa.array([v or None for v in values], pa.string()), None
    numeric = [v for v in present if v not in _DASHES]
    parsed = [_number(v) for v in numeric]
    if numeric and all(p is not None for p in parsed):
        currencies = {p[1] for p in parsed if p[1]}  # type: ignore[index]
        percents = {p[2] for p in parsed}  # type: ignore[index]
        if len(currencies) <= 1 and len(percents) == 1:
            lookup = dict(zip(numeric, parsed, strict=True))
            out = [lookup[v][0] if v in lookup else None for v in values]  # type: ignore[index]
            is_int = all(isinstance(v, int) for v in out if v is not None)
            arr = pa.array(out, pa.int64() if is_int else pa.float64())
            why = []
            if currencies:
                why.append(f"currency sign {next(iter(currencies))} removed")
            if percents == {True}:
                why.append("values are percentages (% sign removed)")
            return arr, (f"column {name!r}: " + "; ".join(why)) if why else None
    if all(ISO_DATE.fullmatch(v) for v in present):
        try:
            dates = [_dt.date.fromisoformat(v) if v in present else None for v in values]
        except ValueError:
            pass
        else:
            return pa.array(dates, pa.date32()), None
    return pa.array([v or None for v in values], pa.string()), None


def _to_table_data(parsed: _Parsed, name: str, doc_key: str, page_number: int) -> TableData:
    arrays, notes = [], []
    for k, col in enumerate(parsed.names):
        arr, note = _type_column(col, [r[k] for r in parsed.rows])
        arrays.append(arr)
        if note:
            notes.append(note)
    batch = pa.RecordBatch.from_arrays(arrays, names=parsed.names)
    bbox = [round(v, 2) for v in parsed.bbox]
    caption = [f"caption: {parsed.caption}"] if parsed.caption else []
    return TableData(
        name=name,
        schema=batch.schema,
        batches=iter([batch]),
        origin=f"page {page_number}",
        notes=caption + parsed.notes + notes,
        location={
            "doc_key": doc_key,
            "page": page_number,
            "bbox": bbox,
            "n_rows": batch.num_rows,
            "n_columns": batch.num_columns,
        },
    )


def _show(value: Any) -> str:
    return "" if value is None else str(value)
