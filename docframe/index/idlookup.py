"""Mapping the caller's ids to the rows a library stores."""

from __future__ import annotations

import numpy as np


class IdLookup:
    """Sorted view of an id-per-row array: membership and row of an id in O(log n).

    Rows whose id is negative are dead (removed) and are not indexed. Used by every
    wrapper whose library stores positions (faiss flat/HNSW storage, cuVS datasets,
    hnswlib labels) to map the caller's ids to rows and to refuse duplicate ids.
    """

    def __init__(self, row_ids: np.ndarray) -> None:
        row_ids = np.asarray(row_ids, dtype=np.int64)
        order = np.argsort(row_ids, kind="stable")
        ordered = row_ids[order]
        first = int(np.searchsorted(ordered, 0))
        self.ids = ordered[first:]
        self.rows = order[first:].astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self.ids)

    def _find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.searchsorted(self.ids, ids)
        found = at < len(self.ids)
        found[found] = self.ids[at[found]] == ids[found]
        return at, found

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are present."""
        return self._find(np.asarray(ids, dtype=np.int64))[1]

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ``ids``, which must all be present."""
        at, found = self._find(np.asarray(ids, dtype=np.int64))
        if not found.all():
            raise KeyError(f"ids not in the index: {np.asarray(ids)[~found][:5].tolist()}")
        return self.rows[at]

    def insert(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Add ``ids`` (absent so far) at ``rows``."""
        order = np.argsort(ids, kind="stable")
        ids, rows = np.asarray(ids)[order], np.asarray(rows, dtype=np.int64)[order]
        at = np.searchsorted(self.ids, ids)
        self.ids = np.insert(self.ids, at, ids)
        self.rows = np.insert(self.rows, at, rows)

    def delete(self, ids: np.ndarray) -> np.ndarray:
        """Forget the present ones among ``ids``; returns their rows."""
        at, found = self._find(np.asarray(ids, dtype=np.int64))
        at = at[found]
        rows = self.rows[at]
        self.ids = np.delete(self.ids, at)
        self.rows = np.delete(self.rows, at)
        return rows
