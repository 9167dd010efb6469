"""Fusion: one ranking from several (dense, keyword, ...), by rank (RRF) or by score (z-score).

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

:func:`zscore` fuses the scores themselves, put on one scale: each ranking's scores are
standardised over the items it returned, ``z = (s - mean) / sd``, and an item's fused
score is ``sum_i w_i * z_i``, where a ranking that did not return the item counts it at
that ranking's lowest z (it scored at most the last item it returned). Ranks throw away
how far apart the scores are: a document that BM25 scores far above everything else and
the dense model puts fifth is a strong hit, which RRF cannot tell from a close call.
On SciFact train (809 queries, full corpus, per-document hybrid 100 deep), z-score
fusion with weights 1:1 ranks better than the best RRF (k20): nDCG@10 +0.009 ± 0.004
with the same BM25, +0.014 ± 0.004 with BM25 k1 0.9 b 0.4; min-max scaling does a
little worse (+0.007), and 1:1 is the best weight (benchmarks/retrieval_experiments.py).
Search's hybrid uses it.

Sums are computed with ``math.fsum`` (exactly rounded), so two items with the same
ranks get bit-identical scores whatever the order of the lists, and the tie order
is then decided by the rules below, never by floating-point noise.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

__all__ = ["rrf", "zscore"]


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
    _check_groups(rankings, groups)
    collapsed = [list(dict.fromkeys(groups[item] for item in ranking)) for ranking in rankings]
    return _grouped(items, _fuse(collapsed, weights, k_rrf), groups, limit)


def _check_groups(rankings: Sequence[Sequence[Hashable]], groups: Mapping[str, Hashable]) -> None:
    for i, ranking in enumerate(rankings):
        for item in ranking:
            if item not in groups:
                raise ValueError(f"rankings[{i}]: id {item!r:.60} has no group")


def _grouped(
    items: list[tuple[Any, float]],
    fused_groups: list[tuple[Any, float]],
    groups: Mapping[str, Hashable],
    limit: int | None,
) -> list[tuple[Any, float]]:
    """``items`` (already in within-group order) ordered by their group's fused rank, each
    carrying its group's score; ``limit`` counts ids."""
    order = {g: (n, score) for n, (g, score) in enumerate(fused_groups)}
    out = sorted(items, key=lambda pair: order[groups[pair[0]]][0])  # stable
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


def zscore(
    rankings: Sequence[Sequence[tuple[str, float]]],
    *,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
    groups: Mapping[str, Hashable] | None = None,
) -> list[tuple[str, float]]:
    """Fuse scored ``rankings`` (each ``[(id, score), ...]``, best first) by standardised
    score (see the module docstring) into ``[(id, fused score), ...]``, best first.

    Each ranking's scores become ``(s - mean) / sd`` over its distinct ids (sd 0: all
    0); an id a ranking lacks counts at that ranking's lowest z, and an empty ranking
    adds nothing. ``weights`` (default all 1.0) scale each ranking's z. An id repeated
    within a ranking counts once, at its first (best) place. Ties: best rank the id
    reached in any single ranking, then id. ``limit`` keeps the first ``limit`` items.

    ``groups`` maps every id to its group (a chunk to its document): each ranking is
    collapsed to groups first, a group scoring as its best id (first place), and the
    groups are standardised and fused; each id then carries its group's score, ids
    come grouped, and within a group they follow their own fused score, best rank, id.
    ``limit`` counts ids, not groups.
    """
    ids = [[item for item, _ in ranking] for ranking in rankings]
    _, weights = _check(ids, weights, 0, limit)
    for i, ranking in enumerate(rankings):
        for j, (item, score) in enumerate(ranking):
            if not math.isfinite(float(score)):
                raise ValueError(f"rankings[{i}][{j}]: score of {item!r:.60} is {score!r}")
    items = _zfuse(rankings, weights)
    if groups is None:
        return items if limit is None else items[:limit]
    _check_groups(ids, groups)
    collapsed = [[(groups[item], score) for item, score in ranking] for ranking in rankings]
    return _grouped(items, _zfuse(collapsed, weights), groups, limit)


def _zfuse(
    rankings: Sequence[Sequence[tuple[Hashable, float]]], weights: Sequence[float]
) -> list[tuple[Any, float]]:
    """Every distinct id with its fused z-score, best first (ties: best weighted rank,
    best rank, id)."""
    standard: list[tuple[dict[Any, float], float]] = []  # (z by id, floor) per ranking
    best_rank: dict[Any, tuple[int, int]] = {}  # (best rank where weighted, best rank)
    unranked = sum(len(r) for r in rankings) + 1
    for ranking, weight in zip(rankings, weights, strict=True):
        first: dict[Any, float] = {}
        for rank, (item, score) in enumerate(ranking, start=1):
            if item not in first:  # a duplicate further down: its first place counts
                first[item] = float(score)
                weighted, any_rank = best_rank.get(item, (unranked, unranked))
                best_rank[item] = (min(weighted, rank) if weight > 0 else weighted,
                                   min(any_rank, rank))  # fmt: skip
        if not first:  # an empty ranking adds nothing to anyone
            standard.append(({}, 0.0))
            continue
        values = list(first.values())
        mean = math.fsum(values) / len(values)
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
        z = {item: (v - mean) / sd if sd > 0 else 0.0 for item, v in first.items()}
        standard.append((z, min(z.values())))
    fused = [
        (
            item,
            math.fsum(
                w * z.get(item, floor) for (z, floor), w in zip(standard, weights, strict=True)
            ),
        )
        for item in best_rank
    ]
    fused.sort(key=lambda pair: (-pair[1], best_rank[pair[0]], pair[0]))
    return fused
