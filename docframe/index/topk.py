"""Exact ranking and the shape of results, shared by every index.

The protocol's results are ``(ids (q, k) int64, scores (q, k) float32)``, best
first, with id -1 and score -inf in slots that have no result. Every index,
the lake's dense store (base plus exact delta) and the keyword index rank
through :func:`top_k`, so they agree on ties: equal scores are ordered by
ascending id, and a tie at the k-th place is decided among *all* the tied
candidates, not whichever ones a partial sort happened to keep. That makes an
exact search repeatable, and lets tests compare an index with an exact
reference id by id.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_BLOCK_SCORES = 1 << 24  # score-matrix entries computed at a time by exact_top_k (64 MiB)


def empty_results(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All-missing results: ids -1 and scores -inf, the protocol's padding."""
    return (
        np.full((n_queries, k), -1, dtype=np.int64),
        np.full((n_queries, k), -np.inf, dtype=np.float32),
    )


def pad_missing(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalise a library's "no result" slots (any negative id) to id -1, score -inf."""
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    missing = ids < 0
    if missing.any():
        ids = np.where(missing, -1, ids)
        scores = np.where(missing, np.float32(-np.inf), scores)
    return ids, scores


def top_k(scores: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of each row of ``scores`` (q, n), as the protocol's (ids, scores).

    ``labels`` (n,), or (q, n) when each row has its own, name the columns; ties
    go to the smaller label. Rows are ranked together: ``np.argpartition`` puts
    each row's ``k`` best first *and* its (k+1)-th best in place, so a tie across
    the k-th place shows as equal scores there, and only such a row is ranked
    again on its own (:func:`row_top_k`): the tie rule costs nothing otherwise.
    """
    scores = np.asarray(scores)
    q, n = scores.shape
    out_ids, out_scores = empty_results(q, k)
    kk = min(k, n)
    if kk == 0 or q == 0:
        return out_ids, out_scores
    labels = np.broadcast_to(np.asarray(labels, dtype=np.int64), scores.shape)
    if kk < n:
        cols = np.argpartition(-scores, kk, axis=1)
        after = np.take_along_axis(scores, cols[:, kk : kk + 1], axis=1)[:, 0]  # (k+1)-th best
        cols = cols[:, :kk]
    else:
        cols = np.broadcast_to(np.arange(n), scores.shape)
    part = np.take_along_axis(scores, cols, axis=1)
    part_labels = np.take_along_axis(labels, cols, axis=1)
    order = np.lexsort((part_labels, -part), axis=-1)
    out_ids[:, :kk] = np.take_along_axis(part_labels, order, axis=1)
    out_scores[:, :kk] = np.take_along_axis(part, order, axis=1)
    if kk < n:
        kth = np.take_along_axis(part, order[:, kk - 1 :], axis=1)[:, 0]
        for row in np.flatnonzero(kth == after):
            out_ids[row, :kk], out_scores[row, :kk] = row_top_k(scores[row], labels[row], kk)
    return out_ids, out_scores


def row_top_k(scores: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of one row of ``scores`` (n,): (labels, scores), at most ``k``, best first.

    The same rule as :func:`top_k` without its padding, for callers that rank one
    row at a time (a keyword query): every column tied with the k-th best is a
    candidate, and candidates are ordered by score, then by ascending label.
    """
    if k <= 0:
        return labels[:0], scores[:0]
    if scores.size > k:
        kth = np.partition(scores, scores.size - k)[scores.size - k]
        keep = np.flatnonzero(scores >= kth)
        scores, labels = scores[keep], labels[keep]
    best = np.lexsort((labels, -scores))[:k]
    return labels[best], scores[best]


def exact_top_k(
    queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of ``queries`` against ``vectors`` labelled ``ids``.

    The fallback every approximate index uses for a small ``allowed`` set: scoring a
    few thousand vectors directly is both exact and faster than walking a graph that
    mostly holds excluded nodes. Queries go in blocks so the score matrix stays small.
    """
    out_ids, out_scores = empty_results(len(queries), k)
    n = len(ids)
    if n == 0 or k == 0 or len(queries) == 0:
        return out_ids, out_scores
    vectors = np.asarray(vectors, dtype=np.float32)
    block = max(1, _BLOCK_SCORES // n)
    for start in range(0, len(queries), block):
        stop = start + block
        out_ids[start:stop], out_scores[start:stop] = top_k(queries[start:stop] @ vectors.T, ids, k)
    return out_ids, out_scores


def rerank_exact(
    queries: np.ndarray, candidates: np.ndarray, fetch: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Re-order candidate keys by exact inner product: (keys, scores) best first.

    ``candidates`` (q, c) holds keys (ids or rows; negative = none) from a compressed
    search; ``fetch(keys)`` returns the raw vectors of sorted unique ``keys``. Each
    needed vector is read once, in key order (friendly to a memory-mapped file).
    Missing slots come back as key -1, score -inf.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    valid = candidates >= 0
    keys = np.unique(candidates[valid])
    if not keys.size:
        return np.full(candidates.shape, -1, np.int64), np.full(
            candidates.shape, -np.inf, np.float32
        )
    vectors = np.asarray(fetch(keys), dtype=np.float32)
    at = np.searchsorted(keys, np.where(valid, candidates, keys[0]))
    exact = np.einsum("qd,qcd->qc", queries, vectors[at]).astype(np.float32, copy=False)
    exact[~valid] = -np.inf
    keys_out, scores = top_k(exact, candidates, candidates.shape[1])
    return np.where(np.isneginf(scores), -1, keys_out), scores


def scaled_budget(base: int, n_live: int, n_allowed: int, cap: int) -> int:
    """A search budget (ef, nprobe, itopk) grown by ``n_live / n_allowed``, at most ``cap``.

    A filter that keeps a fraction p of the vectors leaves ~p of the candidates a
    graph or an inverted list yields; visiting ~1/p times more keeps ~k survivors.
    """
    if n_allowed <= 0 or n_allowed >= n_live:
        return base
    return max(base, min(cap, math.ceil(base * n_live / n_allowed)))
