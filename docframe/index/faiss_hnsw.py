"""Approximate inner-product search on the CPU with a faiss HNSW graph.

``IndexHNSWFlat`` (``METRIC_INNER_PRODUCT``) inside ``IndexIDMap2``, so faiss keeps
the caller's labels and the raw vectors (the graph's flat storage). Parameters:

- ``M`` (32): links per node; more links, better recall, more memory and build time;
- ``ef_construction`` (200): candidate list while inserting; build quality;
- ``ef_search`` (64): candidate list while searching; the recall/speed knob
  (``set_search_params(ef_search=...)``). 32/200/64 reach recall@10 >= 0.95 against
  exact search on SciFact (5k x 384) and on 200k x 384 clustered data; see
  ``benchmarks/ann.py``.

faiss cannot delete from an HNSW graph, so ``remove`` writes a tombstone: the row's
label in ``IndexIDMap2.id_map`` becomes -1 and every later search runs with a
row bitmap selector that rejects such rows. The node stays in the graph as a waypoint (so the
graph stays connected), the tombstones are saved inside ``index.faiss`` with the
labels, and when they outnumber the live rows the graph is rebuilt from the live
vectors (``compact``). A re-added id gets a new row; its old row stays dead.

Filtered search: faiss walks the graph as usual but only admits allowed nodes to
the result list, so with a selective filter few allowed nodes are met. Two
measures keep ``k`` results: ``ef_search`` grows with the filter's selectivity
(``n_live / n_allowed``, capped at ``FILTER_EF_CAP``), and an ``allowed`` set of
at most ``EXACT_FILTER_MAX`` ids is scored exactly from the stored vectors, which
is both faster and exact at that size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from docframe.index.checks import positive_int
from docframe.index.faiss_base import FaissIDMapIndex, faiss_module
from docframe.index.topk import scaled_budget

FILTER_EF_CAP = 1024


class FaissHNSWIndex(FaissIDMapIndex):
    """HNSW graph over L2-normalised float32 vectors, ranked by inner product."""

    kind = "faiss-hnsw"
    DEFAULT_PARAMS: dict[str, Any] = {"M": 32, "ef_construction": 200, "ef_search": 64}
    SEARCH_PARAMS = frozenset({"ef_search"})
    EXACT_FILTER_MAX = 4096

    def _check_params(self, params: dict[str, Any]) -> None:
        for name in ("M", "ef_construction", "ef_search"):
            positive_int(self.kind, name, params[name])
        if params["M"] < 2:
            raise ValueError(f"{self.kind}: parameter M must be >= 2, got {params['M']}")

    def _new_index(self, train: np.ndarray) -> Any:
        faiss = faiss_module()
        graph = faiss.IndexHNSWFlat(self.dim, int(self.params["M"]), faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = int(self.params["ef_construction"])
        graph.hnsw.efSearch = int(self.params["ef_search"])
        return faiss.IndexIDMap2(graph)

    def _apply_search_params(self) -> None:
        graph = faiss_module().downcast_index(self._index.index)  # not the cache: may be stale
        graph.hnsw.efSearch = int(self.params["ef_search"])

    def _flat_storage(self) -> Any:
        return faiss_module().downcast_index(self._inner().storage)

    def _filtered_search(
        self, queries: np.ndarray, k: int, sel: Any, n_allowed: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = faiss_module()
        ef = int(self.params["ef_search"])
        if n_allowed is not None:
            ef = scaled_budget(ef, len(self), n_allowed, FILTER_EF_CAP)
        params = faiss.SearchParametersHNSW(efSearch=max(ef, k))
        if sel is not None:
            params.sel = sel
        return self._inner_index.search(queries, k, params=params)

    def _remove_known(self, ids: np.ndarray) -> None:
        rows = self._lookup.delete(ids)
        self._id_map()[rows] = -1
        self._labels_ext[rows] = -1  # dead rows are filtered out anyway; keep the copy exact
        self._dead += len(rows)
        if self._dead > len(self):
            self.compact()

    def compact(self) -> None:
        """Rebuild the graph from the live rows, dropping tombstones (frees their memory)."""
        if not self._dead:
            return
        row_ids = self._row_ids()
        live = row_ids >= 0
        vectors = self._vectors()[live].copy()
        ids = row_ids[live]
        self._reset(vectors)
        self._append(vectors, ids)

    def _manifest_extra(self) -> dict[str, Any]:
        return {"tombstones": self._dead}
