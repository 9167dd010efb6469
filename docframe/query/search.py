"""Dense search: embed the question, search the snapshot's index, join provenance."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from docframe.errors import QueryError
from docframe.query.result import Result
from docframe.query.sql import connect

if TYPE_CHECKING:
    from docframe.lake.lake import Lake
    from docframe.lake.snapshot import Snapshot

HITS = """
SELECT h.rank, h.score, c.chunk_id, c.doc_key, c.source_uri, c.title, c.modality,
       c.page, c.bbox, c.start_s, c.end_s, c.char_start, c.char_end, c.text, c.doc_id
FROM _hits h JOIN _hit_rows c USING (chunk_id) ORDER BY h.rank
"""


def dense_search(lake: Lake, snapshot: Snapshot, text: str, k: int) -> Result:
    if not text or not text.strip():
        raise QueryError("empty search text", help='give a question, e.g. docframe search "..."')
    if k < 1:
        raise QueryError(f"k must be at least 1, got {k}")
    hits: list[tuple[str, float]] = []
    if not snapshot.is_empty:
        from docframe.index.store import ensure_index

        dense = ensure_index(lake, snapshot)
        hits = dense.search(lake.embedder.encode([text]), k)[0]
    table = pa.table(
        {
            "chunk_id": pa.array([h[0] for h in hits], pa.string()),
            "score": pa.array([h[1] for h in hits], pa.float32()),
            "rank": pa.array(range(1, len(hits) + 1), pa.int32()),
        }
    )
    con, lock = _hit_connection(snapshot)
    with lock:
        con.register("_hits", table)
        try:
            return Result(con.execute(HITS).to_arrow_table())
        finally:
            con.unregister("_hits")


# Per-process cache of one DuckDB connection per pinned snapshot: opening a
# connection and defining the relations costs more than the search itself.
_CONNECTIONS: OrderedDict[tuple[str, int], tuple[Any, threading.Lock]] = OrderedDict()
_CACHE_SIZE = 4
_MATERIALISE_MAX_CHUNKS = 200_000
_GUARD = threading.Lock()


def _hit_connection(snapshot: Snapshot) -> tuple[Any, threading.Lock]:
    key = (str(snapshot.root), snapshot.snapshot_id)
    with _GUARD:
        if key in _CONNECTIONS:
            _CONNECTIONS.move_to_end(key)
            return _CONNECTIONS[key]
    con = connect(snapshot)
    n = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
    # below the limit the hit rows sit in memory: no Parquet scan per query
    kind = "TABLE" if n <= _MATERIALISE_MAX_CHUNKS else "VIEW"
    con.execute(
        f"CREATE TEMP {kind} _hit_rows AS SELECT c.* EXCLUDE (embedding), d.title "
        "FROM chunks c LEFT JOIN documents d USING (doc_id)"
    )
    entry = (con, threading.Lock())
    with _GUARD:
        _CONNECTIONS[key] = entry
        while len(_CONNECTIONS) > _CACHE_SIZE:
            old, old_lock = _CONNECTIONS.popitem(last=False)[1]
            with old_lock:  # not while another thread is searching on it
                old.close()
    return entry
