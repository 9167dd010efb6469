"""The vector-index contract every implementation (faiss, cuVS, hnswlib) follows.

Indexes are derived data: built from the embeddings of one lake snapshot, saved
beside it, and always rebuildable from the segments. Ids are non-negative int64
labels chosen by the caller (the lake maps them back to ``chunk_id``); -1 is
reserved for "no result". Vectors are L2-normalised float32, so inner product is
cosine similarity, and every implementation ranks by inner product.

Why one protocol with these verbs:

- ``build`` / ``add`` / ``remove`` let a snapshot's index be refreshed in place
  when only a few chunks changed, instead of a full rebuild;
- ``search(..., allowed=, excluded=)`` pushes SQL filters and deletions into the
  index (faiss ``IDSelector``, cuVS prefilter bitsets), so a filtered query still
  returns ``k`` results instead of "top-k, then drop most of them";
- ``params`` holds build *and* search parameters, written to ``index.json`` by
  ``save`` and restored by ``load``, so a reloaded index answers like the one
  that was saved, and a benchmark can say exactly what it measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorIndex(Protocol):
    """Verbs shared by every index kind.

    Results are ``(ids, scores)``: ``ids`` (q, k) int64 and ``scores`` (q, k)
    float32 inner products, best first; slots with no result hold id -1 and
    score -inf. Bad input (wrong shapes, duplicate or negative ids, unknown
    parameters) raises ``ValueError`` naming the offending argument.
    """

    kind: str  # e.g. "faiss-flat", "faiss-hnsw", "cuvs-cagra"
    dim: int
    params: dict[str, Any]  # build and search parameters, as saved in index.json

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Replace the contents with ``vectors`` (n, dim) float32 labelled by ``ids`` (n,) int64."""

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Append ``vectors`` labelled by ``ids``; an id already in the index is an error."""

    def remove(self, ids: np.ndarray) -> int:
        """Drop the vectors labelled ``ids``; unknown ids are ignored. Returns how many went."""

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product among the ids in ``allowed`` (all when None) and
        not in ``excluded``: (ids (q, k) int64, scores (q, k) float32), -1 / -inf pads."""

    def set_search_params(self, **params: Any) -> None:
        """Change search-time knobs (``ef_search``, ``nprobe``, ``itopk_size``...) in place."""

    def __len__(self) -> int:
        """Number of live (searchable) vectors."""

    def save(self, directory: Path) -> None:
        """Write the index files and ``index.json`` into ``directory`` (exists, empty)."""

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        """Read an index written by ``save``."""


class Encoder(Protocol):
    """What dense search needs of an embedding model: questions in, L2-normalised
    float32 vectors out (``docframe.pipelines.embedding.Embedder`` is one)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...
