"""Keyword, hybrid and filtered search on a real lake, through the API and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from docframe.cli import app
from docframe.errors import QueryError


@pytest.fixture
def lake(docs_lake):
    return docs_lake


def keys(result) -> list[str]:
    return [r["doc_key"] for r in result.to_list()]


def test_keyword_search_finds_exact_codes_and_only_matching_chunks(lake):
    result = lake.search("E5678", 5, mode="keyword")
    assert keys(result) == ["fw-e5678"]  # one chunk holds the code; no filler hits
    assert result.info["exhausted"] and "share a term" in result.info["reason"]


def test_keyword_search_stems_and_folds_case(lake):
    assert keys(lake.search("BLEACHING reef", 1, mode="keyword")) == ["sea-2"]


def test_hybrid_with_one_weight_zero_is_that_ranking(lake):
    q = "warm water"
    dense = keys(lake.search(q, 6, mode="dense"))
    assert keys(lake.search(q, 6, mode="hybrid", weights=(1.0, 0.0))) == dense
    keyword = keys(lake.search(q, 6, mode="keyword"))
    assert keys(lake.search(q, len(keyword), mode="hybrid", weights=(0.0, 1.0))) == keyword


def test_hybrid_ranks_a_hit_of_both_above_hits_of_one(lake):
    # "firmware" is in both firmware documents; E1234 only in one: it is first in both rankings
    result = lake.search("firmware error E1234", 3, mode="hybrid")
    assert keys(result)[0] == "fw-e1234"
    assert result.info["returned"] == 3 and not result.info["exhausted"]


def test_where_is_applied_in_every_mode(lake):
    for mode in ("dense", "keyword", "hybrid"):
        result = lake.search("bread", 6, mode=mode, where="doc_key LIKE 'bake-%'")
        assert set(keys(result)) <= {"bake-1", "bake-2"}, mode
        assert result.info["matched"] == 2


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("1; DROP TABLE chunks", "must be one predicate"),
        ("nosuch = 1", "nosuch"),
        ("page <", "not a SQL predicate"),
        ("  ", "empty"),
    ],
)
def test_bad_where_predicates_are_one_line_errors(lake, where, message):
    with pytest.raises(QueryError, match=message) as info:
        lake.search("bread", 3, where=where)
    assert "\n" not in info.value.message


def test_bad_mode_and_weights(lake):
    with pytest.raises(QueryError, match="unknown search mode 'sparse'"):
        lake.search("bread", mode="sparse")
    with pytest.raises(QueryError, match="weights"):
        lake.search("bread", mode="hybrid", weights=(0.0, 0.0))


def test_cli_search_modes_where_and_exhausted(lake):
    runner = CliRunner()
    base = ["--lake", str(lake.root), "search"]
    out = runner.invoke(app, [*base, "E1234", "--mode", "keyword", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [r["doc_key"] for r in rows] == ["fw-e1234"]
    assert "exhausted" in out.stderr
    out = runner.invoke(app, [*base, "tides", "--where", "doc_key = 'sea-1'", "-k", "3"])
    assert out.exit_code == 0 and "sea-1" in out.stdout
    out = runner.invoke(app, [*base, "tides", "--where", "no_column = 2"])
    assert out.exit_code == 2 and "no_column" in out.stderr
    out = runner.invoke(app, [*base, "tides", "--mode", "hybrid", "--weights", "1"])
    assert out.exit_code == 2 and "two numbers" in out.stderr


def test_cli_eval_scores_a_small_beir_collection(lake, tmp_path):
    """Each question names its document's unique terms: every mode ranks it first."""
    queries = tmp_path / "queries.jsonl"
    qrels = tmp_path / "qrels.tsv"
    questions = {"q1": "firmware checksum error E1234", "q2": "coral reef bleaching"}
    queries.write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in questions.items())
    )
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tfw-e1234\t1\nq2\tsea-2\t1\n")
    runner = CliRunner()
    for mode in ("dense", "keyword", "hybrid"):
        out = runner.invoke(
            app,
            [
                "--lake",
                str(lake.root),
                "eval",
                "--queries",
                str(queries),
                "--qrels",
                str(qrels),
                "--mode",
                mode,
                "--format",
                "json",
            ],
        )
        assert out.exit_code == 0, out.output
        record = json.loads(out.stdout)
        assert record["queries"] == 2 and record["mode"] == mode
        assert record["ndcg@10"] == 1.0 and record["mrr"] == 1.0 and record["recall@100"] == 1.0
    qrels.write_text("query-id\tcorpus-id\tscore\nzz\tfw-e1234\t1\n")
    out = runner.invoke(
        app, ["--lake", str(lake.root), "eval", "--queries", str(queries), "--qrels", str(qrels)]
    )
    assert out.exit_code == 2 and "same collection" in out.stderr


def test_hit_rows_in_memory_and_the_duckdb_join_give_the_same_results(lake, monkeypatch):
    # A snapshot over MATERIALISE_MAX_CHUNKS joins its hits in DuckDB; a smaller one takes
    # them from its HitRows in memory. Both must give the same table, column for column.
    from docframe.lake import reader as reader_module

    questions = ["ERR-4411 error code", "coral reefs", "no such words zzzq"]
    cases = [(q, m, d, w) for q in questions for m in ("dense", "keyword", "hybrid")
             for d in (False, True) for w in (None, "char_start >= 0")]  # fmt: skip
    fast = [lake.search(q, 5, mode=m, per_document=d, where=w).to_arrow() for q, m, d, w in cases]
    reader_module.READERS.clear()
    monkeypatch.setattr(reader_module, "MATERIALISE_MAX_CHUNKS", 0)
    assert reader_module.reader(lake.snapshot()).hit_rows() is None
    slow = [lake.search(q, 5, mode=m, per_document=d, where=w).to_arrow() for q, m, d, w in cases]
    reader_module.READERS.clear()
    for case, a, b in zip(cases, fast, slow, strict=True):
        assert a.equals(b, check_metadata=True), case
    assert any(t.num_rows for t in fast)
