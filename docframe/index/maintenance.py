"""Index upkeep: build on demand, measure ANN recall against exact search, tune for a target.

An approximate index is only as good as its search parameters, and the right
ones depend on the data. ``check`` measures recall@k of the lake's dense index
against exact inner-product search over the same vectors (``vectors.npy``, kept
beside every base), on a sample of queries; ``tune`` sweeps the kind's search
knob (HNSW ``ef_search``, IVF-PQ ``nprobe``, CAGRA ``itopk_size``) from cheap to
expensive (stopping there, unless ``full``: the whole curve, for a plot) and records the
cheapest setting that meets the target in
``indexes/dense-<family>/tuning.json``, which every later load applies.

``build`` and ``tune`` write into the lake, so a read-only lake refuses them in
one line (``check`` only reads; an index it must build goes to the user's cache).

Queries: the question texts given (embedded with the lake's model), or by default
synthetic ones, the normalised midpoint of two random chunks: a chunk's own vector
would find itself first and flatter the index.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from docframe.errors import QueryError
from docframe.index.topk import top_k

if TYPE_CHECKING:
    from docframe.index.base import Encoder
    from docframe.index.store import DenseView
    from docframe.lake.store import LakeStore

# kind -> (search parameter, values from cheapest to most thorough)
SWEEPS: dict[str, tuple[str, tuple[int, ...]]] = {
    "faiss-hnsw": ("ef_search", (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)),
    "faiss-ivfpq": ("nprobe", (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512)),
    "cuvs-cagra": ("itopk_size", (32, 64, 128, 256, 512)),
    "cuvs-ivfpq": ("n_probes", (1, 2, 4, 8, 16, 32, 64, 128, 256)),
    "hnswlib": ("ef_search", (16, 32, 64, 128, 256, 512)),
}


def build(store: LakeStore, *, kind: str | None = None) -> dict[str, Any]:
    """Build the newest snapshot's dense base (``kind`` or the lake's choice) and keyword index."""
    from docframe.index.keyword_store import ensure_keyword_index
    from docframe.index.store import ensure_index
    from docframe.lake.lock import check_writable

    check_writable(store.root)  # the indexes it builds belong in the lake, for every reader
    snapshot = store.snapshot()
    if snapshot.is_empty:
        raise QueryError("the lake has no chunks to index", help="docframe ingest PATH first")
    start = time.perf_counter()
    view = ensure_index(store, snapshot, rebuild=True, kind=kind)
    dense_s = time.perf_counter() - start
    start = time.perf_counter()
    keyword = ensure_keyword_index(store, snapshot, rebuild=True)
    return {
        "snapshot": snapshot.snapshot_id,
        "dense": view.describe(),
        "kind": view.kind,
        "params": view.base.index.params,
        "dense_seconds": round(dense_s, 3),
        "keyword": keyword.describe(),
        "keyword_seconds": round(time.perf_counter() - start, 3),
    }


def sample_queries(
    embedder: Encoder | None,
    view: DenseView,
    n: int,
    texts: Sequence[str] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """(n, dim) query vectors: ``texts`` embedded, or midpoints of random chunk pairs."""
    if texts:
        if embedder is None:
            raise QueryError("question texts need the embedding model", help="use Lake.index_check")
        return np.asarray(embedder.encode(list(texts)[:n]), dtype=np.float32)
    rng = np.random.default_rng(seed)
    live = view.live_positions()
    if len(live) < 2:
        raise QueryError(
            f"snapshot {view.snapshot_id} holds {len(live)} chunk(s); measuring recall needs 2",
            help="ingest more documents first (docframe ingest PATH)",
        )
    a = view.vectors_at(rng.choice(live, n))
    b = view.vectors_at(rng.choice(live, n))
    mid = a + b
    return (mid / np.maximum(np.linalg.norm(mid, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _exact_top(view: DenseView, queries: np.ndarray, k: int) -> list[set[int]]:
    live = view.live_positions()
    truth = []
    for start in range(0, len(queries), 64):  # bounded memory: 64 x n scores at a time
        block = queries[start : start + 64]
        out = np.full((len(block), k), -1, dtype=np.int64)
        best = np.full((len(block), k), -np.inf, dtype=np.float32)
        for lo in range(0, len(live), 200_000):
            pos = live[lo : lo + 200_000]
            sims = block @ view.vectors_at(pos).T
            cand_s = np.concatenate([best, sims], axis=1)
            cand_i = np.concatenate([out, np.broadcast_to(pos, sims.shape)], axis=1)
            out, best = top_k(cand_s, cand_i, k)
        truth.extend({int(i) for i in row if i >= 0} for row in out)
    return truth


def _measure(view: DenseView, queries: np.ndarray, truth: list[set[int]], k: int) -> dict:
    """recall@k and per-query latency of the view's own search (delta and mask included)."""
    lookup = view.lookup()
    live = view.live_positions()
    hits, times = 0, []
    for q, expected in zip(queries, truth, strict=True):
        start = time.perf_counter()
        found = view.search(q[None, :], k)[0]
        times.append(time.perf_counter() - start)
        positions = live[lookup.get_indexer([c for c, _ in found])]
        hits += len(expected & {int(p) for p in positions})
    total = sum(len(t) for t in truth) or 1
    times.sort()
    return {
        "recall": round(hits / total, 4),
        "p50_ms": round(1000 * statistics.median(times), 3),
        "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 3),
    }


