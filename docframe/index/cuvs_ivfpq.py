"""Compressed approximate search with cuVS IVF-PQ, for data beyond GPU memory.

Written against ``cuvs.neighbors.ivf_pq`` of cuvs 26.10 (signatures checked by
``scripts/gpu_check.py``):

- ``IndexParams(n_lists=, metric="inner_product", pq_bits=, pq_dim=,
  kmeans_trainset_fraction=)`` + ``build(index_params, dataset)``: the parameters
  scale with the collection as for faiss (``docframe.index.ivfpq_plan``: lists ~
  4 sqrt(n), code bits the data can train, a training sample of 64 points per
  centroid given as ``kmeans_trainset_fraction``; ``pq_dim * pq_bits`` a whole
  number of bytes, as cuVS requires). The dataset may be a *host* array, which is the
  point of this kind: the raw vectors stay in host RAM (memory-mapped after
  ``load``), only the codes live on the GPU. Row ``r`` of the data gets neighbor
  index ``r``; ``extend(index, new_vectors, new_indices)`` appends rows with
  ``new_indices = arange(start, end)``.
- ``SearchParams(n_probes=)`` + ``search(search_params, index, queries, k)``:
  ``(distances, neighbors)``, int64 rows, inner products, best first.
- cuVS 26.10's Python ``ivf_pq.search`` takes no filter, so filters (and removed
  rows) are applied on the host to an over-fetched candidate list: ``k *
  refine_factor`` candidates, times ``n_live / n_allowed`` for a filter, capped
  at ``TOPK_CAP`` (cuVS IVF searches have a top-k ceiling); ``n_probes`` grows by
  the same factor. A very selective filter can therefore return fewer than ``k``
  ids, which is why an ``allowed`` set of at most 4096 ids is scored exactly.
- ``refine_factor`` (4): candidates are re-ranked on the host with the exact
  inner product of their raw vectors, as in ``faiss_ivfpq`` (PQ codes alone cap
  recall@10 near 0.74 at pq_dim = dim/4 on 384-wide data); codes narrower than 8
  bits re-rank ``2**(8 - pq_bits)`` times as many (``ivfpq_plan.rerank_depth``).

Below ``MIN_ROWS`` rows no IVF-PQ index is trained (PQ codebooks need thousands of
points); searches are exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from docframe.index.checks import positive_int
from docframe.index.cuvs_common import METRIC, CuvsIndexBase, cupy_module, neighbors_module
from docframe.index.ivfpq_plan import NBITS_MAX, NBITS_MIN, IVFPQPlan, plan_ivfpq, rerank_depth
from docframe.index.topk import rerank_exact, scaled_budget

INDEX_FILE = "index.ivfpq"
MIN_ROWS = 4096
TOPK_CAP = 1024


class CuvsIVFPQIndex(CuvsIndexBase):
    """cuVS IVF-PQ codes on the GPU, raw vectors on the host for exact re-ranking."""

    kind = "cuvs-ivfpq"
    DEFAULT_PARAMS: dict[str, Any] = {
        "n_lists": None,
        "pq_dim": None,
        "pq_bits": None,
        "n_probes": 64,
        "refine_factor": 4,
    }
    SEARCH_PARAMS = frozenset({"n_probes", "refine_factor"})
    EXACT_FILTER_MAX = 4096
    DATA_ON_DEVICE = False

    def _check_params(self, params: dict[str, Any]) -> None:
        positive_int(self.kind, "n_lists", params["n_lists"], allow_none=True)
        positive_int(self.kind, "pq_dim", params["pq_dim"], allow_none=True)
        bits = positive_int(self.kind, "pq_bits", params["pq_bits"], allow_none=True)
        if bits is not None and not NBITS_MIN <= bits <= NBITS_MAX:
            raise ValueError(f"{self.kind}: parameter pq_bits must be in 4..8, got {bits}")
        positive_int(self.kind, "n_probes", params["n_probes"])
        rf = params["refine_factor"]
        if isinstance(rf, bool) or not isinstance(rf, int | np.integer) or rf < 0:
            raise ValueError(f"{self.kind}: parameter refine_factor must be an integer >= 0")

    def _build_index(self) -> Any:
        n = len(self._row_ids)
        if n < MIN_ROWS:
            return None
        ivf_pq = neighbors_module("ivf_pq")
        plan = self.plan(n)
        index_params = ivf_pq.IndexParams(
            n_lists=plan.nlist,
            metric=METRIC,
            pq_bits=plan.nbits,
            pq_dim=plan.m,
            kmeans_trainset_fraction=min(1.0, plan.train_size / n),
        )
        return ivf_pq.build(index_params, np.ascontiguousarray(self._data))

    def plan(self, n: int) -> IVFPQPlan:
        """The parameters a build over ``n`` rows uses (the given ones, the rest scaled)."""
        return plan_ivfpq(
            n,
            self.dim,
            nlist=self.params["n_lists"],
            m=self.params["pq_dim"],
            nbits=self.params["pq_bits"],
            byte_codes=True,
        )

    def _extend_index(self, start: int) -> Any:
        if self._index is None:
            return self._build_index()
        ivf_pq = neighbors_module("ivf_pq")
        end = len(self._row_ids)
        new_rows = np.arange(start, end, dtype=np.int64)
        return ivf_pq.extend(self._index, np.ascontiguousarray(self._data[start:end]), new_rows)

    def _search_rows(
        self, queries: np.ndarray, k: int, mask: np.ndarray | None, n_allowed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        cupy = cupy_module()
        ivf_pq = neighbors_module("ivf_pq")
        n_rows = len(self._row_ids)
        refine = int(self.params["refine_factor"])
        n_lists = int(self._index.n_lists)
        n_probes = min(int(self.params["n_probes"]), n_lists)
        want = rerank_depth(k, max(refine, 1), int(self._index.pq_bits))
        if mask is not None:  # over-fetch: the host drops filtered and removed rows
            want = scaled_budget(want, n_rows, n_allowed, TOPK_CAP)
            n_probes = scaled_budget(n_probes, n_rows, n_allowed, n_lists)
        k_fetch = min(n_rows, max(k, min(want, TOPK_CAP)))
        search_params = ivf_pq.SearchParams(n_probes=n_probes)
        distances, neighbors = ivf_pq.search(
            search_params, self._index, cupy.asarray(queries), k_fetch
        )
        rows = cupy.asnumpy(cupy.asarray(neighbors)).astype(np.int64, copy=False)
        scores = cupy.asnumpy(cupy.asarray(distances))
        in_range = (rows >= 0) & (rows < n_rows)
        keep = in_range & (self._row_ids[np.where(in_range, rows, 0)] >= 0)
        if mask is not None:
            keep &= mask[np.where(in_range, rows, 0)]
        rows = np.where(keep, rows, -1)
        if refine:
            rows, scores = rerank_exact(
                queries, rows, lambda keys: np.asarray(self._data[keys], dtype=np.float32)
            )
        return rows, scores

    def _save_index(self, directory: Path) -> None:
        ivf_pq = neighbors_module("ivf_pq")
        ivf_pq.save(str(directory / INDEX_FILE), self._index)

    def _load_index(self, directory: Path) -> Any:
        ivf_pq = neighbors_module("ivf_pq")
        return ivf_pq.load(str(directory / INDEX_FILE))


__all__ = ["CuvsIVFPQIndex", "INDEX_FILE", "MIN_ROWS"]
