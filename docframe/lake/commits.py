"""Every write to the catalog: the lake's commit operations, in one place.

Writers (the document ingest job, lake tables written from Python, table jobs,
``repair``) first write their Parquet segments durably (``docframe.lake.segments``),
then call one function here, which adds them to the catalog in one SQLite
transaction. Nothing is visible before that transaction commits, so a crash at any
point leaves the previous snapshot intact. Callers hold the writer lock
(``docframe.lake.lock.WriterLock``) and pass its catalog connection.

- :func:`commit`: a batch of new source versions (with their segments and tables),
  failures and unchanged-but-touched files: a new snapshot when anything was added.
- :func:`drop_versions`: retire versions without a successor (prune, repair).
- :func:`reembed`: versions whose vectors another embedder made, replaced by new
  versions of the same content (``docframe reembed``); :func:`adopt_embedder` where
  there is nothing to redo.
- :func:`record_model`: the embedding dimension and the embedder's identity, fixed by
  the first vectors; vectors of another embedder are refused.

Every change to ``sources`` is also appended to ``source_log`` in the same
transaction, so ``sources`` can be read as it stood at any snapshot.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe import config
from docframe.errors import DocframeError, LakeError, ModelMismatchError
from docframe.lake import catalog, embedders


@dataclass
class TableRecord:
    """A lake table one source version holds (its rows are in a segment)."""

    name: str
    origin: str  # where in the source: a sheet, a SQLite table, a job
    schema: pa.Schema
    n_rows: int
    notes: list[str] = field(default_factory=list)  # repairs made while reading
    location: dict[str, Any] = field(default_factory=dict)  # PDF tables: doc_id, page, bbox


@dataclass
class SegmentRecord:
    """A durable, not yet committed Parquet segment and the versions whose rows it holds."""

    kind: str  # chunks | documents | table
    relation: str | None  # the lake table's name, for kind = table
    path: str  # relative to the lake root
    size: int
    rows: int
    checksum: str | None
    version_ids: list[int]
    embedder: str | None = None  # chunks: the identity of the embedder of its vectors


@dataclass
class SourceVersion:
    """A new version of one input: what ``sources`` and ``versions`` will say of it."""

    uri: str
    size: int
    mtime: float
    content_hash: str
    connector: str
    n_documents: int = 0
    n_chunks: int = 0
    tables: list[TableRecord] = field(default_factory=list)
    read_options: str | None = None  # table read options (JSON): a change re-reads it
    notes: list[str] = field(default_factory=list)  # kept in an ok source's error column

    @property
    def n_rows(self) -> int:
        return sum(t.n_rows for t in self.tables)


@dataclass
class Failure:
    """An input that could not be read: recorded in ``errors`` (and ``sources`` when it is
    a file), keeping its last good version searchable."""

    uri: str
    size: int | None
    mtime: float | None
    connector: str
    message: str


def next_version_ids(con: sqlite3.Connection, n: int) -> list[int]:
    """Ids for ``n`` new versions (written into their segments' rows before the commit;
    the writer lock keeps them unused until then)."""
    last = con.execute("SELECT coalesce(max(version_id), 0) FROM versions").fetchone()[0]
    return list(range(last + 1, last + 1 + n))


def commit(
    con: sqlite3.Connection,
    root: Path,
    *,
    job: str,
    versions: dict[int, SourceVersion],
    segments: Sequence[SegmentRecord] = (),
    failures: Sequence[Failure] = (),
    touched: Sequence[tuple[str, float]] = (),
    dim: int | None = None,
    embedder: str | None = None,
    note: str | None = None,
) -> int:
    """One catalog transaction: a new snapshot holding ``segments`` and ``versions``
    (each retiring the input's previous version), plus ``failures`` and the new mtimes of
    ``touched`` inputs whose content did not change. Returns the snapshot the lake is at
    afterwards (the new one, or the latest when only failures and touches were recorded).
    ``dim`` and ``embedder`` (its identity): the vectors' dimension and maker, recorded
    by the first vectors and checked against the lake's by every later commit that
    holds some (:func:`record_model`)."""
    now = time.time()
    with catalog.transaction(con):
        sid = catalog.latest_snapshot(con)
        if versions:
            sid += 1
            con.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?, ?)",
                (sid, now, job, note or f"{len(versions)} file(s)"),
            )
            if dim is not None:
                record_model(con, root, dim, embedder)
            _add_segments(con, segments, sid)
        for version_id, version in versions.items():
            _add_version(con, version_id, version, sid, now)
        for uri, mtime in touched:
            con.execute("UPDATE sources SET mtime = ? WHERE source_uri = ?", (mtime, uri))
            catalog.log_source(con, uri, sid)
        for failure in failures:
            _add_failure(con, failure, sid, now)
        failpoint("before-commit")
    failpoint("after-commit")
    return sid


def _add_segments(con: sqlite3.Connection, segments: Sequence[SegmentRecord], sid: int) -> None:
    for seg in segments:
        cur = con.execute(
            "INSERT INTO segments (kind, relation, path, rows, bytes, snapshot_id, checksum, "
            "embedder) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seg.kind, seg.relation, seg.path, seg.rows, seg.size, sid, seg.checksum,
             seg.embedder),
        )  # fmt: skip
        con.executemany(
            "INSERT INTO segment_versions VALUES (?, ?)",
            [(cur.lastrowid, v) for v in seg.version_ids],
        )


def _add_version(
    con: sqlite3.Connection, version_id: int, v: SourceVersion, sid: int, now: float
) -> None:
    """Inside the batch transaction: retire the input's old version, record the new one."""
    con.execute(
        "UPDATE versions SET removed_snapshot = ? "
        "WHERE source_uri = ? AND removed_snapshot IS NULL",
        (sid, v.uri),
    )
    con.execute(
        "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, NULL)",
        (version_id, v.uri, v.content_hash, v.n_documents, v.n_chunks, sid),
    )
    for t in v.tables:
        schema = [{"name": f.name, "type": str(f.type)} for f in t.schema]
        con.execute(
            "INSERT INTO tables VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (t.name, version_id, t.origin, json.dumps(schema), t.n_rows, len(schema),
             "; ".join(t.notes) or None,
             json.dumps(t.location, default=str) if t.location else None),
        )  # fmt: skip
    con.execute(
        "INSERT OR REPLACE INTO sources "
        "VALUES (?, ?, ?, ?, ?, 'ok', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (v.uri, v.size, v.mtime, v.content_hash, v.connector, "; ".join(v.notes) or None,
         sid, version_id, v.n_documents, v.n_chunks, len(v.tables), v.n_rows,
         v.read_options if v.tables else None, now),
    )  # fmt: skip
    catalog.log_source(con, v.uri, sid)


