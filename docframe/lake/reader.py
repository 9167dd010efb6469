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
from typing import TYPE_CHECKING

from docframe.lake.cache import SnapshotCache
from docframe.lake.relations import connect, define_sources

if TYPE_CHECKING:
    import duckdb

    from docframe.lake.snapshot import Snapshot

# at most this many chunks are kept in memory as hit rows (text and provenance, no
# embeddings); a larger snapshot reads them from its Parquet files per query
MATERIALISE_MAX_CHUNKS = 200_000


class SnapshotReader:
    """A pinned snapshot's relations in an in-memory DuckDB database."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.con = connect(snapshot, with_sources=False)
        self._lock = threading.Lock()
        self._hit_rows = False

    def cursor(self, *, sources: Snapshot | None = None) -> duckdb.DuckDBPyConnection:
        """A new cursor (close it when done); with ``sources``, a pin of this snapshot,
        its ``sources`` relation too (taken from each pin: a failed re-read changes it
        without a new snapshot)."""
        with self._lock:
            cur = self.con.cursor()
        if sources is not None:
            define_sources(cur, sources)
        return cur

    def hit_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor that also sees ``_hit_rows``: every chunk's provenance and its
        document's title, joined once per snapshot (the search results' last step)."""
        with self._lock:
            if not self._hit_rows:
                n = self.con.execute("SELECT count(*) FROM chunks").fetchone()[0]
                kind = "TABLE" if n <= MATERIALISE_MAX_CHUNKS else "VIEW"
                self.con.execute(
                    f"CREATE {kind} _hit_rows AS SELECT c.* EXCLUDE (embedding), d.title "
                    "FROM chunks c LEFT JOIN documents d USING (doc_id)"
                )
                self._hit_rows = True
            return self.con.cursor()

    def close(self) -> None:
        with self._lock:
            self.con.close()


READERS: SnapshotCache[SnapshotReader] = SnapshotCache(4, close=SnapshotReader.close)


def reader(snapshot: Snapshot) -> SnapshotReader:
    """The snapshot's reader in this process, defined on first use."""
    return READERS.get_or_make(SnapshotCache.key(snapshot), lambda: SnapshotReader(snapshot))
