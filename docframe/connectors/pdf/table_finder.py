"""PyMuPDF's own table finder, for the grids docframe's lattice does not read.

Rotated pages, and grids whose first row is all numbers: their header is printed
above the rules, where the finder's header detection looks and the lattice does
not. Everywhere else the lattice gives the same cells in a fraction of the time.
"""

from __future__ import annotations

import os
from typing import Any

from docframe.connectors.pdf.regions import Region

# the table finder prints an advert for another package on first use; keep stdout clean
os.environ.setdefault("PYMUPDF_SUGGEST_LAYOUT_ANALYZER", "0")


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


def finder_tables(page: Any, region: Region, to_shown: Any) -> list[tuple[Any, list]]:
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
