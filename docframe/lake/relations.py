"""A pinned snapshot's relations in DuckDB: the one place they are defined.

The relations are views over the snapshot's immutable Parquet files, filtered to
the source versions live at that snapshot, so a query never sees a half-written
batch and never blocks the writer.

    chunks     one row per chunk: text, provenance, embedding
    documents  one row per document
    sources    one row per input file at this snapshot: status and error
    snapshots  the catalog's snapshot history up to this one
    tables     one row per lake table (name, source, rows, columns)
    pdf_tables one row per table found inside a PDF (doc_id, page, bbox)
    <name>     every lake table by its own name

A relation whose files failed the snapshot's integrity check is defined with its
columns but raises the damage's one-line message when read; the healthy relations
are defined as usual, so one bad file costs only the relations it feeds. The SQL
layer, search and the agent sandbox all read through :func:`connect` (the sandbox
hands the files over as Arrow datasets, ``scan=``); ``docframe.lake.reader`` keeps
one such database per pinned snapshot in each process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from docframe.errors import DamagedSegmentError, QueryError
from docframe.lake.integrity import Damage
from docframe.lake.names import RELATIONS, quote_ident
from docframe.lake.segments import DOCUMENT_SCHEMA, chunk_schema
from docframe.lake.snapshot import Snapshot

__all__ = ["RELATIONS", "connect", "define_sources", "engine_error", "quote_ident", "scan_name"]

_PUBLIC_DEFAULT_DIM = 384


def _files_sql(files: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _relation(
    con: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    name: str,
    files: tuple[str, ...],
    empty: pa.Table,
    scan: Scan | None = None,
) -> None:
    view = (
        f"CREATE VIEW {name} AS SELECT * EXCLUDE (version_id, metadata), "
        "metadata::JSON AS metadata FROM {source} "
        "WHERE version_id IN (SELECT version_id FROM _live)"
    )
    if files:
        _define(con, snapshot, name, files, empty, scan, view)
    else:
        _table(con, f"_empty_{name}", empty)
        con.execute(view.format(source=f"_empty_{name}"))


def _define(
    con: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    name: str,
    files: tuple[str, ...],
    empty: pa.Table,
    scan: Scan | None,
    view: str,
) -> None:
    """Per relation: its files -> a DuckDB source -> the ``view`` statement over it.

    A relation whose files the pin found damaged, or that DuckDB cannot even bind (a
    damaged footer the quick check let through: the files are then hashed to find
    which), gets a stand-in that raises the damage's one line; the others are unharmed.
    """
    damage = snapshot.damage_of(name)
    if damage is None:
        try:
            con.execute(view.format(source=_source(con, name, files, scan)))
            return
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            damage = _damage_behind(snapshot, files)
            if damage is None:
                raise engine_error(
                    exc, prefix=f"cannot read relation {name}: ",
                    help="docframe verify checks the lake's files",
                ) from None  # fmt: skip
    stand_in = f"_damaged_{abs(hash((name, files))):x}"
    con.execute(view.format(source=_damaged_source(con, stand_in, empty, damage)))


def _damage_behind(snapshot: Snapshot, files: tuple[str, ...] | list[str]) -> Damage | None:
    """The first of ``files`` that is not byte for byte what was committed (hashed in
    full: only called when reading failed), described from the catalog."""
    from docframe.lake import integrity

    for path in files:
        if path not in snapshot.segment_checks:
            continue
        size, checksum = snapshot.segment_checks[path]
        reason = integrity.full_check(Path(path), size, checksum)
        if reason is not None:
            return integrity.describe_file(snapshot.root, path, reason)
    return None


# Hands a relation's Parquet files to DuckDB as an Arrow object (a pyarrow dataset) instead
# of file paths: the agent sandbox's engine is given no path at all (docframe.mcp.sandbox).
Scan = Callable[[tuple[str, ...]], Any]


def _source(
    con: duckdb.DuckDBPyConnection, name: str, files: tuple[str, ...], scan: Scan | None
) -> str:
    """What a view over ``files`` reads: ``read_parquet([...])``, or with ``scan`` a
    registered Arrow object (visible to this connection only)."""
    if scan is None:
        return f"read_parquet({_files_sql(files)})"
    registered = scan_name(files)
    con.register(registered, scan(files))
    return registered


def scan_name(files: tuple[str, ...]) -> str:
    """The name ``connect(scan=...)`` registers ``files`` under: the same in every
    process, so a cursor can register the same object again (registrations are
    per connection, and views bind them by name)."""
    import hashlib

    return "_scan_" + hashlib.sha1("\0".join(files).encode()).hexdigest()[:16]


def _damaged_source(
    con: duckdb.DuckDBPyConnection, name: str, empty: pa.Table, damage: Damage
) -> str:
    """Instead of a damaged relation's files: a source with ``empty``'s columns that
    raises the damage's one-line message when read.

    The error sits in a join condition, so DuckDB cannot prune it whichever columns a
    statement reads (count(*) included), and statements bind as on the real relation.
    """
    _table(con, name, empty)
    message = damage.message.replace("'", "''")
    return (
        f"(SELECT e.* FROM (SELECT error('{message}')::BOOLEAN AS ok) AS _damage "
        f"LEFT JOIN {name} AS e ON _damage.ok)"
    )


def _table(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> None:
    """``data`` copied into the database (not registered: cursors must see it too)."""
    con.register("_arrow_in", data)
    try:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _arrow_in")
    finally:
        con.unregister("_arrow_in")


def define_sources(con: duckdb.DuckDBPyConnection, snapshot: Snapshot) -> None:
    """The ``sources`` relation, connection-local: a failed re-read of a file updates its
    row without a new snapshot, so it is taken from each pin, not cached with the rest."""
    con.register("_sources", snapshot.sources)
    con.execute(
        "CREATE TEMP VIEW sources AS SELECT * REPLACE (to_timestamp(mtime) AS mtime,"
        " to_timestamp(updated_at) AS updated_at) FROM _sources"
    )


def connect(
    snapshot: Snapshot,
    *,
    with_sources: bool = True,
    scan: Scan | None = None,
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database with the snapshot's relations defined.

    The relations are catalog objects (views over the Parquet files, small tables),
    not connection-local registrations, so every ``cursor()`` of the connection
    sees them: :func:`run_sql` keeps one database per snapshot and runs each
    statement in a fresh cursor. With ``scan``, the files are handed over as Arrow
    objects registered on this connection instead (its cursors do not see them).
    """
    con = duckdb.connect(":memory:", config=config or {})
    _table(con, "_live", pa.table({"version_id": pa.array(snapshot.live_versions, pa.int64())}))
    dim = snapshot.dim or _PUBLIC_DEFAULT_DIM
    _relation(con, snapshot, "chunks", snapshot.chunk_files, chunk_schema(dim).empty_table(), scan)
    _relation(con, snapshot, "documents", snapshot.document_files, DOCUMENT_SCHEMA.empty_table(),
              scan)  # fmt: skip
    if with_sources:
        define_sources(con, snapshot)
    _table(con, "_snapshots", snapshot.history)
    con.execute(
        "CREATE VIEW snapshots AS SELECT snapshot_id, to_timestamp(created_at) AS created_at,"
        " job, note FROM _snapshots"
    )
    _tables(con, snapshot, scan)
    return con


