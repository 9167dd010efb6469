"""What SQL can read at a snapshot: the built-in relations and the lake's tables, their
columns and row counts.

``.tables`` and ``.schema`` in the shell are the same thing as ``docframe tables`` and
``docframe describe``, so both read through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docframe.errors import QueryError, did_you_mean
from docframe.lake.names import RELATIONS, quote_ident
from docframe.query import catalog

if TYPE_CHECKING:
    import pyarrow as pa

    from docframe.api import Lake

# the relations' own columns in duckdb_columns(): views over the snapshot, wherever
# the reader puts them (temp or main), not DuckDB's catalog views in "system"
OURS = "database_name <> 'system' AND schema_name = 'main'"


def list_relations(lake: Lake, snapshot: int | None = None) -> pa.Table:
    """The built-in relations and every lake table at one snapshot, with row counts.

    Columns: name, kind (``relation`` or ``table``), n_rows, n_columns, columns
    (``name TYPE, ...``), source_uri, origin, snapshot_id, notes. Relations
    first, in a fixed order; then the lake's tables by name.
    """
    counts = " UNION ALL ".join(
        f"SELECT '{name}' AS name, {i} AS pos, (SELECT count(*) FROM {name}) AS n_rows"
        for i, name in enumerate(RELATIONS)
    )
    query = f"""
        WITH cols AS (
            SELECT table_name AS name, count(*)::INTEGER AS n_columns,
                   string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index)
                       AS columns
            FROM duckdb_columns() WHERE {OURS} GROUP BY table_name
        ), counts AS ({counts})
        SELECT name, 'relation' AS kind, n_rows, n_columns, columns,
               NULL::VARCHAR AS source_uri, NULL::VARCHAR AS origin,
               NULL::BIGINT AS snapshot_id, NULL::VARCHAR AS notes, pos
        FROM counts JOIN cols USING (name)
        UNION ALL
        SELECT name, 'table', n_rows, n_columns, columns, source_uri, origin, snapshot_id,
               notes, 1000
        FROM tables
        ORDER BY pos, name
    """
    table = lake.sql(query, snapshot=snapshot).to_arrow()
    return table.drop_columns(["pos"])


def relation_columns(lake: Lake, snapshot: int) -> dict[str, list[tuple[str, str]]]:
    """Every relation's and table's (column, DuckDB type) pairs at the snapshot, in order."""
    rows = lake.sql(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        f"WHERE {OURS} ORDER BY table_name, column_index",
        snapshot=snapshot,
    ).to_list()
    columns: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        columns.setdefault(r["table_name"], []).append((r["column_name"], r["data_type"]))
    return columns


@dataclass
class Description:
    """What ``docframe describe NAME`` shows: a relation's columns, types and size."""

    name: str
    kind: str  # relation | table
    n_rows: int
    columns: list[tuple[str, str]]  # (column, DuckDB type)
    source_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "n_rows": self.n_rows,
            "source_uri": self.source_uri,
            "columns": [{"name": n, "type": t} for n, t in self.columns],
        }


def relation_names(lake: Lake, snapshot: int | None = None) -> list[str]:
    """Every name a query can read at the snapshot: built-in relations, then lake tables."""
    return catalog.relation_names(lake.snapshot(snapshot))


def resolve_name(name: str, names: list[str]) -> str:
    """``name`` as the lake spells it (SQL names are case-insensitive); a one-line error
    with the closest match when there is none."""
    by_lower = {n.lower(): n for n in names}
    wanted = name.strip().strip('"').lower()
    if wanted in by_lower:
        return by_lower[wanted]
    raise QueryError(
        f"no relation or table named {name!r}{did_you_mean(wanted, by_lower)}",
        help="list them with: docframe tables",
    )


def describe(lake: Lake, name: str, snapshot: int | None = None) -> Description:
    """Columns and DuckDB types of a relation or lake table, with its row count."""
    pinned = lake.snapshot(snapshot)
    resolved = resolve_name(name, relation_names(lake, pinned.snapshot_id))
    quoted = quote_ident(resolved)
    literal = "'" + resolved.replace("'", "''") + "'"
    result = lake.sql(
        f"SELECT column_name, data_type, (SELECT count(*) FROM {quoted}) AS n_rows "
        f"FROM duckdb_columns() WHERE {OURS} AND table_name = {literal} "
        "ORDER BY column_index",
        snapshot=pinned.snapshot_id,
    ).to_list()
    info = pinned.tables.get(resolved)
    return Description(
        name=resolved,
        kind="table" if info is not None else "relation",
        n_rows=int(result[0]["n_rows"]) if result else 0,
        columns=[(r["column_name"], r["data_type"]) for r in result],
        source_uri=info.source_uri if info is not None else None,
    )
