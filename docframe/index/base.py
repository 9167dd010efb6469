"""The vector-index contract every implementation (faiss, cuVS) follows.

Indexes are derived data: built from the embeddings of one lake snapshot, saved
beside it, and always rebuildable from the segments. Ids are int64 row positions
in that snapshot's chunk order; the lake maps them back to ``chunk_id``.
Vectors are L2-normalised float32, so inner product is cosine similarity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorIndex(Protocol):
    """Verbs shared by every index family."""

    kind: str  # e.g. "faiss-flat", "cuvs-brute-force"
    dim: int

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Replace the contents with ``vectors`` (n, dim) float32 labelled by ``ids`` (n,) int64."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product: (ids (q, k) int64, scores (q, k) float32), -1 pads."""

    def __len__(self) -> int: ...

    def save(self, directory: Path) -> None:
        """Write the index files into ``directory`` (which exists and is empty)."""

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        """Read an index written by ``save``."""