def _tables(con: duckdb.DuckDBPyConnection, snapshot: Snapshot, scan: Scan | None) -> None:
    rows = []
    for info in snapshot.tables.values():
        # every table version has at least one segment: a 0-row table is a 0-row file
        empty = pa.schema([(c, _arrow_type(t)) for c, t in info.columns]).empty_table()
        view = f"CREATE VIEW {quote_ident(info.name).replace('{', '{{').replace('}', '}}')} AS "
        _define(con, snapshot, info.name, info.files, empty, scan, view + "SELECT * FROM {source}")
        rows.append(
            {
                "name": info.name,
                "source_uri": info.source_uri,
                "origin": info.origin,
                "n_rows": info.n_rows,
                "n_columns": len(info.columns),
                "columns": ", ".join(f"{n} {t}" for n, t in info.columns),
                "snapshot_id": info.snapshot_id,
                "notes": info.notes,
            }
        )
    _table(con, "_tables", pa.Table.from_pylist(rows, schema=_TABLES_SCHEMA))
    con.execute("CREATE VIEW tables AS SELECT * FROM _tables")
    found = [
        {
            "name": info.name,
            "doc_id": info.location.get("doc_id"),
            "doc_key": info.location.get("doc_key"),
            "source_uri": info.source_uri,
            "page": info.location.get("page"),
            "bbox": info.location.get("bbox"),
            "n_rows": info.n_rows,
            "n_columns": len(info.columns),
        }
        for info in snapshot.tables.values()
        if info.location and "page" in info.location
    ]
    _table(con, "_pdf_tables", pa.Table.from_pylist(found, schema=_PDF_TABLES_SCHEMA))
    con.execute("CREATE VIEW pdf_tables AS SELECT * FROM _pdf_tables")


