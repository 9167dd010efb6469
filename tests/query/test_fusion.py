"""Reciprocal rank fusion and z-score fusion against scores worked out by hand from
their definitions:

rrf: score(d) = sum_i w_i / (k_rrf + rank_i(d)),  rank from 1.
zscore: score(d) = sum_i w_i * z_i(d), z over each ranking's scores (see below).
"""

from __future__ import annotations

import math

import pytest

from docframe.query.fusion import rrf, zscore


def test_two_rankings_default_k():
    fused = rrf([["a", "b", "c"], ["b", "c", "d"]])
    # a: rank 1 in the first list only; b: 2 and 1; c: 3 and 2; d: 3 in the second only.
    assert [item for item, _ in fused] == ["b", "c", "a", "d"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61, abs=1e-15)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 62, abs=1e-15)
    assert scores["a"] == pytest.approx(1 / 61, abs=1e-15)
    assert scores["d"] == pytest.approx(1 / 63, abs=1e-15)


def test_single_ranking_keeps_its_order():
    assert rrf([["z", "y", "x"]], k_rrf=10) == [("z", 1 / 11), ("y", 1 / 12), ("x", 1 / 13)]


def test_weights_scale_each_ranking():
    fused = rrf([["a", "b"], ["b", "a"]], weights=[3.0, 1.0], k_rrf=0)
    # a: 3/1 + 1/2 = 3.5; b: 3/2 + 1/1 = 2.5
    assert fused == [("a", 3.5), ("b", 2.5)]
    fused = rrf([["a", "b"], ["b", "a"]], weights=[1.0, 3.0], k_rrf=0)
    assert fused == [("b", 3.5), ("a", 2.5)]


def test_zero_weight_keeps_items_but_does_not_move_them():
    fused = rrf([["a"], ["q", "b"]], weights=[1.0, 0.0], k_rrf=0)
    # a: 1/1 = 1; q and b: 0 (tied at 0; q had rank 1, b rank 2)
    assert fused == [("a", 1.0), ("q", 0.0), ("b", 0.0)]


def test_ties_by_best_single_rank_then_id():
    fused = rrf([["p", "q", "z", "s"], ["m", "n", "o", "s"]], k_rrf=0)
    # p = m = 1 (best rank 1 each -> by id: m, p)
    # q = n = 1/2 (best rank 2) and s = 1/4 + 1/4 = 1/2 (best rank 4) -> n, q, s
    # z = o = 1/3 (best rank 3 each -> by id: o, z)
    assert fused == [
        ("m", 1.0),
        ("p", 1.0),
        ("n", 0.5),
        ("q", 0.5),
        ("s", 0.5),
        ("o", 1 / 3),
        ("z", 1 / 3),
    ]


def test_three_way_tie_is_exact_whatever_the_list_order():
    # x, y and w each hold ranks 1, 2 and 3 once, in a different list each time:
    # the same three terms summed in a different order. fsum makes them equal to the bit,
    # so the tie-break (best rank 1 for all, then id) decides: w, x, y.
    rankings = [["x", "y", "w"], ["w", "x", "y"], ["y", "w", "x"]]
    fused = rrf(rankings)
    assert [item for item, _ in fused] == ["w", "x", "y"]
    assert fused[0][1] == fused[1][1] == fused[2][1]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62 + 1 / 63, abs=1e-15)
    assert rrf(rankings[::-1]) == fused


def test_duplicates_within_a_ranking_count_once_at_their_best_rank():
    fused = rrf([["a", "b", "a", "a"]], k_rrf=0)
    assert fused == [("a", 1.0), ("b", 0.5)]


def test_limit():
    rankings = [["a", "b", "c"], ["c", "d"]]
    assert [i for i, _ in rrf(rankings, limit=2)] == ["c", "a"]  # c: 1/63 + 1/61
    assert rrf(rankings, limit=0) == []
    assert len(rrf(rankings, limit=100)) == 4


def test_empty_inputs():
    assert rrf([]) == []
    assert rrf([[], []]) == []
    assert rrf([[], ["a"]]) == [("a", 1 / 61)]