def check(
    store: LakeStore,
    *,
    k: int = 10,
    n_queries: int = 200,
    texts: Sequence[str] | None = None,
    embedder: Encoder | None = None,
) -> dict[str, Any]:
    """recall@k of the newest snapshot's dense index against exact search, and its latency."""
    from docframe.index.store import ensure_index

    view = ensure_index(store, store.snapshot())
    queries = sample_queries(embedder, view, n_queries, texts)
    truth = _exact_top(view, queries, k)
    result = _measure(view, queries, truth, k)
    return {
        "kind": view.kind,
        "params": view.base.index.params,
        "chunks": view.n_live,
        "k": k,
        "queries": len(queries),
        "query_source": "texts" if texts else "midpoints of random chunk pairs",
        **result,
    }


def tune(
    store: LakeStore,
    *,
    target: float = 0.95,
    k: int = 10,
    n_queries: int = 200,
    texts: Sequence[str] | None = None,
    embedder: Encoder | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """The cheapest search setting reaching ``target`` recall@k; recorded for later loads.

    The sweep stops at that setting; ``full`` measures every setting of the knob, for the
    whole recall/latency curve (the choice is the same)."""
    from docframe.index.store import ensure_index, save_tuning
    from docframe.lake.lock import check_writable

    if not 0 < target <= 1:
        raise QueryError(
            f"--target-recall must be in (0, 1], got {target}", help="e.g. --target-recall 0.95"
        )
    check_writable(store.root)  # the setting it finds is recorded in the lake
    view = ensure_index(store, store.snapshot())
    kind = view.kind
    if kind not in SWEEPS:
        return {"kind": kind, "exact": True, "note": f"{kind} is exact: nothing to tune"}
    name, values = SWEEPS[kind]
    queries = sample_queries(embedder, view, n_queries, texts)
    truth = _exact_top(view, queries, k)
    index = view.base.index
    original = index.params.get(name)
    sweep, chosen = [], None
    for value in values:
        index.set_search_params(**{name: value})
        view.search(queries[:1], k)  # warm
        row = {name: value, **_measure(view, queries, truth, k)}
        sweep.append(row)
        if chosen is None and row["recall"] >= target:
            chosen = row
            if not full:
                break
    if chosen is None:
        index.set_search_params(**{name: original})
        best = max(sweep, key=lambda r: r["recall"])
        raise QueryError(
            f"{kind}: no {name} up to {values[-1]} reaches recall@{k} {target} "
            f"(best {best['recall']} at {name}={best[name]})",
            help="lower --target-recall, or rebuild with docframe index build --kind faiss-flat",
        )
    index.set_search_params(**{name: chosen[name]})  # a full sweep went past it
    record = {"params": {name: chosen[name]}, "target_recall": target, "k": k, **chosen}
    path = save_tuning(store.root, store.backend.index_family, kind, record)
    return {"kind": kind, "chosen": chosen, "sweep": sweep, "saved_to": str(path)}
