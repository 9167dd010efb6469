"""Reading a pinned snapshot through DuckDB: one database per snapshot per process.

SQL statements, search (its filters, its hit rows with provenance) and index builds
all read the same relations (``docframe.lake.relations``). Defining them costs more
than most statements, so each process keeps one :class:`SnapshotReader` per recent
snapshot (:data:`READERS`), and every reader works on its own cursor of it: cursors
run side by side from any thread, and what one statement registers or creates
(TEMP objects, a search's hits, the per-pin ``sources``) dies with its cursor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docframe.lake.cache import SnapshotCache
from docframe.lake.relations import connect, define_sources

if TYPE_CHECKING:
    import duckdb

    from docframe.lake.snapshot import Snapshot

# at most this many chunks are kept in memory as hit rows (text and provenance, no
# embeddings); a larger snapshot reads them from its Parquet files per query
MATERIALISE_MAX_CHUNKS = 200_000

# what a search result shows of each hit, after its rank and score
HIT_COLUMNS = (
    "c.chunk_id, c.doc_key, c.source_uri, d.title, c.modality, c.page, c.bbox, c.start_s, "
    "c.end_s, c.char_start, c.char_end, c.text, c.doc_id"
)
HIT_ROWS = (
    f"SELECT {HIT_COLUMNS} FROM chunks c LEFT JOIN documents d USING (doc_id) ORDER BY c.chunk_id"
)


@dataclass(frozen=True)
class HitRows:
    """Every chunk's provenance (:data:`HIT_COLUMNS`), in ``chunk_id`` order, as an Arrow
    table in memory, with the row of each chunk id.

    A search returns at most a few hundred chunks; fetching their rows with ``take``
    costs microseconds where a DuckDB join of the hits costs milliseconds (register the
    hits, plan, join, export), most of a keyword search's time."""

    table: Any  # pyarrow.Table
    row_of: dict[str, int]

    def take(self, chunk_ids: Sequence[str]) -> tuple[Any, list[int]]:
        """(rows of the known ``chunk_ids``, in their order; the positions in
        ``chunk_ids`` that were found). An unknown id (not a chunk of the snapshot) is
        left out, as a join would."""
        found = [(i, r) for i, c in enumerate(chunk_ids) if (r := self.row_of.get(c)) is not None]
        import pyarrow as pa

        rows = pa.array([r for _, r in found], pa.int64())  # typed: [] would be null
        return self.table.take(rows), [i for i, _ in found]


class SnapshotReader:
    """A pinned snapshot's relations in an in-memory DuckDB database.

    Closing a DuckDB connection closes its cursors, so an evicted reader is closed only
    once the last statement running on one of its cursors is done (:meth:`cursor` counts
    them)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.con = connect(snapshot, with_sources=False)
        self._lock = threading.Lock()
        self._hit_rows = False
        self._hit_table: HitRows | None = None
        self._hit_too_many = False  # over MATERIALISE_MAX_CHUNKS: no hit rows in memory
        self._users = 0
        self._retired = False

    @contextmanager
    def cursor(
        self, *, sources: Snapshot | None = None, hit_rows: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A new cursor for one statement or search, closed afterwards. ``sources``, a pin
        of this snapshot: its ``sources`` relation too (taken from each pin: a failed
        re-read changes it without a new snapshot). ``hit_rows``: ``_hit_rows`` too, every
        chunk's provenance and its document's title, joined once per snapshot (the
        search results' last step)."""
        with self._lock:
            if hit_rows and not self._hit_rows:
                n = self.con.execute("SELECT count(*) FROM chunks").fetchone()[0]
                kind = "TABLE" if n <= MATERIALISE_MAX_CHUNKS else "VIEW"
                self.con.execute(
                    f"CREATE {kind} _hit_rows AS SELECT c.* EXCLUDE (embedding), d.title "
                    "FROM chunks c LEFT JOIN documents d USING (doc_id)"
                )
                self._hit_rows = True
            cur = self.con.cursor()
            self._users += 1
        try:
            if sources is not None:
                define_sources(cur, sources)
            yield cur
        finally:
            cur.close()
            with self._lock:
                self._users -= 1
                done = self._retired and not self._users
            if done:
                self.con.close()

    def hit_rows(self) -> HitRows | None:
        """Every chunk's provenance in memory (made once per snapshot), or None for a
        snapshot over :data:`MATERIALISE_MAX_CHUNKS` chunks: search then joins its hits
        to the ``_hit_rows`` view in DuckDB (:meth:`cursor` with ``hit_rows``)."""
        if self._hit_table is not None or self._hit_too_many:
            return self._hit_table
        with self._lock:
            if self._hit_table is None and not self._hit_too_many:
                cur = self.con.cursor()
                try:
                    n = cur.execute("SELECT count(*) FROM chunks").fetchone()[0]
                    if n > MATERIALISE_MAX_CHUNKS:
                        self._hit_too_many = True
                        return None
                    table = cur.execute(HIT_ROWS).to_arrow_table().combine_chunks()
                finally:
                    cur.close()
                ids = table.column("chunk_id").to_pylist()
                self._hit_table = HitRows(table, dict(zip(ids, range(len(ids)), strict=True)))
            return self._hit_table

    def close(self) -> None:
        """Close now, or when the statements running on its cursors are done."""
        with self._lock:
            self._retired = True
            idle = not self._users
        if idle:
            self.con.close()


READERS: SnapshotCache[SnapshotReader] = SnapshotCache(4, close=SnapshotReader.close)


def reader(snapshot: Snapshot) -> SnapshotReader:
    """The snapshot's reader in this process, defined on first use."""
    return READERS.get_or_make(SnapshotCache.key(snapshot), lambda: SnapshotReader(snapshot))
