"""Approximate inner-product search on the GPU with a cuVS CAGRA graph.

Written against ``cuvs.neighbors.cagra`` of cuvs 26.10 (signatures checked by
``scripts/gpu_check.py``):

- ``IndexParams(metric="inner_product", graph_degree=, intermediate_graph_degree=,
  build_algo=)`` + ``build(index_params, dataset)`` over a cupy array. CAGRA keeps a
  view of the (already 16-byte-aligned) dataset, so the wrapper holds the array.
- ``SearchParams(itopk_size=)`` + ``search(search_params, index, queries, k,
  filter=)``: ``(distances, neighbors)``, neighbors uint32 row positions (an
  unfilled slot holds 0xFFFFFFFF, which the host check drops), distances the inner
  products (cuVS negates its internal "-ip" back), best first. cuVS requires
  ``k <= itopk_size``, so ``itopk_size`` is raised to ``k`` when needed.
- filters are native: ``filter=filters.from_bitset(bitset)`` masks rows inside the
  graph walk. As with any graph, a selective filter leaves few allowed nodes on the
  walk, so ``itopk_size`` grows with ``n_live / n_allowed`` (capped at 512, the
  single-CTA limit) and an ``allowed`` set of at most 4096 ids is scored exactly.
- ``add``: ``extend(ExtendParams(), index, dataset_old_and_new, new_start_row)``
  inserts the new rows into the graph; a batch larger than a quarter of the index
  rebuilds instead (extend adds no edges among the new rows of one batch).
- ``remove``: tombstones masked by the bitset; rebuilt once they outnumber the
  live rows (see ``cuvs_common``).
- ``save(filename, index, include_dataset=False)`` writes the graph only; the
  vectors go to ``vectors.npy`` and ``load`` re-attaches them with
  ``update_dataset(index, dataset)`` after ``load(index, filename)``, the pairing
  cuVS documents for graph-only files.

Below ``GRAPH_MIN_ROWS`` rows no graph is built (CAGRA needs more rows than its
intermediate degree, and exact search is as fast there): searches are exact.
``cuvs_hnsw.export_cagra_to_hnsw`` turns the graph into an hnswlib file for CPU
serving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from docframe.index.checks import positive_int
from docframe.index.cuvs_common import (
    METRIC,
    CuvsIndexBase,
    cupy_module,
    neighbors_module,
    row_prefilter,
)
from docframe.index.topk import scaled_budget

INDEX_FILE = "index.cagra"
GRAPH_MIN_ROWS = 1024
ITOPK_CAP = 512
EXTEND_MAX_FRACTION = 0.25
BUILD_ALGOS = ("ivf_pq", "nn_descent", "iterative_cagra_search")


class CuvsCagraIndex(CuvsIndexBase):
    """CAGRA graph over L2-normalised float32 vectors on the GPU, ranked by inner product."""

    kind = "cuvs-cagra"
    DEFAULT_PARAMS: dict[str, Any] = {
        "graph_degree": 64,
        "intermediate_graph_degree": 128,
        "build_algo": "ivf_pq",
        "itopk_size": 64,
    }
    SEARCH_PARAMS = frozenset({"itopk_size"})
    EXACT_FILTER_MAX = 4096

    def _check_params(self, params: dict[str, Any]) -> None:
        for name in ("graph_degree", "intermediate_graph_degree", "itopk_size"):
            positive_int(self.kind, name, params[name])
        if params["graph_degree"] > params["intermediate_graph_degree"]:
            raise ValueError(
                f"{self.kind}: graph_degree ({params['graph_degree']}) must not exceed "
                f"intermediate_graph_degree ({params['intermediate_graph_degree']})"
            )
        if params["build_algo"] not in BUILD_ALGOS:
            raise ValueError(
                f"{self.kind}: unknown build_algo {params['build_algo']!r}; "
                f"valid: {', '.join(BUILD_ALGOS)}"
            )

    def _build_index(self) -> Any:
        n = len(self._row_ids)
        if n < GRAPH_MIN_ROWS:
            return None
        cagra = neighbors_module("cagra")
        intermediate = min(int(self.params["intermediate_graph_degree"]), n - 1)
        degree = min(int(self.params["graph_degree"]), intermediate)
        index_params = cagra.IndexParams(
            metric=METRIC,
            graph_degree=degree,
            intermediate_graph_degree=intermediate,
            build_algo=self.params["build_algo"],
        )
        return cagra.build(index_params, self._data)

    def _extend_index(self, start: int) -> Any:
        added = len(self._row_ids) - start
        if self._index is None or added > EXTEND_MAX_FRACTION * start:
            return self._build_index()
        cagra = neighbors_module("cagra")
        cagra.extend(cagra.ExtendParams(), self._index, self._data, start)
        return self._index

    def _search_rows(
        self, queries: np.ndarray, k: int, mask: np.ndarray | None, n_allowed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        cupy = cupy_module()
        cagra = neighbors_module("cagra")
        k_found = min(k, len(self._row_ids))
        itopk = int(self.params["itopk_size"])
        if mask is not None:
            itopk = scaled_budget(itopk, len(self), n_allowed, ITOPK_CAP)
        search_params = cagra.SearchParams(itopk_size=max(itopk, k_found))
        prefilter = row_prefilter(mask)
        device_queries = cupy.asarray(queries)
        if prefilter is None:
            distances, neighbors = cagra.search(search_params, self._index, device_queries, k_found)
        else:
            distances, neighbors = cagra.search(
                search_params, self._index, device_queries, k_found, filter=prefilter
            )
        rows = cupy.asnumpy(cupy.asarray(neighbors)).astype(np.int64)
        return rows, cupy.asnumpy(cupy.asarray(distances))

    def _save_index(self, directory: Path) -> None:
        cagra = neighbors_module("cagra")
        cagra.save(str(directory / INDEX_FILE), self._index, include_dataset=False)

    def _load_index(self, directory: Path) -> Any:
        cagra = neighbors_module("cagra")
        index = cagra.Index()
        cagra.load(index, str(directory / INDEX_FILE))
        cagra.update_dataset(index, self._data)
        return index

    @property
    def cagra_index(self) -> Any:
        """The underlying ``cuvs.neighbors.cagra.Index`` (None below ``GRAPH_MIN_ROWS``)."""
        return self._index