def _add_failure(con: sqlite3.Connection, f: Failure, sid: int, now: float) -> None:
    con.execute(
        "INSERT INTO errors (snapshot_id, input, error, at) VALUES (?, ?, ?, ?)",
        (sid, f.uri, f.message, now),
    )
    if f.size is None and not Path(f.uri).exists():
        return  # a path that does not exist: logged in errors, it is not a source
    # keep size/mtime/hash of the last good version so an unchanged bad file is retried
    con.execute(
        """INSERT INTO sources (source_uri, size, mtime, connector, status, error,
                                snapshot_id, updated_at)
           VALUES (?, ?, ?, ?, 'error', ?, ?, ?)
           ON CONFLICT (source_uri) DO UPDATE SET status = 'error', error = excluded.error,
               connector = excluded.connector, updated_at = excluded.updated_at""",
        (f.uri, f.size, f.mtime, f.connector, f.message, sid, now),
    )
    catalog.log_source(con, f.uri, sid)


def drop_versions(
    con: sqlite3.Connection, drops: Sequence[tuple[int | None, str]], *, job: str, note: str
) -> int:
    """A new snapshot in which each ``(version_id, uri)`` is retired without a successor
    and ``uri`` leaves ``sources`` (``version_id`` None: whatever version of ``uri`` is
    live). Call inside :func:`catalog.transaction` when other writes must join it (repair
    records its damage in the same one); returns the new snapshot."""
    sid = catalog.latest_snapshot(con) + 1
    con.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?)", (sid, time.time(), job, note))
    for version_id, uri in drops:
        if version_id is None:
            con.execute(
                "UPDATE versions SET removed_snapshot = ? "
                "WHERE source_uri = ? AND removed_snapshot IS NULL",
                (sid, uri),
            )
        else:
            con.execute(
                "UPDATE versions SET removed_snapshot = ? WHERE version_id = ?", (sid, version_id)
            )
        con.execute("DELETE FROM sources WHERE source_uri = ?", (uri,))
        catalog.log_source(con, uri, sid)
    return sid


def prune(con: sqlite3.Connection, uris: Sequence[str]) -> int:
    """Inputs that vanished from disk leave the lake in a snapshot of their own."""
    with catalog.transaction(con):
        return drop_versions(
            con, [(None, uri) for uri in uris], job="prune", note=f"{len(uris)} vanished file(s)"
        )


def record_model(
    con: sqlite3.Connection, root: Path, dim: int, embedder: str | None = None
) -> None:
    """The vectors' dimension and embedder identity, recorded by the first commit that
    holds any. A later one with another dimension (another model) or another embedder
    (another backend or precision of the model: close vectors, not equal ones) is
    refused; ``docframe reembed`` is the way to change the lake's embedder."""
    meta = catalog.read_meta(con)
    recorded = meta.get("embedding_dim")
    if recorded is None:
        con.execute("INSERT INTO meta VALUES ('embedding_dim', ?)", (str(dim),))
    elif int(recorded) != dim:
        raise DocframeError(
            f"lake {root} holds {recorded}-dim vectors but the model gives {dim}",
            help="use the lake's model or a new lake",
        )
    if embedder is None:
        return
    _refuse_other_embedder(meta, root, embedder)
    if "embedder" not in meta:
        con.execute("INSERT INTO meta VALUES ('embedder', ?)", (embedder,))


