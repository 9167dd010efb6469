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
   ``hybrid`` runs both, ``fetch`` deep, and fuses the two rankings by standardised
   score (``docframe.query.fusion.zscore``; ``weights`` = dense, keyword), which on
   SciFact train ranks better than reciprocal rank fusion at any k.
3. The hits are joined to their provenance in DuckDB, and the result carries
   ``info``: mode, k, hits returned, how many chunks were eligible, and
   ``exhausted`` (True when fewer than ``k`` could be returned, with the reason).

``per_document=True`` answers "which documents?" rather than "which passages?": the
best chunk of each of ``k`` distinct documents (``doc_id``), best first. A long
document otherwise fills the top k with its own chunks (on SciFact, 10 chunks held
6.2 distinct documents on average, as few as 2), and over-fetching a fixed 50 is
still not a promise. Each ranking is fetched deeper in rounds until it holds enough
distinct documents or every eligible chunk was seen, so ``k`` documents come back
whenever ``k`` documents have an eligible chunk, and ``exhausted`` stays true to that.
Hybrid collapses each ranking to documents first and then fuses the document
rankings (:func:`fuse_documents`), so a document is rewarded once for the two
retrievers agreeing on it, not once per chunk that happens to be in both lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
PER_DOCUMENT_FETCH = 3  # per_document: the first round fetches this many chunks per document

# a snapshot too large to keep its hit rows in memory (docframe.lake.reader.HitRows)
# joins its hits to them in DuckDB; both give these columns in this order
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
    per_document: bool = False,
) -> Result:
    """The ``k`` best chunks for ``text`` (see the module docstring); ``result.info`` says how.

    ``store``: the lake whose indexes answer; ``embedder`` encodes the question for dense
    and hybrid search. ``query_vector``: ``text`` already embedded with the lake's model
    (batch callers such as ``docframe eval`` encode all their questions at once).
    ``provenance=False`` returns only ``chunk_id``, ``score`` and ``rank`` (the SQL
    table functions join what the statement asks for themselves). ``allowed_ids``: the
    chunk ids ``where`` matched, evaluated by the caller (the agent sandbox runs an
    agent's predicate in its own locked engine, never on this process's connection).
    ``per_document``: the best chunk of each of ``k`` distinct documents instead, for
    callers that want documents, not passages (``fetch`` then counts documents).
    """
    if not text or not text.strip():
        raise QueryError("empty search text", help='give a question, e.g. docframe search "..."')
    if k < 1:
        raise QueryError(f"k must be at least 1, got {k}", help="e.g. k = 10")
    if mode not in MODES:
        raise QueryError(f"unknown search mode {mode!r}", help=f"use one of: {', '.join(MODES)}")
    if len(weights) != 2 or any(w < 0 for w in weights) or not any(weights):
        raise QueryError(
            f"hybrid weights must be two non-negative numbers, not both 0; got {weights!r}",
            help="dense,keyword, e.g. 1,0.5",
        )
    info: dict[str, Any] = {"mode": mode, "k": k, "where": where, "snapshot": snapshot.snapshot_id}
    if per_document:
        info["per_document"] = True
    hits: list[tuple[str, float]] = []
    snapshot.require("chunks", "documents")  # a damaged segment: its one line, not a trace
    if snapshot.is_empty:
        info.update(candidates=0, exhausted=True, reason="the lake has no chunks")
        if per_document:
            info["documents"] = 0
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
    rankers: list[tuple[str, Callable[[int], list[tuple[str, float]]], int]] = []
    if dense is not None:
        allowed = None if allowed_ids is None else dense.positions_of(allowed_ids)
        info["chunks"] = dense.n_live
        info["candidates"] = dense.n_live if allowed is None else len(allowed)
        if query_vector is None and embedder is None:
            raise QueryError(f"{mode} search needs the embedding model", help="use Lake.search")
        vector = embedder.encode([text]) if query_vector is None else query_vector
        vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        n_dense = info["candidates"]
        rankers.append(
            ("dense", lambda n, a=allowed: dense.search(vector, n, allowed=a)[0], n_dense)
        )
    if keyword is not None:
        allowed = None if allowed_ids is None else keyword.positions_of(allowed_ids)
        n_keyword = len(keyword.chunk_ids) if allowed is None else len(allowed)
        info.setdefault("chunks", len(keyword.chunk_ids))
        info.setdefault("candidates", n_keyword)
        rankers.append(
            ("keyword", lambda n, a=allowed: keyword.search([text], n, allowed=a)[0], n_keyword)
        )
    if per_document:
        doc_of: dict[str, str] = {}
        chunk_rankings = []
        for name, ranker, candidates in rankers:
            found, fetched = _deepen(snapshot, ranker, depth, candidates, doc_of)
            chunk_rankings.append(found)
            info.setdefault("fetched", {})[name] = fetched
        if mode == "hybrid":
            hits = fuse_documents(chunk_rankings, doc_of, weights=weights, limit=k)
        else:
            best = best_chunk_per_document(chunk_rankings[0], doc_of)
            hits = [(chunk, score) for _, chunk, score in best[:k]]
        info["documents"] = len(hits)
    else:
        chunk_rankings = [ranker(depth) for _, ranker, _ in rankers]
        if mode == "hybrid":
            from docframe.query.fusion import zscore

            hits = zscore(chunk_rankings, weights=weights, limit=k)
        else:
            hits = chunk_rankings[0][:k]
    if keyword is not None:
        found = chunk_rankings[-1]
        asked = info["fetched"]["keyword"] if per_document else depth
        info["keyword_matches"] = len(found) if len(found) < asked else f">={asked}"
    info["returned"] = len(hits)
    info["exhausted"] = len(hits) < k
    if info["exhausted"]:
        info["reason"] = _reason(mode, where, per_document, len(hits), info["candidates"])
    return _result(snapshot, hits, info, provenance)


