"""Hybrid search + join through docframe's SQL vs the same work composed by hand, one run.

docframe: ``lake.sql(statement)`` where the statement is::

    SELECT d.doc_key, d.title, s.score
    FROM hybrid_search('<question>', k => 20[, where => '<predicate>']) s
    JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)
    ORDER BY s.score DESC LIMIT 10

(parse, run both searches on the lake's indexes, fuse, register, run the join in
DuckDB: the whole per-statement path, including pinning the snapshot).

By hand, the same work with the raw libraries on the same data: the query
embedded with the same sentence-transformers model, ``faiss.IndexFlatIP`` over the
lake's chunk vectors (the kind docframe picks at this size), ``bm25s`` over the
same texts (title + text, the same stemmer and stopwords, docframe's k1 and b), both
100 deep, fused as docframe fuses by default — each ranking's scores standardised
(z-scores over its ids, a missing id at the ranking's lowest z), summed — in numpy, the filter as a
DuckDB query whose chunk ids become a faiss ``IDSelectorBatch`` and a bm25s weight
mask, and the join as a DuckDB query over the lake's Parquet files with the hits
registered as an Arrow table. Index building and connections are set up once, outside the timings.

The two run query by query, interleaved (the order alternates), over ``--queries``
SciFact questions, unfiltered and with a filter that keeps about 10 % of the
chunks. Reported: p50 and p95 per statement and ``ratio`` = docframe p50 / by-hand
p50 (target <= 1.2), and whether both returned the same documents.

Data: a lake holding SciFact (``--lake``; built from ``--docs`` documents of
``../shared/corpus/retrieval/scifact/corpus.jsonl.gz`` into
``benchmarks/.cache/hybrid-lake-<docs>`` when absent).

    .venv/bin/python benchmarks/hybrid_query.py --docs 1000 --queries 100
    .venv/bin/python benchmarks/hybrid_query.py --lake /tmp/scifact-lake
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from common import cache_path, cached_lake

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared" / "corpus" / "retrieval" / "scifact"
STATEMENT = """
SELECT d.doc_key, d.title, s.score
FROM hybrid_search('{q}', k => 20{where}) s
JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)
ORDER BY s.score DESC LIMIT 10
"""
JOIN = """
SELECT d.doc_key, d.title, s.score
FROM hits s JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)
ORDER BY s.score DESC LIMIT 10
"""
DEPTH = 100


def build_lake(docs: int) -> Path:
    """The first ``docs`` SciFact documents, ingested once into the cache."""
    import docframe

    def ingest(root: Path) -> None:
        src = cache_path(f"scifact-{docs}.jsonl")
        with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt") as fh, src.open("w") as out:
            for i, line in enumerate(fh):
                if i >= docs:
                    break
                out.write(line)
        report = docframe.open(root).ingest([src])
        assert report.ok, report.failures

    root, _ = cached_lake(f"hybrid-lake-{docs}", ingest)
    return root


class ByHand:
    """The raw-library composition: faiss + bm25s + z-score fusion + DuckDB, set up once."""

    def __init__(self, lake) -> None:
        import bm25s
        import duckdb
        import faiss
        import Stemmer

        from docframe.index.keyword import K1, B  # docframe's BM25 parameters
        from docframe.lake.relations import connect

        snapshot = lake.snapshot()
        self.con = connect(snapshot)
        table = self.con.execute(
            "SELECT c.chunk_id, c.embedding, coalesce(d.title || chr(10), '') || c.text AS text "
            "FROM chunks c LEFT JOIN documents d USING (doc_id) ORDER BY c.chunk_id"
        ).to_arrow_table()
        self.ids = np.array(table.column("chunk_id").to_pylist(), dtype=object)
        self.position = {c: i for i, c in enumerate(self.ids)}
        vectors = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
        self.faiss = faiss
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        self.stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(
            table.column("text").to_pylist(),
            stopwords="en",
            stemmer=self.stemmer,
            show_progress=False,
        )
        self.bm25 = bm25s.BM25(k1=K1, b=B)
        self.bm25.index(tokens, show_progress=False)
        self.bm25s = bm25s
        self.model = lake.query_encoder()  # the encoder lake.search uses: the same call
        self.duckdb = duckdb

    def run(self, question: str, where: str | None) -> list[str]:
        allowed = None
        if where:
            keep = self.con.execute(f"SELECT chunk_id FROM chunks WHERE {where}").fetchall()
            allowed = np.array(sorted(self.position[c] for (c,) in keep), dtype=np.int64)
        vector = self.model.encode([question])
        depth = min(DEPTH, self.index.ntotal)
        if allowed is None:
            similarity, dense = self.index.search(vector, depth)
        else:
            params = self.faiss.SearchParameters(sel=self.faiss.IDSelectorBatch(allowed))
            similarity, dense = self.index.search(vector, min(depth, len(allowed)), params=params)
        query_tokens = self.bm25s.tokenize(
            [question], stopwords="en", stemmer=self.stemmer, show_progress=False
        )
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=np.float32)
            mask[allowed] = 1
        docs, scores = self.bm25.retrieve(
            query_tokens, k=min(DEPTH, len(self.ids)), weight_mask=mask, show_progress=False
        )
        keyword = [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        semantic = [
            (int(i), float(s)) for i, s in zip(dense[0], similarity[0], strict=True) if i >= 0
        ]
        fused: dict[int, float] = {}
        standard = []
        for ranking in (semantic, keyword):
            if not ranking:
                continue
            values = np.array([score for _, score in ranking])
            sd = values.std()
            z = (values - values.mean()) / sd if sd > 0 else np.zeros(len(values))
            standard.append((dict(zip((pos for pos, _ in ranking), z, strict=True)), z.min()))
        for pos in {pos for ranking in (semantic, keyword) for pos, _ in ranking}:
            fused[pos] = sum(z.get(pos, floor) for z, floor in standard)
        top = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
        import pyarrow as pa

        hits = pa.table(
            {
                "chunk_id": pa.array([self.ids[p] for p, _ in top], pa.string()),
                "score": pa.array([s for _, s in top], pa.float64()),
            }
        )
        self.con.register("hits", hits)
        try:
            return [r[0] for r in self.con.execute(JOIN).fetchall()]
        finally:
            self.con.unregister("hits")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="an existing lake holding SciFact")
    parser.add_argument("--docs", type=int, default=1000, help="SciFact documents to ingest")
    parser.add_argument("--queries", type=int, default=100, help="questions per variant")
    args = parser.parse_args(argv)
    if args.lake is None and not (SCIFACT / "corpus.jsonl.gz").exists():
        print(f"error: SciFact not found under {SCIFACT}", file=sys.stderr)
        return 2

    import docframe

    root = args.lake or build_lake(args.docs)
    lake = docframe.open(root, create=False)
    questions = []
    with (SCIFACT / "queries.jsonl").open() as fh:
        for line in fh:
            questions.append(json.loads(line)["text"])
            if len(questions) >= args.queries:
                break
    n_chunks = lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
    # a filter keeping ~10 % of the chunks: doc_keys whose hash falls in one decile
    where = "hash(doc_key) % 10 = 3"
    kept = lake.sql(f"SELECT count(*) AS n FROM chunks WHERE {where}").to_list()[0]["n"]
    print(f"lake {root}: {n_chunks} chunks; filter {where!r} keeps {kept} ({kept / n_chunks:.1%})")

    hand = ByHand(lake)
    results = {}
    for label, pred in (("unfiltered", None), ("filtered", where)):
        suffix = "" if pred is None else ", where => '" + pred.replace("'", "''") + "'"
        t_df, t_hand, same = [], [], 0
        for i, q in enumerate(questions):
            statement = STATEMENT.format(q=q.replace("'", "''"), where=suffix)
            if i == 0:  # warm both: indexes loaded, caches filled
                lake.sql(statement)
                hand.run(q, pred)
            order = ("docframe", "hand") if i % 2 == 0 else ("hand", "docframe")
            for who in order:
                start = time.perf_counter()
                if who == "docframe":
                    got_df = [r["doc_key"] for r in lake.sql(statement).to_list()]
                    t_df.append(time.perf_counter() - start)
                else:
                    got_hand = hand.run(q, pred)
                    t_hand.append(time.perf_counter() - start)
            same += got_df == got_hand
        p50_df, p50_hand = statistics.median(t_df), statistics.median(t_hand)
        results[label] = {
            "docframe_p50_ms": round(1000 * p50_df, 2),
            "docframe_p95_ms": round(1000 * sorted(t_df)[int(0.95 * (len(t_df) - 1))], 2),
            "hand_p50_ms": round(1000 * p50_hand, 2),
            "hand_p95_ms": round(1000 * sorted(t_hand)[int(0.95 * (len(t_hand) - 1))], 2),
            "ratio": round(p50_df / p50_hand, 3),
            "same_top10": f"{same}/{len(questions)}",
        }
        r = results[label]
        print(
            f"{label:10s} docframe p50 {r['docframe_p50_ms']:7.2f} ms "
            f"(p95 {r['docframe_p95_ms']:.2f})"
            f" | by hand p50 {r['hand_p50_ms']:7.2f} ms (p95 {r['hand_p95_ms']:.2f})"
            f" | ratio {r['ratio']:.3f} | same top 10: {r['same_top10']}"
        )
    figures = {"chunks": n_chunks, "queries": len(questions), "cpus": os.cpu_count()}
    for label, r in results.items():
        figures.update({f"{label}_{k}": v for k, v in r.items()})
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
