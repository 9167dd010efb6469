"""Vector indexes: one protocol, faiss (CPU) and cuVS (GPU) implementations.

Kinds, by family (``Backend.index_family``):

======  ====================  ===============================================
family  kind                  what it is
======  ====================  ===============================================
faiss   ``faiss-flat``        exact inner product (``IndexFlatIP``), the reference
faiss   ``faiss-hnsw``        ``IndexHNSWFlat`` graph, inner product
faiss   ``faiss-ivfpq``       ``IndexIVFPQ``: clustered, product-quantised codes
cuvs    ``cuvs-brute-force``  exact inner product on the GPU
cuvs    ``cuvs-cagra``        CAGRA graph on the GPU
cuvs    ``cuvs-ivfpq``        cuVS IVF-PQ, for data beyond GPU memory
(any)   ``hnswlib``           CPU serving of a CAGRA graph exported by
                              ``cuvs_hnsw.export_cagra_to_hnsw`` (hnswlib format)
======  ====================  ===============================================

``make_index(family, dim)`` gives the family's exact index (what the lake has
always used); ``make_index(family, dim, kind=...)`` or ``make_index_kind`` picks
another, and ``choose_kind`` says which one fits a collection size.
``load_index`` reopens a saved index from the ``index.json`` manifest that
every ``save`` writes, so a reader never has to know which engine built it.
Implementations are imported lazily: importing this package never imports
faiss, hnswlib, cupy or cuVS.

The helpers below (input checks, result padding, the manifest, id lookup, the
exact scorer) are shared by every implementation so that they agree on edge
cases exactly: wrong shapes, duplicate ids, ``k`` larger than the index, an
empty index, an empty ``allowed`` set.
"""

from __future__ import annotations

import importlib
import json
import math
import operator
from pathlib import Path
from typing import Any

import numpy as np

from docframe.errors import MissingDependencyError
from docframe.index.base import VectorIndex

__all__ = [
    "VectorIndex",
    "make_index",
    "make_index_kind",
    "load_index",
    "choose_kind",
    "FAMILY_KINDS",
    "EXACT_KIND",
    "MANIFEST",
]

MANIFEST = "index.json"
FORMAT_VERSION = 2  # 2: "params" recorded; version-1 manifests (no params) still load

# kind -> (module, class). Strings, so nothing heavy is imported.
_KINDS: dict[str, tuple[str, str]] = {
    "faiss-flat": ("docframe.index.faiss_flat", "FaissFlatIndex"),
    "faiss-hnsw": ("docframe.index.faiss_hnsw", "FaissHNSWIndex"),
    "faiss-ivfpq": ("docframe.index.faiss_ivfpq", "FaissIVFPQIndex"),
    "cuvs-brute-force": ("docframe.index.cuvs_flat", "CuvsBruteForceIndex"),
    "cuvs-cagra": ("docframe.index.cuvs_cagra", "CuvsCagraIndex"),
    "cuvs-ivfpq": ("docframe.index.cuvs_ivfpq", "CuvsIVFPQIndex"),
    "hnswlib": ("docframe.index.cuvs_hnsw", "HnswlibIndex"),
}
FAMILY_KINDS: dict[str, tuple[str, ...]] = {
    "faiss": ("faiss-flat", "faiss-hnsw", "faiss-ivfpq"),
    "cuvs": ("cuvs-brute-force", "cuvs-cagra", "cuvs-ivfpq"),
}
EXACT_KIND: dict[str, str] = {"faiss": "faiss-flat", "cuvs": "cuvs-brute-force"}

# --- kind selection -------------------------------------------------------------------------
# Exact search reads every vector per query: measured on a 2-core VM at 384 dims, one query
# takes ~2 ms at 20k vectors and ~9 ms at 50k (memory-bound; ~2.5 ms/query in batches), still
# interactive, exact, and with no build time. Above that a graph answers in ~0.1-0.2 ms at
# recall@10 >= 0.95 (benchmarks/ann.py), and flat would grow to ~80 ms a query at 200k.
FAISS_FLAT_BELOW = 50_000
# HNSW keeps every raw vector plus ~2*M links in RAM: 5M x 384 float32 is ~7.7 GB of vectors
# and ~1.3 GB of links at M=32. Beyond that, IVF-PQ's codes (dim/4 bytes a vector) fit.
FAISS_HNSW_BELOW = 5_000_000
# On a GPU brute force is a single matrix multiply; below ~50k vectors it is as fast as CAGRA
# and exact. CAGRA needs the dataset and its graph in GPU memory; beyond that, IVF-PQ.
CUVS_BRUTE_FORCE_BELOW = 50_000
CUVS_CAGRA_GRAPH_DEGREE = 64
# Without a device size we assume a 16 GiB card and keep CAGRA below half of it.
DEFAULT_DEVICE_MEMORY = 16 * 2**30


