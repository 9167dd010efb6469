"""Retrieval quality on BEIR-style benchmarks: readers, chunk-to-document rollup, metrics.

BEIR data sets (SciFact, NFCorpus, FiQA, ...) ship ``corpus.jsonl`` (``_id``,
``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv``
(``query-id  corpus-id  score`` with a header line). docframe retrieves *chunks*,
while qrels judge *documents*, so chunk hits are rolled up to documents first
(``to_documents``: a document ranks by its best chunk, the usual "MaxP" choice).

The metrics follow trec_eval as exposed by pytrec_eval, which BEIR uses, so numbers
are comparable with published ones:

- ``ndcg_at_k`` is trec_eval's ``ndcg_cut.k``: gain is the graded relevance itself
  (linear, *not* ``2^rel - 1``), discounted by ``log2(rank + 1)``; the ideal DCG
  orders all judged documents of the query by relevance. Relevance <= 0 gains nothing.
- ``recall_at_k`` is ``recall.k``: relevant (relevance >= 1) documents in the first k,
  over all relevant documents of the query.
- ``mrr`` is ``recip_rank``: 1 / rank of the first relevant document, no cut-off.

Two deliberate differences from BEIR's wrapper: rankings are taken in the order
given (trec_eval re-sorts by score and breaks ties by document id, which can
reorder tied results), and a query with relevant documents but no results counts
as 0 instead of being dropped from the average (trec_eval's ``-c``). BEIR's
``ignore_identical_ids`` (dropping a result whose id equals the query id) is not
applied.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docframe.index.base import Encoder
    from docframe.lake.store import LakeStore

__all__ = [
    "read_queries",
    "read_qrels",
    "read_corpus",
    "to_documents",
    "ndcg_at_k",
    "recall_at_k",
    "mrr",
    "evaluate",
]


def _open_text(path: Path) -> IO[str]:
    """Open ``path`` for reading text, transparently gunzipping ``*.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict]]:
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(
                    f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}"
                )
            yield lineno, row


def _field(path: Path, lineno: int, row: dict, name: str, *, required: bool = True) -> str:
    value = row.get(name)
    if value is None and not required:
        return ""
    if value is None:
        raise ValueError(f"{path}:{lineno}: missing field {name!r}")
    return str(value) if name == "_id" else _as_text(path, lineno, name, value)


