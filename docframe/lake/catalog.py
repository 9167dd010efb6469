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

Each segment row records the SHA-256 of the file's bytes (``checksum``), so a
flipped bit is found by ``docframe verify``; ``damage`` is set by ``repair`` on
segments it found damaged. ``sources`` keeps the newest row per input and
``source_log`` every row it ever held, so ``sources`` at an old snapshot is that
snapshot's. Catalogs made before these existed are upgraded in place by the next
writer (:func:`upgrade`); readers take them as they are.

Vectors are only comparable within one embedder, so the catalog records which made
them (``docframe.lake.embedders``): meta ``embedder`` holds the lake's identity (set
by the first commit that holds vectors, changed only by ``docframe reembed``) and
every chunk segment's ``embedder`` its own, so a lake part-way through a re-embedding
shows which segments are done. NULL in either place (a lake from before identities)
means the torch backend in fp32.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docframe.errors import LakeError
from docframe.lake import embedders

FORMAT_VERSION = "1"
CATALOG_FILE = "catalog.sqlite"

SOURCE_LOG_TABLE = """
CREATE TABLE IF NOT EXISTS source_log (
    log_id       INTEGER PRIMARY KEY,
    at_snapshot  INTEGER NOT NULL,        -- the row below holds from this snapshot on
    deleted      INTEGER NOT NULL DEFAULT 0,  -- 1: pruned or dropped at at_snapshot
    source_uri   TEXT NOT NULL,
    size         INTEGER,
    mtime        REAL,
    content_hash TEXT,
    connector    TEXT,
    status       TEXT NOT NULL,
    error        TEXT,
    snapshot_id  INTEGER,
    version_id   INTEGER,
    n_documents  INTEGER NOT NULL DEFAULT 0,
    n_chunks     INTEGER NOT NULL DEFAULT 0,
    n_tables     INTEGER NOT NULL DEFAULT 0,
    n_rows       INTEGER NOT NULL DEFAULT 0,
    read_options TEXT,
    updated_at   REAL NOT NULL
);

CREATE INDEX IF NOT EXISTS source_log_uri ON source_log (source_uri, at_snapshot);
"""

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
    snapshot_id INTEGER NOT NULL REFERENCES snapshots,
    checksum    TEXT,                    -- "sha256:<hex>" of the file; NULL: made before checksums
    damage      TEXT,                    -- why repair gave the file up; NULL: none known
    embedder    TEXT                     -- chunks: identity of its vectors; NULL: torch fp32
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
        con.executescript(SCHEMA + SOURCE_LOG_TABLE)
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


def lake_embedder(meta: dict[str, str]) -> str | None:
    """The identity of the embedder whose vectors the lake holds, from its ``meta``: the
    recorded one; for a lake from before identities that holds vectors, torch fp32 (the
    only backend there was); None while no vector was committed and none recorded."""
    if "embedder" in meta:
        return meta["embedder"]
    if "embedding_dim" in meta:
        return embedders.legacy(meta["embedding_model"])
    return None


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
_VISIBLE_SEGMENTS = f"""
SELECT DISTINCT s.segment_id, s.kind, s.relation, s.path, s.bytes, s.snapshot_id,
       {{integrity}}
FROM segments s
JOIN segment_versions sv ON sv.segment_id = s.segment_id
WHERE s.snapshot_id <= :s AND sv.version_id IN ({LIVE_VERSIONS})
ORDER BY s.segment_id
"""


def visible_segments(con: sqlite3.Connection, snapshot_id: int) -> list[sqlite3.Row]:
    """The segments snapshot ``snapshot_id`` reads, with their size, checksum and recorded
    damage (both NULL in a catalog no writer has upgraded yet)."""
    upgraded = {"checksum", "damage"} <= columns(con, "segments")
    integrity = "s.checksum, s.damage" if upgraded else "NULL AS checksum, NULL AS damage"
    sql = _VISIBLE_SEGMENTS.format(integrity=integrity)
    return con.execute(sql, {"s": snapshot_id}).fetchall()


def version_segments(con: sqlite3.Connection, version_id: int) -> list[sqlite3.Row]:
    """The chunks and documents segments holding ``version_id``'s rows: ``path``, ``kind``,
    ``embedder`` (of a chunks segment; NULL: torch fp32) and recorded ``damage``."""
    return con.execute(
        "SELECT s.path, s.kind, s.embedder, s.damage FROM segments s "
        "JOIN segment_versions sv ON sv.segment_id = s.segment_id "
        "WHERE sv.version_id = ? AND s.kind IN ('chunks', 'documents') ORDER BY s.segment_id",
        (version_id,),
    ).fetchall()


def versions_not_embedded_by(con: sqlite3.Connection, identity: str) -> list[sqlite3.Row]:
    """The newest snapshot's versions whose vectors another embedder made (``version_id``,
    ``n_chunks``), oldest first: what ``docframe reembed`` has left to do."""
    model = read_meta(con)["embedding_model"]
    return con.execute(
        """SELECT DISTINCT v.version_id, v.n_chunks FROM versions v
        JOIN segment_versions sv ON sv.version_id = v.version_id
        JOIN segments s ON s.segment_id = sv.segment_id
        WHERE v.removed_snapshot IS NULL AND s.kind = 'chunks'
          AND coalesce(s.embedder, ?) != ?
        ORDER BY v.version_id""",
        (embedders.legacy(model), identity),
    ).fetchall()


