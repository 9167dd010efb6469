"""Where the tables on a PDF page may be: clusters of ruling lines, and stacks of rules.

Cheap on purpose (one ``get_cdrawings`` call, then geometry from ``rules``): a page
with no candidate region has no table, and no reader runs on it. Two kinds:

- a **ruled grid**: a cluster with at least two horizontal and two vertical rules
  (more than one cell), not full of curves or slanted strokes (plots, diagrams),
  with some text inside; ``lattice`` (or ``table_finder``) reads its cells;
- an **open table** (horizontal rules only: LaTeX booktabs, most word-processor
  exports): two or more wide rules that start and end together, stacked, with no
  vertical rules between them and no ruled grid around them; ``open_tables``
  reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docframe.connectors.pdf.rules import (
    BUCKET,
    JOIN_TOL,
    add_rect,
    add_segment,
    apart,
    bounding_box,
    bounds,
    cluster,
    on_page,
    rule_runs,
)
from docframe.connectors.pdf.text_reader import TEXT_FLAGS

CLIP_MARGIN = 5.0
MAX_EDGES = 50_000  # more rules than this on a page: vector art, not tables
FIGURE_CURVE = 8.0  # curves at least this big are drawing, not a table's rounded corner
FIGURE_SHARE = 0.2  # slanted strokes and curves per rule above which a cluster is a figure
# words per grid slot ((rules across - 1) x (rules down - 1)) below which the
# finder is not even run; corpus tables have 0.33 or more, plot grids 0-0.11
MIN_WORDS_PER_SLOT = 0.15
# open tables (horizontal rules only): rules at least this wide (share of the page
# width, and points) that start and end within OPEN_TOL of each other
OPEN_MIN_WIDTH = 0.3
OPEN_MIN_POINTS = 100.0
OPEN_TOL = 3.0
MAX_OPEN_RULES = 300  # more wide rules than this on a page: ruled paper or a form


@dataclass
class Region:
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


def candidate_regions(page: Any, textpage: Any = None) -> list[Region]:
    """Each cluster of ruling lines that could be a table (see :class:`Region`).

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
                if not add_segment(edges, item[1], item[2]):
                    strokes.append(bounding_box(item[1:3]))
            elif kind == "re":
                add_rect(edges, item[1], page_area)
            elif kind == "qu":
                quad = pymupdf.Quad(item[1])
                if quad.is_rectangular:
                    add_rect(edges, tuple(quad.rect), page_area)
            elif kind == "c":
                box = bounding_box(item[1:5])
                if max(box[2] - box[0], box[3] - box[1]) >= FIGURE_CURVE:
                    strokes.append(box)
    if len(edges) > MAX_EDGES or len(strokes) > MAX_EDGES:
        return []  # a drawing (a map, a chart, vector art), and clustering it costs seconds
    # off-page and non-finite coordinates (damaged files) would only mislead the grid
    edges = [e for e in (on_page(e, bound) for e in edges) if e is not None]
    strokes = [b for b in (on_page(b, bound) for b in strokes) if b is not None]
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
            return page.get_text("words", clip=clip, flags=TEXT_FLAGS)
        if page_words is None:
            page_words = textpage.extractWORDS()
        return _words_in(page_words, clip)

    runs = rule_runs(edges)  # the grid clustering and the open tables both start here
    for x0, y0, x1, y1, members in cluster(runs):
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
            paths = [d for d in drawings if not apart(d["rect"], box, 0.0)]
            regions.append(Region(clip, outline, paths, members, words))
    for x0, y0, x1, y1, ys, joints in _open_regions(runs, edges, bound, regions):
        clip = pymupdf.Rect(x0, y0, x1, y1)
        regions.append(Region(clip, clip, [], [], words_in(clip), rules=ys, joints=joints))
    return regions


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


def _open_regions(
    runs: list[list], edges: list, bound: Any, regions: list[Region]
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
        x0, _, x1, _ = bounds(run)
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
        if any(not apart(box, g, 0.0) for g in grids):
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
