"""What every cuVS-backed index shares: ids, tombstones, filters, exact fallback, save/load.

cuVS indexes (brute force, CAGRA, IVF-PQ) identify vectors by *row position* in
the dataset they were built from. The wrappers keep the caller's labels beside
it (``_row_ids``: row -> id, -1 once removed) plus an ``IdLookup`` (id -> row),
and translate both ways on the host. What cuVS offers natively is used natively:

- filters: a prefilter *bitset* over rows (``cuvs.neighbors.filters.from_bitset``,
  one bit per row, bit ``r % 32`` of uint32 word ``r // 32``, 1 = allowed) for
  brute force and CAGRA; IVF-PQ's Python search takes no filter in cuVS 26.10,
  so it over-fetches and filters on the host (see ``cuvs_ivfpq``);
- removal: cuVS cannot delete rows, so a removed row becomes a tombstone that the
  bitset masks out, and the index is rebuilt from the live rows once tombstones
  outnumber them (brute force rebuilds at once: building it is only a copy).

Every result is re-checked on the host (row in range, allowed, not removed) and
compacted to the front, so a library's sentinel values or a filter it ignored can
never surface as an id. An ``allowed`` set of at most ``EXACT_FILTER_MAX`` ids is
scored exactly (numpy over the gathered rows, the same code the faiss kinds use):
graph and IVF searches return too few hits for very selective filters.

cupy and cuVS are imported inside functions: importing this module needs neither.
The alias names ``cupy``, ``brute_force``, ``cagra``, ``ivf_pq``, ``hnsw`` and
``cuvs_filters`` (``cuvs.neighbors.filters``; plain ``filters`` is a common variable
name elsewhere) are bound explicitly at each call site so that
``scripts/gpu_check.py`` can bind every call to the installed cuVS signatures.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from docframe.backend import GPU_EXTRA_HINT
from docframe.index.checks import (
    check_build_inputs,
    check_filters,
    check_id_array,
    check_queries,
    check_search_params,
    missing_dependency,
    resolve_params,
)
from docframe.index.idlookup import IdLookup
from docframe.index.manifest import read_manifest, write_manifest
from docframe.index.topk import empty_results, exact_top_k

IDS_FILE = "ids.npy"
VECTORS_FILE = "vectors.npy"
METRIC = "inner_product"  # cuvs.distance.DISTANCE_TYPES name; results are inner products


def cupy_module() -> Any:
    """``cupy``, or an error naming the GPU extra."""
    try:
        import cupy
    except ImportError as exc:
        raise missing_dependency("cupy", GPU_EXTRA_HINT) from exc
    return cupy


def neighbors_module(name: str) -> Any:
    """``cuvs.neighbors.<name>`` (brute_force, cagra, ivf_pq, hnsw, filters)."""
    try:
        return importlib.import_module(f"cuvs.neighbors.{name}")
    except ImportError as exc:
        raise missing_dependency("cuvs", GPU_EXTRA_HINT) from exc


def bitset_words(mask: np.ndarray) -> np.ndarray:
    """``mask`` (bool per row) as cuVS bitset words: bit ``r % 32`` of uint32 word
    ``r // 32`` (least significant bit first) is 1 when row ``r`` may be returned."""
    packed = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
    packed = np.concatenate([packed, np.zeros((-len(packed)) % 4, np.uint8)])
    return packed.view("<u4").astype(np.uint32, copy=False)


def row_bitset(mask: np.ndarray) -> Any:
    """The device copy of ``bitset_words(mask)``, for ``filters.from_bitset``."""
    cupy = cupy_module()
    return cupy.asarray(bitset_words(mask))


def row_prefilter(mask: np.ndarray | None) -> Any:
    """``filters.from_bitset`` over ``mask``, or None for "no filter"."""
    if mask is None:
        return None
    cuvs_filters = neighbors_module("filters")  # not "filters": a common variable name
    return cuvs_filters.from_bitset(row_bitset(mask))