def _reason(mode: str, where: str | None, per_document: bool, n: int, candidates: int) -> str:
    """Why fewer than k came back, counting what was returned: chunks or documents."""
    if not per_document:
        if mode == "keyword" and n < candidates:
            return f"only {n} chunk(s) share a term with the question"
        if where is not None:
            return f"only {candidates} chunk(s) match --where"
        return f"the snapshot has only {candidates} chunk(s)"
    if mode == "keyword":  # the keyword ranking was read to its end: n is every match
        return f"only {n} document(s) have a chunk sharing a term with the question"
    if where is not None:  # the dense ranking was read to its end: n is every document
        return f"the {candidates} chunk(s) matching --where are in only {n} document(s)"
    return f"the snapshot's {candidates} chunk(s) are in only {n} document(s)"


def _deepen(
    snapshot: Snapshot,
    ranker: Callable[[int], list[tuple[str, float]]],
    documents: int,
    candidates: int,
    doc_of: dict[str, str],
) -> tuple[list[tuple[str, float]], int]:
    """A chunk ranking deep enough to hold ``documents`` distinct documents, or all of it.

    Rounds fetch deeper (from ``PER_DOCUMENT_FETCH`` chunks per document wanted, then
    by the chunks-per-document ratio seen so far, at least doubling) until the ranking
    holds enough documents or came back shorter than asked, which means every eligible
    chunk (every matching one, for keyword) is in it. ``doc_of`` gains the document of
    every chunk seen. Returns (ranking, depth asked last).
    """
    depth = min(max(documents * PER_DOCUMENT_FETCH, 1), max(candidates, 1))
    while True:
        found = ranker(depth)
        _documents_of(snapshot, [c for c, _ in found], doc_of)
        n_docs = len({doc_of[c] for c, _ in found})
        if n_docs >= documents or len(found) < depth or depth >= candidates:
            return found, depth
        wanted = int(depth * documents / max(n_docs, 1) * 1.25) + 1
        depth = min(max(2 * depth, wanted), candidates)


