"""Search by document on SciFact (train split): what ``per_document`` gives and costs.

Why: users who want documents over-fetch chunks and deduplicate; how many distinct
documents does that give, and what does ``lake.search(..., per_document=True)`` (k
distinct documents, each by its best chunk; deeper rounds until k are found) cost
instead? Per mode (dense, keyword, hybrid), over ``--queries`` SciFact train questions:

- ``distinct_in_top10`` / ``distinct_in_top50``: distinct documents among the top 10
  / 50 chunks of a plain search (mean and min), and the share of queries whose top 50
  chunks still hold fewer than 10 documents;
- ``per_document_k10``: documents returned by ``per_document=True, k=10`` (min; it is
  10 whenever 10 documents are eligible) and the mean chunk depth the rounds read;
- p50 of plain k=10, plain k=50 (the over-fetch workaround) and per_document k=10,
  timed query by query, interleaved (the order alternates);
- nDCG@10 and recall@100 (pytrec_eval definitions, ``docframe.query.evaluation``) of
  ``per_document=True, k=100`` against the ``docframe eval`` path (100 chunks rolled up
  to documents by best chunk), and for hybrid the paired nDCG@10 difference with its
  standard error: hybrid per_document collapses each ranking to documents and then
  fuses, ``docframe eval`` fuses chunks and then collapses.

Data: the first ``--docs`` SciFact documents plus every document judged for the
first ``--queries`` train queries, ingested once into
``benchmarks/.cache/per-document-lake-<docs>-<queries>`` (or ``--lake``). The last
printed line is one JSON object.

    .venv/bin/python benchmarks/per_document.py --docs 1000 --queries 150
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

from common import cache_path, cached_lake

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared" / "corpus" / "retrieval" / "scifact"
MODES = ("dense", "keyword", "hybrid")


def judged_queries(n: int) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """The first ``n`` train queries with a relevant document, and their judgements."""
    from docframe.query.evaluation import read_qrels, read_queries

    queries = read_queries(SCIFACT / "queries.jsonl")
    qrels = read_qrels(SCIFACT / "qrels" / "train.tsv")
    ids = [q for q in qrels if q in queries and any(r > 0 for r in qrels[q].values())][:n]
    return {q: queries[q] for q in ids}, {q: qrels[q] for q in ids}


def build_lake(docs: int, qrels: dict[str, dict[str, int]], n_queries: int) -> Path:
    """The first ``docs`` documents plus every judged one, ingested once (cached)."""
    import docframe

    def ingest(root: Path) -> None:
        wanted = {d for rels in qrels.values() for d in rels}
        src = cache_path(f"scifact-per-document-{docs}-{n_queries}.jsonl")
        with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt") as fh, src.open("w") as out:
            for i, line in enumerate(fh):
                if i < docs or json.loads(line)["_id"] in wanted:
                    out.write(line)
        report = docframe.open(root).ingest([src])
        assert report.ok, report.failures

    root, _ = cached_lake(f"per-document-lake-{docs}-{n_queries}", ingest)
    return root


def doc_keys(result) -> list[str]:
    return result.to_arrow().column("doc_key").to_pylist()


def run_mode(lake, mode: str, queries: dict[str, str], qrels: dict) -> dict:
    from docframe.query.evaluation import evaluate, ndcg_at_k, to_documents

    timings: dict[str, list[float]] = {"plain_k10": [], "plain_k50": [], "per_document_k10": []}
    top10, top50, returned, fetched = [], [], [], []
    run_eval: dict[str, list[str]] = {}
    run_doc: dict[str, list[str]] = {}
    for i, (qid, text) in enumerate(queries.items()):
        calls = [
            ("plain_k10", 10, False),
            ("plain_k50", 50, False),
            ("per_document_k10", 10, True),
        ]
        for name, k, per_document in calls if i % 2 == 0 else reversed(calls):
            start = time.perf_counter()
            result = lake.search(text, k, mode=mode, per_document=per_document)
            timings[name].append(time.perf_counter() - start)
            if name == "plain_k10":
                top10.append(len(set(doc_keys(result))))
            elif name == "plain_k50":
                top50.append(len(set(doc_keys(result))))
            else:
                returned.append(len(result))
                fetched.append(sum(result.info["fetched"].values()) / len(result.info["fetched"]))
        deep = lake.search(text, 100, mode=mode).to_arrow()
        pairs = zip(
            deep.column("doc_key").to_pylist(), deep.column("score").to_pylist(), strict=True
        )
        run_eval[qid] = to_documents(pairs)
        run_doc[qid] = doc_keys(lake.search(text, 100, mode=mode, per_document=True))
    eval_scores = evaluate(run_eval, qrels, ks=(10, 100))
    doc_scores = evaluate(run_doc, qrels, ks=(10, 100))
    diffs = [
        ndcg_at_k(run_doc[q], qrels[q], 10) - ndcg_at_k(run_eval[q], qrels[q], 10) for q in qrels
    ]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
    return {
        "distinct_in_top10": {"mean": round(statistics.mean(top10), 2), "min": min(top10)},
        "distinct_in_top50": {"mean": round(statistics.mean(top50), 2), "min": min(top50)},
        "share_top50_under_10_docs": round(sum(n < 10 for n in top50) / len(top50), 3),
        "per_document_k10": {
            "min_returned": min(returned),
            "mean_chunk_depth": round(statistics.mean(fetched), 1),
        },
        "p50_ms": {
            name: round(1000 * statistics.median(values), 2) for name, values in timings.items()
        },
        "ndcg@10": {
            "eval_path": round(eval_scores["ndcg@10"], 4),
            "per_document": round(doc_scores["ndcg@10"], 4),
            "paired_diff": round(statistics.mean(diffs), 4),
            "paired_se": round(se, 4),
        },
        "recall@100": {
            "eval_path": round(eval_scores["recall@100"], 4),
            "per_document": round(doc_scores["recall@100"], 4),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--lake", type=Path, help="an already ingested SciFact lake")
    args = parser.parse_args(argv)
    import docframe

    queries, qrels = judged_queries(args.queries)
    root = args.lake or build_lake(args.docs, qrels, args.queries)
    lake = docframe.open(root)
    snapshot = lake.snapshot()
    for mode in MODES:  # one-off loads (model, indexes, reader) are not timed
        lake.prepare_search(snapshot, {mode})
        lake.search("warm up", 10, mode=mode, per_document=True)
    n_docs = lake.sql("SELECT count(*) AS n FROM documents").to_list()[0]["n"]
    n_chunks = lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
    record = {
        "benchmark": "per_document",
        "split": "train",
        "queries": len(queries),
        "documents": n_docs,
        "chunks": n_chunks,
        "modes": {},
    }
    for mode in MODES:
        record["modes"][mode] = run_mode(lake, mode, queries, qrels)
        print(mode, json.dumps(record["modes"][mode]), file=sys.stderr)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
