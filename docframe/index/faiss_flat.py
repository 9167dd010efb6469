"""Exact inner-product search on the CPU with faiss: the reference index.

``IndexFlatIP`` scores every vector, so results are exact and serve as the
ground truth the approximate indexes and the cuVS implementation are tested
against. It is wrapped in ``IndexIDMap2`` so faiss itself stores the caller's
int64 labels and returns them from ``search``; the whole index, labels included,
round-trips through one ``faiss.write_index`` file. Removal is faiss's own
``remove_ids`` (rows shift down; the labels move with them). Filters are faiss
selectors: a rejected vector is never scored, so a filtered search is the exact
top-k among the allowed ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from docframe.index.faiss_base import INDEX_FILE, FaissIDMapIndex, faiss_module

__all__ = ["FaissFlatIndex", "INDEX_FILE"]


class FaissFlatIndex(FaissIDMapIndex):
    """Exact top-k by inner product over L2-normalised float32 vectors (cosine)."""

    kind = "faiss-flat"
    DEFAULT_PARAMS: dict[str, Any] = {}
    SEARCH_PARAMS = frozenset()
    EXACT_FILTER_MAX = 0  # the native selector path is exact already

    def _new_index(self, train: np.ndarray) -> Any:
        faiss = faiss_module()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _filtered_search(
        self, queries: np.ndarray, k: int, sel: Any, n_allowed: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        params = faiss_module().SearchParameters(sel=sel) if sel is not None else None
        return self._inner_index.search(queries, k, params=params)

    def _remove_known(self, ids: np.ndarray) -> None:
        faiss = faiss_module()
        self._index.remove_ids(faiss.IDSelectorBatch(ids))  # rows shift: re-derive the lookup
        self._sync()
        self._ids = None
