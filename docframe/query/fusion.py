"""Reciprocal rank fusion: one ranking from several (dense, keyword, ...).

Scores from different retrievers live on different scales (cosine similarity in
[-1, 1], BM25 unbounded), so they cannot be added directly. RRF (Cormack, Clarke
and Büttcher, SIGIR 2009) uses ranks only: an item's fused score is the sum over
rankings of ``w_i / (k_rrf + rank_i)``, rank counted from 1, so an item near the top
of several lists beats one at the top of a single list. ``k_rrf = 60`` is the value
from the paper and the common default (Elasticsearch, OpenSearch, Vespa); larger
values flatten the difference between top ranks.

With ``groups`` (item -> group, e.g. chunk -> document) the fusion is done per
group: each ranking is first collapsed to groups, a group ranking where its best
item ranked, and the groups' ranks are fused, so a document whose first chunk is the
dense retriever's best and whose second chunk is the keyword retriever's best counts
as found by both. Every item still comes back, carrying its group's score, grouped
and in order within its group: the first item of each group is its best chunk, what
a search for k distinct documents returns. (On SciFact train, 809 queries, document
fusion ranks documents no better than chunk fusion: nDCG@10 0.7207 vs 0.7206 at
k_rrf=60, benchmarks/retrieval_experiments.py, so plain search fuses chunks.)

Sums are computed with ``math.fsum`` (exactly rounded), so two items with the same
ranks get bit-identical scores whatever the order of the lists, and the tie order
is then decided by the rules below, never by floating-point noise.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

__all__ = ["rrf"]


def rrf(
    rankings: Sequence[Sequence[str]],
    *,
    weights: Sequence[float] | None = None,
    k_rrf: int = 60,
    limit: int | None = None,
    groups: Mapping[str, Hashable] | None = None,
) -> list[tuple[str, float]]:
    """Fuse ``rankings`` (each a list of ids, best first) into ``[(id, score), ...]``, best first.

    ``weights`` (one per ranking, default all 1.0) scale each ranking's contribution;
    a weight of 0 keeps a ranking's items in the result without letting it move them.
    An id repeated within one ranking counts once, at its best rank. Ties in fused
    score are broken by the best rank the id reached in any single ranking, then by
    id, so the output is deterministic. ``limit`` keeps only the first ``limit`` items.

    ``groups`` maps every id to its group (a chunk to its document): groups are
    ranked in each list by their best id and fused as above (ties by best group rank,
    then by group); each id scores its group's fused score, and within a group ids
    follow their own fused score, best rank, id. ``limit`` counts ids, not groups.
    """
    rankings, weights = _check(rankings, weights, k_rrf, limit)
    items = _fuse(rankings, weights, k_rrf)
    if groups is None:
        return items if limit is None else items[:limit]
    for i, ranking in enumerate(rankings):
        for item in ranking:
            if item not in groups:
                raise ValueError(f"rankings[{i}]: id {item!r:.60} has no group")
    collapsed = [list(dict.fromkeys(groups[item] for item in ranking)) for ranking in rankings]
    fused_groups = _fuse(collapsed, weights, k_rrf)
    order = {g: (n, score) for n, (g, score) in enumerate(fused_groups)}
    # items is already in within-group order (own score, best rank, id); sort is stable
    out = sorted(items, key=lambda pair: order[groups[pair[0]]][0])
    out = [(item, order[groups[item]][1]) for item, _ in out]
    return out if limit is None else out[:limit]


def _check(
    rankings: Sequence[Sequence[str]],
    weights: Sequence[float] | None,
    k_rrf: int,
    limit: int | None,
) -> tuple[list[Sequence[str]], list[float]]:
    if isinstance(rankings, str | bytes):
        raise TypeError("rankings must be a sequence of rankings (lists of ids), not a string")
    rankings = list(rankings)
    for i, ranking in enumerate(rankings):
        if isinstance(ranking, str | bytes):
            raise TypeError(
                f"rankings[{i}] is the string {ranking!r:.60}; each ranking must be a "
                f"sequence of ids (wrap a single id in a list)"
            )
    if weights is None:
        weights = [1.0] * len(rankings)
    else:
        weights = [float(w) for w in weights]
        if len(weights) != len(rankings):
            raise ValueError(f"got {len(weights)} weights for {len(rankings)} rankings")
        for i, w in enumerate(weights):
            if not (math.isfinite(w) and w >= 0):
                raise ValueError(f"weights[{i}] must be a finite number >= 0, got {w!r}")
    if isinstance(k_rrf, bool) or not isinstance(k_rrf, int) or k_rrf < 0:
        raise ValueError(f"k_rrf must be an integer >= 0, got {k_rrf!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or an integer >= 0, got {limit!r}")
    return rankings, weights


def _fuse(
    rankings: Sequence[Sequence[Hashable]], weights: Sequence[float], k_rrf: int
) -> list[tuple[Any, float]]:
    """Every distinct id with its fused score, best first (ties: best rank, then id)."""
    contributions: dict[Any, list[float]] = {}
    best_rank: dict[Any, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[Any] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue  # a duplicate further down: its best rank already counted
            seen.add(item)
            contributions.setdefault(item, []).append(weight / (k_rrf + rank))
            if rank < best_rank.get(item, rank + 1):
                best_rank[item] = rank

    fused = [(item, math.fsum(parts)) for item, parts in contributions.items()]
    fused.sort(key=lambda pair: (-pair[1], best_rank[pair[0]], pair[0]))
    return fused
