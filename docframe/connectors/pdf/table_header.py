"""Column names from a table's header row(s).

A header cell over one column labels it. In a merged cell over several columns, a
line with one phrase is a group label for all of them (``Pre-Pawn`` over
``Handgun | Long Gun | *Other`` prefixes each) and a line with several phrases
gives each column the phrase above it. A header PyMuPDF's finder found above the
grid (``external``) is matched to the columns by position. Labels lose newlines
and footnote marks; ``table_rows`` makes them unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docframe.connectors.pdf.cell_text import clean, flat, line_phrases, text_lines

_FOOTNOTE_MARKS = "*†‡§¹²³"


def groups_over(upper: Sequence[Any], lower: Sequence[Any]) -> bool:
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


def header_labels(
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
            for line in text_lines(line_phrases(inside)):
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


def external_labels(header: Any, col_x: list[tuple[float, float]]) -> list[str]:
    parts: list[list[str]] = [[] for _ in col_x]
    for cell, name in zip(header.cells, header.names, strict=False):
        if cell is None or not name:
            continue
        mid = (cell[0] + cell[2]) / 2
        k = min(range(len(col_x)), key=lambda k: _distance(mid, col_x[k]))
        parts[k].append(_label(flat(clean(name))))
    return [_label(" ".join(p)) for p in parts]


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text.strip(_FOOTNOTE_MARKS + " ").strip()


def _distance(x: float, span: tuple[float, float]) -> float:
    a, b = span
    return 0.0 if a <= x < b else min(abs(x - a), abs(x - b))
