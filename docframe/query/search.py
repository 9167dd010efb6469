"""Dense search: embed the question, search the snapshot's index, join provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from docframe.errors import QueryError
from docframe.query.result import Result
from docframe.query.sql import connect

if TYPE_CHECKING:
    from docframe.lake.lake import Lake
    from docframe.lake.snapshot import Snapshot

HIT_COLUMNS = """
    h.rank, h.score, c.chunk_id, c.doc_key, c.source_uri, d.title, c.modality,
    c.page, c.bbox, c.start_s, c.end_s, c.char_start, c.char_end, c.text, c.doc_id
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
    con = connect(snapshot)
    try:
        con.register("_hits", table)
        sql = (
            f"SELECT {HIT_COLUMNS} FROM _hits h JOIN chunks c USING (chunk_id) "
            "LEFT JOIN documents d USING (doc_id) ORDER BY h.rank"
        )
        return Result(con.execute(sql).to_arrow_table())
    finally:
        con.close()
