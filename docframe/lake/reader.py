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
from collections.abc import Iterator
from contextlib import contextmanager
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
    """A pinned snapshot's relations in an in-memory DuckDB database.

    Closing a DuckDB connection closes its cursors, so an evicted reader is closed only
    once the last statement running on one of its cursors is done (:meth:`cursor` counts
    them)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.con = connect(snapshot, with_sources=False)
        self._lock = threading.Lock()
        self._hit_rows = False
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
