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
- :func:`record_model`: the embedding dimension, fixed by the first vectors.

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
from docframe.errors import DocframeError
from docframe.lake import catalog


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
    note: str | None = None,
) -> int:
    """One catalog transaction: a new snapshot holding ``segments`` and ``versions``
    (each retiring the input's previous version), plus ``failures`` and the new mtimes of
    ``touched`` inputs whose content did not change. Returns the snapshot the lake is at
    afterwards (the new one, or the latest when only failures and touches were recorded).
    ``dim``: the vectors' dimension, recorded (or checked) when ``segments`` hold some."""
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
                record_model(con, root, dim)
            for seg in segments:
                cur = con.execute(
                    "INSERT INTO segments (kind, relation, path, rows, bytes, snapshot_id, "
                    "checksum) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (seg.kind, seg.relation, seg.path, seg.rows, seg.size, sid, seg.checksum),
                )
                con.executemany(
                    "INSERT INTO segment_versions VALUES (?, ?)",
                    [(cur.lastrowid, v) for v in seg.version_ids],
                )
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


def record_model(con: sqlite3.Connection, root: Path, dim: int) -> None:
    """The vectors' dimension, recorded by the first commit that holds any; a later one
    with another dimension (another model) is refused."""
    row = con.execute("SELECT value FROM meta WHERE key = 'embedding_dim'").fetchone()
    if row is None:
        con.execute("INSERT INTO meta VALUES ('embedding_dim', ?)", (str(dim),))
    elif int(row[0]) != dim:
        raise DocframeError(
            f"lake {root} holds {row[0]}-dim vectors but the model gives {dim}",
            help="use the lake's model or a new lake",
        )


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