def test_accepts_any_sequences():
    assert rrf((("a", "b"), ("b",)), k_rrf=1) == [("b", 1 / 3 + 1 / 2), ("a", 1 / 2)]


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="not a string"):
        rrf("abc")
    with pytest.raises(TypeError, match=r"rankings\[1\] is the string 'doc-7'"):
        rrf([["a"], "doc-7"])
    with pytest.raises(ValueError, match="got 1 weights for 2 rankings"):
        rrf([["a"], ["b"]], weights=[1.0])
    with pytest.raises(ValueError, match=r"weights\[1\] must be a finite number >= 0, got -1.0"):
        rrf([["a"], ["b"]], weights=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        rrf([["a"]], weights=[float("nan")])
    with pytest.raises(ValueError, match="k_rrf must be an integer >= 0, got -1"):
        rrf([["a"]], k_rrf=-1)
    with pytest.raises(ValueError, match="limit must be None or an integer >= 0, got -2"):
        rrf([["a"]], limit=-2)


# --- fusion by group (chunks of one document) -----------------------------------------------

DOC = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "c1": "C"}


def test_groups_fuse_documents_found_through_different_chunks():
    dense, keyword = ["a1", "c1", "b1"], ["a2", "c1", "b2"]
    # Chunk by chunk (k_rrf=1): c1 = 1/3 + 1/3 = 2/3 beats a1 = a2 = 1/2: document C
    # first, although both retrievers put document A first (through different chunks).
    assert rrf([dense, keyword], k_rrf=1) == [
        ("c1", 2 / 3),
        ("a1", 1 / 2),
        ("a2", 1 / 2),
        ("b1", 1 / 4),
        ("b2", 1 / 4),
    ]
    # By document: both lists read A, C, B, so A = 1/2 + 1/2 = 1, C = 2/3, B = 1/2;
    # every chunk carries its document's score, A's chunks a1, a2 tied (rank 1 each) by id.
    assert rrf([dense, keyword], k_rrf=1, groups=DOC) == [
        ("a1", 1.0),
        ("a2", 1.0),
        ("c1", 2 / 3),
        ("b1", 1 / 2),
        ("b2", 1 / 2),
    ]


def test_groups_order_chunks_within_a_document_by_their_own_fused_score():
    dense, keyword = ["a1", "b1", "a2"], ["b2", "a2", "c1"]
    # Documents (k_rrf=0): dense A, B; keyword B, A, C. A = 1 + 1/2, B = 1/2 + 1, C = 1/3.
    # A and B tie on score and best rank (1): by group, A first.
    # Within A: a1 = 1 (dense 1st), a2 = 1/3 + 1/2 = 5/6. Within B: b2 = 1, b1 = 1/2.
    assert rrf([dense, keyword], k_rrf=0, groups=DOC) == [
        ("a1", 1.5),
        ("a2", 1.5),
        ("b2", 1.5),
        ("b1", 1.5),
        ("c1", 1 / 3),
    ]
    # limit counts chunks, not documents
    assert [c for c, _ in rrf([dense, keyword], k_rrf=0, groups=DOC, limit=3)] == [
        "a1",
        "a2",
        "b2",
    ]


def test_groups_with_weights_and_singleton_groups():
    # Weights 2:1 (k_rrf=0): dense A, C; keyword C, A. A = 2/1 + 1/2 = 2.5, C = 2/2 + 1 = 2.
    fused = rrf([["a2", "c1"], ["c1", "a1"]], k_rrf=0, weights=[2.0, 1.0], groups=DOC)
    assert fused == [("a2", 2.5), ("a1", 2.5), ("c1", 2.0)]
    # every id its own group: the same as no groups
    rankings = [["p", "q", "z", "s"], ["m", "n", "o", "s"]]
    own = {x: x for r in rankings for x in r}
    assert rrf(rankings, k_rrf=0, groups=own) == rrf(rankings, k_rrf=0)


def test_an_id_without_a_group_is_named():
    with pytest.raises(ValueError, match=r"rankings\[1\]: id 'zz' has no group"):
        rrf([["a1"], ["a2", "zz"]], groups=DOC)


# --- z-score fusion: z = (s - mean) / sd over a ranking's distinct ids (population sd);
# an id a ranking lacks counts at that ranking's lowest z; fused = sum_i w_i * z_i.

SQRT2 = math.sqrt(2)


