"""Retrieval quality per embedding backend: SciFact train nDCG@10, dense and hybrid.

The second of issue 16's quality gates (the first, per-vector cosine, is in
``benchmarks/embed.py``): a faster backend may be the default only if SciFact train
nDCG@10 of dense and of hybrid search stays within 0.005 of the torch fp32 backend.

Each backend ingests the whole SciFact corpus into its own temporary lake (the ingest
service with that embedder, as ``docframe ingest --embed-backend`` does) and runs the
judged queries (``docframe eval``: ``evaluate_lake``) with the same embedder. The
first gate is measured here too, over every chunk of the corpus: each chunk's vector
in a backend's lake beside the same chunk's (same ``chunk_id``) in the torch fp32
lake: mean and minimum cosine. The last line is one JSON object: each backend's
figures and the deltas to torch fp32.

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
) -> tuple[dict[str, float], dict[str, Any]]:
    """The backend's figures, and its lake's vectors by chunk id."""
    import numpy as np

    from docframe.api import Lake
    from docframe.lake.store import LakeStore
    from docframe.pipelines.embedding import Embedder
    from docframe.pipelines.ingest import IngestJob
    from docframe.query.evaluation import evaluate_lake

    embedder = Embedder(backend=backend)
    store = LakeStore.open(tmp / backend, engine="cpu", embed_backend=backend)
    start = time.perf_counter()
    report = IngestJob(store, [str(corpus)], embedder=embedder, prune=False, progress=False).run()
    figures: dict[str, float] = {"ingest_s": round(time.perf_counter() - start, 1)}
    figures["chunks"] = report.n_chunks
    for mode in ("dense", "hybrid"):
        result = evaluate_lake(
            store, embedder, data / "queries.jsonl", data / "qrels" / "train.tsv", mode=mode
        )
        figures[f"{mode}_ndcg@10"] = round(float(result["ndcg@10"]), 4)
        figures["queries"] = result.get("queries", result.get("n_queries", 0))
    figures["identity"] = embedder.identity  # type: ignore[assignment]
    rows = Lake(store).sql("SELECT chunk_id, embedding FROM chunks").to_arrow()
    vectors = np.asarray(rows.column("embedding").combine_chunks().flatten(), np.float32)
    ids = rows.column("chunk_id").to_pylist()
    return figures, dict(zip(ids, vectors.reshape(len(ids), -1), strict=True))


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
    if not (args.data / "corpus.jsonl.gz").is_file():
        sys.exit(f"SciFact not found under {args.data}; pass --data DIR")
    results: dict[str, dict[str, float]] = {}
    backends = args.backends.split(",")
    if "torch" in backends:  # the reference first: the others' cosines are to it
        backends = ["torch"] + [b for b in backends if b != "torch"]
    reference = None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus = _corpus(args.data, args.docs, tmp)
        for backend in backends:
            results[backend], vectors = measure(backend, corpus, args.data, tmp)
            if backend == "torch":
                reference = vectors
            elif reference is not None:
                results[backend].update(cosine_to(reference, vectors))
            print(backend, results[backend], flush=True)
    line: dict[str, object] = {"bench": "embed_quality", "docs": args.docs or "all", **results}
    base = results.get("torch")
    if base:
        for backend, figures in results.items():
            if backend == "torch":
                continue
            deltas = {
                mode: round(figures[f"{mode}_ndcg@10"] - base[f"{mode}_ndcg@10"], 4)
                for mode in ("dense", "hybrid")
            }
            line[f"{backend}_delta"] = deltas
            line[f"{backend}_within_gate"] = (
                all(abs(d) <= GATE for d in deltas.values())
                and figures.get("cos_mean", 0) >= COS_MEAN
                and figures.get("cos_min", 0) >= COS_MIN
            )
    print(json.dumps(line))


if __name__ == "__main__":
    main()