# -- upgrading older catalogs; the history of sources ------------------------------------
def columns(con: sqlite3.Connection, table: str) -> set[str]:
    """The columns ``table`` has in this catalog (empty if it has no such table): readers
    of catalogs made before an upgrade ask before they select."""
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


# The sources columns, in the order source_log repeats them.
SOURCE_FIELDS = (
    "source_uri, size, mtime, content_hash, connector, status, error, snapshot_id, "
    "version_id, n_documents, n_chunks, n_tables, n_rows, read_options, updated_at"
)


def upgrade(con: sqlite3.Connection) -> None:
    """Bring a catalog made by an older docframe up to this schema, in place.

    Only writers call it, holding the writer lock: readers never need to write. It
    adds ``segments.checksum`` (NULL for older segments: checked by size and footer
    only), ``segments.damage`` and ``segments.embedder`` (NULL for older segments: the
    torch fp32 vectors of their time), and creates ``source_log``, seeded with the history
    the catalog still knows (:func:`_seed_source_log`). Idempotent; one transaction.
    """
    have = columns(con, "segments")
    missing_log = not columns(con, "source_log")
    if {"checksum", "damage", "embedder"} <= have and not missing_log:
        return
    with transaction(con):
        for column in ("checksum", "damage", "embedder"):
            if column not in have:
                con.execute(f"ALTER TABLE segments ADD COLUMN {column} TEXT")
        if missing_log:
            for statement in SOURCE_LOG_TABLE.split(";"):  # executescript would COMMIT
                if statement.strip():
                    con.execute(statement)
            _seed_source_log(con)


def _seed_source_log(con: sqlite3.Connection) -> None:
    """The history of ``sources`` as far as an older catalog kept it: each version from
    the snapshot that added it, a deletion where a version was retired with no
    successor (prune), then today's rows (an error row from its failure's snapshot)."""
    con.execute(
        f"""INSERT INTO source_log (at_snapshot, deleted, {SOURCE_FIELDS})
        SELECT v.added_snapshot, 0, v.source_uri, s.size, s.mtime, v.content_hash,
               s.connector, 'ok', NULL, v.added_snapshot, v.version_id, v.n_documents,
               v.n_chunks,
               (SELECT count(*) FROM tables t WHERE t.version_id = v.version_id),
               (SELECT coalesce(sum(t.n_rows), 0) FROM tables t
                WHERE t.version_id = v.version_id),
               s.read_options,
               (SELECT created_at FROM snapshots WHERE snapshot_id = v.added_snapshot)
        FROM versions v LEFT JOIN sources s ON s.source_uri = v.source_uri
        ORDER BY v.added_snapshot, v.version_id"""
    )
    con.execute(
        """INSERT INTO source_log (at_snapshot, deleted, source_uri, status, updated_at)
        SELECT v.removed_snapshot, 1, v.source_uri, 'deleted',
               (SELECT created_at FROM snapshots WHERE snapshot_id = v.removed_snapshot)
        FROM versions v
        WHERE v.removed_snapshot IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM versions w
            WHERE w.source_uri = v.source_uri AND w.added_snapshot = v.removed_snapshot)"""
    )
    con.execute(
        f"""INSERT INTO source_log (at_snapshot, deleted, {SOURCE_FIELDS})
        SELECT CASE WHEN status = 'ok' THEN coalesce(snapshot_id, 0)
                    ELSE max(coalesce(snapshot_id, 0), coalesce(
                        (SELECT max(e.snapshot_id) FROM errors e
                         WHERE e.input = sources.source_uri), 0)) END,
               0, {SOURCE_FIELDS}
        FROM sources"""
    )


def log_source(con: sqlite3.Connection, uri: str, snapshot_id: int) -> None:
    """Append ``uri``'s ``sources`` row as it now stands (a deletion if it is gone) to
    ``source_log``. Call it inside the transaction of every change to ``sources``."""
    cur = con.execute(
        f"INSERT INTO source_log (at_snapshot, deleted, {SOURCE_FIELDS}) "
        f"SELECT ?, 0, {SOURCE_FIELDS} FROM sources WHERE source_uri = ?",
        (snapshot_id, uri),
    )
    if cur.rowcount == 0:
        con.execute(
            "INSERT INTO source_log (at_snapshot, deleted, source_uri, status, updated_at) "
            "VALUES (?, 1, ?, 'deleted', ?)",
            (snapshot_id, uri, time.time()),
        )


# ``sources`` as it stood at snapshot :s, from the log: each input's newest row.
SOURCES_AT = f"""
SELECT {SOURCE_FIELDS} FROM (
    SELECT *, row_number() OVER (
        PARTITION BY source_uri ORDER BY at_snapshot DESC, log_id DESC) AS newest
    FROM source_log WHERE at_snapshot <= :s)
WHERE newest = 1 AND deleted = 0
ORDER BY source_uri
"""
