"""The lake's SQLite catalog: which Parquet files make up which snapshot.

SQLite in WAL mode lets one writer commit while any number of readers keep
reading their own consistent view, which a single DuckDB file cannot do. Data
files are immutable; a snapshot becomes visible only when the one transaction
that registers its files commits, so a crash at any point leaves the previous
snapshot intact.

Visibility is per *source version*: every chunk/document row carries the
``version_id`` of the ingested file version it came from, and a version is live
at snapshot S when ``added_snapshot <= S`` and it was not removed at or before S.
Replacing or pruning a file therefore never rewrites data files.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docframe.errors import LakeError

FORMAT_VERSION = "1"
CATALOG_FILE = "catalog.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id INTEGER PRIMARY KEY,
    created_at  REAL NOT NULL,
    job         TEXT NOT NULL,
    note        TEXT
);
CREATE TABLE IF NOT EXISTS segments (
    segment_id  INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,           -- chunks | documents | table
    relation    TEXT,                    -- the lake table's name, for kind = table
    path        TEXT NOT NULL UNIQUE,    -- relative to the lake root
    rows        INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots
);
CREATE TABLE IF NOT EXISTS segment_versions (
    segment_id INTEGER NOT NULL REFERENCES segments,
    version_id INTEGER NOT NULL REFERENCES versions,
    PRIMARY KEY (segment_id, version_id)
);
CREATE TABLE IF NOT EXISTS versions (
    version_id       INTEGER PRIMARY KEY,
    source_uri       TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    n_documents      INTEGER NOT NULL,
    n_chunks         INTEGER NOT NULL,
    added_snapshot   INTEGER NOT NULL REFERENCES snapshots,
    removed_snapshot INTEGER REFERENCES snapshots
);
CREATE INDEX IF NOT EXISTS versions_uri ON versions (source_uri);
CREATE TABLE IF NOT EXISTS sources (
    source_uri   TEXT PRIMARY KEY,
    size         INTEGER,
    mtime        REAL,
    content_hash TEXT,
    connector    TEXT,
    status       TEXT NOT NULL,          -- ok | error | unsupported
    error        TEXT,
    snapshot_id  INTEGER,                -- snapshot of the last change to this row
    version_id   INTEGER,                -- live data version (kept when a re-read fails)
    n_documents  INTEGER NOT NULL DEFAULT 0,
    n_chunks     INTEGER NOT NULL DEFAULT 0,
    n_tables     INTEGER NOT NULL DEFAULT 0,
    n_rows       INTEGER NOT NULL DEFAULT 0,
    read_options TEXT,                   -- table read options used (JSON); a change re-reads
    updated_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tables (
    name        TEXT NOT NULL,
    version_id  INTEGER NOT NULL REFERENCES versions,
    origin      TEXT NOT NULL,           -- where in the source: sheet, sqlite table, job
    schema_json TEXT NOT NULL,           -- [{"name": ..., "type": ...}] (Arrow types)
    n_rows      INTEGER NOT NULL,
    n_columns   INTEGER NOT NULL,
    notes       TEXT,                    -- repairs made while reading (skipped rows, encoding)
    location    TEXT,                    -- JSON: where in a document (PDF: doc_id, page, bbox)
    PRIMARY KEY (name, version_id)
);
CREATE TABLE IF NOT EXISTS errors (
    error_id    INTEGER PRIMARY KEY,
    snapshot_id INTEGER,
    input       TEXT NOT NULL,
    error       TEXT NOT NULL,
    at          REAL NOT NULL
);
"""


def connect(path: Path, *, timeout: float = 30.0, readonly: bool = False) -> sqlite3.Connection:
    """Open the catalog in autocommit mode; transactions are explicit (BEGIN ... COMMIT).

    ``readonly=True`` opens it for reading only, for a lake this process may not
    write (read-only mount, another user's files) or whose disk is full: see
    :func:`_connect_readonly`. The connection is probed before it is returned,
    so a catalog that cannot be read fails here, not at its first query.
    """
    if readonly:
        return _connect_readonly(path, timeout)
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        _prepare(con)
        con.execute("PRAGMA synchronous = FULL")  # a committed snapshot survives power loss
    except BaseException:
        con.close()
        raise
    return con


