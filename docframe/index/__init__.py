"""Vector indexes: one protocol, a faiss (CPU) and a cuVS (GPU) implementation.

``make_index`` picks the implementation for an index family
(``Backend.index_family``) and ``load_index`` reopens a saved index from the
``index.json`` manifest that every ``save`` writes, so a reader never has to
know which engine built it. Implementations are imported lazily: importing this
package never imports faiss, cupy or cuVS.

The small helpers below (input checks, result padding, the manifest) are shared
by both implementations so that they agree on edge cases exactly: wrong shapes,
``k`` larger than the index, an empty index.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from docframe.errors import MissingDependencyError
from docframe.index.base import VectorIndex

__all__ = ["VectorIndex", "make_index", "load_index", "MANIFEST"]

MANIFEST = "index.json"
FORMAT_VERSION = 1

# family -> (module, class); kind -> (module, class). Strings, so nothing heavy is imported.
_FAMILIES: dict[str, tuple[str, str]] = {
    "faiss": ("docframe.index.faiss_flat", "FaissFlatIndex"),
    "cuvs": ("docframe.index.cuvs_flat", "CuvsBruteForceIndex"),
}
_KINDS: dict[str, tuple[str, str]] = {
    "faiss-flat": _FAMILIES["faiss"],
    "cuvs-brute-force": _FAMILIES["cuvs"],
}


def _class_for(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)


def make_index(family: str, dim: int) -> VectorIndex:
    """An empty exact index of ``family`` ("faiss" | "cuvs") for ``dim``-wide vectors."""
    if family not in _FAMILIES:
        raise ValueError(f"unknown index family {family!r}; valid: {', '.join(_FAMILIES)}")
    if dim <= 0:
        raise ValueError(f"index dimension must be positive, got {dim}")
    return _class_for(*_FAMILIES[family])(dim)


def load_index(directory: Path) -> VectorIndex:
    """Reopen the index saved in ``directory``, whichever implementation wrote it."""
    manifest = read_manifest(Path(directory))
    kind = manifest["kind"]
    if kind not in _KINDS:
        raise ValueError(f"{directory}: unknown index kind {kind!r} in {MANIFEST}")
    return _class_for(*_KINDS[kind]).load(Path(directory))


# --- helpers shared by the implementations -------------------------------------------------


def write_manifest(directory: Path, kind: str, dim: int, count: int) -> None:
    """Record what is in ``directory`` so ``load_index`` can dispatch without guessing."""
    doc = {"kind": kind, "dim": dim, "count": count, "format_version": FORMAT_VERSION}
    (Path(directory) / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n")


def read_manifest(directory: Path, expect_kind: str | None = None) -> dict:
    """Read ``index.json``; with ``expect_kind``, refuse an index of another kind."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {MANIFEST}; not a saved docframe index")
    doc = json.loads(path.read_text())
    if expect_kind is not None and doc.get("kind") != expect_kind:
        raise ValueError(f"{directory}: holds a {doc.get('kind')!r} index, not {expect_kind!r}")
    return doc


def check_build_inputs(
    dim: int, vectors: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise build inputs to C-contiguous float32 (n, dim) and int64 (n,)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors must have shape (n, {dim}), got {vectors.shape}")
    if ids.shape != (vectors.shape[0],):
        raise ValueError(f"ids must have shape ({vectors.shape[0]},), got {ids.shape}")
    if ids.size and ids.min() < 0:
        raise ValueError("ids must be non-negative: -1 marks a missing result")
    if np.unique(ids).size != ids.size:
        raise ValueError("ids must be unique")
    return vectors, ids


def check_queries(dim: int, queries: np.ndarray, k: int) -> np.ndarray:
    """Validate a query batch and ``k``; returns C-contiguous float32 (q, dim)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"queries must have shape (q, {dim}), got {queries.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return queries


def empty_results(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All-missing results: ids -1 and scores -inf, the protocol's padding."""
    return (
        np.full((n_queries, k), -1, dtype=np.int64),
        np.full((n_queries, k), -np.inf, dtype=np.float32),
    )


def missing_dependency(package: str, extra_hint: str) -> MissingDependencyError:
    """The error raised when an index family's package is not installed."""
    return MissingDependencyError(f"the {package!r} package is not installed", help=extra_hint)
