"""Retrieval quality per embedding backend: SciFact train nDCG@10, dense and hybrid.

The second of issue 16's quality gates (the first, per-vector cosine, is in
``benchmarks/embed.py``): a faster backend may be the default only if SciFact train
nDCG@10 of dense and of hybrid search stays within 0.005 of the torch fp32 backend.

Each backend ingests the whole SciFact corpus into its own temporary lake (the ingest
service with that embedder, as ``docframe ingest --embed-backend`` does) and runs the
809 judged train queries as ``docframe eval`` does, with the same embedder, keeping
each query's nDCG@10: a backend's difference to torch fp32 is the mean of the paired
per-query differences, given with its standard error. The int8 lake is also asked
with ONNX fp32 questions (``onnx-int8+fp32-questions``). The first gate is measured
here too, over every chunk of the corpus: each chunk's vector
in a backend's lake beside the same chunk's (same ``chunk_id``) in the torch fp32
lake: mean and minimum cosine. The last line is one JSON object: each run's figures,
its paired differences to torch fp32 and whether it meets both gates.

    .venv/bin/python benchmarks/embed_quality.py                 # torch, onnx, onnx-int8
    .venv/bin/python benchmarks/embed_quality.py --backends onnx-int8 --docs 1000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "corpus" / "retrieval" / "scifact"
GATE = 0.005  # nDCG@10, dense and hybrid, within this of torch fp32
COS_MEAN, COS_MIN = 0.99, 0.97  # per-vector cosine to torch fp32


def _corpus(data: Path, docs: int | None, tmp: Path) -> Path:
    corpus = data / "corpus.jsonl.gz"
    if docs is None:
        return corpus
    with gzip.open(corpus, "rt", encoding="utf-8") as src:
        lines = [line for _, line in zip(range(docs), src, strict=False)]
    out = tmp / "corpus.jsonl.gz"
    with gzip.open(out, "wt", encoding="utf-8") as dst:
        dst.writelines(lines)
    return out


def measure(
    backend: str, corpus: Path, data: Path, tmp: Path
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The backend's figures, its lake's vectors by chunk id, and its lake."""
    import numpy as np

    from docframe.api import Lake
    from docframe.lake.store import LakeStore
    from docframe.pipelines.embedding import Embedder
    from docframe.pipelines.ingest import IngestJob

    embedder = Embedder(backend=backend)
    store = LakeStore.open(tmp / backend, engine="cpu", embed_backend=backend)
    start = time.perf_counter()
    report = IngestJob(store, [str(corpus)], embedder=embedder, prune=False, progress=False).run()
    figures: dict[str, Any] = {"ingest_s": round(time.perf_counter() - start, 1)}
    figures["chunks"] = report.n_chunks
    figures["identity"] = embedder.identity
    rows = Lake(store).sql("SELECT chunk_id, embedding FROM chunks").to_arrow()
    vectors = np.asarray(rows.column("embedding").combine_chunks().flatten(), np.float32)
    ids = rows.column("chunk_id").to_pylist()
    return figures, dict(zip(ids, vectors.reshape(len(ids), -1), strict=True)), store


def per_query(store: Any, encoder: Any, data: Path, mode: str) -> dict[str, float]:
    """nDCG@10 of each judged train query: ``docframe eval``'s steps (questions embedded
    in one batch, 100 chunks deep, documents by their best chunk), kept per query so two
    backends can be compared query by query."""
    from docframe.query.evaluation import ndcg_at_k, read_qrels, read_queries, to_documents
    from docframe.query.search import search

    queries = read_queries(data / "queries.jsonl")
    qrels = read_qrels(data / "qrels" / "train.tsv")
    judged = [q for q in qrels if q in queries and any(r > 0 for r in qrels[q].values())]
    vectors = encoder.encode([queries[q] for q in judged])
    snapshot = store.snapshot()
    scores = {}
    for i, qid in enumerate(judged):
        table = search(store, snapshot, queries[qid], 100, mode=mode,
                       query_vector=vectors[i]).to_arrow()  # fmt: skip
        hits = zip(table.column("doc_key").to_pylist(), table.column("score").to_pylist(),
                   strict=True)  # fmt: skip
        scores[qid] = ndcg_at_k(to_documents(hits), qrels[qid], 10)
    return scores


def paired(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Mean of ``a - b`` over the same queries, and its standard error."""
    import numpy as np

    diff = np.array([a[q] - b[q] for q in b])
    return {"delta": round(float(diff.mean()), 5),
            "se": round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 5)}  # fmt: skip


def cosine_to(reference: dict[str, Any], vectors: dict[str, Any]) -> dict[str, float]:
    """Mean and minimum cosine of each chunk's vector to the reference's (unit vectors:
    the dot product), over the chunks both lakes hold."""
    import numpy as np

    common = sorted(reference.keys() & vectors.keys())
    a = np.stack([reference[c] for c in common])
    b = np.stack([vectors[c] for c in common])
    cos = np.sum(a * b, axis=1)
    return {"cos_chunks": len(common), "cos_mean": round(float(cos.mean()), 5),
            "cos_min": round(float(cos.min()), 5)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--docs", type=int, default=None, help="first N documents only")
    args = parser.parse_args()
    from docframe.pipelines.embedding import Embedder

    if not (args.data / "corpus.jsonl.gz").is_file():
        sys.exit(f"SciFact not found under {args.data}; pass --data DIR")
    results: dict[str, dict[str, Any]] = {}
    backends = args.backends.split(",")
    if "torch" in backends:  # the reference first: the others are compared with it
        backends = ["torch"] + [b for b in backends if b != "torch"]
    reference: dict[str, Any] | None = None
    base: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus = _corpus(args.data, args.docs, tmp)
        for backend in backends:
            figures, vectors, store = measure(backend, corpus, args.data, tmp)
            runs = {backend: Embedder(backend=backend)}
            if backend == "onnx-int8":  # the int8 lake asked with full-precision questions
                runs["onnx-int8+fp32-questions"] = Embedder(backend="onnx")
            for name, encoder in runs.items():
                row = dict(figures) if name == backend else {"identity": figures["identity"]}
                for mode in ("dense", "hybrid"):
                    scores = per_query(store, encoder, args.data, mode)
                    row[f"{mode}_ndcg@10"] = round(sum(scores.values()) / len(scores), 5)
                    row["queries"] = len(scores)
                    if backend == "torch":
                        base[mode] = scores
                    elif mode in base:
                        row[f"{mode}_vs_torch"] = paired(scores, base[mode])
                if backend == "torch":
                    reference = vectors
                elif reference is not None and name == backend:
                    row.update(cosine_to(reference, vectors))
                if base and backend != "torch":
                    cosine = row if name == backend else results[backend]  # the lake's vectors
                    row["within_gate"] = (
                        all(abs(row[f"{m}_vs_torch"]["delta"]) <= GATE for m in base)
                        and cosine.get("cos_mean", 0) >= COS_MEAN
                        and cosine.get("cos_min", 0) >= COS_MIN
                    )
                results[name] = row
                print(name, row, flush=True)
    print(json.dumps({"bench": "embed_quality", "docs": args.docs or "all", **results}))


if __name__ == "__main__":
    main()