def best_chunk_per_document(
    ranking: Sequence[tuple[str, float]], doc_of: dict[str, str]
) -> list[tuple[str, str, float]]:
    """Collapse a chunk ranking (best first) to documents: ``[(doc_id, chunk_id, score)]``.

    A document ranks where its best chunk ranks and scores as it (the usual "MaxP"
    choice for document retrieval); its other chunks are dropped. Kept as one small
    function so a fusion variant that collapses differently replaces only this.
    """
    seen: set[str] = set()
    out = []
    for chunk_id, score in ranking:
        doc_id = doc_of[chunk_id]
        if doc_id not in seen:
            seen.add(doc_id)
            out.append((doc_id, chunk_id, score))
    return out


def fuse_documents(
    chunk_rankings: Sequence[Sequence[tuple[str, float]]],
    doc_of: dict[str, str],
    *,
    weights: Sequence[float],
    limit: int,
) -> list[tuple[str, float]]:
    """Hybrid per document: z-score fusion of the rankings collapsed to documents
    (``zscore(groups=)``), each document shown by its chunk that fuses best.
    ``[(chunk_id, document score)]``, best first, ``limit`` documents.

    Fusing after collapsing gives each document one place per retriever, so two
    retrievers agreeing on a document counts once, however its chunks are split; fusing
    chunks first would let a document's many chunks crowd the fused list. The chunk
    shown is the passage both retrievers support most.
    """
    from docframe.query.fusion import zscore

    out: list[tuple[str, float]] = []
    seen: set[str] = set()
    for chunk_id, score in zscore(chunk_rankings, weights=weights, groups=doc_of):
        if doc_of[chunk_id] not in seen:  # a document's chunks come together, best first
            seen.add(doc_of[chunk_id])
            out.append((chunk_id, score))
            if len(out) == limit:
                break
    return out


def _documents_of(snapshot: Snapshot, chunk_ids: list[str], doc_of: dict[str, str]) -> None:
    """Add the ``doc_id`` of each of ``chunk_ids`` not yet in ``doc_of`` (from the hit
    rows in memory, or one join)."""
    missing = [c for c in chunk_ids if c not in doc_of]
    if not missing:
        return
    hit_rows = reader(snapshot).hit_rows()
    if hit_rows is not None:
        rows, found = hit_rows.take(missing)
        doc_of.update(
            zip([missing[i] for i in found], rows.column("doc_id").to_pylist(), strict=True)
        )
    else:
        ids = pa.table({"chunk_id": pa.array(missing, pa.string())})
        with reader(snapshot).cursor(hit_rows=True) as con:
            con.register("_chunk_ids", ids)
            joined = (
                "SELECT i.chunk_id, c.doc_id FROM _chunk_ids i JOIN _hit_rows c USING (chunk_id)"
            )
            doc_of.update(con.execute(joined).fetchall())
    for chunk_id in missing:  # not in chunks (cannot happen in a sound lake): its own document
        doc_of.setdefault(chunk_id, chunk_id)


def prepare(store: LakeStore, snapshot: Snapshot, modes: set[str]) -> None:
    """Load (or build) what searches in ``modes`` need on ``snapshot``: its reader and
    indexes. Callers that put a time limit on a search (the agent tools) call this
    first, so the limit measures the question, not a one-off index load."""
    snapshot.require("chunks", "documents")  # a damaged segment: its one line, not a trace
    if snapshot.is_empty:
        return
    if reader(snapshot).hit_rows() is None:  # too many chunks to keep: the view
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
    hit_rows = reader(snapshot).hit_rows()
    if hit_rows is not None:  # the common case: take the <= k rows from memory
        rows, found = hit_rows.take(table.column("chunk_id").to_pylist())
        if len(found) < len(hits):  # a chunk the snapshot does not hold: left out, as a join
            table = table.take(pa.array(found, pa.int64()))
        columns = [table.column("rank"), table.column("score"), *rows.columns]
        names = ["rank", "score", *rows.column_names]
        return Result(pa.Table.from_arrays(columns, names=names), info=info)
    with reader(snapshot).cursor(hit_rows=True) as con:
        con.register("_hits", table)
        return Result(con.execute(HITS).to_arrow_table(), info=info)
