"""Exact inner-product search on the CPU with faiss: the reference index.

``IndexFlatIP`` scores every vector, so results are exact and serve as the
ground truth the approximate indexes and the cuVS implementation are tested
against. It is wrapped in ``IndexIDMap2`` so faiss itself stores the caller's
int64 labels and returns them from ``search``; the whole index, labels included,
round-trips through one ``faiss.write_index`` file. faiss is imported inside the
methods so that ``import docframe`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from docframe.index import (
    check_build_inputs,
    check_queries,
    empty_results,
    missing_dependency,
    read_manifest,
    write_manifest,
)

INDEX_FILE = "index.faiss"


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise missing_dependency(
            "faiss-cpu", "pip install faiss-cpu (a core dependency of docframe; reinstall docframe)"
        ) from exc
    return faiss


class FaissFlatIndex:
    """Exact top-k by inner product over L2-normalised float32 vectors (cosine)."""

    kind = "faiss-flat"

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        faiss = _faiss()
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Replace the contents with ``vectors`` labelled by ``ids``."""
        vectors, ids = check_build_inputs(self.dim, vectors, ids)
        self._index.reset()
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, scores), best first; missing slots are id -1, score -inf."""
        queries = check_queries(self.dim, queries, k)
        ids, scores = empty_results(len(queries), k)
        if k == 0 or len(queries) == 0 or len(self) == 0:
            return ids, scores  # faiss asserts k > 0; nothing to score anyway
        found_scores, found_ids = self._index.search(queries, k)
        missing = found_ids < 0
        ids[:] = np.where(missing, -1, found_ids)
        scores[:] = np.where(missing, -np.inf, found_scores)
        return ids, scores

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def save(self, directory: Path) -> None:
        """Write ``index.faiss`` (vectors and labels) and the ``index.json`` manifest."""
        directory = Path(directory)
        _faiss().write_index(self._index, str(directory / INDEX_FILE))
        write_manifest(directory, self.kind, self.dim, len(self))

    @classmethod
    def load(cls, directory: Path) -> FaissFlatIndex:
        """Read an index written by ``save``."""
        directory = Path(directory)
        manifest = read_manifest(directory, expect_kind=cls.kind)
        faiss = _faiss()
        index = faiss.read_index(str(directory / INDEX_FILE))
        if index.d != manifest["dim"] or index.ntotal != manifest["count"]:
            raise ValueError(
                f"{directory}: {INDEX_FILE} holds {index.ntotal}x{index.d}, "
                f"manifest says {manifest['count']}x{manifest['dim']}"
            )
        self = cls.__new__(cls)
        self.dim = int(index.d)
        self._index = index
        return self