def choose_kind(
    n_vectors: int,
    family: str,
    *,
    dim: int = 384,
    device_memory_bytes: int | None = None,
) -> str:
    """The index kind that fits ``n_vectors`` vectors of ``family`` ("faiss" | "cuvs").

    faiss: ``faiss-flat`` below 50,000 vectors (exact, <10 ms a query), ``faiss-hnsw``
    below 5,000,000 (RAM-resident graph), ``faiss-ivfpq`` above (compressed codes).
    cuvs: ``cuvs-brute-force`` below 50,000, ``cuvs-cagra`` while the dataset and its
    graph (``n * (4 * dim + 4 * 64)`` bytes) fit in half of the device memory
    (``device_memory_bytes``, 16 GiB when unknown), ``cuvs-ivfpq`` beyond.
    """
    if family not in FAMILY_KINDS:
        raise ValueError(f"unknown index family {family!r}; valid: {', '.join(FAMILY_KINDS)}")
    n = int(n_vectors)
    if n < 0:
        raise ValueError(f"n_vectors must be >= 0, got {n_vectors}")
    if family == "faiss":
        if n < FAISS_FLAT_BELOW:
            return "faiss-flat"
        return "faiss-hnsw" if n < FAISS_HNSW_BELOW else "faiss-ivfpq"
    if n < CUVS_BRUTE_FORCE_BELOW:
        return "cuvs-brute-force"
    budget = (device_memory_bytes or DEFAULT_DEVICE_MEMORY) / 2
    needed = n * (4 * int(dim) + 4 * CUVS_CAGRA_GRAPH_DEGREE)
    return "cuvs-cagra" if needed <= budget else "cuvs-ivfpq"


# --- factory --------------------------------------------------------------------------------


def _class_for(kind: str) -> type:
    module, name = _KINDS[kind]
    return getattr(importlib.import_module(module), name)


def make_index(family: str, dim: int, kind: str | None = None, **params: Any) -> VectorIndex:
    """An empty index of ``family`` ("faiss" | "cuvs") for ``dim``-wide vectors.

    Without ``kind`` it is the family's exact index (``faiss-flat`` /
    ``cuvs-brute-force``); ``kind`` picks one of ``FAMILY_KINDS[family]`` and
    ``params`` override that kind's defaults (e.g. ``M=48, ef_search=128``).
    """
    if family not in FAMILY_KINDS:
        raise ValueError(f"unknown index family {family!r}; valid: {', '.join(FAMILY_KINDS)}")
    if kind is None:
        kind = EXACT_KIND[family]
    elif kind not in FAMILY_KINDS[family]:
        raise ValueError(
            f"index kind {kind!r} is not of family {family!r}; "
            f"valid: {', '.join(FAMILY_KINDS[family])}"
        )
    return make_index_kind(kind, dim, **params)


def make_index_kind(kind: str, dim: int, **params: Any) -> VectorIndex:
    """An empty index of ``kind`` (see ``FAMILY_KINDS``, plus ``hnswlib``) with ``params``."""
    if kind not in _KINDS:
        raise ValueError(f"unknown index kind {kind!r}; valid: {', '.join(_KINDS)}")
    if int(dim) <= 0:
        raise ValueError(f"index dimension must be positive, got {dim}")
    return _class_for(kind)(int(dim), **params)


def load_index(directory: Path) -> VectorIndex:
    """Reopen the index saved in ``directory``, whichever implementation wrote it."""
    manifest = read_manifest(Path(directory))
    kind = manifest.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"{directory}: unknown index kind {kind!r} in {MANIFEST}")
    return _class_for(kind).load(Path(directory))


# --- helpers shared by the implementations -------------------------------------------------