def test_zscore_two_rankings_by_hand():
    # first: a 3, b 1 -> mean 2, sd 1: a +1, b -1 (floor -1)
    # second: b 10, c 4, d 4 -> mean 6, sd sqrt(8): b +sqrt(2), c = d = -1/sqrt(2) (floor)
    fused = zscore([[("a", 3.0), ("b", 1.0)], [("b", 10.0), ("c", 4.0), ("d", 4.0)]])
    assert [i for i, _ in fused] == ["b", "a", "c", "d"]  # c, d tied: c had rank 2, d rank 3
    got = dict(fused)
    assert got["b"] == pytest.approx(-1 + SQRT2, abs=1e-12)
    assert got["a"] == pytest.approx(1 - 1 / SQRT2, abs=1e-12)
    assert got["c"] == pytest.approx(-1 - 1 / SQRT2, abs=1e-12)
    assert got["d"] == got["c"]


def test_zscore_uses_score_gaps_that_rrf_ignores():
    # The same two orders, a ahead in one and b in the other: RRF ties them (then best
    # rank, then id: a). By score, b's lead in the second list is the larger one.
    first = [("a", 0.80), ("b", 0.79), ("c", 0.10)]
    second = [("b", 30.0), ("a", 2.0), ("c", 1.0)]
    assert [i for i, _ in rrf([[i for i, _ in first], [i for i, _ in second]])][0] == "a"
    assert zscore([first, second])[0][0] == "b"


def test_zscore_weights_and_limit():
    fused = zscore([[("a", 3.0), ("b", 1.0)], [("b", 5.0), ("a", 1.0)]], weights=[2.0, 1.0])
    # a: 2 * 1 + 1 * -1 = 1; b: 2 * -1 + 1 * 1 = -1
    assert fused == [("a", 1.0), ("b", -1.0)]
    assert zscore([[("a", 3.0), ("b", 1.0)], [("b", 5.0), ("a", 1.0)]], limit=1) == [("a", 0.0)]
    # weight 0: the second ranking's ids stay, at the first ranking's floor, unmoved by it
    fused = zscore([[("a", 3.0), ("b", 1.0)], [("q", 9.0)]], weights=[1.0, 0.0])
    # b and q tie at -1; b was ranked by a weighted ranking, q only by the weight-0 one
    assert fused == [("a", 1.0), ("b", -1.0), ("q", -1.0)]
    # a tie inside the weighted ranking keeps that ranking's order, whatever the other says
    fused = zscore([[("x", 1.0), ("y", 1.0)], [("y", 5.0), ("x", 1.0)]], weights=[1.0, 0.0])
    assert fused == [("x", 0.0), ("y", 0.0)]


def test_zscore_degenerate_rankings():
    assert zscore([]) == []
    assert zscore([[], []]) == []
    # one id, or all equal: sd 0, every z 0; an empty ranking adds nothing
    assert zscore([[("a", 7.0)]]) == [("a", 0.0)]
    assert zscore([[], [("a", 1.0), ("b", 0.0)]]) == [("a", 1.0), ("b", -1.0)]
    # a repeated id counts once, at its first (best) place: a 2, b 1 -> +1, -1
    assert zscore([[("a", 2.0), ("b", 1.0), ("a", 0.0)]]) == [("a", 1.0), ("b", -1.0)]


def test_zscore_groups_fuse_documents_by_their_best_chunk():
    doc = {"a1": "A", "a2": "A", "b1": "B"}
    first = [("a1", 3.0), ("b1", 2.0), ("a2", 1.0)]  # documents: A 3, B 2 -> A +1, B -1
    second = [("b1", 4.0), ("a2", 2.0)]  # documents: B 4, A 2 -> B +1, A -1
    fused = zscore([first, second], weights=[1.0, 0.5], groups=doc)
    # A: 1 - 0.5 = 0.5, B: -1 + 0.5 = -0.5. Within A by the chunks' own fused z:
    # first (mean 2, sd sqrt(2/3)): a1 +1.2247, a2 -1.2247; second (mean 3, sd 1): a2 -1,
    # floor -1 -> a1 1.2247 - 0.5, a2 -1.2247 - 0.5: a1 first.
    assert fused == [("a1", 0.5), ("a2", 0.5), ("b1", -0.5)]
    assert zscore([first, second], weights=[1.0, 0.5], groups=doc, limit=1) == [("a1", 0.5)]


def test_zscore_rejects_bad_input_naming_it():
    with pytest.raises(ValueError, match="'x' has no group"):
        zscore([[("x", 1.0)]], groups={})
    with pytest.raises(ValueError, match=r"rankings\[0\]\[1\]: score of 'b' is nan"):
        zscore([[("a", 1.0), ("b", float("nan"))]])
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        zscore([[("a", 1.0)]], weights=[1.0, 1.0])
