"""What a snapshot offers to SQL, described once for every way in.

The shell (``.tables``, ``.schema``, ``docframe tables``/``describe``) and the agent
tools (``list_tables``, ``describe_table``) both tell a reader which relations exist,
what they hold, their columns and row counts; they run their statements on different
engines (the lake's reader; the agent sandbox), so what they share lives here: the
names a query can read, what each built-in relation is, and the statements that count
and describe one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docframe.lake.names import RELATIONS, quote_ident

if TYPE_CHECKING:
    from docframe.lake.snapshot import Snapshot

RELATION_DOCS = {
    "chunks": "one row per chunk of document text with its provenance (source_uri, doc_key, "
    "page, bbox, start_s, end_s, char_start, char_end, ordinal), metadata (JSON) and "
    "embedding; join search results on chunk_id",
    "documents": "one row per document: doc_id, doc_key, title, source_uri, modality, "
    "n_chunks, metadata (JSON)",
    "sources": "one row per ingested input file: status ok/error, the error, counts",
    "snapshots": "the lake's commit history up to the snapshot being read",
    "tables": "one row per lake table (structured data from CSV, Parquet, JSON, Excel, "
    "SQLite or PDFs): name, source_uri, n_rows, columns",
    "pdf_tables": "tables found inside PDFs: name, doc_id, page, bbox; their rows are lake "
    "tables by that name, and they join to chunks on doc_id and page",
}
MODALITIES_SQL = "SELECT modality, count(*) AS n FROM chunks GROUP BY 1 ORDER BY 2 DESC, 1"


def relation_names(snapshot: Snapshot) -> list[str]:
    """Every name a query can read at the snapshot: built-in relations, then lake tables."""
    return [*RELATIONS, *sorted(snapshot.tables)]


def count_sql(name: str) -> str:
    return f"SELECT count(*) AS n FROM {quote_ident(name)}"


def describe_sql(name: str) -> str:
    # DESCRIBE SELECT: plain ``DESCRIBE "tables"`` is DuckDB's SHOW TABLES
    return f"DESCRIBE SELECT * FROM {quote_ident(name)}"
