"""Exact inner-product search on the GPU with cuVS brute force.

The GPU twin of ``FaissFlatIndex``: same contract, same exact results (up to
float rounding), used when ``Backend.index_family == "cuvs"``.

Written against the cuVS Python API (``cuvs.neighbors.brute_force``, checked
against cuvs-cu12 26.10 by ``scripts/gpu_check.py``):

- ``build(dataset, metric="inner_product")`` takes a CUDA-array-interface matrix
  (a cupy array) and returns an ``Index``. The index keeps a *non-owning* view of
  a device dataset, so this class holds the cupy array for as long as the index.
- ``search(index, queries, k)`` returns ``(distances, neighbors)`` as pylibraft
  ``device_ndarray`` (float32, int64 row positions), read with ``cupy.asarray``.
  For ``inner_product`` the best match comes first and the "distance" is the
  inner product itself, which is the score the protocol wants.
- ``save(filename, index)`` / ``load(filename)`` serialise the index with its
  dataset. cuVS ids are row positions, so the caller's int64 labels are kept
  beside it in ``ids.npy``.

cupy and cuVS are imported inside the methods, so this module imports on a
machine without RAPIDS; using the class there raises ``MissingDependencyError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from docframe.backend import GPU_EXTRA_HINT
from docframe.index import (
    check_build_inputs,
    check_queries,
    empty_results,
    missing_dependency,
    read_manifest,
    write_manifest,
)

INDEX_FILE = "index.cuvs"
IDS_FILE = "ids.npy"
METRIC = "inner_product"


def _rapids() -> tuple[Any, Any]:
    """(cupy, cuvs.neighbors.brute_force), or a clear error naming the extra."""
    try:
        import cupy
    except ImportError as exc:
        raise missing_dependency("cupy", GPU_EXTRA_HINT) from exc
    try:
        from cuvs.neighbors import brute_force
    except ImportError as exc:
        raise missing_dependency("cuvs", GPU_EXTRA_HINT) from exc
    return cupy, brute_force


class CuvsBruteForceIndex:
    """Exact top-k by inner product over L2-normalised float32 vectors, on the GPU."""

    kind = "cuvs-brute-force"

    def __init__(self, dim: int) -> None:
        _rapids()  # fail at creation, not at first build, when RAPIDS is missing
        self.dim = int(dim)
        self._ids = np.empty(0, dtype=np.int64)  # row position -> caller's label
        self._dataset: Any = None  # cupy array the index views; must outlive it
        self._index: Any = None  # cuvs Index; None while empty

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Replace the contents with ``vectors`` labelled by ``ids``."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        cupy, brute_force = _rapids()
        self._index = self._dataset = None
        self._ids = ids
        if len(ids):  # cuVS cannot build over zero rows; an empty index answers -1
            self._dataset = cupy.asarray(vectors)
            self._index = brute_force.build(self._dataset, metric=METRIC)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, scores), best first; missing slots are id -1, score -inf."""
        queries = check_queries(self.dim, queries, k)
        ids, scores = empty_results(len(queries), k)
        n = len(self)
        if k == 0 or len(queries) == 0 or n == 0:
            return ids, scores
        cupy, brute_force = _rapids()
        k_found = min(k, n)  # cuVS needs k <= n; the rest stays padding
        distances, neighbors = brute_force.search(self._index, cupy.asarray(queries), k_found)
        rows = cupy.asnumpy(cupy.asarray(neighbors))
        found = cupy.asnumpy(cupy.asarray(distances)).astype(np.float32, copy=False)
        valid = (rows >= 0) & (rows < n)
        ids[:, :k_found] = np.where(valid, self._ids[np.where(valid, rows, 0)], -1)
        scores[:, :k_found] = np.where(valid, found, -np.inf)
        return ids, scores

    def __len__(self) -> int:
        return len(self._ids)

    def save(self, directory: Path) -> None:
        """Write ``index.cuvs`` (cuVS format, with the dataset), ``ids.npy`` and ``index.json``."""
        directory = Path(directory)
        if self._index is not None:
            _, brute_force = _rapids()
            brute_force.save(str(directory / INDEX_FILE), self._index)
        np.save(directory / IDS_FILE, self._ids)
        write_manifest(directory, self.kind, self.dim, len(self))

    @classmethod
    def load(cls, directory: Path) -> CuvsBruteForceIndex:
        """Read an index written by ``save`` (same cuVS version: its format may change)."""
        directory = Path(directory)
        manifest = read_manifest(directory, expect_kind=cls.kind)
        self = cls(manifest["dim"])
        ids = np.load(directory / IDS_FILE)
        if len(ids) != manifest["count"]:
            raise ValueError(
                f"{directory}: {IDS_FILE} has {len(ids)} ids, manifest says {manifest['count']}"
            )
        self._ids = ids.astype(np.int64, copy=False)
        if len(ids):
            _, brute_force = _rapids()
            # A deserialised index owns its device copy of the dataset.
            self._index = brute_force.load(str(directory / INDEX_FILE))
        return self