def write_manifest(
    directory: Path,
    kind: str,
    dim: int,
    count: int,
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    """Record what is in ``directory`` so ``load_index`` can dispatch without guessing,
    and the parameters, so a reloaded index searches exactly like the saved one."""
    doc = {
        "kind": kind,
        "dim": int(dim),
        "count": int(count),
        "format_version": FORMAT_VERSION,
        "params": dict(params or {}),
        **extra,
    }
    (Path(directory) / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n")


def read_manifest(directory: Path, expect_kind: str | None = None) -> dict:
    """Read ``index.json``; with ``expect_kind``, refuse an index of another kind."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {MANIFEST}; not a saved docframe index")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    if expect_kind is not None and doc.get("kind") != expect_kind:
        raise ValueError(f"{directory}: holds a {doc.get('kind')!r} index, not {expect_kind!r}")
    return doc


def resolve_params(kind: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` overridden by ``given``; an unknown name is an error naming it."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"{kind}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(defaults)}"
        )
    return {**defaults, **given}


def positive_int(kind: str, name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """``value`` as a positive int, or a ValueError naming the parameter."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{kind}: parameter {name} must be a positive integer, got {value!r}")
    return int(value)


def check_search_params(kind: str, search_names: frozenset[str], given: dict[str, Any]) -> None:
    """Refuse names that are not search-time parameters of ``kind``."""
    unknown = sorted(set(given) - search_names)
    if unknown:
        valid = ", ".join(sorted(search_names)) or "none"
        raise ValueError(
            f"{kind}: {', '.join(unknown)} cannot be changed at search time; valid: {valid}"
        )


def check_build_inputs(
    dim: int, vectors: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise build inputs to C-contiguous float32 (n, dim) and int64 (n,)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.asarray(ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors must have shape (n, {dim}), got {vectors.shape}")
    if ids.shape != (vectors.shape[0],):
        raise ValueError(f"ids must have shape ({vectors.shape[0]},), got {ids.shape}")
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be non-negative (-1 marks a missing result), got {ids.min()}")
    if ids.size > 1:
        ordered = np.sort(ids)
        dup = ordered[1:][ordered[1:] == ordered[:-1]]
        if dup.size:
            raise ValueError(f"ids must be unique; repeated: {dup[:5].tolist()}")
    return vectors, ids


def check_id_array(name: str, ids: Any) -> np.ndarray:
    """A 1-D integer id array (``remove``'s input, a search filter) as sorted unique int64."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of int64 ids, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    return np.unique(arr.astype(np.int64, copy=False))


def check_queries(dim: int, queries: np.ndarray, k: int) -> np.ndarray:
    """Validate a query batch and ``k``; returns C-contiguous float32 (q, dim)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"queries must have shape (q, {dim}), got {queries.shape}")
    try:
        k = operator.index(k)
    except TypeError:
        raise ValueError(f"k must be an integer, got {k!r}") from None
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return queries


def empty_results(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All-missing results: ids -1 and scores -inf, the protocol's padding."""
    return (
        np.full((n_queries, k), -1, dtype=np.int64),
        np.full((n_queries, k), -np.inf, dtype=np.float32),
    )


def pad_missing(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalise a library's "no result" slots (any negative id) to id -1, score -inf."""
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    missing = ids < 0
    if missing.any():
        ids = np.where(missing, -1, ids)
        scores = np.where(missing, np.float32(-np.inf), scores)
    return ids, scores


def exact_top_k(
    queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of ``queries`` against ``vectors`` labelled ``ids``.

    The fallback every approximate index uses for a small ``allowed`` set: scoring a
    few thousand vectors directly is both exact and faster than walking a graph that
    mostly holds excluded nodes. Queries go in blocks so the score matrix stays small.
    """
    out_ids, out_scores = empty_results(len(queries), k)
    n = len(ids)
    if n == 0 or k == 0 or len(queries) == 0:
        return out_ids, out_scores
    kk = min(k, n)
    block = max(1, (1 << 24) // n)
    for start in range(0, len(queries), block):
        scores = queries[start : start + block] @ vectors.T
        if kk < n:
            part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        else:
            part = np.broadcast_to(np.arange(n), scores.shape)
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        rows = np.take_along_axis(part, order, axis=1)
        out_ids[start : start + block, :kk] = ids[rows]
        out_scores[start : start + block, :kk] = np.take_along_axis(part_scores, order, axis=1)
    return out_ids, out_scores


def rerank_exact(
    queries: np.ndarray, candidates: np.ndarray, fetch: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Re-order candidate keys by exact inner product: (keys, scores) best first.

    ``candidates`` (q, c) holds keys (ids or rows; negative = none) from a compressed
    search; ``fetch(keys)`` returns the raw vectors of sorted unique ``keys``. Each
    needed vector is read once, in key order (friendly to a memory-mapped file).
    Missing slots come back as key -1, score -inf.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    valid = candidates >= 0
    keys = np.unique(candidates[valid])
    if not keys.size:
        return np.full(candidates.shape, -1, np.int64), np.full(
            candidates.shape, -np.inf, np.float32
        )
    vectors = np.asarray(fetch(keys), dtype=np.float32)
    at = np.searchsorted(keys, np.where(valid, candidates, keys[0]))
    exact = np.einsum("qd,qcd->qc", queries, vectors[at]).astype(np.float32, copy=False)
    exact[~valid] = -np.inf
    order = np.argsort(-exact, axis=1, kind="stable")
    keys_out = np.take_along_axis(candidates, order, axis=1)
    scores = np.take_along_axis(exact, order, axis=1)
    return np.where(np.isneginf(scores), -1, keys_out), scores


def scaled_budget(base: int, n_live: int, n_allowed: int, cap: int) -> int:
    """A search budget (ef, nprobe, itopk) grown by ``n_live / n_allowed``, at most ``cap``.

    A filter that keeps a fraction p of the vectors leaves ~p of the candidates a
    graph or an inverted list yields; visiting ~1/p times more keeps ~k survivors.
    """
    if n_allowed <= 0 or n_allowed >= n_live:
        return base
    return max(base, min(cap, math.ceil(base * n_live / n_allowed)))


class IdLookup:
    """Sorted view of an id-per-row array: membership and row of an id in O(log n).

    Rows whose id is negative are dead (removed) and are not indexed. Used by every
    wrapper whose library stores positions (faiss flat/HNSW storage, cuVS datasets,
    hnswlib labels) to map the caller's ids to rows and to refuse duplicate ids.
    """

    def __init__(self, row_ids: np.ndarray) -> None:
        row_ids = np.asarray(row_ids, dtype=np.int64)
        order = np.argsort(row_ids, kind="stable")
        ordered = row_ids[order]
        first = int(np.searchsorted(ordered, 0))
        self.ids = ordered[first:]
        self.rows = order[first:].astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self.ids)

    def _find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.searchsorted(self.ids, ids)
        found = at < len(self.ids)
        found[found] = self.ids[at[found]] == ids[found]
        return at, found

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are present."""
        return self._find(np.asarray(ids, dtype=np.int64))[1]

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ``ids``, which must all be present."""
        at, found = self._find(np.asarray(ids, dtype=np.int64))
        if not found.all():
            raise KeyError(f"ids not in the index: {np.asarray(ids)[~found][:5].tolist()}")
        return self.rows[at]

    def insert(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Add ``ids`` (absent so far) at ``rows``."""
        order = np.argsort(ids, kind="stable")
        ids, rows = np.asarray(ids)[order], np.asarray(rows, dtype=np.int64)[order]
        at = np.searchsorted(self.ids, ids)
        self.ids = np.insert(self.ids, at, ids)
        self.rows = np.insert(self.rows, at, rows)

    def delete(self, ids: np.ndarray) -> np.ndarray:
        """Forget the present ones among ``ids``; returns their rows."""
        at, found = self._find(np.asarray(ids, dtype=np.int64))
        at = at[found]
        rows = self.rows[at]
        self.ids = np.delete(self.ids, at)
        self.rows = np.delete(self.rows, at)
        return rows


def missing_dependency(package: str, extra_hint: str) -> MissingDependencyError:
    """The error raised when an index family's package is not installed."""
    return MissingDependencyError(f"the {package!r} package is not installed", help=extra_hint)


def check_filters(
    allowed: np.ndarray | None, excluded: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Validated filter arrays; with both given, ``excluded`` is folded into ``allowed``."""
    if allowed is not None:
        allowed = check_id_array("allowed", allowed)
    if excluded is not None:
        excluded = check_id_array("excluded", excluded)
        if allowed is not None:
            return np.setdiff1d(allowed, excluded, assume_unique=True), None
    return allowed, excluded
