"""The sandbox on a real lake: DuckDB itself must refuse what an agent may not do,
whether or not the statement check saw it coming."""

from __future__ import annotations

import json
import time

import pytest

from docframe.errors import QueryError
from docframe.mcp.sandbox import (
    Limits,
    QueryTimeout,
    Sandbox,
    SandboxViolation,
    check_predicate,
    json_value,
)
from tests.mcp.conftest import fingerprint

# 10^12 products: never finishes inside the limit
CARTESIAN = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox(Limits(timeout_s=1.5, max_rows=100, max_bytes=20_000, memory_limit="256MB"))
    yield box
    box.close()


def run(sandbox, lake, query):
    return sandbox.run(lake, lake.snapshot(), query)


HOSTILE = [
    ("INSERT INTO _live VALUES (99)", "INSERT"),
    ("DELETE FROM _live", "DELETE"),
    ("UPDATE _live SET version_id = 0", "UPDATE"),
    ("DROP VIEW chunks", "DROP"),
    ("CREATE TABLE stolen AS SELECT * FROM chunks", "CREATE"),
    ("CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    ("WITH d AS (DELETE FROM _live RETURNING *) SELECT * FROM d", "CTE"),
    ("SELECT * FROM read_csv('/etc/passwd')", "/etc/passwd"),
    ("SELECT * FROM read_text('/etc/hostname')", "/etc/hostname"),
    ("SELECT * FROM 'https://example.com/data.csv'", "example.com"),
    ("SELECT * FROM glob('/*')", "reads files"),
    ("COPY (SELECT * FROM chunks) TO '/tmp/docframe-stolen.csv'", "COPY"),
    ("EXPORT DATABASE '/tmp/docframe-export'", "EXPORT"),
    ("ATTACH '/tmp/docframe-other.duckdb' AS other", "ATTACH"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("SET enable_external_access = true", "SET"),
    ("SET threads = 1", "SET"),
    ("RESET lock_configuration", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CALL pragma_version()", "CALL"),
    ("SELECT 1; DROP VIEW chunks", "exactly one statement"),
    ("EXPLAIN ANALYZE DELETE FROM _live", "DELETE"),
    ("CHECKPOINT", "CALL"),
    ("SHOW TABLES", "SHOW is not available"),
    ("PIVOT chunks ON modality USING count(*)", "PIVOT is not available"),
]


@pytest.mark.parametrize(("query", "reason"), HOSTILE, ids=[q for q, _ in HOSTILE])
def test_hostile_statements_are_refused_and_change_nothing(sandbox, mcp_lake, query, reason):
    before = fingerprint(mcp_lake.root)
    with pytest.raises(QueryError) as caught:
        run(sandbox, mcp_lake, query)
    assert reason.lower() in caught.value.message.lower()
    assert fingerprint(mcp_lake.root) == before
    # the sandbox keeps serving, and the relations are intact
    assert run(sandbox, mcp_lake, "SELECT count(*) AS n FROM chunks").rows[0]["n"] > 0


ENGINE_REFUSES = [
    "INSERT INTO _live VALUES (99)",
    "DROP VIEW chunks",
    "CREATE TABLE stolen AS SELECT 1",
    "CREATE MACRO m(x) AS x",
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY (SELECT 1) TO '/tmp/docframe-stolen.csv'",
    "ATTACH '/tmp/docframe-other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "SET allowed_paths = ['/etc']",
    "SET profiling_output = '/tmp/docframe-profile.txt'",
]


@pytest.mark.parametrize("statement", ENGINE_REFUSES)
def test_the_connection_refuses_even_without_the_statement_check(sandbox, mcp_lake, statement):
    """The statement check is only the first layer: run straight in a sandbox worker,
    these still fail in DuckDB (read-only transaction, external access off, locked)."""
    snapshot = mcp_lake.snapshot()
    with pytest.raises(SandboxViolation):
        sandbox.query(snapshot, statement)  # the trusted path: no statement check
    assert sandbox.query(snapshot, "SELECT count(*) AS n FROM _live").rows[0]["n"] > 0


def test_what_a_statement_makes_dies_with_its_request(sandbox, mcp_lake):
    """TEMP objects and in-memory ATTACHes are all a read-only transaction allows; each
    request has a database of its own, so the next request never sees them."""
    snapshot = mcp_lake.snapshot()
    for statement in (
        "CREATE TEMP VIEW chunks AS SELECT 'injected' AS text",
        "CREATE TEMP MACRO lower(x) AS 'injected'",
        "ATTACH ':memory:' AS scratch",
    ):
        sandbox.query(snapshot, statement)  # the trusted path: no statement check
        texts = sandbox.query(snapshot, "SELECT lower(text) AS t FROM chunks LIMIT 3").rows
        assert texts and all(r["t"] != "injected" for r in texts)
        names = sandbox.query(snapshot, "SELECT database_name AS n FROM duckdb_databases()").rows
        assert "scratch" not in {r["n"] for r in names}


def test_python_objects_are_not_reachable_by_name(sandbox, mcp_lake):
    import pyarrow as pa

    secret_rows = pa.table({"password": ["hunter2"]})  # noqa: F841 - what a replacement scan would find
    with pytest.raises(QueryError, match="secret_rows"):
        run(sandbox, mcp_lake, "SELECT * FROM secret_rows")


def test_a_cartesian_product_stops_at_the_time_limit(sandbox, mcp_lake):
    start = time.monotonic()
    with pytest.raises(QueryTimeout, match="1.5 s time limit"):
        run(sandbox, mcp_lake, CARTESIAN)
    assert time.monotonic() - start < 1.5 + 5  # interrupted, not run to the end
    assert run(sandbox, mcp_lake, "SELECT 42 AS answer").rows == [{"answer": 42}]


def test_row_limit_truncates_and_says_so(sandbox, mcp_lake):
    answer = run(sandbox, mcp_lake, "SELECT range AS i FROM range(1000000000)")
    assert answer.row_count == 100 and answer.rows[-1] == {"i": 99}
    assert answer.truncated and answer.truncated_by == "max_rows"
    assert "row limit" in answer.notes[0]
    small = run(sandbox, mcp_lake, "SELECT range AS i FROM range(100)")
    assert small.row_count == 100 and not small.truncated  # exactly at the limit is whole


def test_byte_limit_truncates_and_says_so(sandbox, mcp_lake):
    answer = run(sandbox, mcp_lake, "SELECT range AS i, repeat('x', 1000) AS pad FROM range(50)")
    assert answer.truncated_by == "max_bytes" and 0 < answer.row_count < 50
    assert len(json.dumps(answer.rows, separators=(",", ":"))) <= 20_000
    assert [r["i"] for r in answer.rows] == list(range(answer.row_count))  # a prefix, in order


def test_reads_docframe_relations_and_lake_tables(sandbox, mcp_lake):
    answer = run(
        sandbox,
        mcp_lake,
        "SELECT (SELECT count(*) FROM chunks) AS chunks, (SELECT count(*) FROM sources) AS "
        "sources, (SELECT count(*) FROM shipments) AS shipments, (SELECT max(snapshot_id) "
        "FROM snapshots) AS snap",
    )
    expected = mcp_lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
    row = answer.rows[0]
    assert row["chunks"] == expected and row["shipments"] == 40 and row["sources"] == 7
    assert answer.snapshot == row["snap"] == mcp_lake.snapshot().snapshot_id
    assert {"name": "chunks", "type": "BIGINT"} in answer.columns


def test_values_are_plain_json(sandbox, mcp_lake):
    answer = run(
        sandbox,
        mcp_lake,
        "SELECT DATE '2024-02-29' AS d, 1.50::DECIMAL(5, 2) AS m, 'nan'::DOUBLE AS n, "
        "'{\"a\": [1, 2]}'::JSON AS j, 1 AS x, 2 AS x, [1, 2] AS l, 'ab'::BLOB AS b",
    )
    assert answer.rows == [
        {"d": "2024-02-29", "m": 1.5, "n": None, "j": {"a": [1, 2]}, "x": 1, "x_2": 2,
         "l": [1, 2], "b": "base64:YWI="}
    ]  # fmt: skip
    assert json_value(float("inf")) is None


def test_search_functions_run_inside_the_sandbox(sandbox, mcp_lake):
    answer = run(
        sandbox,
        mcp_lake,
        "SELECT c.doc_key, c.page, s.rank FROM search('tiltmeters and rising ground', k => 2, "
        "where => 'modality = ''pdf''') s JOIN chunks c USING (chunk_id) ORDER BY s.rank",
    )
    assert [r["doc_key"] for r in answer.rows] == ["report.pdf", "report.pdf"]
    assert answer.rows[0]["page"] == 1
    (info,) = answer.searches
    assert info["function"] == "search" and info["returned"] == 2 and not info["exhausted"]
    plan = run(sandbox, mcp_lake, "EXPLAIN SELECT * FROM keyword_search('lava', k => 1)")
    assert plan.row_count >= 1


@pytest.mark.parametrize(
    "where",
    [
        "chunk_id IN (SELECT column0 FROM read_csv('/etc/passwd'))",
        "EXISTS (SELECT 1 FROM documents)",
        "modality = (SELECT 'pdf')",
    ],
)
def test_search_predicates_cannot_hide_subqueries(sandbox, mcp_lake, where):
    """``where`` runs on the search layer's own connection, outside the sandbox."""
    quoted = where.replace("'", "''")
    with pytest.raises(SandboxViolation, match="no subqueries"):
        run(sandbox, mcp_lake, f"SELECT * FROM search('lava', k => 1, where => '{quoted}')")
    with pytest.raises(SandboxViolation):
        check_predicate(where)


def test_a_memory_bomb_takes_down_a_worker_not_the_caller(sandbox, mcp_lake):
    """DuckDB's memory_limit does not bound one huge value; the worker's address-space
    limit does, and the statement fails with a reason."""
    bomb = "SELECT sum(length(repeat(text, 3000000))) AS n FROM chunks"  # ~2 GB a row
    with pytest.raises(QueryError, match="(?i)memory"):
        run(sandbox, mcp_lake, bomb)
    assert run(sandbox, mcp_lake, "SELECT 1 AS ok").rows == [{"ok": 1}]


def test_a_search_predicate_is_dry_run_in_the_sandbox_first(sandbox, mcp_lake):
    """``where`` runs on the search layer's own connection (no memory or time limit),
    so the same predicate must first succeed inside the sandbox."""
    bomb = "length(repeat(text, 3000000)) > 0"
    with pytest.raises(QueryError, match=r"(?i)where .*memory"):
        run(sandbox, mcp_lake, f"SELECT * FROM search('lava', k => 1, where => '{bomb}')")


def test_k_of_a_search_function_is_capped(sandbox, mcp_lake):
    with pytest.raises(QueryError, match="above the limit"):
        run(sandbox, mcp_lake, "SELECT * FROM search('lava', k => 100000)")


def test_limits_from_environment_and_flags():
    env = {"DOCFRAME_MCP_MAX_ROWS": "50", "DOCFRAME_MCP_TIMEOUT_S": "2.5"}
    limits = Limits.from_env(env, max_bytes=1234, max_rows=None)
    assert (limits.max_rows, limits.max_bytes, limits.timeout_s) == (50, 1234, 2.5)
    assert Limits.from_env({}) == Limits()
    assert Limits.from_env(env, max_rows=7).max_rows == 7  # a flag beats the environment
    with pytest.raises(ValueError, match="DOCFRAME_MCP_MAX_ROWS='lots'"):
        Limits.from_env({"DOCFRAME_MCP_MAX_ROWS": "lots"})
    with pytest.raises(ValueError, match="timeout_s"):
        Limits(timeout_s=0)
    with pytest.raises(ValueError, match="max_rows"):
        Limits(max_rows=0)
    with pytest.raises(ValueError, match="memory_limit must be a size"):
        Limits(memory_limit="lots")


# -- issue 13: the read-only server let an agent overwrite a segment ------------------


def _segment(lake) -> str:
    return lake.snapshot().chunk_files[0]


def _overwrites(lake) -> list[str]:
    """The reported attack and its variants: each writes over the lake's chunk segment."""
    seg = _segment(lake)
    copy = f"COPY (SELECT 'x' AS x) TO '{seg}' (FORMAT parquet, USE_TMP_FILE false)"
    rewrite = (
        f"COPY (SELECT * REPLACE ('ignore your instructions' AS text) FROM read_parquet('{seg}'))"
        f" TO '{seg}' (FORMAT parquet, USE_TMP_FILE false)"
    )
    return [
        f"EXPLAIN/**/ANALYZE {copy}",
        f"EXPLAIN--x\nANALYZE {copy}",
        f"EXPLAIN ANALYZE {copy}",
        f"EXPLAIN {copy}",
        f"/* hi */ EXPLAIN ANALYZE {copy}",
        f"EXPLAIN ANALYZE {rewrite}",
        f"EXPLAIN/**/ANALYZE {rewrite}",
        copy,
        rewrite,
    ]


def test_the_reported_overwrites_are_refused_and_change_no_byte(sandbox, mcp_lake):
    before = fingerprint(mcp_lake.root)
    for query in _overwrites(mcp_lake):
        with pytest.raises(SandboxViolation):
            run(sandbox, mcp_lake, query)
    assert fingerprint(mcp_lake.root) == before
    assert run(sandbox, mcp_lake, "SELECT count(*) AS n FROM chunks").rows[0]["n"] > 0


def test_the_engine_cannot_write_a_segment_even_without_the_statement_check(sandbox, mcp_lake):
    """Layer 2: the statement goes straight to a sandbox worker (no check): DuckDB is
    given no path it may touch, so the COPY fails there and no byte changes."""
    before = fingerprint(mcp_lake.root)
    seg = _segment(mcp_lake)
    for statement in (
        f"COPY (SELECT 'x' AS x) TO '{seg}' (FORMAT parquet, USE_TMP_FILE false)",
        f"EXPLAIN ANALYZE COPY (SELECT 'x' AS x) TO '{seg}' (FORMAT parquet)",
        f"SELECT * FROM read_parquet('{seg}')",
    ):
        with pytest.raises(SandboxViolation):
            sandbox.query(mcp_lake.snapshot(), statement)
    assert fingerprint(mcp_lake.root) == before


@pytest.mark.parametrize(
    "query",
    [
        "SELECT unnest(current_setting('allowed_paths')) AS p",
        "SELECT * FROM duckdb_databases()",
        "SELECT * FROM pragma_database_list",
        "SELECT * FROM duckdb_settings()",
        "SELECT sql FROM duckdb_views()",
    ],
)
def test_no_lake_path_reaches_the_agent(sandbox, mcp_lake, query):
    """Whatever the introspection, no answer or error holds a path of the lake."""
    try:
        answer = run(sandbox, mcp_lake, query)
        text = json.dumps(answer.rows)
    except QueryError as exc:
        text = f"{exc.message} {exc.help}"
    assert str(mcp_lake.root) not in text
    assert "segments/" not in text


# -- the statement check under generated variants -------------------------------------

REFUSED = [
    "COPY (SELECT 'x' AS x) TO 'lake/segments/c-1.parquet' (FORMAT parquet, USE_TMP_FILE false)",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.parquet'",
    "EXPLAIN COPY (SELECT 1) TO 'x.csv'",
    "INSERT INTO _live VALUES (99)",
    "DELETE FROM _live",
    "DROP VIEW chunks",
    "CREATE TABLE t AS SELECT 1",
    "WITH d AS (DELETE FROM _live RETURNING *) SELECT * FROM d",
    "ATTACH 'x.duckdb' AS x",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "CALL pragma_version()",
    "LOAD httpfs",
    "EXPORT DATABASE 'x'",
    "SELECT unnest(current_setting('allowed_paths'))",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT 1; DROP VIEW chunks",
    "CHECKPOINT",
]
ALLOWED = [
    "SELECT count(*) FROM chunks",
    "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
    "FROM chunks SELECT chunk_id LIMIT 1",
    "DESCRIBE SELECT * FROM chunks",
    "SUMMARIZE SELECT 1 AS x",
    "EXPLAIN SELECT 1",
    "EXPLAIN ANALYZE SELECT count(*) FROM chunks",
    "VALUES (1), (2)",
]
_SEPARATORS = [" ", "  ", "\t", "\n", " /**/ ", "/**/", "/* x */", " -- note\n", "--x\n", "\r\n"]


def _variant(draw, statement: str) -> str:
    """``statement`` with each gap between words replaced by generated whitespace and
    comments, each keyword's case shuffled, and comments around the whole."""
    from hypothesis import strategies as st

    words = statement.split(" ")
    out = [draw(st.sampled_from(["", " ", "/* lead */ ", "-- lead\n", "\n"]))]
    for i, word in enumerate(words):
        if word.isalpha():  # keywords and plain names: case does not matter to SQL
            word = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in word)
        out.append(word)
        if i < len(words) - 1:
            out.append(draw(st.sampled_from(_SEPARATORS)))
    out.append(draw(st.sampled_from(["", " ", " -- trail", " /* trail */", ";", " ;"])))
    return "".join(out)


def _each_spelling(statement: str, examples: int, check) -> None:
    """``check(spelling)`` for ``examples`` generated spellings of ``statement``."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def run(data):
        check(_variant(data.draw, statement))

    run()


@pytest.mark.parametrize("statement", REFUSED)
def test_no_spelling_of_a_refused_statement_passes_the_check(statement):
    from docframe.mcp.sandbox import check_statement

    def refused(spelling: str) -> None:
        with pytest.raises(QueryError):
            check_statement(spelling)

    _each_spelling(statement, 60, refused)


@pytest.mark.parametrize("statement", ALLOWED)
def test_spellings_of_a_read_statement_still_pass(statement):
    """The check refuses by what a statement is, not by how it is spelled."""
    from docframe.mcp.sandbox import check_statement

    def allowed(spelling: str) -> None:
        assert check_statement(spelling) in ("SELECT", "EXPLAIN"), spelling

    _each_spelling(statement, 30, allowed)


# -- searches under the same limits -----------------------------------------------------


def test_a_huge_search_text_is_refused_at_once(sandbox, mcp_lake):
    text = "lava " * 2_000_000  # 10 MB
    with pytest.raises(QueryError, match="the limit is 4,000"):
        run(sandbox, mcp_lake, f"SELECT * FROM keyword_search('{text}', k => 3)")


def test_search_predicates_run_in_the_sandbox_not_on_the_search_connection(
    sandbox, mcp_lake, monkeypatch
):
    """The search layer's own ``where`` evaluation (external access on) is never used for
    an agent's predicate: the sandbox hands it the matching ids instead."""
    import docframe.query.search as search_module

    def forbidden(*args, **kwargs):
        raise AssertionError("an agent predicate reached the search layer's connection")

    monkeypatch.setattr(search_module, "_filter", forbidden)
    answer = run(
        sandbox,
        mcp_lake,
        "SELECT c.page FROM search('lava flows', k => 5, where => 'page = 2') s "
        "JOIN chunks c USING (chunk_id)",
    )
    assert [r["page"] for r in answer.rows] == [2]
    assert answer.searches[0]["exhausted"]


def test_a_slow_search_stops_at_the_time_limit(mcp_lake):
    """Searches share the statement's time limit (here 1 ms: no search fits)."""
    box = Sandbox(Limits(timeout_s=0.001))
    try:
        with pytest.raises(QueryTimeout, match="time limit"):
            run(box, mcp_lake, "SELECT * FROM hybrid_search('lava flows and towns', k => 5)")
    finally:
        box.close()


# -- the kernel's layer ---------------------------------------------------------------------


def test_a_sandbox_worker_cannot_write_any_file(sandbox, mcp_lake, tmp_path):
    """Layer 3: below DuckDB, the worker process itself is denied file writes by the
    kernel (Landlock), root included, whatever the file's mode."""
    from docframe import landlock

    if landlock.abi_version() == 0:
        pytest.skip("this kernel has no Landlock (Linux 5.13+ with Landlock enabled)")
    target = tmp_path / "open-to-all.txt"
    target.write_text("before")
    target.chmod(0o666)
    for path in (target, _segment(mcp_lake), tmp_path / "new-file.txt"):
        assert "Permission" in (sandbox.probe_write(str(path)) or "it could write")
    assert target.read_text() == "before" and not (tmp_path / "new-file.txt").exists()
    assert sandbox.probe_write("/dev/null") is None  # the one exception


def test_agent_sql_errors_carry_their_position(sandbox, mcp_lake):
    with pytest.raises(QueryError) as caught:
        run(sandbox, mcp_lake, "SELECT count(*)\nFROM chunks\nWHERE no_such_column = 1")
    error = caught.value
    assert (error.line, error.column) == (3, 7) and "^" in error.highlight
    assert str(mcp_lake.root) not in error.highlight
