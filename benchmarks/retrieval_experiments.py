"""Why docframe's hybrid ranking trails, measured: fusion, BM25 analyzer, weights, chunk size.

Every figure here comes from SciFact's **train** judgements (``qrels/train.tsv``, 809
queries); the test split is never read, so the defaults chosen from these numbers are
not tuned on the data the README reports. The script refuses any other qrels file.

For each chunking (``--chunks 200/32,256/32,...``; default 200/32) a lake of SciFact (all 5,183
documents unless ``--docs``) is ingested once with the default embedder and cached in
``benchmarks/.cache/retrieval-<docs>-<tokens>-<overlap>``. Then, cheaply, on that
lake's chunks:

- dense: the lake's own vector index (``ensure_index``), questions encoded with the
  lake's query encoder, fetched 50, 100 and 200 deep as search fetches them;
- keyword: ``KeywordIndex`` built in this process over the lake's chunk texts with each
  analyzer variant (token pattern, stemmer, stopwords, k1/b, with or without the title);
- hybrid: reciprocal rank fusion of the two, at chunk level (fuse chunk ids, then a
  document scores as its best chunk) or at document level (each ranking collapsed to
  documents by its best chunk, then fused), for several RRF constants, depths and
  weights; and score fusion (``docframe.query.fusion.zscore``: each ranking's scores
  standardised, summed; or min-max scaled, a convex combination with weight alpha on
  dense), at both levels, with a k1/b grid for the keyword side.

With ``--peers FILE`` (``peers.py --docs all --queries all --per-query FILE`` on the
same documents) the real ``lake.search(q, k=10, per_document=True)`` of every train
question is scored beside LanceDB's (``hybrid`` vs its RRF hybrid, ``keyword`` vs its
FTS), with the paired per-query difference and its standard error.

Scoring is docframe's own (``docframe.query.evaluation``: a document ranks by its
best chunk, nDCG@10 as trec_eval, recall@100). The row of today's defaults is checked
against ``Lake.evaluate(mode="hybrid")`` on the default chunking, so the fusion
computed here is the one ``search`` runs. For the chosen configuration the paired
per-query difference against today's defaults is reported with its standard error.
Keyword latency: p50 of ``lake.search(q, mode="keyword")`` over the first 200
questions (warm, after one call), and its cProfile top entries with ``--profile``.

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval_experiments.py
    ... --chunks 200/32 --docs 1000      # quicker: one chunking, a corpus prefix

The last printed line is one JSON object with every figure.
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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from common import cache_path, cached_lake

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
SCIFACT = REPO.parent / "shared" / "corpus" / "retrieval" / "scifact"
TODAY_CHUNKS = (200, 32)
# What search did before this study: chunk-level RRF, k=60, 100 deep, weights 1:1.
TODAY_FUSION = {"level": "chunk", "k_rrf": 60, "depth": 100, "weights": (1.0, 1.0)}
TODAY_BM25 = {
    "k1": 1.5,
    "b": 0.75,
    "stemmer": "english",
    "stopwords": "english",
    "pattern": r"(?u)\b\w\w+\b",
    "title": True,
}
ONE_CHAR = r"(?u)\b\w+\b"  # docframe.index.keyword.TOKEN_PATTERN from this study on

Hits = list[tuple[str, float]]


# --- data ----------------------------------------------------------------------------------


def train_split(limit: int | None) -> tuple[list[str], dict[str, str], dict[str, dict[str, int]]]:
    """The judged train queries: ids, texts, qrels. Only ``train.tsv`` is ever opened."""
    from docframe.query.evaluation import read_qrels, read_queries

    qrels_path = SCIFACT / "qrels" / "train.tsv"
    if qrels_path.name != "train.tsv":  # a guard against an edit that points at test
        raise SystemExit(f"{qrels_path}: this study uses the train split only")
    queries = read_queries(SCIFACT / "queries.jsonl")
    qrels = read_qrels(qrels_path)
    judged = [q for q in qrels if q in queries and any(r > 0 for r in qrels[q].values())]
    return judged[:limit] if limit else judged, queries, qrels


def lake_for(docs: int | None, tokens: int, overlap: int):
    """The cached lake of SciFact chunked ``tokens``/``overlap`` (ingested once)."""
    import docframe

    settings = {"chunk_tokens": tokens, "chunk_overlap": overlap}

    def ingest(root: Path) -> None:
        docframe.open(root, **settings).ingest([corpus_file(docs)])

    root, seconds = cached_lake(f"retrieval-{docs or 'all'}-{tokens}-{overlap}", ingest)
    return docframe.open(root, **settings), seconds


def corpus_file(docs: int | None) -> Path:
    """The first ``docs`` SciFact documents (all: None) as one cached ``.jsonl``."""
    src = cache_path(f"scifact-{docs or 'all'}.jsonl")
    if not src.exists():
        with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt") as fh, src.open("w") as out:
            for i, line in enumerate(fh):
                if docs and i >= docs:
                    break
                out.write(line)
    return src


def chunk_rows(lake) -> dict[str, np.ndarray]:
    """Every live chunk: id, document key, title and text, in chunk_id order."""
    from docframe.lake.reader import reader

    with reader(lake.snapshot()).cursor() as con:
        table = con.execute(
            "SELECT c.chunk_id, d.doc_key, coalesce(d.title, '') AS title, c.text "
            "FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.chunk_id"
        ).to_arrow_table()
    return {
        name: np.array(table.column(name).to_pylist(), dtype=object) for name in table.schema.names
    }


# --- retrieval -----------------------------------------------------------------------------


def dense_runs(lake, texts: list[str], depth: int) -> list[Hits]:
    from docframe.index.store import ensure_index

    view = ensure_index(lake.store, lake.snapshot())
    vectors = np.asarray(lake.query_encoder().encode(texts), dtype=np.float32)
    return [view.search(v.reshape(1, -1), depth)[0] for v in vectors]


def keyword_runs(rows: dict[str, np.ndarray], texts: list[str], depth: int, **bm25) -> list[Hits]:
    """BM25 over the chunks with one analyzer variant, built here (a second or two)."""
    from docframe.index.keyword import KeywordIndex

    index = KeywordIndex(
        k1=bm25["k1"],
        b=bm25["b"],
        stemmer=bm25["stemmer"],
        stopwords=bm25["stopwords"],
        token_pattern=bm25["pattern"],
    )
    docs = [
        f"{t}\n{x}" if (bm25["title"] and t) else x
        for t, x in zip(rows["title"], rows["text"], strict=True)
    ]
    index.build(docs, np.arange(len(docs), dtype=np.int64))
    ids, scores = index.search(texts, depth)
    chunk_ids = rows["chunk_id"]
    return [
        [(chunk_ids[i], float(s)) for i, s in zip(r, q, strict=True) if i >= 0]
        for r, q in zip(ids, scores, strict=True)
    ]


def documents_of(hits: Hits, doc_of: dict[str, str]) -> list[str]:
    """Documents by their best chunk (docframe eval's rollup)."""
    from docframe.query.evaluation import to_documents

    return to_documents((doc_of[c], s) for c, s in hits)


def fuse(
    dense: Hits,
    keyword: Hits,
    doc_of: dict[str, str],
    *,
    level: str,
    k_rrf: int,
    depth: int,
    weights: tuple[float, float],
    method: str = "rrf",
    limit: int = 100,
) -> list[str]:
    """The fused document ranking of one question (search's fusion, then the rollup)."""
    from docframe.query.fusion import rrf, zscore

    if method == "zscore":
        scored = [dense[:depth], keyword[:depth]]
        groups = doc_of if level == "document" else None
        return documents_of(zscore(scored, weights=weights, groups=groups), doc_of)
    if method == "minmax":  # alpha = weights[0] on dense, 1 - alpha on keyword
        return minmax(dense[:depth], keyword[:depth], doc_of, weights[0], level)
    lists = [[c for c, _ in dense[:depth]], [c for c, _ in keyword[:depth]]]
    if level == "chunk":
        return documents_of(rrf(lists, weights=weights, k_rrf=k_rrf, limit=limit), doc_of)
    fused = rrf(lists, weights=weights, k_rrf=k_rrf, limit=limit, groups=doc_of)
    return documents_of(fused, doc_of)


def minmax(dense: Hits, keyword: Hits, doc_of: dict[str, str], alpha: float, level: str):
    """Convex combination of min-max scaled scores (an id a ranking lacks scores 0 there),
    the other common score fusion, for comparison with z-score."""

    def scaled(hits: Hits) -> dict[str, float]:
        best: dict[str, float] = {}
        for c, s in hits:
            best.setdefault(doc_of[c] if level == "document" else c, float(s))
        if not best:
            return {}
        lo, hi = min(best.values()), max(best.values())
        return {k: (v - lo) / (hi - lo) if hi > lo else 0.0 for k, v in best.items()}

    d, w = scaled(dense), scaled(keyword)
    fused = {k: alpha * d.get(k, 0.0) + (1 - alpha) * w.get(k, 0.0) for k in {*d, *w}}
    order = sorted(fused, key=lambda k: -fused[k])
    return order if level == "document" else documents_of([(c, fused[c]) for c in order], doc_of)


def search_runs(lake, texts: list[str], mode: str) -> list[list[str]]:
    """Documents of the real ``lake.search(q, k=10, mode, per_document=True)``."""
    return [
        lake.search(t, k=10, mode=mode, per_document=True).to_arrow().column("doc_key").to_pylist()
        for t in texts
    ]


def peer_runs(path: Path, qids: list[str]) -> dict[str, list[list[str]]]:
    """LanceDB's k-result rankings from a peers.py --per-query file, in ``qids`` order."""
    runs = json.loads(path.read_text())["runs"]
    out = {}
    for key in ("lancedb/hybrid", "lancedb/fts", "lancedb/dense"):
        if key in runs:
            missing = [q for q in qids if q not in runs[key]["k"]]
            if missing:
                raise SystemExit(f"{path}: {key} lacks {len(missing)} train queries, e.g. "
                                 f"{missing[0]}; run peers.py --queries all")  # fmt: skip
            out[key] = [runs[key]["k"][q] for q in qids]
    return out


def scores(run: Sequence[list[str]], qids: list[str], qrels) -> dict[str, np.ndarray]:
    from docframe.query.evaluation import ndcg_at_k, recall_at_k

    return {
        "ndcg@10": np.array([ndcg_at_k(r, qrels[q], 10) for r, q in zip(run, qids, strict=True)]),
        "recall@100": np.array(
            [recall_at_k(r, qrels[q], 100) for r, q in zip(run, qids, strict=True)]
        ),
    }


def paired(new: np.ndarray, old: np.ndarray) -> dict[str, float]:
    diff = new - old
    se = float(np.std(diff, ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return {"diff": round(float(diff.mean()), 4), "se": round(se, 4)}


def document_bm25(docs: int | None, texts: list[str]) -> list[list[str]]:
    """docframe's analyzer over whole documents ("title\\ntext", one entry each) as LanceDB
    and txtai index SciFact: how much chunking the keyword side costs or gains."""
    from docframe.index.keyword import KeywordIndex
    from docframe.query.evaluation import read_corpus

    corpus = read_corpus(corpus_file(docs))
    keys = list(corpus)
    index = KeywordIndex()
    index.build([corpus[k] for k in keys], np.arange(len(keys), dtype=np.int64))
    ids, _ = index.search(texts, 100)
    return [[keys[i] for i in row if i >= 0] for row in ids]


# --- latency ---------------------------------------------------------------------------------


def keyword_latency(lake, texts: list[str], profile: bool) -> dict[str, float]:
    lake.search(texts[0], k=10, mode="keyword")  # load the index, warm the reader
    times = []
    for text in texts:
        start = time.perf_counter()
        lake.search(text, k=10, mode="keyword")
        times.append((time.perf_counter() - start) * 1000)
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for text in texts:
            lake.search(text, k=10, mode="keyword")
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
    }


# --- the study -------------------------------------------------------------------------------


class Study:
    """The rows of the table, per-query scores by variant name, and one lake's rankings."""

    def __init__(self, qids: list[str], texts: list[str], qrels, depth: int) -> None:
        self.qids, self.texts, self.qrels, self.depth = qids, texts, qrels, depth
        self.table: list[dict] = []
        self.per_query: dict[str, dict[str, np.ndarray]] = {}

    def record(self, name: str, run: Sequence[list[str]]) -> dict[str, np.ndarray]:
        got = scores(run, self.qids, self.qrels)
        self.per_query[name] = got
        row = {
            "variant": name,
            "ndcg@10": round(float(got["ndcg@10"].mean()), 4),
            "recall@100": round(float(got["recall@100"].mean()), 4),
        }
        self.table.append(row)
        print(f"{name:<66} {row['ndcg@10']:>8.4f} {row['recall@100']:>10.4f}", flush=True)
        return got

    def open_lake(self, lake, tag: str) -> dict:
        self.tag, self.rows = tag, chunk_rows(lake)
        self.doc_of = dict(zip(self.rows["chunk_id"], self.rows["doc_key"], strict=True))
        self.keyword: dict[str, list[Hits]] = {}
        # the dense index may be approximate (HNSW at this size): each depth is fetched
        # as search fetches it, never sliced from a deeper search
        self.dense = {d: dense_runs(lake, self.texts, d) for d in (50, 100, 200)}
        self.record(f"[{tag}] dense", [documents_of(h, self.doc_of) for h in self.dense[100]])
        return {"chunks": len(self.rows["chunk_id"]), "documents": len(set(self.rows["doc_key"]))}

    def bm25(self, name: str, **change) -> list[Hits]:
        if name not in self.keyword:
            params = {**TODAY_BM25, **change}
            hits = self.keyword[name] = keyword_runs(self.rows, self.texts, self.depth, **params)
            self.record(
                f"[{self.tag}] keyword {name}", [documents_of(h, self.doc_of) for h in hits]
            )
        return self.keyword[name]

    def hybrid(self, name: str, keyword: str, **fusion) -> dict[str, np.ndarray]:
        f = {"method": "rrf", **TODAY_FUSION, **fusion}
        run = [
            fuse(d, w, self.doc_of, level=f["level"], k_rrf=f["k_rrf"], depth=f["depth"],
                 weights=f["weights"], method=f["method"])
            for d, w in zip(self.dense[f["depth"]], self.keyword[keyword], strict=True)
        ]  # fmt: skip
        return self.record(f"[{self.tag}] hybrid {name}", run)


TODAY_KW = "today (k1 1.5 b .75, stem, stop, 2+ chars, title)"
TODAY_HYBRID = "today (chunk RRF k60 depth100 1:1)"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", default="200/32", help="tokens/overlap list")
    parser.add_argument("--docs", type=int, default=None, help="first N documents (default all)")
    parser.add_argument("--queries", type=int, default=None, help="first N train queries")
    parser.add_argument("--check", action="store_true", help="also run Lake.evaluate (slow)")
    parser.add_argument("--profile", action="store_true", help="cProfile keyword search")
    parser.add_argument(
        "--chosen",
        default="level=document,method=zscore,depth=100,weights=1:1",
        help="the fusion to compare with today's defaults (paired difference)",
    )
    parser.add_argument(
        "--chosen-keyword", default="one-char, k1 0.9 b .4", help="the analyzer variant chosen"
    )
    parser.add_argument("--peers", type=Path, help="peers.py --per-query file (same docs)")
    args = parser.parse_args(argv)

    qids, queries, qrels = train_split(args.queries)
    texts = [queries[q] for q in qids]
    chosen = _parse_fusion(args.chosen)
    study = Study(qids, texts, qrels, 200)
    report: dict = {"bench": "retrieval_experiments", "split": "train", "queries": len(qids)}
    specs = [tuple(int(x) for x in spec.split("/")) for spec in args.chunks.split(",")]
    if TODAY_CHUNKS not in specs:
        specs.insert(0, TODAY_CHUNKS)  # the baseline every paired difference is against
    specs.sort(key=lambda s: s != TODAY_CHUNKS)
    today: dict[str, np.ndarray] = {}
    print(f"{'variant (SciFact train, ' + str(len(qids)) + ' queries)':<66} {'nDCG@10':>8} "
          f"{'recall@100':>10}")  # fmt: skip
    for tokens, overlap in specs:
        is_today = (tokens, overlap) == TODAY_CHUNKS
        lake, ingest_s = lake_for(args.docs, tokens, overlap)
        tag = f"{tokens}/{overlap}"
        facts = study.open_lake(lake, tag)
        facts["ingest_s"] = None if ingest_s is None else round(ingest_s, 1)
        report.setdefault("lakes", {})[tag] = facts
        study.bm25(TODAY_KW)
        variants = _analyzers(is_today)
        for name, change in variants.items():
            study.bm25(name, **change)
        base = study.hybrid(TODAY_HYBRID, TODAY_KW)
        if is_today:
            today = base
            for level in ("chunk", "document"):
                for k_rrf in (10, 20, 40, 60, 100):
                    for depth in (50, 100, 200):
                        study.hybrid(f"{level} RRF k{k_rrf} depth{depth}", TODAY_KW,
                                     level=level, k_rrf=k_rrf, depth=depth)  # fmt: skip
                for w in ((1.0, 0.5), (1.0, 0.75), (0.75, 1.0), (0.5, 1.0)):
                    study.hybrid(f"{level} RRF k60 depth100 {w[0]}:{w[1]}", TODAY_KW,
                                 level=level, weights=w)  # fmt: skip
        for name in variants:
            study.hybrid(f"document RRF k60 depth100, keyword {name}", name, level="document")
            study.hybrid(f"chunk RRF k20 depth100, keyword {name}", name, k_rrf=20)
            study.hybrid(f"document RRF k20 depth100, keyword {name}", name, level="document",
                         k_rrf=20)  # fmt: skip
            for level in ("document", "chunk"):
                study.hybrid(f"{level} zscore depth100 1:1, keyword {name}", name, level=level,
                             method="zscore")  # fmt: skip
        if is_today:
            for level in ("document", "chunk"):
                for depth in (50, 100, 200):
                    study.hybrid(f"{level} zscore depth{depth} 1:1, keyword one-char tokens",
                                 "one-char tokens", level=level, depth=depth,
                                 method="zscore")  # fmt: skip
                for w in ((1.0, 0.8), (0.8, 1.0), (1.0, 0.6), (0.6, 1.0)):
                    study.hybrid(f"{level} zscore depth100 {w[0]}:{w[1]}, keyword one-char, k1 "
                                 "0.9 b .4", "one-char, k1 0.9 b .4", level=level,
                                 method="zscore", weights=w)  # fmt: skip
                for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
                    study.hybrid(f"{level} minmax depth100 alpha {alpha}, keyword one-char "
                                 "tokens", "one-char tokens", level=level, method="minmax",
                                 weights=(alpha, 1 - alpha))  # fmt: skip
        if is_today:
            study.record("[documents] keyword over whole documents (title + text)",
                         document_bm25(args.docs, texts))  # fmt: skip
        label = f"chosen {args.chosen}, keyword {args.chosen_keyword}"
        mine = study.hybrid(label, args.chosen_keyword, **chosen)
        compare = {"chosen": mine}
        if is_today:
            compare["rrf k20 only"] = study.per_query[f"[{tag}] hybrid chunk RRF k20 depth100"]
            compare["one-char only"] = study.hybrid(
                "chunk RRF k60 depth100, keyword one-char tokens", "one-char tokens"
            )
            compare["document fusion k60"] = study.per_query[
                f"[{tag}] hybrid document RRF k60 depth100"
            ]
            compare["chunk k20, keyword one-char k1 1.2"] = study.per_query[
                f"[{tag}] hybrid chunk RRF k20 depth100, keyword one-char, k1 1.2 b .75"
            ]
            previous = study.per_query[
                f"[{tag}] hybrid document RRF k20 depth100, keyword one-char tokens"
            ]  # search's per-document hybrid before z-score fusion
            compare["previous default (document RRF k20)"] = previous
            compare["zscore only (keyword one-char)"] = study.per_query[
                f"[{tag}] hybrid document zscore depth100 1:1, keyword one-char tokens"
            ]
            report["paired_vs_previous"] = {m: paired(mine[m], previous[m]) for m in mine}
            print(f"  paired vs previous default [{tag}]: {report['paired_vs_previous']}")
        report.setdefault("paired_vs_today", {})[tag] = {
            name: {m: paired(run[m], today[m]) for m in run} for name, run in compare.items()
        }
        for name, diffs in report["paired_vs_today"][tag].items():
            print(f"  paired vs today [{tag}] {name}: {diffs}", flush=True)
        if is_today:
            if args.check:
                from docframe.query.evaluation import evaluate_lake

                got = evaluate_lake(
                    lake.store, lake.query_encoder(), SCIFACT / "queries.jsonl",
                    SCIFACT / "qrels" / "train.tsv", mode="hybrid", limit=args.queries,
                )  # fmt: skip
                checked = {m: got[m] for m in ("ndcg@10", "recall@100", "queries")}
                report["lake_evaluate_hybrid"] = checked
                print(f"Lake.evaluate(mode='hybrid') on this lake (search's defaults, to match "
                      f"the 'chosen' row): {checked}", flush=True)  # fmt: skip
            if args.peers:
                report["vs_lancedb"] = versus_lancedb(study, lake, args.peers)
            report["keyword_latency"] = keyword_latency(lake, texts[:200], args.profile)
            print(f"keyword search (k=10): {report['keyword_latency']}", flush=True)
    report["variants"] = {r["variant"]: [r["ndcg@10"], r["recall@100"]] for r in study.table}
    print(json.dumps(report))


def versus_lancedb(study: Study, lake, peers: Path) -> dict:
    """Real per-document searches (k=10) against LanceDB's, paired per question."""
    lance = peer_runs(peers, study.qids)
    out = {}
    for mode, peer in (("hybrid", "lancedb/hybrid"), ("keyword", "lancedb/fts"),
                       ("dense", "lancedb/dense")):  # fmt: skip
        if peer not in lance:
            continue
        mine = study.record(f"search(per_document, k=10) {mode}", search_runs(lake, study.texts,
                                                                              mode))  # fmt: skip
        theirs = study.record(f"LanceDB {peer.split('/')[1]} (k=10)", lance[peer])
        out[mode] = {m: paired(mine[m], theirs[m]) for m in ("ndcg@10",)}
        print(f"  docframe {mode} minus LanceDB {peer}: {out[mode]}", flush=True)
    return out


def _parse_fusion(spec: str) -> dict:
    out: dict = {}
    for part in spec.split(","):
        key, value = part.split("=")
        if key in ("level", "method"):
            out[key] = value
        elif key == "weights":
            a, b = value.split(":")
            out[key] = (float(a), float(b))
        else:
            out[key] = int(value)
    return out


def _analyzers(full_set: bool) -> dict[str, dict]:
    """The BM25 variants tried: every analyzer change on the default chunking, the
    most promising ones elsewhere."""
    full = {
        "one-char tokens": {"pattern": ONE_CHAR},
        "no title": {"title": False},
        "no stemmer": {"stemmer": None},
        "no stopwords": {"stopwords": None},
        "k1 1.2 b .75": {"k1": 1.2},
        "k1 0.9 b .4": {"k1": 0.9, "b": 0.4},
        "k1 1.2 b .5": {"k1": 1.2, "b": 0.5},
        "k1 1.5 b .9": {"b": 0.9},
        "one-char, k1 1.2 b .75": {"pattern": ONE_CHAR, "k1": 1.2},
        "one-char, k1 0.9 b .4": {"pattern": ONE_CHAR, "k1": 0.9, "b": 0.4},
        **{
            f"one-char, k1 {k1} b {b}": {"pattern": ONE_CHAR, "k1": k1, "b": b}
            for k1 in (0.6, 0.9, 1.2)
            for b in (0.3, 0.5, 0.6)
        },
    }
    if full_set:
        return full
    return {k: full[k] for k in ("one-char tokens", "one-char, k1 0.9 b .4")}


if __name__ == "__main__":
    main()
