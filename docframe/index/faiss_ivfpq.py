"""Compressed approximate search on the CPU with faiss IVF-PQ, for collections too big for HNSW.

``IndexIVFPQ`` (inner product) clusters the vectors into ``nlist`` inverted lists
and stores each as ``m`` one-byte (``nbits``) product-quantiser codes: 96 bytes
for a 384-wide vector instead of 1536. A query scans the ``nprobe`` nearest lists.
faiss stores the caller's labels in the lists (``add_with_ids``) and removes them
natively (``remove_ids``). Parameters:

- ``nlist`` (None: 4 * sqrt(n)): number of lists; always clamped to n / 39 so
  k-means has the 39 points per centroid faiss asks for (small n trains fine);
- ``m`` (None: the divisor of dim nearest dim / 4): sub-quantisers;
- ``nbits`` (None: 4 to 8, as many as the data trains, ``2**nbits * 39 <= n``):
  bits per code. An explicit ``nbits`` the data cannot train is padded: the training
  set is the data plus jittered copies, so even a handful of vectors gets a codebook;
- training sees a seeded sample of 64 points per centroid, not all n vectors;
  ``docframe.index.ivfpq_plan`` says why and measures it (a fixed 8 bits took 96 s to
  build 2,416 vectors);
- ``nprobe`` (32): lists scanned per query, the recall/speed knob;
- ``refine_factor`` (4): fetch ``k * refine_factor`` candidates by code and
  re-rank them with the exact inner product of the raw vectors. PQ alone tops
  out near recall@10 = 0.74 at m = dim/4 (0.91 at dim/2) on 384-wide data however
  many lists are scanned; with the re-rank, 0.99 (benchmarks/ann.py, SciFact and
  200k x 384); codes narrower than 8 bits re-rank ``2**(8 - nbits)`` times as
  many (``ivfpq_plan.rerank_depth``). The raw vectors are kept in RAM while building, saved as
  ``vectors.npy`` and memory-mapped on ``load``, so a loaded index holds only
  the codes in RAM and reads ``k * refine_factor`` rows per query.
  ``refine_factor=0`` keeps no raw vectors (codes only, lower recall).

Filters are faiss selectors inside the list scan; a filter that keeps a fraction p
of the vectors scans ``nprobe / p`` lists (up to all), and a small ``allowed`` set
is scored exactly from the raw vectors (when kept).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from docframe.index.checks import positive_int
from docframe.index.faiss_base import FaissIndexBase, faiss_module
from docframe.index.idlookup import IdLookup
from docframe.index.ivfpq_plan import (
    MIN_POINTS_PER_CENTROID,
    auto_m,
    auto_nlist,
    plan_ivfpq,
    rerank_depth,
)
from docframe.index.topk import rerank_exact, scaled_budget

IDS_FILE = "ids.npy"
VECTORS_FILE = "vectors.npy"
MIN_POINTS_PER_LIST = MIN_POINTS_PER_CENTROID
__all__ = ["FaissIVFPQIndex", "auto_m", "auto_nlist"]


class FaissIVFPQIndex(FaissIndexBase):
    """IVF-PQ codes with exact re-ranking, ranked by inner product."""

    kind = "faiss-ivfpq"
    DEFAULT_PARAMS: dict[str, Any] = {
        "nlist": None,
        "m": None,
        "nbits": None,
        "nprobe": 32,
        "refine_factor": 4,
    }
    SEARCH_PARAMS = frozenset({"nprobe", "refine_factor"})
    EXACT_FILTER_MAX = 4096

    def __init__(self, dim: int, **params: Any) -> None:
        self._raw = np.empty((0, int(dim)), np.float32)  # row -> raw vector (for re-ranking)
        self._refine_on_build = True
        super().__init__(dim, **params)

    def _check_params(self, params: dict[str, Any]) -> None:
        positive_int(self.kind, "nlist", params["nlist"], allow_none=True)
        m = positive_int(self.kind, "m", params["m"], allow_none=True)
        if m is not None and self.dim % m:
            raise ValueError(f"{self.kind}: parameter m={m} must divide the dimension {self.dim}")
        nbits = positive_int(self.kind, "nbits", params["nbits"], allow_none=True)
        if nbits is not None and nbits > 16:
            raise ValueError(f"{self.kind}: parameter nbits must be <= 16, got {nbits}")
        positive_int(self.kind, "nprobe", params["nprobe"])
        rf = params["refine_factor"]
        if isinstance(rf, bool) or not isinstance(rf, int | np.integer) or rf < 0:
            raise ValueError(f"{self.kind}: parameter refine_factor must be an integer >= 0")
        if rf and getattr(self, "_index", None) is not None and not self._keeps_raw():
            raise ValueError(
                f"{self.kind}: this index was built with refine_factor=0 and keeps no raw "
                "vectors; rebuild it to re-rank"
            )

    # --- structure --------------------------------------------------------------------------
    def _keeps_raw(self) -> bool:
        return self._refine_on_build

    def _new_index(self, train: np.ndarray) -> Any:
        self._raw = np.empty((0, self.dim), np.float32)
        self._refine_on_build = bool(self.params["refine_factor"])
        n = len(train)
        if n == 0:
            return None  # untrained: the first add trains
        faiss = faiss_module()
        plan = plan_ivfpq(
            n, self.dim, nlist=self.params["nlist"], m=self.params["m"], nbits=self.params["nbits"]
        )
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQ(
            quantizer, self.dim, plan.nlist, plan.m, plan.nbits, faiss.METRIC_INNER_PRODUCT
        )
        index.train(self._training_set(train, plan.train_size))
        return index

    @staticmethod
    def _training_set(vectors: np.ndarray, size: int) -> np.ndarray:
        """``size`` training vectors: a seeded sample of ``vectors`` when there are more,
        ``vectors`` topped up with jittered copies when there are fewer (an ``nbits`` the
        data cannot train), so every k-means has enough points (and faiss no warning)."""
        want = size
        if len(vectors) > want:
            rows = np.random.default_rng(0).choice(len(vectors), want, replace=False)
            return np.ascontiguousarray(vectors[np.sort(rows)], dtype=np.float32)
        if len(vectors) == want:
            return vectors
        rng = np.random.default_rng(0)
        reps = math.ceil(want / len(vectors))
        extra = np.repeat(vectors, reps - 1, axis=0)
        extra += rng.standard_normal(extra.shape).astype(np.float32) * (
            0.01 / math.sqrt(extra.shape[1])
        )
        extra /= np.linalg.norm(extra, axis=1, keepdims=True)
        return np.ascontiguousarray(np.vstack([vectors, extra]), dtype=np.float32)

    def trained_params(self) -> dict[str, int]:
        """What the faiss index was actually trained with (after auto values and clamping)."""
        if self._index is None:
            return {}
        pq = self._index.pq
        return {"nlist": int(self._index.nlist), "m": int(pq.M), "nbits": int(pq.nbits)}

    def _apply_search_params(self) -> None:
        if self._index is not None:
            self._index.nprobe = min(int(self.params["nprobe"]), int(self._index.nlist))

    def _row_ids(self) -> np.ndarray:
        """Ids from the inverted lists (row order is meaningless for IVF)."""
        faiss = faiss_module()
        if self._index is None or self._index.ntotal == 0:
            return np.empty(0, np.int64)
        lists = self._index.invlists
        out = []
        for i in range(lists.nlist):
            size = lists.list_size(i)
            if size:
                ptr = lists.get_ids(i)
                out.append(faiss.rev_swig_ptr(ptr, size).copy())
                lists.release_ids(i, ptr)
        return np.concatenate(out) if out else np.empty(0, np.int64)

    def _append(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if not len(ids):
            return
        start = len(self._raw)
        self._index.add_with_ids(vectors, ids)
        if self._keeps_raw():
            self._raw = np.concatenate([self._raw, vectors])  # also un-maps a loaded file
            self._lookup.insert(ids, np.arange(start, start + len(ids)))
        else:
            self._lookup.insert(ids, np.zeros(len(ids), np.int64))

    def _remove_known(self, ids: np.ndarray) -> None:
        self._index.remove_ids(faiss_module().IDSelectorBatch(ids))
        self._lookup.delete(ids)  # their raw rows become garbage until the next save

    def _vectors(self) -> np.ndarray | None:
        return self._raw if self._keeps_raw() else None

    def vectors_by_id(self) -> np.ndarray | None:
        if not self._keeps_raw():
            return None
        lookup, n = self._lookup, len(self._raw)
        identity = np.arange(n, dtype=np.int64)
        if len(lookup) != n or not (
            np.array_equal(lookup.ids, identity) and np.array_equal(lookup.rows, identity)
        ):
            return None
        return self._raw

    # --- search -----------------------------------------------------------------------------
    def _candidates(self, k: int) -> int:
        rf = int(self.params["refine_factor"])
        if not (rf and self._keeps_raw()):
            return k
        return rerank_depth(k, rf, int(self._index.pq.nbits))

    def _search_all(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        kk = self._candidates(k)
        scores, ids = self._index.search(queries, kk)
        return self._refine(queries, ids, k) if kk != k else (scores, ids)

    def _filtered_search(
        self, queries: np.ndarray, k: int, sel: Any, n_allowed: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = faiss_module()
        nlist = int(self._index.nlist)
        nprobe = min(int(self.params["nprobe"]), nlist)
        if n_allowed is not None:
            nprobe = scaled_budget(nprobe, len(self), n_allowed, nlist)
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        if sel is not None:
            params.sel = sel
        kk = self._candidates(k)
        scores, ids = self._index.search(queries, kk, params=params)
        return self._refine(queries, ids, k) if kk != k else (scores, ids)

    def _refine(
        self, queries: np.ndarray, candidates: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Re-rank candidate ids by the exact inner product of their raw vectors."""
        ids, scores = rerank_exact(
            queries, candidates, lambda keys: self._raw[self._lookup.rows_of(keys)]
        )
        return scores[:, :k], ids[:, :k]

    # --- persistence ------------------------------------------------------------------------
    def _manifest_extra(self) -> dict[str, Any]:
        return {"trained": self.trained_params(), "raw_vectors": self._keeps_raw()}

    def _save_extra(self, directory: Path) -> None:
        lookup = self._lookup
        np.save(directory / IDS_FILE, lookup.ids)
        if self._keeps_raw():
            np.save(directory / VECTORS_FILE, np.asarray(self._raw[lookup.rows]))

    def _after_load(self, directory: Path, manifest: dict[str, Any]) -> None:
        ids = np.load(directory / IDS_FILE).astype(np.int64, copy=False)
        if len(ids) != self._index.ntotal:
            raise ValueError(
                f"{directory}: {IDS_FILE} has {len(ids)} ids, index has {self._index.ntotal}"
            )
        self._dead = 0
        self._refine_on_build = bool(manifest.get("raw_vectors", False))
        self._ids = IdLookup(ids)  # sorted unique: row i of vectors.npy is ids[i]
        if self._refine_on_build:
            raw = np.load(directory / VECTORS_FILE, mmap_mode="r")
            if raw.shape != (len(ids), self.dim):
                raise ValueError(
                    f"{directory}: {VECTORS_FILE} is {raw.shape}, expected {(len(ids), self.dim)}"
                )
            self._raw = raw
