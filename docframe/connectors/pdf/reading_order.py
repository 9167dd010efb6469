"""Reading order of a page's text blocks: columns found by recursive XY-cuts.

MuPDF lists blocks in content-stream order, which on a two-column page or a
line-numbered transcript is not the order a person reads; chunks (and the
answers built from them) need the reading order. See :func:`reading_order`.
"""

from __future__ import annotations

Box = tuple[float, float, float, float]
_MIN_GUTTER = 3.0  # points of white space between columns
_MIN_COLUMN = 0.15  # share of the page's text width a column must have


def reading_order(boxes: list[Box]) -> list[int]:
    """Indices of ``boxes`` (x0, y0, x1, y1; y down) in reading order.

    Recursive XY-cut: a region that splits along a vertical white gutter, with
    at least 15% of the text width on each side, reads left part then right
    part (columns). Otherwise it is sliced at horizontal white gaps; adjacent
    slices that share a gutter are kept together (so paragraph gaps that happen
    to line up across columns do not interleave them), and each band is ordered
    the same way. What cannot be cut reads row by row, left to right.
    Narrow strips (line numbers, bullets, table cells) never make a column.
    """
    if len(boxes) <= 1:
        return list(range(len(boxes)))
    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    min_col = max(width * _MIN_COLUMN, 1.0)
    return _order(list(range(len(boxes))), boxes, min_col, 0)


def _order(idx: list[int], boxes: list[Box], min_col: float, depth: int) -> list[int]:
    if len(idx) <= 1 or depth > 64:
        return _rows(idx, boxes)
    cut = _x_cut(idx, boxes, min_col)
    if cut is not None:
        left = [i for i in idx if (boxes[i][0] + boxes[i][2]) / 2 < cut]
        right = [i for i in idx if (boxes[i][0] + boxes[i][2]) / 2 >= cut]
        return _order(left, boxes, min_col, depth + 1) + _order(right, boxes, min_col, depth + 1)
    slices = _y_slices(idx, boxes)
    if len(slices) <= 1:
        return _rows(idx, boxes)
    # a block covering the middle of the region leaves no room for a gutter with a
    # column on each side: its slice can never join a band (the common single-column
    # case, decided without trying a cut)
    low = min(boxes[i][0] for i in idx) + min_col
    high = max(boxes[i][2] for i in idx) - min_col
    bands: list[tuple[list[int], bool]] = []
    last_blocked = True
    for piece in slices:
        blocked = any(boxes[i][0] <= low and boxes[i][2] >= high for i in piece)
        merged = None if blocked or last_blocked else _x_cut(bands[-1][0] + piece, boxes, min_col)
        if merged is not None:
            bands[-1] = (bands[-1][0] + piece, False)
        else:
            bands.append((piece, blocked))
        last_blocked = blocked
    if len(bands) == 1:  # cannot happen (the whole region has no cut); be safe
        return _rows(idx, boxes)
    out: list[int] = []
    for band, blocked in bands:
        # a blocked slice has no gutter and no inner white band: it reads row by row
        out.extend(_rows(band, boxes) if blocked else _order(band, boxes, min_col, depth + 1))
    return out


def _x_cut(idx: list[int], boxes: list[Box], min_col: float) -> float | None:
    """The leftmost vertical gutter with a column's width of text on both sides."""
    spans = sorted([(boxes[i][0], boxes[i][2]) for i in idx])
    left_edge = spans[0][0]
    right_edge = max([s[1] for s in spans])
    if right_edge - left_edge < 2 * min_col + _MIN_GUTTER:
        return None  # too narrow for two columns and a gutter
    reach = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= _MIN_GUTTER:
            if reach - left_edge >= min_col and right_edge - x0 >= min_col:
                return (reach + x0) / 2
        reach = max(reach, x1)
    return None


def _y_slices(idx: list[int], boxes: list[Box]) -> list[list[int]]:
    """Groups separated by horizontal white space, top to bottom."""
    ordered = sorted(idx, key=lambda i: boxes[i][1])
    slices: list[list[int]] = []
    bottom = 0.0
    for i in ordered:
        y0, y1 = boxes[i][1], boxes[i][3]
        if slices and y0 < bottom - 0.5:
            slices[-1].append(i)
            bottom = max(bottom, y1)
        else:
            slices.append([i])
            bottom = y1
    return slices


def _rows(idx: list[int], boxes: list[Box]) -> list[int]:
    """Row by row (blocks overlapping vertically by half the smaller height), left to right."""
    if len(idx) <= 1:  # most bands of a single-column page
        return list(idx)
    ordered = sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
    rows: list[list[int]] = []
    top = bottom = 0.0
    for i in ordered:
        y0, y1 = boxes[i][1], boxes[i][3]
        if rows:
            overlap = min(bottom, y1) - max(top, y0)
            if overlap >= 0.5 * min(bottom - top, y1 - y0):
                rows[-1].append(i)
                bottom = max(bottom, y1)
                continue
        rows.append([i])
        top, bottom = y0, y1
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]
