"""Serve a GPU-built CAGRA graph on a CPU-only machine: export to hnswlib, load with hnswlib.

Build on the GPU, search anywhere: ``export_cagra_to_hnsw`` converts a CAGRA graph
with ``cuvs.neighbors.hnsw.from_cagra(IndexParams(hierarchy="cpu"), index)`` and
writes it with ``hnsw.save``; ``HnswlibIndex`` (kind ``hnswlib``, reopened by
``docframe.index.load_index``) serves that file with the ``hnswlib`` package. In a
lake, ``docframe index export --to hnswlib`` (:mod:`docframe.index.export`) runs the
export and records the file as the lake's CPU index.

Why hnswlib and not ``cuvs.neighbors.hnsw.load``: every cuVS Python entry point is
wrapped in ``auto_sync_resources``, which creates a cuVS ``Resources`` (a CUDA
stream) before running, so ``hnsw.load``/``hnsw.search`` need a CUDA device even
though the search itself runs on the CPU. The file, on the other hand, is plain
hnswlib: with ``hierarchy="cpu"`` cuVS builds a ``hnswlib::HierarchicalNSW``
(``InnerProductSpace`` for inner product; ``M = (graph_degree + 1) / 2``, the CAGRA
graph copied into level 0, labels = row positions 0..n-1) and ``hnsw.save`` calls
hnswlib's ``saveIndex``; the cuVS docstrings state the result "is compatible with
the original hnswlib" (``hierarchy="none"`` files are not, hence "cpu"). Checked
against cuvs 26.10's Python API and ``cpp/src/neighbors/detail/hnsw.hpp``; the
round trip itself needs a GPU to produce the file (``tests/index/test_contract.py``
runs it on GPU runners).

hnswlib's inner-product "distance" is ``1 - <q, x>``; scores are converted back.
Labels are row positions; ``ids.npy`` maps them to the caller's ids (-1 = removed,
``mark_deleted`` in hnswlib). The same class also builds indexes on the CPU with
hnswlib itself, so the kind is a complete ``VectorIndex`` (build, add, remove,
filtered search, save/load) and CPU-testable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from docframe.index.checks import (
    check_build_inputs,
    check_filters,
    check_id_array,
    check_queries,
    check_search_params,
    missing_dependency,
    positive_int,
    resolve_params,
)
from docframe.index.cuvs_common import METRIC, neighbors_module
from docframe.index.idlookup import IdLookup
from docframe.index.manifest import read_manifest, write_manifest
from docframe.index.topk import empty_results, exact_top_k, scaled_budget

INDEX_FILE = "index.hnsw"
IDS_FILE = "ids.npy"
FILTER_EF_CAP = 1024
HNSWLIB_HINT = "pip install 'docframe[hnswlib]' (serves CAGRA graphs exported for the CPU)"


def hnswlib_module() -> Any:
    """``hnswlib``, or an error naming the package."""
    try:
        import hnswlib
    except ImportError as exc:
        raise missing_dependency("hnswlib", HNSWLIB_HINT) from exc
    return hnswlib


class HnswlibIndex:
    """An hnswlib HNSW graph (inner product), as exported from CAGRA or built on the CPU."""

    kind = "hnswlib"
    DEFAULT_PARAMS: dict[str, Any] = {"M": 32, "ef_construction": 200, "ef_search": 64}
    SEARCH_PARAMS = frozenset({"ef_search"})
    EXACT_FILTER_MAX = 4096

    def __init__(self, dim: int, **params: Any) -> None:
        hnswlib_module()
        self.dim = int(dim)
        if self.dim <= 0:
            raise ValueError(f"index dimension must be positive, got {dim}")
        self.params: dict[str, Any] = resolve_params(self.kind, self.DEFAULT_PARAMS, params)
        self._check_params(self.params)
        self._row_ids = np.empty(0, np.int64)  # hnswlib label (row) -> caller's id; -1 removed
        self._ids = IdLookup(self._row_ids)
        self._dead = 0
        self._index: Any = None

    def _check_params(self, params: dict[str, Any]) -> None:
        for name in ("M", "ef_construction", "ef_search"):
            positive_int(self.kind, name, params[name])

    def _new_graph(self, capacity: int) -> Any:
        graph = hnswlib_module().Index(space="ip", dim=self.dim)
        graph.init_index(
            max_elements=max(1, capacity),
            M=int(self.params["M"]),
            ef_construction=int(self.params["ef_construction"]),
        )
        graph.set_ef(int(self.params["ef_search"]))
        return graph

    def __len__(self) -> int:
        return len(self._row_ids) - self._dead

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Replace the contents with ``vectors`` labelled by ``ids``."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        self._index = self._new_graph(len(ids))
        self._row_ids = np.empty(0, np.int64)
        self._ids = IdLookup(self._row_ids)
        self._dead = 0
        self._append(vectors, ids)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Append ``vectors`` labelled by ``ids``; ids already present are refused."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        present = ids[self._ids.contains(ids)]
        if present.size:
            raise ValueError(f"ids already in the {self.kind} index: {present[:5].tolist()}")
        if self._index is None:
            self._index = self._new_graph(len(ids))
        self._append(vectors, ids)

    def _append(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if not len(ids):
            return
        start = len(self._row_ids)
        needed = start + len(ids)
        if needed > self._index.get_max_elements():
            self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
        self._index.add_items(vectors, np.arange(start, needed))
        self._row_ids = np.concatenate([self._row_ids, ids])
        self._ids.insert(ids, np.arange(start, needed))

    def remove(self, ids: np.ndarray) -> int:
        """Mark the vectors labelled ``ids`` deleted (hnswlib skips them); returns the count."""
        ids = check_id_array("ids", ids)
        known = ids[self._ids.contains(ids)]
        for row in self._ids.delete(known):
            self._index.mark_deleted(int(row))
            self._row_ids[row] = -1
        self._dead += int(known.size)
        return int(known.size)

    def set_search_params(self, **params: Any) -> None:
        """Change ``ef_search``; recorded in ``params``."""
        check_search_params(self.kind, self.SEARCH_PARAMS, params)
        merged = {**self.params, **params}
        self._check_params(merged)
        self.params = merged
        if self._index is not None:
            self._index.set_ef(int(self.params["ef_search"]))

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self._index.get_items(rows, return_type="numpy"), dtype=np.float32)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, scores) by inner product, best first, -1 / -inf padding."""
        queries = check_queries(self.dim, queries, k)
        allowed, excluded = check_filters(allowed, excluded)
        n_q = len(queries)
        if k == 0 or n_q == 0 or len(self) == 0:
            return empty_results(n_q, k)
        mask = None
        n_allowed = len(self)
        if allowed is not None:
            allowed = allowed[self._ids.contains(allowed)]
            if not allowed.size:
                return empty_results(n_q, k)
            rows = self._ids.rows_of(allowed)
            if allowed.size <= self.EXACT_FILTER_MAX:
                return exact_top_k(queries, self._vectors(rows), allowed, k)
            mask = np.zeros(len(self._row_ids), dtype=bool)
            mask[rows] = True
            n_allowed = int(allowed.size)
        elif excluded is not None and excluded.size:
            gone = excluded[self._ids.contains(excluded)]
            if gone.size:
                mask = self._row_ids >= 0
                mask[self._ids.rows_of(gone)] = False
                n_allowed = int(mask.sum())
        k_found = min(k, n_allowed)
        ef = int(self.params["ef_search"])
        try:
            if mask is None:
                labels, distances = self._index.knn_query(queries, k=k_found)
            else:
                self._index.set_ef(max(scaled_budget(ef, len(self), n_allowed, FILTER_EF_CAP), k))
                labels, distances = self._index.knn_query(
                    queries, k=k_found, num_threads=1, filter=lambda row: bool(mask[row])
                )
        except RuntimeError:  # hnswlib found fewer than k_found: answer exactly instead
            live = np.flatnonzero(mask if mask is not None else self._row_ids >= 0)
            return exact_top_k(queries, self._vectors(live), self._row_ids[live], k)
        finally:
            self._index.set_ef(ef)
        out_ids, out_scores = empty_results(n_q, k)
        out_ids[:, :k_found] = self._row_ids[np.asarray(labels, dtype=np.int64)]
        out_scores[:, :k_found] = 1.0 - np.asarray(distances, dtype=np.float32)
        return out_ids, out_scores

    def save(self, directory: Path) -> None:
        """Write ``index.hnsw`` (hnswlib format), ``ids.npy`` and ``index.json``."""
        directory = Path(directory)
        if self._index is not None and len(self._row_ids):
            self._index.save_index(str(directory / INDEX_FILE))
        np.save(directory / IDS_FILE, self._row_ids)
        write_manifest(directory, self.kind, self.dim, len(self), self.params, space="ip")

    @classmethod
    def load(cls, directory: Path) -> HnswlibIndex:
        """Read a saved or exported index (an hnswlib file written by hnswlib or by cuVS)."""
        directory = Path(directory)
        manifest = read_manifest(directory, expect_kind=cls.kind)
        self = cls(int(manifest["dim"]), **(manifest.get("params") or {}))
        row_ids = np.load(directory / IDS_FILE).astype(np.int64, copy=False)
        if len(row_ids):
            graph = hnswlib_module().Index(space="ip", dim=self.dim)
            graph.load_index(str(directory / INDEX_FILE))
            if graph.get_current_count() != len(row_ids):
                raise ValueError(
                    f"{directory}: {INDEX_FILE} holds {graph.get_current_count()} vectors, "
                    f"{IDS_FILE} labels {len(row_ids)}"
                )
            graph.set_ef(int(self.params["ef_search"]))
            for row in np.flatnonzero(row_ids < 0):  # tombstones exported from CAGRA
                try:
                    graph.mark_deleted(int(row))
                except RuntimeError:  # already deleted in the file (saved by hnswlib)
                    pass
            self._index = graph
        self._row_ids = row_ids.copy()
        self._ids = IdLookup(self._row_ids)
        self._dead = int((row_ids < 0).sum())
        if len(self) != manifest["count"]:
            raise ValueError(
                f"{directory}: {IDS_FILE} has {len(self)} live ids, manifest says "
                f"{manifest['count']}"
            )
        return self


