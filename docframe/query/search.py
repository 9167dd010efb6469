"""Search: dense, keyword (BM25) or hybrid, optionally filtered by a SQL predicate.

One function, :func:`search`, serves the CLI, the Python API and (later) the SQL
table functions:

1. ``where`` (a DuckDB predicate on ``chunks`` columns, e.g.
   ``modality = 'pdf' AND page < 5`` or ``metadata->>'lang' = 'en'``) is run
   first, on the snapshot's ``chunks`` relation; the chunk ids it keeps become
   the *allowed set* handed to the indexes (``docframe.index.store`` scores small
   sets exactly and pushes large ones into the index's own filter). So a filtered
   search returns ``k`` hits whenever ``k`` chunks match, never "top-k, then most
   of them dropped".
2. ``dense`` embeds the question and searches the vector index; ``keyword``
   searches BM25 (only chunks sharing a term with the question score);
   ``hybrid`` runs both, ``fetch`` deep, and fuses the two rankings with
   reciprocal rank fusion (``docframe.query.fusion.rrf``; ``weights`` = dense,
   keyword).
3. The hits are joined to their provenance in DuckDB, and the result carries
   ``info``: mode, k, hits returned, how many chunks were eligible, and
   ``exhausted`` (True when fewer than ``k`` could be returned, with the reason).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from docframe.errors import QueryError
from docframe.lake.reader import reader
from docframe.query.result import Result

if TYPE_CHECKING:
    from docframe.index.base import Encoder
    from docframe.lake.snapshot import Snapshot
    from docframe.lake.store import LakeStore


MODES = ("dense", "keyword", "hybrid")
HYBRID_FETCH = 100  # each ranking hybrid fuses is this deep (at least k)
# 60 is the RRF paper's constant; on SciFact train (809 queries) 10-20 rank better (chunk
# fusion, 100 deep): benchmarks/retrieval_experiments.py.
RRF_K = 20

HITS = """
SELECT h.rank, h.score, c.chunk_id, c.doc_key, c.source_uri, c.title, c.modality,
       c.page, c.bbox, c.start_s, c.end_s, c.char_start, c.char_end, c.text, c.doc_id
