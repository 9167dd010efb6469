"""Search table functions in SQL: golden cases (statement -> rewrite -> result), EXPLAIN,
and misuse errors. Each golden file under ``golden/`` holds one case; expected results
follow from how the test lake is built (unique codes, one topic per document)."""

from __future__ import annotations

from pathlib import Path

import pytest

from docframe.errors import QueryError
from docframe.query import table_functions as tf

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.sql"))


def read_case(path: Path) -> tuple[str, str | None, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("-- ") and line.rstrip().endswith(":") and " " not in line[3:-1]:
            current = line[3:-1].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    rewrite = "\n".join(sections["rewrite"]).strip()
    return (
        "\n".join(sections["statement"]).strip(),
        None if rewrite == "(none)" else rewrite,
        [line for line in sections["result"] if line.strip()],
    )


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden(docs_lake, path):
    statement, expected_rewrite, expected_rows = read_case(path)
    tree, calls = tf.find_calls(statement)
    if expected_rewrite is None:
        assert calls == []
    else:
        assert tf.rewrite(tree, calls) == expected_rewrite
    table = docs_lake.sql(statement).to_arrow()
    rows = ["|".join(table.column_names)]
    rows += ["|".join(str(v) for v in row.values()) for row in table.to_pylist()]
    assert rows == expected_rows


def test_the_issue_example_runs(docs_lake):
    # the unified-query example: hybrid search joined to chunks and documents, filtered
    result = docs_lake.sql(
        "SELECT d.title, c.page, s.score FROM hybrid_search('penalties for late delivery', "
        "k => 20) s JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id) "
        "WHERE c.modality = 'text' ORDER BY s.score DESC LIMIT 5"
    ).to_arrow()
    assert result.column_names == ["title", "page", "score"]
    assert result.num_rows == 5
    scores = result.column("score").to_pylist()
    assert scores == sorted(scores, reverse=True)


def test_explain_reports_each_search_then_the_plan(docs_lake):
    rows = docs_lake.sql(
        "EXPLAIN SELECT * FROM search('bread', k => 5, where => 'doc_key LIKE ''bake-%''') s "
        "JOIN chunks USING (chunk_id)"
    ).to_list()
    stages = [r["stage"] for r in rows]
    assert stages == ["search 1", "statement", "duckdb plan"]
    detail = rows[0]["detail"]
    assert "faiss-flat over 6 chunks" in detail
    assert "2 of 6 chunks match (33.33%)" in detail
    assert "exhausted: only 2 chunk(s) match --where" in detail
    assert "_search_0" in rows[1]["detail"]
    analyzed = docs_lake.sql("EXPLAIN ANALYZE SELECT * FROM keyword_search('tides')").to_list()
    assert analyzed[0]["detail"].endswith(" ms") and analyzed[-1]["stage"] == "timings"


def test_explain_without_search_is_duckdb_explain(docs_lake):
    rows = docs_lake.sql("EXPLAIN SELECT count(*) FROM chunks").to_arrow()
    assert rows.column_names == ["explain_key", "explain_value"]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("SELECT search('x')", "is a table function"),
        ("SELECT * FROM search(3)", "must be a string literal"),
        ("SELECT * FROM search('x', depth => 3)", "unknown argument 'depth'"),
        ("SELECT * FROM keyword_search('x', weights => [1, 2])", "unknown argument 'weights'"),
        ("SELECT * FROM hybrid_search('x', weights => [1])", "two numbers"),
        ("SELECT * FROM search('x', k => 0)", "k must be at least 1"),
        ("SELECT * FROM search('x', k => 3, 5)", "positional argument after named"),
        ("SELECT * FROM search('x', where => 'nosuch = 1')", "nosuch"),
        ("SELECT * FROM search('')", "empty search text"),
    ],
)
def test_misuse_is_a_one_line_error_with_the_fix(docs_lake, statement, message):
    with pytest.raises(QueryError, match=message) as info:
        docs_lake.sql(statement)
    assert "\n" not in info.value.message and info.value.help


def test_sql_errors_point_at_the_token(docs_lake):
    with pytest.raises(QueryError, match=r"line 1, column \d+") as info:
        docs_lake.sql("SELECT * FORM chunks")
    assert "LINE 1: SELECT * FORM chunks" in info.value.help and "^" in info.value.help
    with pytest.raises(QueryError, match='Did you mean "chunks"'):
        docs_lake.sql("SELECT * FROM chunkz")


def test_sql_errors_carry_their_position_as_fields(sample_lake):
    """Where DuckDB says where, the QueryError says it as fields, not only as text."""
    with pytest.raises(QueryError) as caught:
        sample_lake.sql("SELECT count(*)\nFROM chunks\nWHERE nonsense_column = 1")
    error = caught.value
    assert (error.line, error.column) == (3, 7)
    assert "nonsense_column" in error.highlight and "^" in error.highlight
    assert "(line 3, column 7)" in error.message  # the one-line text says it too
    import pickle

    again = pickle.loads(pickle.dumps(error))  # the sandbox sends errors between processes
    assert (again.line, again.column, again.highlight) == (3, 7, error.highlight)
