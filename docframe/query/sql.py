"""SQL over one pinned snapshot, run by DuckDB.

The relations are views over the snapshot's immutable Parquet files, filtered to
the source versions live at that snapshot, so a query never sees a half-written
batch and never blocks the writer.

    chunks     one row per chunk: text, provenance, embedding
    documents  one row per document
    sources    one row per input file: status and error
    snapshots  the catalog's snapshot history up to this one
    tables     one row per lake table (name, source, rows, columns)
    pdf_tables one row per table found inside a PDF (doc_id, page, bbox)
    <name>     every lake table by its own name
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from docframe.errors import QueryError
from docframe.lake.segments import DOCUMENT_SCHEMA, chunk_schema
from docframe.lake.snapshot import Snapshot
from docframe.query.result import Result

RELATIONS = ("chunks", "documents", "sources", "snapshots", "tables", "pdf_tables")
_PUBLIC_DEFAULT_DIM = 384


def _files_sql(files: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _relation(
    con: duckdb.DuckDBPyConnection, name: str, files: tuple[str, ...], empty: pa.Table
) -> None:
    if files:
        source = f"read_parquet({_files_sql(files)})"
    else:
        con.register(f"_empty_{name}", empty)
        source = f"_empty_{name}"
    con.execute(
        f"CREATE TEMP VIEW {name} AS SELECT * EXCLUDE (version_id, metadata), "
        f"metadata::JSON AS metadata FROM {source} "
        f"WHERE version_id IN (SELECT version_id FROM _live)"
    )


def connect(snapshot: Snapshot) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the snapshot's relations defined."""
    con = duckdb.connect(":memory:")
    con.register("_live", pa.table({"version_id": pa.array(snapshot.live_versions, pa.int64())}))
    dim = snapshot.dim or _PUBLIC_DEFAULT_DIM
    _relation(con, "chunks", snapshot.chunk_files, chunk_schema(dim).empty_table())
    _relation(con, "documents", snapshot.document_files, DOCUMENT_SCHEMA.empty_table())
    con.register("_sources", snapshot.sources)
    con.execute(
        "CREATE TEMP VIEW sources AS SELECT * REPLACE (to_timestamp(mtime) AS mtime,"
        " to_timestamp(updated_at) AS updated_at) FROM _sources"
    )
    con.register("_snapshots", snapshot.history)
    con.execute(
        "CREATE TEMP VIEW snapshots AS SELECT snapshot_id, to_timestamp(created_at) AS created_at,"
        " job, note FROM _snapshots"
    )
    _tables(con, snapshot)
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection, snapshot: Snapshot) -> None:
    rows = []
    for info in snapshot.tables.values():
        # every table version has at least one segment: a 0-row table is a 0-row file
        source = f"read_parquet({_files_sql(info.files)})"
        con.execute(f"CREATE TEMP VIEW {_quote(info.name)} AS SELECT * FROM {source}")
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
    con.register("_tables", pa.Table.from_pylist(rows, schema=_TABLES_SCHEMA))
    con.execute("CREATE TEMP VIEW tables AS SELECT * FROM _tables")
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
    con.register("_pdf_tables", pa.Table.from_pylist(found, schema=_PDF_TABLES_SCHEMA))
    con.execute("CREATE TEMP VIEW pdf_tables AS SELECT * FROM _pdf_tables")


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


def _one_line(message: str) -> str:
    """DuckDB's message on one line: its first line, plus where (from its LINE/caret lines)."""
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    head = lines[0]
    for i, line in enumerate(lines):
        if line.startswith("LINE ") and i + 1 < len(lines) and "^" in lines[i + 1]:
            number, _, text = line[5:].partition(":")
            column = lines[i + 1].index("^") - (len(line) - len(text.lstrip(" "))) + 1
            head += f" (line {number.strip()}, column {max(column, 1)})"
            break
    hints = [ln.strip() for ln in lines[1:] if ln.startswith(("Candidate", "Did you mean"))]
    return " ".join([head, *hints])


def run_sql(snapshot: Snapshot, query: str, params: Any = None) -> Result:
    if not query.strip():
        raise QueryError("empty SQL statement", help="try: SELECT count(*) FROM chunks")
    con = connect(snapshot)
    try:
        return Result(con.execute(query, params).to_arrow_table())
    except duckdb.Error as exc:
        raise QueryError(
            f"SQL error: {_one_line(str(exc))}",
            help=f"relations: {', '.join(RELATIONS)} and the lake's tables (docframe tables)",
        ) from None
    finally:
        con.close()
