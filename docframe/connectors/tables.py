"""The table-connector contract: a tabular file in, named Arrow tables streamed out.

Document connectors yield text to chunk and embed; table connectors yield rows
that become named lake tables (Parquet segments plus a schema in the catalog).
Rows are streamed as Arrow record batches so memory does not grow with file
size. Arrow is the one type system: both engines (pandas and cuDF) read the
same Parquet, so types agree across engines by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from docframe.errors import ConnectorError
from docframe.lake.names import RELATIONS

ON_BAD_ROWS = ("error", "skip")
# names the lake itself uses in SQL; a table may not take them
RESERVED_NAMES = frozenset(RELATIONS)  # a lake table cannot shadow a relation
MAX_LISTED = 20  # line numbers a note lists; the rest are counted


@dataclass(frozen=True)
class TableOptions:
    """Per-ingest options for tabular inputs (CLI: --table, --schema, --delimiter, ...)."""

    table: str | None = None  # lake table name (prefix for multi-table sources)
    schema: dict[str, str] | None = None  # column -> type ("int64", "decimal(12,2)", ...)
    delimiter: str | None = None  # CSV: None = detect
    encoding: str | None = None  # None = detect (UTF-8 first)
    header: bool | None = None  # CSV: None = detect
    on_bad_rows: str = "error"  # error | skip
    nested: str = "flatten"  # JSON: "flatten" -> address.city columns, "struct" keeps structs
    batch_rows: int = 65_536

    def __post_init__(self) -> None:
        if self.nested not in ("flatten", "struct"):
            raise ConnectorError(
                f"--nested {self.nested!r} is not one of flatten, struct",
                help="flatten makes address.city columns; struct keeps nested records",
            )
        if self.on_bad_rows not in ON_BAD_ROWS:
            raise ConnectorError(
                f"--on-bad-rows {self.on_bad_rows!r} is not one of {', '.join(ON_BAD_ROWS)}",
                help="error fails the file at a bad row; skip skips and lists it",
            )


@dataclass
class TableData:
    """One table from a source, its rows still to be streamed."""

    name: str  # the lake table name
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    origin: str = ""  # where inside the source: "sheet Sales", "sqlite table orders"
    notes: list[str] = field(default_factory=list)  # repairs made, e.g. skipped rows
    # structured location, e.g. {"page": 3, "bbox": [x0, y0, x1, y1], "doc_key": ...} for PDFs
    location: dict[str, Any] = field(default_factory=dict)


class TableConnector(Protocol):
    name: str
    kind: str  # always "table": how ingest tells table connectors from document ones
    suffixes: tuple[str, ...]

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        """Yield each table in ``path``; raise ConnectorError naming file, row and column."""


_UNSAFE = re.compile(r"[^0-9a-zA-Z_]+")


def table_name(raw: str) -> str:
    """A SQL-friendly lake table name: lower case, [a-z0-9_], not starting with a digit."""
    name = _UNSAFE.sub("_", raw.strip()).strip("_").lower() or "table"
    if name[0].isdigit():
        name = f"t_{name}"
    if name in RESERVED_NAMES:
        name = f"{name}_table"
    return name


def default_name(path: Path, options: TableOptions, inner: str | None = None) -> str:
    """--table wins; otherwise the file name without its (possibly compound) suffix.

    ``inner`` is the sheet or table name for multi-table sources.
    """
    base = options.table or path.name.split(".")[0]
    return table_name(f"{base}_{inner}" if inner else base)


def listed_lines(lines: list[str]) -> str:
    """``lines 4, 9, 12, ... (3 more)`` (``line 4`` for one), for a note on skipped input.

    Every connector that skips bad rows words its note this way, and lists at most
    :data:`MAX_LISTED` of them, so a file with a million bad lines gives a short note.
    """
    shown = ", ".join(lines[:MAX_LISTED])
    more = len(lines) - MAX_LISTED
    if more > 0:
        shown += f", ... ({more} more)"
    return f"{'lines' if len(lines) > 1 else 'line'} {shown}"
