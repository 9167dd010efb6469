"""What every faiss-backed index shares: params, id bookkeeping, filters, save/load.

The three faiss kinds (flat, HNSW, IVF-PQ) differ only in how the faiss index is
made, how a filtered search is tuned and how removal works; everything else —
input checks, the caller's int64 labels, duplicate-id refusal, the ``allowed`` /
``excluded`` filters turned into faiss ``IDSelector`` objects, the exact path for
small ``allowed`` sets, padding, the ``index.json`` manifest — lives here once.

Filters run inside faiss (``SearchParameters.sel``): faiss skips a vector the
selector rejects *before* scoring it, so a filtered search still fills ``k``
slots with allowed ids. For the ``IndexIDMap2`` kinds (flat, HNSW) the selector is
a bitmap over inner rows (see ``FaissIDMapIndex``). For IVF-PQ, whose lists hold
the ids themselves, sets of ids become an ``IDSelectorBitmap`` when the ids are
small integers (the lake's ids are row positions: one bit per id, O(1) tests) and
an ``IDSelectorBatch`` (hash set + Bloom filter) otherwise; ``excluded`` is
``IDSelectorNot`` of such a set, and ``allowed`` and ``excluded`` together an
``IDSelectorAnd``. faiss is imported inside functions so that ``import docframe``
stays light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

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
from docframe.index.topk import empty_results, exact_top_k, pad_missing

INDEX_FILE = "index.faiss"
_FLOAT32 = np.dtype(np.float32)
# Below this many bits (128 KiB) a bitmap selector is always used; above it, only when the
# bitmap is no bigger than the id list it replaces (8 bytes an id).
_BITMAP_ALWAYS_BELOW = 1 << 20


def faiss_module() -> Any:
    """``faiss``, or an error naming the package to install."""
    try:
        import faiss
    except ImportError as exc:
        raise missing_dependency(
            "faiss-cpu", "pip install faiss-cpu (a core dependency of docframe; reinstall docframe)"
        ) from exc
    _respect_thread_limit(faiss)
    return faiss


_LIMITED = False


def _respect_thread_limit(faiss: Any) -> None:
    """Keep faiss's OpenMP team within ``OMP_THREAD_LIMIT``.

    With the limit set (Tesseract users often set it to 1) and faiss asking OpenMP for
    more threads than it may have, IVF k-means training spins forever in libgomp
    (measured: a 6,000-vector IVF-PQ build never finished). Asking for at most the
    limit avoids it.
    """
    global _LIMITED
    if _LIMITED:
        return
    _LIMITED = True
    raw = os.environ.get("OMP_THREAD_LIMIT", "").strip()
    if raw.isdigit() and int(raw) >= 1:
        faiss.omp_set_num_threads(min(faiss.omp_get_max_threads(), int(raw)))


def id_set_selector(ids: np.ndarray) -> Any:
    """A faiss selector for membership in ``ids`` (sorted unique non-negative int64)."""
    faiss = faiss_module()
    top = int(ids[-1]) + 1 if ids.size else 0
    if top <= _BITMAP_ALWAYS_BELOW or top <= 64 * ids.size:
        mask = np.zeros(top, dtype=bool)
        mask[ids] = True
        # faiss tests bit (id & 7) of byte id >> 3: little-endian bit order.
        return faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
    return faiss.IDSelectorBatch(ids)


class FaissIndexBase:
    """Base of the faiss wrappers; subclasses fill in the hooks marked below."""

    kind: ClassVar[str] = ""
    DEFAULT_PARAMS: ClassVar[dict[str, Any]] = {}
    SEARCH_PARAMS: ClassVar[frozenset[str]] = frozenset()
    #: at most this many ``allowed`` ids are scored exactly (when raw vectors are kept).
    EXACT_FILTER_MAX: ClassVar[int] = 0

    def __init__(self, dim: int, **params: Any) -> None:
        self.dim = int(dim)
        if self.dim <= 0:
            raise ValueError(f"index dimension must be positive, got {dim}")
        self.params: dict[str, Any] = resolve_params(self.kind, self.DEFAULT_PARAMS, params)
        self._check_params(self.params)
        faiss_module()  # fail at creation, not at first build, when faiss is missing
        self._index: Any = None
        self._dead = 0  # rows still in faiss but removed (HNSW tombstones)
        self._ids: IdLookup | None = None  # lazily built from the faiss index
        self._reset(np.empty((0, self.dim), np.float32))

    # --- hooks ------------------------------------------------------------------------------
    def _check_params(self, params: dict[str, Any]) -> None:
        """Raise ValueError naming a bad parameter value."""

    def _new_index(self, train: np.ndarray) -> Any:
        """An empty faiss index (trained on ``train`` where the kind needs training)."""
        raise NotImplementedError

    def _row_ids(self) -> np.ndarray:
        """The id of every row faiss holds (-1 for a removed row)."""
        raise NotImplementedError

    def _apply_search_params(self) -> None:
        """Push ``self.params``' search knobs into the faiss index."""

    def _filtered_search(
        self, queries: np.ndarray, k: int, sel: Any, n_allowed: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """faiss search with selector ``sel``; ``n_allowed`` sizes the search budget."""
        raise NotImplementedError

    def _search_all(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Unfiltered faiss search: (scores, ids) as faiss returns them."""
        return self._index.search(queries, k)

    def _vectors(self) -> np.ndarray | None:
        """A (rows, dim) view of the raw vectors, or None if the kind does not keep them."""
        return None

    def _remove_known(self, ids: np.ndarray) -> None:
        """Remove ``ids`` (all present) from faiss and from ``self._ids``."""
        raise NotImplementedError

    def vectors_by_id(self) -> np.ndarray | None:
        """The raw vectors the index itself stores, row ``i`` holding id ``i``, or None.

        A lake base labels its rows 0..n-1, so when the index keeps the raw vectors
        (flat and HNSW storage, IVF-PQ's re-ranking copy) they double as the base's
        vectors for exact re-scoring, and no second copy is saved beside the index.
        None when the kind keeps no raw vectors or the ids are not exactly 0..n-1
        (rows removed, other labels). The array may be a view into faiss memory: it
        is valid while the index is alive and unchanged.
        """
        return None

    def _manifest_extra(self) -> dict[str, Any]:
        """Extra ``index.json`` fields (what was actually trained, tombstones)."""
        return {}

    def _save_extra(self, directory: Path) -> None:
        """Write files beside ``index.faiss`` that the kind needs."""

    def _after_load(self, directory: Path, manifest: dict[str, Any]) -> None:
        """Restore state kept outside ``index.faiss`` (called once ``_index`` is read)."""
        self._ids = None
        self._dead = int((self._row_ids() < 0).sum())

    # --- shared machinery -------------------------------------------------------------------
    def _reset(self, train: np.ndarray) -> None:
        self._index = self._new_index(train)
        self._dead = 0
        self._ids = IdLookup(np.empty(0, np.int64))
        self._apply_search_params()

    @property
    def _lookup(self) -> IdLookup:
        if self._ids is None:
            self._ids = IdLookup(self._row_ids())
        return self._ids

    def _rows_total(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def __len__(self) -> int:
        return self._rows_total() - self._dead

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Replace the contents with ``vectors`` labelled by ``ids`` (retrains where needed)."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        self._reset(vectors)
        self._append(vectors, ids)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Append ``vectors`` labelled by ``ids``; ids already present are refused."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        present = ids[self._lookup.contains(ids)]
        if present.size:
            raise ValueError(f"ids already in the {self.kind} index: {present[:5].tolist()}")
        if self._index is None:  # untrained (built empty): train on what arrives first
            self._reset(vectors)
        self._append(vectors, ids)

    def _append(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if not len(ids):
            return
        start = self._rows_total()
        self._index.add_with_ids(vectors, ids)
        self._lookup.insert(ids, np.arange(start, start + len(ids)))

    def remove(self, ids: np.ndarray) -> int:
        """Remove the vectors labelled ``ids``; unknown ids are ignored. Returns the count."""
        ids = check_id_array("ids", ids)
        known = ids[self._lookup.contains(ids)]
        if known.size:
            self._remove_known(known)
        return int(known.size)

    def set_search_params(self, **params: Any) -> None:
        """Change search knobs (see ``SEARCH_PARAMS``); recorded in ``params``."""
        check_search_params(self.kind, self.SEARCH_PARAMS, params)
        merged = {**self.params, **params}
        self._check_params(merged)
        self.params = merged
        self._apply_search_params()

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
        if (  # the unfiltered fast path, with as few Python/numpy calls as possible
            allowed is None
            and excluded is None
            and not self._dead
            and type(queries) is np.ndarray
            and queries.dtype == _FLOAT32
            and queries.ndim == 2
            and queries.shape[1] == self.dim
            and queries.shape[0]
            and queries.flags.c_contiguous
            and type(k) is int
            and k > 0
            and self._rows_total()
        ):
            return self._to_ids(*self._search_all(queries, k))
        queries = check_queries(self.dim, queries, k)
        if allowed is None and excluded is None and not self._dead:
            if k == 0 or len(queries) == 0 or self._rows_total() == 0:
                return empty_results(len(queries), k)
            return self._to_ids(*self._search_all(queries, k))
        allowed, excluded = check_filters(allowed, excluded)
        if k == 0 or len(queries) == 0 or len(self) == 0:
            return empty_results(len(queries), k)
        if allowed is not None:
            allowed = allowed[self._lookup.contains(allowed)]  # ids not here cannot match
            if allowed.size == 0:
                return empty_results(len(queries), k)
            if allowed.size <= self.EXACT_FILTER_MAX:
                vectors = self._vectors()
                if vectors is not None:
                    rows = self._lookup.rows_of(allowed)
                    return exact_top_k(queries, vectors[rows], allowed, k)
        sel = self._selector(allowed, excluded)
        scores, labels = self._filtered_search(
            queries, k, sel, None if allowed is None else int(allowed.size)
        )
        return self._to_ids(scores, labels)

    def _to_ids(self, scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """faiss (scores, labels) -> the protocol's (ids, scores); labels are ids here."""
        return pad_missing(labels, scores)

    def _selector(self, allowed: np.ndarray | None, excluded: np.ndarray | None) -> Any:
        """A selector over ids: ``allowed`` (present ids only) and not ``excluded``."""
        faiss = faiss_module()
        parts = []
        if allowed is not None:
            parts.append(id_set_selector(allowed))
        if excluded is not None and excluded.size:
            excluded = excluded[excluded >= 0]
            if excluded.size:
                parts.append(faiss.IDSelectorNot(id_set_selector(excluded)))
        if not parts:
            return None
        sel = parts[0]
        for part in parts[1:]:
            sel = faiss.IDSelectorAnd(sel, part)
        return sel

    def save(self, directory: Path) -> None:
        """Write ``index.faiss`` (vectors, ids, structure) and the ``index.json`` manifest."""
        directory = Path(directory)
        if self._index is not None:
            faiss_module().write_index(self._index, str(directory / INDEX_FILE))
            self._save_extra(directory)
        write_manifest(
            directory, self.kind, self.dim, len(self), self.params, **self._manifest_extra()
        )

    @classmethod
    def load(cls, directory: Path) -> FaissIndexBase:
        """Read an index written by ``save``, with its saved parameters."""
        directory = Path(directory)
        manifest = read_manifest(directory, expect_kind=cls.kind)
        self = cls(int(manifest["dim"]), **(manifest.get("params") or {}))
        path = directory / INDEX_FILE
        if path.is_file():
            index = faiss_module().read_index(str(path))
            if index.d != self.dim:
                raise ValueError(f"{path}: holds {index.d}-wide vectors, manifest says {self.dim}")
            self._index = index
            self._after_load(directory, manifest)
            self._apply_search_params()
        elif manifest.get("count"):
            raise ValueError(f"{directory}: {INDEX_FILE} is missing")
        if len(self) != manifest["count"]:
            raise ValueError(
                f"{directory}: {INDEX_FILE} holds {len(self)} vectors, "
                f"manifest says {manifest['count']}"
            )
        return self


class FaissIDMapIndex(FaissIndexBase):
    """A faiss index inside ``IndexIDMap2``: the container stores the caller's label of
    every row (``id_map``) and saves it with the index in one file.

    Searches go to the *inner* index and labels are translated here with numpy:
    ``IndexIDMap2.search`` translates in an OpenMP parallel loop, which on a single
    query costs more than the HNSW search itself when cores are busy (measured: 57 us
    raw vs 400 us through the map on a loaded 2-core machine). Filters are likewise
    bitmaps over inner rows (``IDSelectorBitmap``, one bit a row, O(1) per test),
    which also covers removed rows whose label is -1. Rows are positions in the raw
    vector storage, so the exact path for small ``allowed`` sets is a plain gather.
    """

    _inner_index: Any = None
    _labels: np.ndarray | None = None
    _labels_ext: np.ndarray | None = None
    _identity = False
    _n_rows = 0
    _swig_ptr: Any = None

    def _reset(self, train: np.ndarray) -> None:
        super()._reset(train)
        self._sync()

    def _sync(self) -> None:
        """Refresh the caches after the rows changed (add, remove, load): the inner index,
        a numpy view of ``id_map`` (the vector may move when it grows), a copy with a -1
        sentinel appended (so faiss's "no result" row -1 maps to id -1 in the same fancy
        index), and whether labels are just row numbers (then no translation at all)."""
        faiss = faiss_module()
        self._swig_ptr = faiss.swig_ptr
        self._inner_index = faiss.downcast_index(self._index.index)
        n = self._index.id_map.size()
        self._n_rows = int(n)
        labels = faiss.rev_swig_ptr(self._index.id_map.data(), n) if n else np.empty(0, np.int64)
        self._labels = labels
        self._labels_ext = np.append(labels, np.int64(-1))
        self._identity = bool(
            n == 0 or (labels[0] == 0 and labels[-1] == n - 1 and (labels == np.arange(n)).all())
        )

    def _inner(self) -> Any:
        return self._inner_index

    def _id_map(self) -> np.ndarray:
        """A writable numpy view of ``IndexIDMap2.id_map`` (row -> label)."""
        return self._labels

    def _row_ids(self) -> np.ndarray:
        return self._labels.copy()

    def _append(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        super()._append(vectors, ids)
        self._sync()

    def _after_load(self, directory: Path, manifest: dict[str, Any]) -> None:
        self._sync()
        super()._after_load(directory, manifest)

    def _flat_storage(self) -> Any:
        return self._inner_index

    def _vectors(self) -> np.ndarray | None:
        faiss = faiss_module()
        n = self._rows_total()
        if n == 0:
            return np.empty((0, self.dim), np.float32)
        storage = self._flat_storage()
        return faiss.rev_swig_ptr(storage.get_xb(), n * self.dim).reshape(n, self.dim)

    def vectors_by_id(self) -> np.ndarray | None:
        if not self._identity or self._dead:
            return None
        return self._vectors()

    def _rows_total(self) -> int:
        return self._n_rows

    def _search_all(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(queries)
        scores = np.empty((n, k), dtype=np.float32)
        rows = np.empty((n, k), dtype=np.int64)
        ptr = self._swig_ptr
        # search_c: the SWIG method under faiss's numpy wrapper, without its re-checks
        # (the caller made sure ``queries`` is C-contiguous float32 of the right width).
        self._inner_index.search_c(n, ptr(queries), k, ptr(scores), ptr(rows), None)
        return scores, rows

    def _to_ids(self, scores: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Kept to the minimum of numpy calls: right after a search the CPU caches are cold
        # and each small numpy operation costs microseconds (measured on the 1-query path).
        ids = rows if self._identity else self._labels_ext[rows]  # row -1 -> id -1
        n, k = rows.shape
        if n and k and (rows[0, -1] < 0 if n == 1 else (rows[:, -1] < 0).any()):
            scores[rows < 0] = -np.inf  # faiss pads with -FLT_MAX; missing slots are last
        return ids, scores

    def _selector(self, allowed: np.ndarray | None, excluded: np.ndarray | None) -> Any:
        """A bitmap over inner rows: allowed rows, or live rows minus excluded ones."""
        if allowed is not None:
            keep = np.zeros(self._rows_total(), dtype=bool)
            keep[self._lookup.rows_of(allowed)] = True
        else:
            keep = self._labels >= 0
            if excluded is not None and excluded.size:
                gone = excluded[self._lookup.contains(excluded)]
                keep[self._lookup.rows_of(gone)] = False
        return faiss_module().IDSelectorBitmap(np.packbits(keep, bitorder="little"))
