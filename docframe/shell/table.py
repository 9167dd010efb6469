"""The table format: a rich table that fits the terminal's width.

The widths are decided here rather than by rich, whose last resort for a table too
wide is to shrink every column evenly, down to zero characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from docframe.query.values import cell_text

# a column never takes more than this many characters of a table's width
MAX_COLUMN_WIDTH = 60


def rich_table(
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    *,
    title: str,
    numeric: set[str],
    width: int,
) -> Any:
    """A table that fits ``width``: each cell one line, cut with … when too long, and
    when even narrow columns do not fit, the middle columns elided (shown as one …
    column, like DuckDB's own shell), never squeezed to nothing."""
    from rich.table import Table

    cells = [[cell_text(row.get(c)) for c in columns] for row in rows]
    natural = [
        min(MAX_COLUMN_WIDTH, max([len(c), *(len(r[i]) for r in cells)]))
        for i, c in enumerate(columns)
    ]
    narrow = [min(n, max(6, min(len(c), 12))) for n, c in zip(natural, columns, strict=True)]
    shown = _columns_that_fit(narrow, width)
    hidden = len(columns) - len(shown) + (1 if -1 in shown else 0)
    real = [i for i in shown if i != -1]
    room = width - 1 - 3 * len(shown) - (1 if -1 in shown else 0)
    widths = _share(room, [narrow[i] for i in real], [natural[i] for i in real])
    caption = None
    if hidden:
        caption = (
            f"{hidden} of {len(columns)} columns not shown (…): select fewer, "
            "or use --format csv / json"
        )
    table = Table(title=title or None, show_lines=False, caption=caption)
    for i in shown:
        if i == -1:
            table.add_column("…", no_wrap=True, width=1)
            continue
        table.add_column(
            columns[i],
            overflow="ellipsis",
            no_wrap=True,
            width=widths[real.index(i)],
            justify="right" if columns[i] in numeric else "left",
        )
    for r in cells:
        table.add_row(*("…" if i == -1 else r[i] for i in shown))
    return table


def _columns_that_fit(widths: list[int], width: int) -> list[int]:
    """Indexes of the columns to show: all if their narrow widths fit, else as many
    from both ends as fit, with -1 marking where the elided middle goes."""
    cost = [w + 3 for w in widths]  # a border and a space either side
    if sum(cost) + 1 <= width or len(widths) <= 2:
        return list(range(len(widths)))
    budget = width - 1 - 4  # the outer border and the … column
    left: list[int] = []
    right: list[int] = []
    lo, hi = 0, len(widths) - 1
    while lo <= hi:
        take_left = len(left) <= len(right)
        i = lo if take_left else hi
        if cost[i] > budget:
            break
        budget -= cost[i]
        if take_left:
            left.append(i)
            lo += 1
        else:
            right.insert(0, i)
            hi -= 1
    if not left:  # not even one column fits: show the first, cut
        left = [0]
    return [*left, -1, *right]


def _share(room: int, low: list[int], high: list[int]) -> list[int]:
    """Column widths from ``low`` up to ``high``, the spare ``room`` shared out evenly."""
    widths = list(low)
    spare = room - sum(widths)
    while spare > 0:
        growing = [i for i, w in enumerate(widths) if w < high[i]]
        if not growing:
            break
        step = max(1, spare // len(growing))
        for i in growing:
            add = min(step, high[i] - widths[i], spare)
            widths[i] += add
            spare -= add
            if spare == 0:
                break
    return [max(1, w) for w in widths]