class CuvsIndexBase:
    """Base of the cuVS wrappers; subclasses fill in the hooks marked below."""

    kind: ClassVar[str] = ""
    DEFAULT_PARAMS: ClassVar[dict[str, Any]] = {}
    SEARCH_PARAMS: ClassVar[frozenset[str]] = frozenset()
    EXACT_FILTER_MAX: ClassVar[int] = 4096
    DATA_ON_DEVICE: ClassVar[bool] = True  # False: raw vectors stay in host RAM (IVF-PQ)
    COMPACT_ON_REMOVE: ClassVar[bool] = False  # True: rebuild at every remove (brute force)

    def __init__(self, dim: int, **params: Any) -> None:
        cupy_module()  # fail at creation, not at first build, when RAPIDS is missing
        neighbors_module("brute_force")
        self.dim = int(dim)
        if self.dim <= 0:
            raise ValueError(f"index dimension must be positive, got {dim}")
        self.params: dict[str, Any] = resolve_params(self.kind, self.DEFAULT_PARAMS, params)
        self._check_params(self.params)
        self._row_ids = np.empty(0, np.int64)  # row -> caller's id; -1 = removed
        self._ids = IdLookup(self._row_ids)
        self._dead = 0
        self._data: Any = None  # (rows, dim) float32: cupy on device, or numpy on host
        self._index: Any = None  # the cuVS index; None while empty (or too small for one)

    # --- hooks ------------------------------------------------------------------------------
    def _check_params(self, params: dict[str, Any]) -> None:
        """Raise ValueError naming a bad parameter value."""

    def _build_index(self) -> Any:
        """A cuVS index over ``self._data`` (all rows), or None to answer exactly."""
        raise NotImplementedError

    def _extend_index(self, start: int) -> Any:
        """The index after rows ``start:`` were appended to ``self._data``; default rebuild."""
        return self._build_index()

    def _search_rows(
        self, queries: np.ndarray, k: int, mask: np.ndarray | None, n_allowed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """cuVS search of host ``queries`` restricted to ``mask`` rows (None: all), with
        ``n_allowed`` live rows passing it: host (rows, scores), best first."""
        raise NotImplementedError

    def _save_index(self, directory: Path) -> None:
        """Write the cuVS index file(s) (``self._index`` is not None)."""

    def _load_index(self, directory: Path) -> Any:
        """Read what ``_save_index`` wrote (``self._data`` is already loaded)."""
        return self._build_index()

    # --- data on device or host -------------------------------------------------------------
    def _to_store(self, vectors: np.ndarray) -> Any:
        return cupy_module().asarray(vectors) if self.DATA_ON_DEVICE else vectors

    def _concat(self, old: Any, new: Any) -> Any:
        if self.DATA_ON_DEVICE:
            cupy = cupy_module()
            return cupy.concatenate([old, new])
        return np.concatenate([np.asarray(old), new])

    def _host_rows(self, rows: np.ndarray) -> np.ndarray:
        """Raw vectors of ``rows`` as a host float32 array."""
        if self.DATA_ON_DEVICE:
            cupy = cupy_module()
            return cupy.asnumpy(self._data[cupy.asarray(rows)])
        return np.asarray(self._data[rows], dtype=np.float32)

    # --- verbs ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._row_ids) - self._dead

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Replace the contents with ``vectors`` labelled by ``ids``."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        self._reset(vectors, ids)

    def _reset(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self._index = self._data = None
        self._row_ids = ids.copy()
        self._ids = IdLookup(self._row_ids)
        self._dead = 0
        if len(ids):  # cuVS cannot build over zero rows; an empty index answers -1
            self._data = self._to_store(vectors)
            self._index = self._build_index()

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Append ``vectors`` labelled by ``ids``; ids already present are refused."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        present = ids[self._ids.contains(ids)]
        if present.size:
            raise ValueError(f"ids already in the {self.kind} index: {present[:5].tolist()}")
        if not len(ids):
            return
        if self._data is None:
            self._reset(vectors, ids)
            return
        start = len(self._row_ids)
        self._data = self._concat(self._data, self._to_store(vectors))
        self._row_ids = np.concatenate([self._row_ids, ids])
        self._ids.insert(ids, np.arange(start, start + len(ids)))
        self._index = self._extend_index(start)

    def remove(self, ids: np.ndarray) -> int:
        """Remove the vectors labelled ``ids``; unknown ids are ignored. Returns the count."""
        ids = check_id_array("ids", ids)
        known = ids[self._ids.contains(ids)]
        if not known.size:
            return 0
        rows = self._ids.delete(known)
        self._row_ids[rows] = -1
        self._dead += len(rows)
        if self.COMPACT_ON_REMOVE or self._dead > len(self):
            self.compact()
        return int(known.size)

    def compact(self) -> None:
        """Rebuild from the live rows, dropping tombstones."""
        if not self._dead:
            return
        live = np.flatnonzero(self._row_ids >= 0)
        self._reset(self._host_rows(live), self._row_ids[live])

    def set_search_params(self, **params: Any) -> None:
        """Change search knobs (see ``SEARCH_PARAMS``); recorded in ``params``."""
        check_search_params(self.kind, self.SEARCH_PARAMS, params)
        merged = {**self.params, **params}
        self._check_params(merged)
        self.params = merged

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, scores) by inner product, best first, -1 / -inf padding.

        ``allowed``: only these ids may be returned; ``excluded``: these never are.
        """
        queries = check_queries(self.dim, queries, k)
        allowed, excluded = check_filters(allowed, excluded)
        n_q = len(queries)
        if k == 0 or n_q == 0 or len(self) == 0:
            return empty_results(n_q, k)
        mask: np.ndarray | None = None
        n_allowed = len(self)
        if allowed is not None:
            allowed = allowed[self._ids.contains(allowed)]
            if not allowed.size:
                return empty_results(n_q, k)
            rows = self._ids.rows_of(allowed)
            if allowed.size <= self.EXACT_FILTER_MAX or self._index is None:
                return exact_top_k(queries, self._host_rows(rows), allowed, k)
            mask = np.zeros(len(self._row_ids), dtype=bool)
            mask[rows] = True
            n_allowed = int(allowed.size)
        elif excluded is not None and excluded.size:
            gone = excluded[self._ids.contains(excluded)]
            if gone.size:
                mask = self._row_ids >= 0
                mask[self._ids.rows_of(gone)] = False
                n_allowed = int(mask.sum())
        if mask is None and self._dead:
            mask = self._row_ids >= 0
        if self._index is None:  # too few rows for an ANN structure: exact
            live = np.flatnonzero(mask if mask is not None else self._row_ids >= 0)
            return exact_top_k(queries, self._host_rows(live), self._row_ids[live], k)
        rows, scores = self._search_rows(queries, k, mask, n_allowed)
        return self._finish(rows, scores, mask, k)

    def _finish(
        self, rows: np.ndarray, scores: np.ndarray, mask: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows -> ids; drop out-of-range, filtered and removed rows; compact; pad to ``k``."""
        rows = np.asarray(rows).astype(np.int64, copy=False)
        n_rows = len(self._row_ids)
        valid = (rows >= 0) & (rows < n_rows)
        safe = np.where(valid, rows, 0)
        if mask is not None:
            valid &= mask[safe]
        ids = self._row_ids[safe]
        valid &= ids >= 0
        order = np.argsort(~valid, axis=1, kind="stable")  # valid slots first, order kept
        ids = np.take_along_axis(np.where(valid, ids, -1), order, axis=1)
        scores = np.take_along_axis(
            np.where(valid, np.asarray(scores, dtype=np.float32), np.float32(-np.inf)),
            order,
            axis=1,
        )
        out_ids, out_scores = empty_results(len(rows), k)
        width = min(k, rows.shape[1])
        out_ids[:, :width] = ids[:, :width]
        out_scores[:, :width] = scores[:, :width]
        return out_ids, out_scores

    # --- persistence ------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``ids.npy`` (row -> id, -1 removed), ``vectors.npy`` (raw rows), the cuVS
        index file where the kind has one, and ``index.json`` with the parameters."""
        directory = Path(directory)
        np.save(directory / IDS_FILE, self._row_ids)
        if self._data is not None:
            data = self._data
            if self.DATA_ON_DEVICE:
                data = cupy_module().asnumpy(data)
            np.save(directory / VECTORS_FILE, np.asarray(data))
        if self._index is not None:
            self._save_index(directory)
        write_manifest(
            directory,
            self.kind,
            self.dim,
            len(self),
            self.params,
            rows=len(self._row_ids),
            tombstones=self._dead,
            graph=self._index is not None,
        )

    @classmethod
    def load(cls, directory: Path) -> CuvsIndexBase:
        """Read an index written by ``save`` (same cuVS version: its file format may change)."""
        directory = Path(directory)
        manifest = read_manifest(directory, expect_kind=cls.kind)
        self = cls(int(manifest["dim"]), **(manifest.get("params") or {}))
        row_ids = np.load(directory / IDS_FILE).astype(np.int64, copy=False)
        self._row_ids = row_ids
        self._ids = IdLookup(row_ids)
        self._dead = int((row_ids < 0).sum())
        if len(self) != manifest["count"]:
            raise ValueError(
                f"{directory}: {IDS_FILE} has {len(self)} live ids, "
                f"manifest says {manifest['count']}"
            )
        if len(row_ids):
            mmap = None if self.DATA_ON_DEVICE else "r"
            data = np.load(directory / VECTORS_FILE, mmap_mode=mmap)
            if data.shape != (len(row_ids), self.dim):
                raise ValueError(
                    f"{directory}: {VECTORS_FILE} is {data.shape}, "
                    f"expected {(len(row_ids), self.dim)}"
                )
            self._data = self._to_store(np.ascontiguousarray(data) if mmap is None else data)
            self._index = self._load_index(directory) if manifest.get("graph", True) else None
        return self
