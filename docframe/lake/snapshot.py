"""A pinned snapshot: everything a reader needs, read in one catalog transaction.

Once pinned, a query sees exactly these files and versions however many
commits land meanwhile: the files are immutable and nothing deletes them while
their snapshot is referenced.

Pinning also runs the quick integrity check on the files (size and Parquet magic,
remembered per file): a damaged one is listed in ``damaged`` with its one-line
message, so the relations it feeds fail with that message and the others work.
``sources`` is the inputs as they were at the snapshot, from the catalog's
``source_log`` (a catalog no writer has upgraded yet: today's rows up to it).
``embedder`` is the lake's recorded embedder identity, which a search encodes its
question with (one per lake: ``docframe reembed`` changes it for the whole lake).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from docframe.errors import LakeError
from docframe.lake import catalog
from docframe.lake.integrity import Damage, visible_damage

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
    # the identity of the embedder of the lake's vectors ("<model>@onnx-int8"; a lake
    # from before identities: "<model>@torch-fp32"); None before the first vectors
    embedder: str | None = None
    # damaged segment files (absolute path -> what is wrong and what it affects)
    damaged: dict[str, Damage] = field(default_factory=dict)
    # every file's committed size and checksum (None: made before checksums), for
    # checking a file a query failed to read
    segment_checks: dict[str, tuple[int, str | None]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.chunk_files

    def relation_files(self, name: str) -> tuple[str, ...]:
        """The files behind a relation (chunks, documents or a lake table)."""
        if name == "chunks":
            return self.chunk_files
        if name == "documents":
            return self.document_files
        info = self.tables.get(name)
        return info.files if info is not None else ()

    def damage_of(self, name: str) -> Damage | None:
        """The first damaged file behind relation ``name``, if any."""
        for path in self.relation_files(name):
            if path in self.damaged:
                return self.damaged[path]
        return None

    def committed_at(self, snapshot_id: int | None = None) -> float | None:
        """When snapshot ``snapshot_id`` (default: this one) was committed: with the lake's
        path, what tells this lake's snapshot N from another lake's (or copy's)."""
        sid = self.snapshot_id if snapshot_id is None else snapshot_id
        ids = self.history.column("snapshot_id").to_pylist()
        times = self.history.column("created_at").to_pylist()
        found = [t for i, t in zip(ids, times, strict=True) if i == sid]
        return float(found[-1]) if found else None

    def require(self, *names: str) -> None:
        """Raise the one-line :class:`DamagedSegmentError` if a relation in ``names``
        reads a damaged file (for readers that go to the files without SQL: search)."""
        for name in names:
            damage = self.damage_of(name)
            if damage is not None:
                raise damage.error()


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
        segments = catalog.visible_segments(con, sid)
        live = [r[0] for r in con.execute(catalog.LIVE_VERSIONS, {"s": sid})]
        rows = _sources_at(con, sid, latest)
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
    sources = pa.Table.from_pylist(
        [{c: r[c] for c in SOURCE_COLUMNS} for r in rows], schema=_SOURCES_SCHEMA
    )
    dim = meta.get("embedding_dim")
    return Snapshot(
        root=root,
        snapshot_id=sid,
        model=meta["embedding_model"],
        dim=int(dim) if dim else None,
        embedder=catalog.lake_embedder(meta),
        chunk_files=tuple(files["chunks"]),
        document_files=tuple(files["documents"]),
        live_versions=tuple(live),
        sources=sources,
        tables=tables,
        history=pa.Table.from_pylist([dict(r) for r in history], schema=_HISTORY_SCHEMA),
        damaged=visible_damage(root, con, segments),
        segment_checks={str(root / s["path"]): (s["bytes"], s["checksum"]) for s in segments},
    )


def _sources_at(con: sqlite3.Connection, sid: int, latest: int) -> list[sqlite3.Row]:
    """``sources`` as it was at snapshot ``sid``: the table itself for the newest
    snapshot, the log for older ones; a catalog without the log (not yet upgraded by a
    writer) gives today's rows changed at or before ``sid``."""
    if sid == latest:
        return con.execute(
            f"SELECT {', '.join(SOURCE_COLUMNS)} FROM sources ORDER BY source_uri"
        ).fetchall()
    if catalog.columns(con, "source_log"):
        return con.execute(catalog.SOURCES_AT, {"s": sid}).fetchall()
    return con.execute(
        f"SELECT {', '.join(SOURCE_COLUMNS)} FROM sources WHERE snapshot_id <= ? "
        "ORDER BY source_uri",
        (sid,),
    ).fetchall()


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