def export_cagra_to_hnsw(
    cagra_index: Any,
    directory: Path,
    *,
    ef_search: int = 64,
    ef_construction: int = 200,
) -> Path:
    """Write a CAGRA graph as an hnswlib index that ``load_index`` serves on any CPU.

    ``cagra_index``: a ``CuvsCagraIndex`` (its ids and removed rows are carried
    over) or a raw ``cuvs.neighbors.cagra.Index`` (ids = row positions). Runs on the
    GPU machine (``hnsw.from_cagra`` reads the graph and dataset from the device);
    ``ef_construction`` sizes the candidate list cuVS uses to build the upper HNSW
    layers on the CPU (``hierarchy="cpu"``). Returns ``directory``.
    """
    from docframe.index.cuvs_cagra import CuvsCagraIndex

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(cagra_index, CuvsCagraIndex):
        raw, row_ids = cagra_index.cagra_index, cagra_index._row_ids.copy()
        if raw is None:  # too small for a graph: build the same format with hnswlib
            cpu = HnswlibIndex(cagra_index.dim, ef_search=ef_search)
            live = np.flatnonzero(row_ids >= 0)
            cpu.build(cagra_index._host_rows(live), row_ids[live])
            cpu.save(directory)
            return directory
    else:
        raw, row_ids = cagra_index, np.arange(len(cagra_index), dtype=np.int64)
    hnsw = neighbors_module("hnsw")
    index_params = hnsw.IndexParams(
        hierarchy="cpu", ef_construction=int(ef_construction), metric=METRIC
    )
    exported = hnsw.from_cagra(index_params, raw)
    hnsw.save(str(directory / INDEX_FILE), exported)
    np.save(directory / IDS_FILE, row_ids)
    params = {
        "M": max(1, (int(raw.graph_degree) + 1) // 2),
        "ef_construction": int(ef_construction),
        "ef_search": int(ef_search),
    }
    write_manifest(
        directory,
        HnswlibIndex.kind,
        int(raw.dim),
        int((row_ids >= 0).sum()),
        params,
        space="ip",
        source="cuvs-cagra",
    )
    return directory