def _as_text(path: Path, lineno: int, name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{path}:{lineno}: field {name!r} must be a string, got {value!r:.60}")
    return value


def read_queries(path: str | Path) -> dict[str, str]:
    """BEIR ``queries.jsonl`` (optionally ``.gz``) as ``{query_id: text}``, in file order."""
    path = Path(path)
    queries: dict[str, str] = {}
    for lineno, row in _read_jsonl(path):
        qid = _field(path, lineno, row, "_id")
        if qid in queries:
            raise ValueError(f"{path}:{lineno}: duplicate query id {qid!r}")
        queries[qid] = _field(path, lineno, row, "text")
    return queries


def read_corpus(path: str | Path) -> dict[str, str]:
    """BEIR ``corpus.jsonl`` (optionally ``.gz``) as ``{doc_id: title + "\\n" + text}``.

    The title is what BEIR's own baselines index together with the body; an empty
    or missing title leaves the text alone.
    """
    path = Path(path)
    corpus: dict[str, str] = {}
    for lineno, row in _read_jsonl(path):
        doc_id = _field(path, lineno, row, "_id")
        if doc_id in corpus:
            raise ValueError(f"{path}:{lineno}: duplicate document id {doc_id!r}")
        title = _field(path, lineno, row, "title", required=False)
        text = _field(path, lineno, row, "text")
        corpus[doc_id] = f"{title}\n{text}" if title else text
    return corpus


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Relevance judgements as ``{query_id: {doc_id: relevance}}``.

    Reads BEIR's TSV (``query-id corpus-id score``, header line optional) and also
    TREC qrels (``qid iteration docid relevance``, whitespace separated); ``.gz``
    files are decompressed. Relevance 0 rows are kept (judged not relevant). When a
    pair appears twice the later line wins, as in a dict built by pytrec_eval.
    """
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    with _open_text(path) as f:
        first = True
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            fields = [x.strip() for x in fields]
            if len(fields) == 4:  # TREC: qid, iteration (unused), docid, relevance
                fields = [fields[0], fields[2], fields[3]]
            if len(fields) != 3:
                raise ValueError(
                    f"{path}:{lineno}: expected 3 tab-separated fields "
                    f"(query-id, corpus-id, score), got {len(fields)}: {line!r:.80}"
                )
            qid, doc_id, score = fields
            try:
                relevance = int(score)
            except ValueError:
                if first:  # the header line ("query-id corpus-id score")
                    first = False
                    continue
                raise ValueError(
                    f"{path}:{lineno}: relevance must be an integer, got {score!r}"
                ) from None
            first = False
            qrels.setdefault(qid, {})[doc_id] = relevance
    return qrels


def to_documents(hits: Iterable[tuple[str, float]]) -> list[str]:
    """Roll chunk hits ``[(doc_key, score), ...]`` up to document keys, best first.

    A document scores as its best chunk. Equal document scores keep the order in
    which the documents first appeared in ``hits`` (the retriever's own order), so
    the result is deterministic.
    """
    best: dict[str, float] = {}
    for i, (doc_key, score) in enumerate(hits):
        score = float(score)
        if math.isnan(score):
            raise ValueError(f"hits[{i}]: score of {doc_key!r} is NaN")
        if doc_key not in best or score > best[doc_key]:
            best[doc_key] = score
    # dicts keep first-insertion order and sorted() is stable: ties stay in hit order.
    return sorted(best, key=lambda d: -best[d])


def _dedupe(ranking: Sequence[str]) -> list[str]:
    """A ranking with later repeats removed (a document is retrieved once, at its best rank)."""
    if isinstance(ranking, str | bytes):
        raise TypeError(
            f"a ranking must be a sequence of document ids, not the string {ranking!r:.60}"
        )
    return list(dict.fromkeys(ranking))


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return k


def ndcg_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gain, as trec_eval's ``ndcg_cut.k`` (0.0 without relevant docs).

    DCG = sum over the first k results of rel / log2(rank + 1); the ideal DCG is the
    same sum over the query's judged documents sorted by relevance.
    """
    _check_k(k)
    dcg = 0.0
    for rank, doc in enumerate(_dedupe(ranking)[:k], start=1):
        rel = relevance.get(doc, 0)
        if rel > 0:
            dcg += rel / math.log2(rank + 1)
    ideal = sorted((r for r in relevance.values() if r > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Share of the relevant (relevance >= 1) documents found in the first k results."""
    _check_k(k)
    relevant = {doc for doc, rel in relevance.items() if rel > 0}
    if not relevant:
        return 0.0
    found = sum(1 for doc in _dedupe(ranking)[:k] if doc in relevant)
    return found / len(relevant)


def mrr(ranking: Sequence[str], relevance: Mapping[str, int]) -> float:
    """Reciprocal rank of the first relevant document (trec_eval ``recip_rank``), else 0.0."""
    for rank, doc in enumerate(_dedupe(ranking), start=1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def evaluate(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    ks: Sequence[int] = (10, 100),
) -> dict[str, float | int]:
    """Mean metrics of ``run`` ({query_id: ranked doc ids}) against ``qrels``.

    Returns ``ndcg@k`` and ``recall@k`` for each k in ``ks``, ``mrr``, and
    ``queries``: how many queries were averaged, namely every query of ``qrels``
    with at least one relevant document. Such a query missing from ``run`` scores 0;
    run entries for other queries are ignored.
    """
    ks = [_check_k(k) for k in ks]
    judged = [qid for qid, rels in qrels.items() if any(r > 0 for r in rels.values())]
    if not judged:
        raise ValueError("no query in qrels has a relevant document; nothing to evaluate")
    totals: dict[str, float] = {f"ndcg@{k}": 0.0 for k in ks}
    totals.update({f"recall@{k}": 0.0 for k in ks})
    totals["mrr"] = 0.0
    for qid in judged:
        ranking = _dedupe(run.get(qid, ()))
        rels = qrels[qid]
        for k in ks:
            totals[f"ndcg@{k}"] += ndcg_at_k(ranking, rels, k)
            totals[f"recall@{k}"] += recall_at_k(ranking, rels, k)
        totals["mrr"] += mrr(ranking, rels)
    result: dict[str, float | int] = {name: value / len(judged) for name, value in totals.items()}
    result["queries"] = len(judged)
    return result


def evaluate_lake(
    store: LakeStore,
    embedder: Encoder,
    queries_path: str | Path,
    qrels_path: str | Path,
    *,
    mode: str = "dense",
    k: int = 10,
    depth: int = 100,
    weights: tuple[float, float] = (1.0, 1.0),
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the judged queries through search on the newest snapshot of ``store`` (questions
    embedded with ``embedder``) and score them (``docframe eval``).

    Each query fetches ``depth`` chunks (recall@100 needs 100 documents' worth);
    chunk hits become documents by their best score (:func:`to_documents`), keyed
    by ``doc_key`` (BEIR's ``_id``). Dense and hybrid queries are embedded in one
    batch first. Returns ``ndcg@{k}``, ``recall@{k}``, ``recall@100``, ``mrr``,
    the query count, mode and seconds.
    """
    import time

    from docframe.query.search import MODES

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    queries = read_queries(queries_path)
    qrels = read_qrels(qrels_path)
    judged = [q for q in qrels if q in queries and any(r > 0 for r in qrels[q].values())]
    if not judged:
        raise ValueError(
            f"{qrels_path}: none of its judged query ids is in {queries_path}; "
            "are they from the same collection?"
        )
    judged = judged[:limit] if limit else judged
    start = time.perf_counter()
    vectors = None
    if mode in ("dense", "hybrid"):
        vectors = embedder.encode([queries[q] for q in judged])
    snapshot = store.snapshot()
    from docframe.query.search import search

    run: dict[str, list[str]] = {}
    for i, qid in enumerate(judged):
        result = search(
            store,
            snapshot,
            queries[qid],
            max(depth, k),
            mode=mode,
            weights=weights,
            query_vector=None if vectors is None else vectors[i],
        )
        table = result.to_arrow()
        hits = zip(
            table.column("doc_key").to_pylist(), table.column("score").to_pylist(), strict=True
        )
        run[qid] = to_documents(hits)
        if progress is not None:
            progress(i + 1, len(judged))
    scores = evaluate(run, {q: qrels[q] for q in judged}, ks=sorted({k, 100}))
    return {
        "mode": mode,
        **{
            f"ndcg@{k}": round(scores[f"ndcg@{k}"], 4),
            f"recall@{k}": round(scores[f"recall@{k}"], 4),
        },
        "recall@100": round(scores["recall@100"], 4),
        "mrr": round(scores["mrr"], 4),
        "queries": scores["queries"],
        "seconds": round(time.perf_counter() - start, 2),
    }