def check_embedder(con: sqlite3.Connection, root: Path, embedder: str) -> None:
    """Refuse, before any model runs, vectors of ``embedder`` for a lake holding another
    embedder's: the check the commit makes, made early (an ingest embeds minutes first)."""
    _refuse_other_embedder(catalog.read_meta(con), root, embedder)


def _refuse_other_embedder(meta: dict[str, str], root: Path, embedder: str) -> None:
    lake = catalog.lake_embedder(meta)
    if lake is not None and lake != embedder:
        raise ModelMismatchError(
            f"lake {root} holds vectors of {lake}, not of {embedder}; "
            "one lake holds one embedder's vectors",
            help=f"ingest with --embed-backend {embedders.backend_option(lake)} (the lake's), "
            "or re-embed the lake first: "
            f"docframe reembed --embed-backend {embedders.backend_option(embedder)}",
        )


def reembed(
    con: sqlite3.Connection,
    root: Path,
    *,
    replaced: dict[int, int],
    segments: Sequence[SegmentRecord],
    dim: int,
    embedder: str,
    final: bool,
) -> int:
    """One batch of ``docframe reembed`` in one transaction: a new snapshot in which each
    old version in ``replaced`` is retired and its new version (same source, content and
    counts; its chunks and documents rows are in ``segments``, its vectors by
    ``embedder``) is live. The new version also holds the old one's lake tables (their
    segments are shared: only vectors change). ``final``: the last batch, which makes
    ``embedder`` the lake's. Returns the new snapshot."""
    now = time.time()
    with catalog.transaction(con):
        sid = catalog.latest_snapshot(con) + 1
        note = f"{len(replaced)} file(s) re-embedded with {embedder}"
        con.execute("INSERT INTO snapshots VALUES (?, ?, 'reembed', ?)", (sid, now, note))
        record_model(con, root, dim)
        _add_segments(con, segments, sid)
        for old, new in replaced.items():
            _replace_version(con, old, new, sid, now)
        if final:
            con.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (embedder,))
        failpoint("before-commit")
    failpoint("after-commit")
    return sid


def adopt_embedder(con: sqlite3.Connection, embedder: str) -> None:
    """Make ``embedder`` the lake's where no live vector needs re-embedding for it (a
    lake without vectors yet, or one whose every segment it made): a meta change, no
    new snapshot, as no row changes."""
    with catalog.transaction(con):
        con.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (embedder,))


def _replace_version(con: sqlite3.Connection, old: int, new: int, sid: int, now: float) -> None:
    row = con.execute(
        "SELECT source_uri, content_hash, n_documents, n_chunks FROM versions "
        "WHERE version_id = ? AND removed_snapshot IS NULL",
        (old,),
    ).fetchone()
    if row is None:  # the writer lock makes this a bug, not a race
        raise LakeError(f"version {old} is not live: cannot re-embed it", help="run it again")
    con.execute("UPDATE versions SET removed_snapshot = ? WHERE version_id = ?", (sid, old))
    con.execute(
        "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, NULL)",
        (new, row["source_uri"], row["content_hash"], row["n_documents"], row["n_chunks"], sid),
    )
    con.execute(
        "INSERT INTO tables SELECT name, ?, origin, schema_json, n_rows, n_columns, notes, "
        "location FROM tables WHERE version_id = ?",
        (new, old),
    )
    con.execute(
        "INSERT INTO segment_versions SELECT sv.segment_id, ? FROM segment_versions sv "
        "JOIN segments s ON s.segment_id = sv.segment_id "
        "WHERE sv.version_id = ? AND s.kind = 'table'",
        (new, old),
    )
    cur = con.execute(
        "UPDATE sources SET version_id = ?, snapshot_id = ?, updated_at = ? "
        "WHERE source_uri = ? AND version_id = ?",
        (new, sid, now, row["source_uri"], old),
    )
    if cur.rowcount:
        catalog.log_source(con, row["source_uri"], sid)


_FAILPOINT_HITS: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Die here, as kill -9 would, on the N-th pass when ``config.failpoint()`` (the
    crash tests' environment variable) names ``name:N``.

    Crash tests use it to stop a writer between writing segments and committing
    (``segments-written``), inside the transaction (``before-commit``) and right after
    it (``after-commit``).
    """
    point = config.failpoint()
    if point is None or point[0] != name:
        return
    _FAILPOINT_HITS[name] = _FAILPOINT_HITS.get(name, 0) + 1
    if _FAILPOINT_HITS[name] >= point[1]:
        os.kill(os.getpid(), signal.SIGKILL)