_DECIMAL = re.compile(r"decimal(128|256)\((\d+), (-?\d+)\)")
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns), tz=(.+)\]")


def _arrow_type(name: str) -> pa.DataType:
    """The Arrow type the catalog recorded as ``str(type)``; nested and other rare types
    fall back to string (only a damaged table's stand-in uses this, to bind statements)."""
    try:
        return pa.type_for_alias(name)
    except ValueError:
        pass
    if m := _DECIMAL.fullmatch(name):
        make = pa.decimal128 if m.group(1) == "128" else pa.decimal256
        return make(int(m.group(2)), int(m.group(3)))
    if m := _TIMESTAMP.fullmatch(name):
        return pa.timestamp(m.group(1), tz=m.group(2))
    return pa.string()


_TABLES_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("source_uri", pa.string()),
        ("origin", pa.string()),
        ("n_rows", pa.int64()),
        ("n_columns", pa.int32()),
        ("columns", pa.string()),
        ("snapshot_id", pa.int64()),
        ("notes", pa.string()),
    ]
)


_PDF_TABLES_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("doc_id", pa.string()),
        ("doc_key", pa.string()),
        ("source_uri", pa.string()),
        ("page", pa.int32()),
        ("bbox", pa.list_(pa.float64())),
        ("n_rows", pa.int64()),
        ("n_columns", pa.int32()),
    ]
)


# errors about the statement itself, never about a file: no need to check the files
_STATEMENT_ERRORS = (
    duckdb.ParserException,
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.ConversionException,
)


def diagnose(snapshot: Snapshot, statement: str, exc: duckdb.Error) -> DamagedSegmentError | None:
    """The damage behind a failed statement, if a segment is to blame.

    A relation the pin found damaged raised its own message. Otherwise a file that went
    bad after the pin (deleted, cut, or a flipped bit DuckDB tripped on) shows as any
    error but one about the statement's text: the files the error names, or else those
    of the relations the statement names, are checked in full (only on this error path,
    remembered per file) and described from the catalog.
    """
    text = str(exc)
    for damage in snapshot.damaged.values():
        if damage.message in text:
            return damage.error()
    if isinstance(exc, _STATEMENT_ERRORS):
        return None
    suspects = [f for f in snapshot.segment_checks if f in text]
    if not suspects:
        lowered = statement.lower()
        names = ["chunks", "documents", *snapshot.tables]
        named = [n for n in names if re.search(rf"\b{re.escape(n.lower())}\b", lowered)]
        suspects = [f for n in named for f in snapshot.relation_files(n)]
    damage = _damage_behind(snapshot, suspects)
    return None if damage is None else damage.error()


def engine_error(
    exc: Exception, *, prefix: str = "SQL error: ", help: str | None = None
) -> QueryError:
    """DuckDB's error as a :class:`QueryError`: its message on one line, and where it
    points (DuckDB's ``LINE n: ...`` and caret lines) as ``line``, ``column`` and
    ``highlight``. Without ``help``, the highlight is the help (what the CLI shows)."""
    text = str(exc)
    position = _position(text)
    line, column = position if position else (None, None)
    highlight = caret(text)
    return QueryError(
        prefix + one_line(text),
        help=help if help is not None else highlight,
        line=line,
        column=column,
        highlight=highlight,
    )


def _position(message: str) -> tuple[int, int] | None:
    """(line, column) from DuckDB's ``LINE n: text`` and caret lines, 1-based."""
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if line.startswith("LINE ") and i + 1 < len(lines) and "^" in lines[i + 1]:
            number, _, text = line[5:].partition(":")
            column = lines[i + 1].index("^") - (len(line) - len(text.lstrip(" "))) + 1
            return int(number.strip()), max(column, 1)
    return None


def one_line(message: str) -> str:
    """DuckDB's message on one line: its first line, plus where (from its LINE/caret lines)."""
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    head = lines[0]
    position = _position(message)
    if position:
        head += f" (line {position[0]}, column {position[1]})"
    hints = [ln.strip() for ln in lines[1:] if ln.startswith(("Candidate", "Did you mean"))]
    return " ".join([head, *hints])


def caret(message: str) -> str | None:
    """DuckDB's LINE/caret lines (the statement with the offending token marked), if any."""
    lines = message.strip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("LINE ") and i + 1 < len(lines) and "^" in lines[i + 1]:
            return line + "\n" + lines[i + 1]
    return None
