"""The text in a table's cells, from the page's words.

Words are PyMuPDF's ``extractWORDS`` tuples ``(x0, y0, x1, y1, text, block, line,
word)``, read once per page. A cell's words become its text lines (joined by
MuPDF's block and line numbers, then grouped by baseline), the same text as
PyMuPDF's ``Table.extract()`` without its Python pass over every character,
which was the largest cost of a table after the finder itself.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any


def cell_texts(grid: list[list[Any]], words: list[Sequence[Any]]) -> list[list[str]]:
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
        lines = text_lines(line_phrases(ws))
        texts[i][j] = "\n".join(" ".join(p[4] for p in line) for line in lines)
    return texts


def line_phrases(words: list[Sequence[Any]]) -> list[tuple[float, float, float, float, str]]:
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


def text_lines(phrases: list[tuple[float, float, float, float, str]]) -> list[list[Any]]:
    """Phrases grouped by baseline band, top to bottom, each line left to right."""
    lines: list[list[Any]] = []
    for p in sorted(phrases, key=lambda p: ((p[1] + p[3]) / 2, p[0])):
        mid = (p[1] + p[3]) / 2
        if lines and abs(mid - lines[-1][0]) <= max(2.0, 0.4 * (p[3] - p[1])):
            lines[-1][1].append(p)
        else:
            lines.append([mid, [p]])
    return [sorted(ps, key=lambda p: p[0]) for _, ps in lines]


def clean(text: str | None) -> str:
    """Whitespace runs collapsed in each line; empty lines dropped."""
    if not text:
        return ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def flat(text: str) -> str:
    out = ""
    for line in text.split("\n"):
        if out.endswith("-") and not out.endswith(" -"):
            out += line
        else:
            out = f"{out} {line}" if out else line
    return out
