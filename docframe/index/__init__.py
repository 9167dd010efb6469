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
                              ``cuvs_hnsw.export_cagra_to_hnsw`` (hnswlib format;
                              in a lake: ``docframe index export``, ``index.export``)
======  ====================  ===============================================

``make_index(family, dim)`` gives the family's exact index (what the lake has
always used); ``make_index(family, dim, kind=...)`` or ``make_index_kind`` picks
another, and ``choose_kind`` says which one fits a collection size.
``load_index`` reopens a saved index from the ``index.json`` manifest that
every ``save`` writes, so a reader never has to know which engine built it.
Implementations are imported lazily: importing this package never imports
faiss, hnswlib, cupy or cuVS.

This module is the registry of kinds. What every implementation shares, so
that they agree on edge cases exactly (wrong shapes, duplicate ids, ``k``
larger than the index, an empty index, an empty ``allowed`` set, ties), lives
beside it: input and parameter checks in :mod:`~docframe.index.checks`, exact
ranking and result padding in :mod:`~docframe.index.topk`, the ``index.json``
manifest in :mod:`~docframe.index.manifest`, id-to-row bookkeeping in
:mod:`~docframe.index.idlookup`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from docframe.index.base import VectorIndex
from docframe.index.manifest import MANIFEST, read_manifest

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
