"""Names in the lake's SQL: the relations every snapshot has, and how to quote a name.

Its own small module (no DuckDB import) because connectors need the reserved names
when they name a table, and everything that writes SQL text needs the quoting.
"""

from __future__ import annotations

# the relations every snapshot has; lake tables cannot take these names
RELATIONS = ("chunks", "documents", "sources", "snapshots", "tables", "pdf_tables")


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier (DuckDB and SQLite): double quotes, doubled inside."""
    return '"' + name.replace('"', '""') + '"'
