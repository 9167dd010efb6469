"""SQL results on a stream: a width-aware table, CSV, JSON (one array) or JSON lines,
and Parquet in a file. The one-shot ``docframe sql`` and the shell print through here,
so a result looks the same in both."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from docframe.errors import QueryError
from docframe.query.values import json_value, text_value
from docframe.shell.table import rich_table

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.console import Console

FORMATS = ("table", "csv", "json", "jsonl", "parquet")
SHELL_FORMATS = tuple(f for f in FORMATS if f != "parquet")  # parquet needs a file (--output)


def write_rows(
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    fmt: str,
    *,
    stream: TextIO,
    console: Console | None = None,
    title: str = "",
    numeric: Iterable[str] = (),
) -> None:
    """Rows (dicts) in ``fmt``: table (on ``console``), csv, json or jsonl (on ``stream``)."""
    if fmt == "json":
        separator = "\n  "
        stream.write("[")
        for row in rows:
            stream.write(separator + json.dumps(json_value(row), ensure_ascii=False))
            separator = ",\n  "
        stream.write("]\n" if separator == "\n  " else "\n]\n")
    elif fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps(json_value(row), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([text_value(row.get(c)) for c in columns])
    elif fmt == "table":
        if console is None:
            raise ValueError("table format needs a console")
        console.print(
            rich_table(rows, columns, title=title, numeric=set(numeric), width=console.width)
        )
    else:
        raise QueryError(f"unknown output format {fmt!r}", help=f"formats: {', '.join(FORMATS)}")


def write_result(
    table: pa.Table,
    fmt: str,
    *,
    stream: TextIO,
    console: Console | None = None,
    max_rows: int | None = None,
    explain: bool = False,
    notes: Callable[[str], None] | None = None,
) -> None:
    """One SQL result in ``fmt`` (table, csv, json, jsonl; parquet: :func:`write_parquet`).

    ``explain``: the statement was EXPLAIN [ANALYZE], whose rows are plans, so a
    table-format request prints their text plainly (a box around a box helps no
    one). ``max_rows`` caps table output only; ``notes`` receives the "showing N
    of M rows" line.
    """
    if fmt == "table" and explain and table.num_columns == 2:
        _write_explain(table, stream)
        return
    if fmt == "table":
        shown = table if max_rows is None else table.slice(0, max_rows)
        if shown.num_rows < table.num_rows and notes is not None:
            notes(f"showing {shown.num_rows} of {table.num_rows} rows (--max-rows)")
        write_rows(
            shown.to_pylist(),
            table.column_names,
            fmt,
            stream=stream,
            console=console,
            numeric=_numeric_columns(table),
        )
        return
    write_rows(_batches(table), table.column_names, fmt, stream=stream, console=console)


def write_parquet(table: pa.Table, path: Path) -> None:
    """The result as one Parquet file (types kept exactly: DECIMAL stays decimal)."""
    import pyarrow.parquet as pq

    try:
        pq.write_table(table, path)
    except OSError as exc:
        raise QueryError(f"--output {path}: {exc}", help="choose a writable path") from None


def _numeric_columns(table: pa.Table) -> list[str]:
    import pyarrow.types as pt

    return [
        f.name
        for f in table.schema
        if pt.is_integer(f.type) or pt.is_floating(f.type) or pt.is_decimal(f.type)
    ]


def _batches(table: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows one Arrow batch at a time, so a large CSV/JSON export is not held as dicts."""
    for batch in table.to_batches(max_chunksize=8192):
        yield from batch.to_pylist()


def _write_explain(table: pa.Table, stream: TextIO) -> None:
    """docframe's EXPLAIN rows (stage, detail) under a heading each; DuckDB's (explain_key,
    explain_value) as the plan alone, like DuckDB's own shell prints them."""
    key, value = table.column_names
    for row in table.to_pylist():
        detail = str(row[value] or "").rstrip("\n")
        if key == "explain_key":
            stream.write(detail + "\n")
        elif "\n" in detail:
            stream.write(f"{row[key]}:\n{detail}\n")
        else:
            stream.write(f"{row[key]}: {detail}\n")
