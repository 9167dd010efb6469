"""Tables drawn on PDF pages, turned into typed Arrow tables (and text for search).

The PDF connector calls :func:`find_tables` once per page (with the page already
open in its worker process) and gets, per table found, a
:class:`~docframe.connectors.tables.TableData` ready for the lake;
:func:`find_tables_with_text` also renders each as text lines for the chunks, so
search finds it too. This module picks the reader for each region and assembles
the result; each step has its own module:

1. **Is there a table at all?** (``regions``, on ``rules``) The page's vector
   graphics (``get_cdrawings``, C speed) are clustered; only clusters with at
   least two horizontal and two vertical rules (more than one cell), not full of
   curves or slanted strokes (plots, diagrams) and with some text inside are
   read, and stacks of wide horizontal rules (open tables).
2. **The cells** of a ruled grid come from docframe's own lattice reader
   (``lattice``): PyMuPDF's ``lines`` strategy in a few passes over the rules,
   the same cells as ``page.find_tables`` at a fraction of its cost. The finder
   (``table_finder``) is still used where it knows more: rotated pages, and grids
   whose first row is all numbers, whose header is printed above the rules. The
   ``text`` strategy (columns from word alignment) is not used: on the corpus it
   shifts cells into the wrong columns (FBI NICS table) and finds "tables" in
   multi-column prose.
3. **Open tables** (horizontal rules only: LaTeX booktabs, most word-processor
   exports) get their rows and columns from the words between the rules
   (``open_tables``).
4. **Rows and columns** (``table_rows``, with ``cell_text``): caption rows,
   footnote rows, the columns the body rows draw, several rows printed in one
   ruled band split apart.
5. **Column names** come from the header row(s) (``table_header``), or from
   PyMuPDF's ``header.names`` when the finder found the header above the grid.
6. **Types**, one per column (``cell_types``): integers, floats, percentages, one
   currency, ISO dates; else text.

Coordinates (``location["bbox"]``) are PDF points in the same space as
``page.get_text()``: the unrotated page, origin at the crop box's top left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.connectors.pdf.cell_text import cell_texts
from docframe.connectors.pdf.cell_types import type_column
from docframe.connectors.pdf.lattice import Grid, read_lattice
from docframe.connectors.pdf.open_tables import read_open_table
from docframe.connectors.pdf.regions import candidate_regions
from docframe.connectors.pdf.table_finder import finder_tables
from docframe.connectors.pdf.table_rows import Parsed, all_numeric, read_table
from docframe.connectors.tables import TableData, table_name


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

    ``textpage``: the page's ``get_textpage(flags=text_reader.TEXT_FLAGS)`` when the
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
            grid = read_open_table(region) if to_shown is None else None
            candidates = [(grid, region.words)] if grid is not None else []
        else:
            grid = read_lattice(region) if to_shown is None else None
            if grid is not None and not _all_numeric_top(grid, region.words):
                candidates = [(grid, region.words)]
            else:
                candidates = finder_tables(page, region, to_shown)
        for found, words in candidates:
            parsed = read_table(found, words)
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


def _all_numeric_top(grid: Grid, words: list[Sequence[Any]]) -> bool:
    """Is the grid's first row of several cells all numbers (its header is outside)?"""
    cells = [row.cells for row in grid.rows]
    for row in cell_texts(cells, words):
        if sum(bool(t) for t in row) >= 2:
            return all_numeric(row)
    return False


def _to_table_data(parsed: Parsed, name: str, doc_key: str, page_number: int) -> TableData:
    """One typed batch, with the notes typing made and where on the page it was found."""
    arrays, notes = [], []
    for k, col in enumerate(parsed.names):
        arr, note = type_column(col, [r[k] for r in parsed.rows])
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
