"""A pinned snapshot: everything a reader needs, read in one catalog transaction.

Once pinned, a query sees exactly these files and versions however many
commits land meanwhile: the files are immutable and nothing deletes them while
their snapshot is referenced.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from docframe.errors import LakeError
from docframe.lake import catalog

SOURCE_COLUMNS = (
    "source_uri",
    "size",
    "mtime",
    "content_hash",
    "connector",
    "status",
    "error",
    "snapshot_id",
    "n_documents",
    "n_chunks",
    "n_tables",
    "n_rows",
    "updated_at",
)


@dataclass(frozen=True)
class TableInfo:
    """One live lake table: its Parquet files and what the catalog knows of it."""

    name: str
    files: tuple[str, ...]  # absolute paths; read them with any Parquet reader
    source_uri: str
    origin: str
    columns: tuple[tuple[str, str], ...]  # (name, Arrow type)
    n_rows: int
    version_id: int
    snapshot_id: int  # the snapshot that added this version
    notes: str | None = None
    location: dict | None = None  # where inside a document (PDF tables: doc_id, page, bbox)


@dataclass(frozen=True)
class Snapshot:
    root: Path
    snapshot_id: int
    model: str
    dim: int | None
    chunk_files: tuple[str, ...]
    document_files: tuple[str, ...]
    live_versions: tuple[int, ...]
    sources: pa.Table
    history: pa.Table  # the snapshots table up to this one
    tables: dict[str, TableInfo]

    @property
    def is_empty(self) -> bool:
        return not self.chunk_files


def pin(root: Path, con: sqlite3.Connection, snapshot_id: int | None = None) -> Snapshot:
    with catalog.transaction(con, mode="DEFERRED"):
        latest = catalog.latest_snapshot(con)
        sid = latest if snapshot_id is None else snapshot_id
        if not 0 <= sid <= latest:
            raise LakeError(
                f"snapshot {sid} does not exist in lake {root} (latest is {latest})",
                help="list snapshots with: docframe sql 'SELECT * FROM snapshots'",
            )
        meta = catalog.read_meta(con)
        segments = con.execute(catalog.VISIBLE_SEGMENTS, {"s": sid}).fetchall()
        live = [r[0] for r in con.execute(catalog.LIVE_VERSIONS, {"s": sid})]
        rows = con.execute(
            f"SELECT {', '.join(SOURCE_COLUMNS)} FROM sources ORDER BY source_uri"
        ).fetchall()
        table_rows = con.execute(catalog.LIVE_TABLES, {"s": sid}).fetchall()
        history = con.execute(
            "SELECT snapshot_id, created_at, job, note FROM snapshots WHERE snapshot_id <= ?",
            (sid,),
        ).fetchall()
    # a table name has one live version, so its visible segments are its files
    files: dict[str, list[str]] = {"chunks": [], "documents": []}
    table_files: dict[str, list[str]] = {}
    for seg in segments:
        if seg["kind"] == "table":
            table_files.setdefault(seg["relation"], []).append(str(root / seg["path"]))
        else:
            files[seg["kind"]].append(str(root / seg["path"]))
    tables = {
        r["name"]: TableInfo(
            name=r["name"],
            files=tuple(table_files.get(r["name"], ())),
            source_uri=r["source_uri"],
            origin=r["origin"],
            columns=tuple((c["name"], c["type"]) for c in json.loads(r["schema_json"])),
            n_rows=r["n_rows"],
            version_id=r["version_id"],
            snapshot_id=r["added_snapshot"],
            notes=r["notes"],
            location=json.loads(r["location"]) if r["location"] else None,
        )
        for r in table_rows
    }
    sources = pa.Table.from_pylist([dict(r) for r in rows], schema=_SOURCES_SCHEMA)
    dim = meta.get("embedding_dim")
    return Snapshot(
        root=root,
        snapshot_id=sid,
        model=meta["embedding_model"],
        dim=int(dim) if dim else None,
        chunk_files=tuple(files["chunks"]),
        document_files=tuple(files["documents"]),
        live_versions=tuple(live),
        sources=sources,
        tables=tables,
        history=pa.Table.from_pylist([dict(r) for r in history], schema=_HISTORY_SCHEMA),
    )


_SOURCES_SCHEMA = pa.schema(
    [
        ("source_uri", pa.string()),
        ("size", pa.int64()),
        ("mtime", pa.float64()),
        ("content_hash", pa.string()),
        ("connector", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("snapshot_id", pa.int64()),
        ("n_documents", pa.int64()),
        ("n_chunks", pa.int64()),
        ("n_tables", pa.int64()),
        ("n_rows", pa.int64()),
        ("updated_at", pa.float64()),
    ]
)

_HISTORY_SCHEMA = pa.schema(
    [
        ("snapshot_id", pa.int64()),
        ("created_at", pa.float64()),
        ("job", pa.string()),
        ("note", pa.string()),
    ]
)
