"""Exact inner-product search on the GPU with cuVS brute force.

The GPU twin of ``FaissFlatIndex``: same contract, same exact results (up to
float rounding), used when ``Backend.index_family == "cuvs"``.

Written against the cuVS Python API (``cuvs.neighbors.brute_force``, checked
against cuvs-cu12 26.10 by ``scripts/gpu_check.py``):

- ``build(dataset, metric="inner_product")`` takes a CUDA-array-interface matrix
  (a cupy array) and returns an ``Index``. The index keeps a *non-owning* view of
  a device dataset, so the wrapper holds the cupy array for as long as the index.
- ``search(index, queries, k, prefilter=...)`` returns ``(distances, neighbors)``
  as pylibraft ``device_ndarray`` (float32, int64 row positions), read with
  ``cupy.asarray``. For ``inner_product`` the best match comes first and the
  "distance" is the inner product itself, the score the protocol wants.
  ``prefilter`` is a ``filters.from_bitset`` row bitset: ``allowed``,
  ``excluded`` and removed rows are masked inside the kernel.
- ``add`` and ``remove`` rebuild: building a brute-force index is only a copy
  plus norms, so a rebuild costs about as much as the data transfer.

Saved as ``vectors.npy`` + ``ids.npy`` (the data *is* the index, and a NumPy file
reads back on any cuVS version); loading re-runs ``build``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from docframe.index.cuvs_common import (
    IDS_FILE,
    METRIC,
    VECTORS_FILE,
    CuvsIndexBase,
    cupy_module,
    neighbors_module,
    row_prefilter,
)

__all__ = ["CuvsBruteForceIndex", "METRIC", "IDS_FILE", "VECTORS_FILE"]


class CuvsBruteForceIndex(CuvsIndexBase):
    """Exact top-k by inner product over L2-normalised float32 vectors, on the GPU."""

    kind = "cuvs-brute-force"
    DEFAULT_PARAMS: dict[str, Any] = {}
    SEARCH_PARAMS = frozenset()
    EXACT_FILTER_MAX = 0  # the prefilter is exact already
    COMPACT_ON_REMOVE = True

    def _build_index(self) -> Any:
        brute_force = neighbors_module("brute_force")
        return brute_force.build(self._data, metric=METRIC)

    def _search_rows(
        self, queries: np.ndarray, k: int, mask: np.ndarray | None, n_allowed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        cupy = cupy_module()
        brute_force = neighbors_module("brute_force")
        queries = cupy.asarray(queries)
        k_found = min(k, len(self._row_ids))  # cuVS needs k <= n; the rest stays padding
        prefilter = row_prefilter(mask)
        if prefilter is None:
            distances, neighbors = brute_force.search(self._index, queries, k_found)
        else:
            distances, neighbors = brute_force.search(
                self._index, queries, k_found, prefilter=prefilter
            )
        return cupy.asnumpy(cupy.asarray(neighbors)), cupy.asnumpy(cupy.asarray(distances))
