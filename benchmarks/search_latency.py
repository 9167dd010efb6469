"""Search latency per mode and the keyword index's size and cold load, on SciFact.

Why: a keyword search is a few hundred microseconds of BM25 and, around it, fixed
costs (pinning the snapshot, joining the hits to their provenance) that decide its
p50; and the keyword index is a large share of a small lake's bytes. This measures
both where users see them:

- ``p50_ms`` / ``p95_ms`` of ``lake.search(q, k=10, mode=...)`` for dense, keyword and
  hybrid over ``--queries`` SciFact train questions, one at a time, interleaved (the
  mode order rotates per question), after a warm-up;
- ``cold_keyword_ms``: the first keyword search of a fresh process (the index saved on
  disk, so it is loaded, not built; imports, the snapshot's reader and its hit rows
  included), and ``cold_keyword_index_ms``: loading the index again in that process
  (``ensure_keyword_index`` from disk, imports and reader warm), median of
  ``--cold-runs`` processes;
- ``keyword_bytes``: the saved keyword index, file by file, and the lake's total bytes.

Data: the first 1,000 SciFact documents plus every document judged for the first 150
train queries (1,082 documents, the peer benchmark's set), ingested once into
``benchmarks/.cache/per-document-lake-1000-150`` (shared with ``per_document.py``), or
``--lake``. ``--size-lake`` also reports the bytes of another lake (e.g. SciFact-1000).
The last printed line is one JSON object.

    .venv/bin/python benchmarks/search_latency.py --queries 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
MODES = ("dense", "keyword", "hybrid")

COLD = """
import json, sys, time
import docframe
from docframe.index import keyword_store
lake = docframe.open(sys.argv[1])
lake.snapshot()
start = time.perf_counter()
lake.search(sys.argv[2], k=10, mode="keyword")
search_ms = (time.perf_counter() - start) * 1000
snapshot = lake.snapshot()
keyword_store._VIEWS.clear()
start = time.perf_counter()
keyword_store.ensure_keyword_index(lake.store, snapshot)
index_ms = (time.perf_counter() - start) * 1000
print(json.dumps({"index_ms": index_ms, "search_ms": search_ms}))
"""


def keyword_bytes(root: Path) -> dict[str, int]:
    """Bytes of the newest keyword index folder, by file, and the lake's total."""
    folders = sorted((root / "indexes" / "keyword").iterdir(), key=lambda p: int(p.name))
    files = {
        str(p.relative_to(folders[-1])): p.stat().st_size
        for p in sorted(folders[-1].rglob("*"))
        if p.is_file()
    }
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"keyword_total": sum(files.values()), "lake_total": total, **files}


def cold(root: Path, question: str, runs: int) -> dict[str, float]:
    """First keyword search of a fresh process (index on disk), median of ``runs``."""
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    found = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", COLD, str(root), question],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=tempfile.gettempdir(),
        )  # fmt: skip (not the repo as cwd: it would shadow PYTHONPATH's docframe)
        found.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "cold_keyword_index_ms": round(statistics.median(f["index_ms"] for f in found), 2),
        "cold_keyword_ms": round(statistics.median(f["search_ms"] for f in found), 2),
    }


def latency(root: Path, texts: list[str], warmup: int) -> dict[str, dict[str, float]]:
    import numpy as np

    import docframe

    lake = docframe.open(root)
    for text in texts[:warmup]:
        for mode in MODES:
            lake.search(text, k=10, mode=mode)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for i, text in enumerate(texts):
        for j in range(len(MODES)):
            mode = MODES[(i + j) % len(MODES)]
            start = time.perf_counter()
            lake.search(text, k=10, mode=mode)
            times[mode].append((time.perf_counter() - start) * 1000)
    return {
        m: {
            "p50_ms": round(statistics.median(t), 3),
            "p95_ms": round(float(np.percentile(t, 95)), 3),
        }
        for m, t in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    from per_document import build_lake, judged_queries

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--lake", type=Path, help="default: the cached 1,082-document lake")
    parser.add_argument("--size-lake", type=Path, help="also report this lake's bytes")
    args = parser.parse_args(argv)
    queries, _ = judged_queries(args.queries)
    texts = list(queries.values())
    if args.lake is None:
        _, qrels = judged_queries(150)
        args.lake = build_lake(1000, qrels, 150)
    import docframe

    docframe.open(args.lake).search(texts[0], k=10, mode="hybrid")  # both indexes saved
    out: dict = {"lake": str(args.lake), "queries": len(texts)}
    out.update(cold(args.lake, texts[0], args.cold_runs))
    out["latency"] = latency(args.lake, texts, args.warmup)
    out["keyword_bytes"] = keyword_bytes(args.lake)
    if args.size_lake is not None:
        docframe.open(args.size_lake).search("x", mode="hybrid")
        out["size_lake"] = {"lake": str(args.size_lake), **keyword_bytes(args.size_lake)}
    for mode, row in out["latency"].items():
        print(f"{mode:8s} p50 {row['p50_ms']:7.3f} ms   p95 {row['p95_ms']:7.3f} ms")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
