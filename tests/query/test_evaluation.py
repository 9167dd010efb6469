"""Retrieval metrics on small cases worked out by hand, the BEIR readers on written
files and on SciFact, and keyword-only retrieval quality on SciFact.

The metric definitions are trec_eval's (as used through pytrec_eval by BEIR):
ndcg_cut with linear gain rel / log2(rank + 1), recall.k, recip_rank.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from docframe.query.evaluation import (
    evaluate,
    mrr,
    ndcg_at_k,
    read_corpus,
    read_qrels,
    read_queries,
    recall_at_k,
    to_documents,
)
from tests.conftest import SHARED_CORPUS

SCIFACT = SHARED_CORPUS / "retrieval" / "scifact"
needs_scifact = pytest.mark.skipif(
    not (SCIFACT / "qrels" / "train.tsv").is_file(),
    reason=f"SciFact (BEIR) not found at {SCIFACT}: shared corpus not checked out beside the repo",
)

# --- metrics, by hand --------------------------------------------------------------------

GRADED = {"a": 3, "b": 2, "c": 0, "e": 1}


def test_ndcg_uses_linear_gain_and_log2_discount():
    ranking = ["b", "x", "a", "c", "e"]
    # DCG@5  = 2/log2(2) + 3/log2(4) + 1/log2(6)      (x and c gain nothing)
    # IDCG@5 = 3/log2(2) + 2/log2(3) + 1/log2(4)      (ideal order a, b, e)
    dcg = 2 / 1 + 3 / 2 + 1 / math.log2(6)
    idcg = 3 / 1 + 2 / math.log2(3) + 1 / 2
    assert ndcg_at_k(ranking, GRADED, 5) == pytest.approx(dcg / idcg, abs=1e-12)
    # @2: DCG = 2; IDCG = 3 + 2/log2(3)
    assert ndcg_at_k(ranking, GRADED, 2) == pytest.approx(2 / (3 + 2 / math.log2(3)), abs=1e-12)
    # @1: 2 / 3 (an exponential gain would give (2^2 - 1) / (2^3 - 1) = 3/7 instead)
    assert ndcg_at_k(ranking, GRADED, 1) == pytest.approx(2 / 3, abs=1e-12)


def test_ndcg_perfect_empty_and_unjudged():
    assert ndcg_at_k(["a", "b", "e"], GRADED, 10) == pytest.approx(1.0)
    assert ndcg_at_k([], GRADED, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0, "b": 0}, 10) == 0.0  # no relevant document at all
    assert ndcg_at_k(["z", "y"], GRADED, 10) == 0.0


def test_recall_at_k():
    relevance = {"a": 1, "b": 1, "c": 0, "d": 2}  # relevant: a, b, d
    ranking = ["c", "a", "x", "d"]
    assert recall_at_k(ranking, relevance, 1) == 0.0
    assert recall_at_k(ranking, relevance, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, relevance, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranking + ["b"], relevance, 100) == 1.0
    assert recall_at_k(ranking, {"c": 0}, 10) == 0.0


def test_mrr_is_reciprocal_rank_of_first_relevant():
    assert mrr(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3)
    assert mrr(["c", "b"], GRADED) == pytest.approx(1 / 2)  # c is judged 0: not relevant
    assert mrr(["x"], GRADED) == 0.0
    assert mrr([], GRADED) == 0.0


def test_repeated_documents_count_once():
    # A document retrieved twice (e.g. two chunks) keeps its first rank only.
    assert mrr(["x", "x", "a"], {"a": 1}) == pytest.approx(1 / 2)
    assert recall_at_k(["a", "a"], {"a": 1, "b": 1}, 2) == pytest.approx(1 / 2)
    assert ndcg_at_k(["a", "a", "b"], {"a": 1, "b": 1}, 2) == pytest.approx(1.0)


def test_evaluate_averages_over_queries_with_relevant_documents():
    qrels = {
        "q1": {"a": 1, "b": 1},
        "q2": {"c": 2},
        "q3": {"d": 0},  # no relevant document: not averaged
        "q4": {"e": 1},  # relevant but not in the run: counts as zero
    }
    run = {
        "q1": ["a", "x", "b"],
        "q2": ["y", "c"],
        "q3": ["d"],
        "q9": ["a"],  # not judged: ignored
    }
    result = evaluate(run, qrels, ks=(1, 10))
    assert result["queries"] == 3
    # q1: nDCG@10 = (1 + 1/log2(4)) / (1 + 1/log2(3)); q2: (2/log2(3)) / 2; q4: 0
    ndcg1 = (1 + 0.5) / (1 + 1 / math.log2(3))
    ndcg2 = 1 / math.log2(3)
    assert result["ndcg@10"] == pytest.approx((ndcg1 + ndcg2 + 0) / 3, abs=1e-12)
    # @1: q1 has a at rank 1 -> nDCG 1, recall 1/2; q2 -> 0; q4 -> 0
    assert result["ndcg@1"] == pytest.approx(1 / 3)
    assert result["recall@1"] == pytest.approx((1 / 2) / 3)
    assert result["recall@10"] == pytest.approx((1 + 1 + 0) / 3)
    assert result["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert set(result) == {"ndcg@1", "ndcg@10", "recall@1", "recall@10", "mrr", "queries"}


def test_evaluate_default_keys():
    result = evaluate({"q": ["a"]}, {"q": {"a": 1}})
    assert result == {
        "ndcg@10": 1.0,
        "ndcg@100": 1.0,
        "recall@10": 1.0,
        "recall@100": 1.0,
        "mrr": 1.0,
        "queries": 1,
    }


def test_evaluate_bad_inputs():
    with pytest.raises(ValueError, match="no query in qrels has a relevant document"):
        evaluate({"q": ["a"]}, {"q": {"a": 0}})
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        evaluate({"q": ["a"]}, {"q": {"a": 1}}, ks=(0,))
    with pytest.raises(TypeError, match="not the string 'abc'"):
        evaluate({"q": "abc"}, {"q": {"a": 1}})


def test_to_documents_ranks_by_best_chunk():
    hits = [("d1", 0.5), ("d2", 0.9), ("d1", 0.95), ("d3", 0.9), ("d2", 0.1)]
    # d1's best chunk 0.95; d2 and d3 tie at 0.9: d2 was seen first.
    assert to_documents(hits) == ["d1", "d2", "d3"]
    assert to_documents([]) == []
    assert to_documents([("d9", 0.0), ("d8", 0.0)]) == ["d9", "d8"]
    with pytest.raises(ValueError, match=r"hits\[1\]: score of 'd2' is NaN"):
        to_documents([("d1", 1.0), ("d2", float("nan"))])


# --- readers on written files --------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["queries.jsonl", "queries.jsonl.gz"])
def test_read_queries(tmp_path: Path, name: str):
    lines = [
        {"_id": "0", "text": "first query", "metadata": {}},
        {"_id": 7, "text": "Ünïcode query"},
    ]
    text = json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1], ensure_ascii=False) + "\n"
    assert read_queries(write(tmp_path / name, text)) == {
        "0": "first query",
        "7": "Ünïcode query",
    }


def test_read_queries_errors_name_the_line(tmp_path: Path):
    path = write(tmp_path / "q.jsonl", '{"_id": "1", "text": "ok"}\n{"_id": "2"}\n')
    with pytest.raises(ValueError, match=r"q.jsonl:2: missing field 'text'"):
        read_queries(path)
    path = write(tmp_path / "q.jsonl", '{"_id": "1", "text": "ok"}\nnot json\n')
    with pytest.raises(ValueError, match=r"q.jsonl:2: not valid JSON"):
        read_queries(path)
    path = write(tmp_path / "q.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "1", "text": "b"}\n')
    with pytest.raises(ValueError, match=r"q.jsonl:2: duplicate query id '1'"):
        read_queries(path)


def test_read_corpus_joins_title_and_text(tmp_path: Path):
    rows = [
        {"_id": "d1", "title": "A title", "text": "The body."},
        {"_id": "d2", "title": "", "text": "No title."},
        {"_id": "d3", "text": "Title missing."},
    ]
    path = write(tmp_path / "corpus.jsonl.gz", "".join(json.dumps(r) + "\n" for r in rows))
    assert read_corpus(path) == {
        "d1": "A title\nThe body.",
        "d2": "No title.",
        "d3": "Title missing.",
    }


@pytest.mark.parametrize("name", ["train.tsv", "train.tsv.gz"])
def test_read_qrels_beir_tsv(tmp_path: Path, name: str):
    text = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td1\t0\n\nq1\td1\t3\n"
    assert read_qrels(write(tmp_path / name, text)) == {
        "q1": {"d1": 3, "d2": 2},  # the later q1/d1 line wins
        "q2": {"d1": 0},
    }


def test_read_qrels_without_header_and_trec_format(tmp_path: Path):
    assert read_qrels(write(tmp_path / "a.tsv", "q1\td1\t1\n")) == {"q1": {"d1": 1}}
    trec = "301 0 FBIS3-10082 1\n301 0 FBIS3-10169 0\n302 0 FT921-1 2\n"
    assert read_qrels(write(tmp_path / "qrels.trec", trec)) == {
        "301": {"FBIS3-10082": 1, "FBIS3-10169": 0},
        "302": {"FT921-1": 2},
    }


def test_read_qrels_errors_name_the_line(tmp_path: Path):
    path = write(tmp_path / "bad.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\tyes\n")
    with pytest.raises(ValueError, match=r"bad.tsv:3: relevance must be an integer, got 'yes'"):
        read_qrels(path)
    path = write(tmp_path / "bad.tsv", "q1\td1\t1\nq1\td2\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 3 tab-separated fields"):
        read_qrels(path)


# --- SciFact --------------------------------------------------------------------------------


@needs_scifact
def test_read_scifact_files():
    queries = read_queries(SCIFACT / "queries.jsonl")
    qrels = read_qrels(SCIFACT / "qrels" / "train.tsv")
    assert len(queries) == 809
    assert queries["0"] == "0-dimensional biomaterials lack inductive properties."
    assert len(qrels) == 809 and set(qrels) <= set(queries)
    assert sum(len(v) for v in qrels.values()) == 919  # data lines of the 920-line file
    assert qrels["0"] == {"31715818": 1}
    assert all(r == 1 for rels in qrels.values() for r in rels.values())
    corpus = read_corpus(SCIFACT / "corpus.jsonl.gz")
    assert len(corpus) == 5183
    assert corpus["4983"].startswith("Microstructural development of human newborn cerebral")


@needs_scifact
def test_scifact_keyword_only_quality():
    """BM25 alone on SciFact: published nDCG@10 is about 0.66-0.69 (we measure ~0.70 on train)."""
    from docframe.index.keyword import KeywordIndex

    corpus = read_corpus(SCIFACT / "corpus.jsonl.gz")
    queries = read_queries(SCIFACT / "queries.jsonl")
    qrels = read_qrels(SCIFACT / "qrels" / "train.tsv")
    keys = list(corpus)
    index = KeywordIndex()
    index.build(list(corpus.values()), np.arange(len(keys)))
    qids = list(qrels)[:200]
    ids, _ = index.search([queries[q] for q in qids], 100)
    run = {q: [keys[i] for i in row if i >= 0] for q, row in zip(qids, ids, strict=True)}
    result = evaluate(run, {q: qrels[q] for q in qids})
    assert result["queries"] == 200
    assert result["ndcg@10"] > 0.6, result
    assert result["recall@100"] > 0.85, result