def _prepare(con: sqlite3.Connection) -> None:
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA busy_timeout = 30000")
    con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file (and WAL)


def _connect_readonly(path: Path, timeout: float) -> sqlite3.Connection:
    """The catalog for reading only, also where SQLite cannot create its -wal/-shm files.

    ``mode=ro`` reads a WAL database normally, including commits still in its
    -wal log, as long as the -shm index exists (or can be created): a lake a
    writer was killed in, later mounted read-only. In a read-only folder without
    them (a cleanly closed lake: SQLite deletes both on the last close) it cannot
    open at all; then the main file holds every commit, and ``immutable=1`` reads
    it without them. ``immutable`` would silently skip commits in a -wal log, so
    a non-empty log it cannot share (no -shm) is an error rather than an old
    snapshot passed off as the latest.
    """
    uri = Path(path).absolute().as_uri()
    try:
        return _open_uri(f"{uri}?mode=ro", timeout)
    except sqlite3.OperationalError as exc:
        first = exc
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise LakeError(
            f"{path} cannot be read here: its write-ahead log {wal.name} holds commits and "
            f"SQLite cannot open it read-only without {Path(path).name}-shm ({first})",
            help="open the lake once where it can be written (any docframe command folds "
            "the log in), or copy the lake, with its -wal file, to a writable place",
        ) from None
    return _open_uri(f"{uri}?mode=ro&immutable=1", timeout)


def _open_uri(uri: str, timeout: float) -> sqlite3.Connection:
    con = sqlite3.connect(
        uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
    )
    try:
        _prepare(con)
    except BaseException:
        con.close()
        raise
    return con


def create(path: Path, meta: dict[str, str]) -> None:
    con = connect(path)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.executescript(SCHEMA)
        with transaction(con):
            con.execute(
                "INSERT INTO snapshots VALUES (0, ?, 'init', 'empty lake')",
                (time.time(),),
            )
            rows = {"format_version": FORMAT_VERSION, **meta}
            con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())
    finally:
        con.close()


@contextmanager
def transaction(con: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """One atomic unit: commit on success, roll back on any exception.

    A COMMIT that fails (the disk filled while SQLite wrote its log) is rolled
    back too, as SQLite asks, and a full disk becomes one :class:`DiskFullError`.
    """
    from docframe.lake.space import disk_full, is_disk_full

    con.execute(f"BEGIN {mode}")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException as exc:
        if con.in_transaction:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite already rolled back: its error was the answer
        if is_disk_full(exc):
            path = Path(con.execute("PRAGMA database_list").fetchone()[2])
            raise disk_full(path.parent, f"the catalog {path.name}") from None
        raise


def read_meta(con: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in con.execute("SELECT key, value FROM meta")}


def latest_snapshot(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT max(snapshot_id) FROM snapshots").fetchone()[0])


LIVE_VERSIONS = """
SELECT version_id FROM versions
WHERE added_snapshot <= :s AND (removed_snapshot IS NULL OR removed_snapshot > :s)
"""

LIVE_TABLES = f"""
SELECT t.name, t.version_id, t.origin, t.schema_json, t.n_rows, t.n_columns, t.notes,
       t.location, v.source_uri, v.added_snapshot
FROM tables t JOIN versions v ON v.version_id = t.version_id
WHERE t.version_id IN ({LIVE_VERSIONS})
ORDER BY t.name
"""

# Segments holding at least one live version: fully replaced files cost nothing to read.
VISIBLE_SEGMENTS = f"""
SELECT DISTINCT s.segment_id, s.kind, s.relation, s.path FROM segments s
JOIN segment_versions sv ON sv.segment_id = s.segment_id
WHERE s.snapshot_id <= :s AND sv.version_id IN ({LIVE_VERSIONS})
ORDER BY s.segment_id
"""