FROM _hits h JOIN _hit_rows c USING (chunk_id) ORDER BY h.rank
"""


def search(
    store: LakeStore,
    snapshot: Snapshot,
    text: str,
    k: int = 10,
    *,
    embedder: Encoder | None = None,
    mode: str = "dense",
    where: str | None = None,
    weights: tuple[float, float] = (1.0, 1.0),
    fetch: int | None = None,
    query_vector: np.ndarray | None = None,
    provenance: bool = True,
    allowed_ids: np.ndarray | None = None,
) -> Result:
    """The ``k`` best chunks for ``text`` (see the module docstring); ``result.info`` says how.

    ``store``: the lake whose indexes answer; ``embedder`` encodes the question for dense
    and hybrid search. ``query_vector``: ``text`` already embedded with the lake's model
    (batch callers such as ``docframe eval`` encode all their questions at once).
    ``provenance=False`` returns only ``chunk_id``, ``score`` and ``rank`` (the SQL
    table functions join what the statement asks for themselves). ``allowed_ids``: the
    chunk ids ``where`` matched, evaluated by the caller (the agent sandbox runs an
    agent's predicate in its own locked engine, never on this process's connection).
    """
    if not text or not text.strip():
        raise QueryError("empty search text", help='give a question, e.g. docframe search "..."')
    if k < 1:
        raise QueryError(f"k must be at least 1, got {k}")
    if mode not in MODES:
        raise QueryError(f"unknown search mode {mode!r}", help=f"use one of: {', '.join(MODES)}")
    if len(weights) != 2 or any(w < 0 for w in weights) or not any(weights):
        raise QueryError(
            f"hybrid weights must be two non-negative numbers, not both 0; got {weights!r}"
        )
    info: dict[str, Any] = {"mode": mode, "k": k, "where": where, "snapshot": snapshot.snapshot_id}
    hits: list[tuple[str, float]] = []
    snapshot.require("chunks", "documents")  # a damaged segment: its one line, not a trace
    if snapshot.is_empty:
        info.update(candidates=0, exhausted=True, reason="the lake has no chunks")
        return _result(snapshot, hits, info, provenance)
    if allowed_ids is None and where is not None:
        allowed_ids = _filter(snapshot, where)
    if allowed_ids is not None:
        info["matched"] = len(allowed_ids)
    dense = keyword = None
    if mode in ("dense", "hybrid"):
        from docframe.index.store import ensure_index

        dense = ensure_index(store, snapshot)
        info["index"] = dense.describe()
    if mode in ("keyword", "hybrid"):
        from docframe.index.keyword_store import ensure_keyword_index

        keyword = ensure_keyword_index(store, snapshot)
        info["keyword_index"] = keyword.describe()
    depth = k if mode != "hybrid" else max(k, fetch or HYBRID_FETCH)
    rankings: list[list[tuple[str, float]]] = []
    if dense is not None:
        allowed = None if allowed_ids is None else dense.positions_of(allowed_ids)
        info["chunks"] = dense.n_live
        info["candidates"] = dense.n_live if allowed is None else len(allowed)
        if query_vector is None and embedder is None:
            raise QueryError(f"{mode} search needs the embedding model", help="use Lake.search")
        vector = embedder.encode([text]) if query_vector is None else query_vector
        vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        rankings.append(dense.search(vector, depth, allowed=allowed)[0])
    if keyword is not None:
        allowed = None if allowed_ids is None else keyword.positions_of(allowed_ids)
        info.setdefault("chunks", len(keyword.chunk_ids))
        info.setdefault("candidates", len(keyword.chunk_ids) if allowed is None else len(allowed))
        found = keyword.search([text], depth, allowed=allowed)[0]
        info["keyword_matches"] = len(found) if len(found) < depth else f">={depth}"
        rankings.append(found)
    if mode == "hybrid":
        from docframe.query.fusion import rrf

        fused = rrf([[c for c, _ in r] for r in rankings], weights=weights, k_rrf=RRF_K, limit=k)
        hits = fused
    else:
        hits = rankings[0][:k]
    info["returned"] = len(hits)
    info["exhausted"] = len(hits) < k
    if info["exhausted"]:
        if mode == "keyword" and len(hits) < info["candidates"]:
            info["reason"] = f"only {len(hits)} chunk(s) share a term with the question"
        elif where is not None:
            info["reason"] = f"only {info['candidates']} chunk(s) match --where"
        else:
            info["reason"] = f"the snapshot has only {info['candidates']} chunk(s)"
    return _result(snapshot, hits, info, provenance)


def prepare(store: LakeStore, snapshot: Snapshot, modes: set[str]) -> None:
    """Load (or build) what searches in ``modes`` need on ``snapshot``: its reader and
    indexes. Callers that put a time limit on a search (the agent tools) call this
    first, so the limit measures the question, not a one-off index load."""
    snapshot.require("chunks", "documents")  # a damaged segment: its one line, not a trace
    if snapshot.is_empty:
        return
    with reader(snapshot).cursor(hit_rows=True):
        pass
    if modes & {"dense", "hybrid"}:
        from docframe.index.store import ensure_index

        ensure_index(store, snapshot)
    if modes & {"keyword", "hybrid"}:
        from docframe.index.keyword_store import ensure_keyword_index

        ensure_keyword_index(store, snapshot)


_FILTER_PREFIX = "SELECT chunk_id FROM chunks WHERE "


def _filter(snapshot: Snapshot, where: str) -> np.ndarray:
    """Chunk ids satisfying ``where``: one predicate, checked before it reaches DuckDB."""
    import duckdb
    import sqlglot
    from sqlglot import exp

    from docframe.lake.relations import engine_error, one_line

    where = where.strip()
    if not where:
        raise QueryError("--where is empty", help='give a predicate, e.g. --where "page < 5"')
    try:
        parsed = sqlglot.parse(_FILTER_PREFIX + where, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        found = (exc.errors or [{}])[0]  # the column counts from the predicate's start
        column = found.get("col")
        raise QueryError(
            f"--where {where!r} is not a SQL predicate: {one_line(str(exc))}",
            help="e.g. --where \"modality = 'pdf' AND page <= 3\"",
            line=found.get("line"),
            column=None if column is None else max(column - len(_FILTER_PREFIX), 1),
            highlight=found.get("highlight"),
        ) from None
    if (
        len(parsed) != 1
        or not isinstance(parsed[0], exp.Select)
        or parsed[0].args.get("where") is None
    ):
        raise QueryError(
            f"--where {where!r} must be one predicate, not a statement",
            help="e.g. --where \"doc_key = 'report-2024'\"",
        )
    with reader(snapshot).cursor() as con:
        try:
            table = con.execute(f"SELECT chunk_id FROM chunks WHERE ({where})").to_arrow_table()
        except duckdb.Error as exc:
            raise engine_error(
                exc,
                prefix=f"--where {where!r}: ",
                help='columns of chunks: docframe sql "DESCRIBE chunks"',
            ) from None
    return table.column("chunk_id").to_numpy(zero_copy_only=False)


def _result(
    snapshot: Snapshot, hits: list[tuple[str, float]], info: dict[str, Any], provenance: bool
) -> Result:
    table = pa.table(
        {
            "chunk_id": pa.array([h[0] for h in hits], pa.string()),
            "score": pa.array([h[1] for h in hits], pa.float64()),
            "rank": pa.array(range(1, len(hits) + 1), pa.int32()),
        }
    )
    if not provenance:
        return Result(table, info=info)
    with reader(snapshot).cursor(hit_rows=True) as con:
        con.register("_hits", table)
        return Result(con.execute(HITS).to_arrow_table(), info=info)
