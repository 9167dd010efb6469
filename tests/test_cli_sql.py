"""``docframe sql``, ``docframe tables`` and ``docframe describe`` through typer's runner,
over real lakes: statement sources, output formats, EXPLAIN, and errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

import docframe
from docframe.cli import app
from docframe.shell import write_result

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture(scope="module")
def lake(sample_lake) -> str:
    """The sample corpus (documents with chunks, and the shipments table), read only."""
    return str(sample_lake.root)


@pytest.fixture(scope="module")
def table_lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A table-only lake in two snapshots: ``orders`` first, then ``refunds``."""
    root = tmp_path_factory.mktemp("cli-sql")
    (root / "orders.csv").write_text("order_id,amount,city\n1,2.5,Lyon\n2,3.5,Oslo\n3,,Rome\n")
    (root / "refunds.csv").write_text("refund_id,order_id\n7,1\n")
    opened = docframe.open(root / "lake")
    assert opened.ingest(root / "orders.csv", progress=False).ok
    assert opened.ingest(root / "refunds.csv", progress=False).ok
    return str(root / "lake")


TYPED = (
    "SELECT 12.50::DECIMAL(10,2) AS amount, DATE '2024-01-02' AS day, [1, 2] AS ids, "
    "NULL::INTEGER AS missing, true AS ok, 'a,\"b\"' AS text, 0.1::DOUBLE + 0.2 AS x"
)


# --------------------------------------------------------------------------- where SQL comes from


def test_statement_from_argument_file_dash_and_piped_stdin(table_lake, tmp_path):
    q = "SELECT city FROM orders ORDER BY order_id"
    expected = [{"city": "Lyon"}, {"city": "Oslo"}, {"city": "Rome"}]
    from_arg = run("--lake", table_lake, "sql", q, "--format", "json")
    assert from_arg.exit_code == 0, from_arg.output
    assert json.loads(from_arg.stdout) == expected
    script = tmp_path / "q.sql"
    script.write_text(f"-- cities; in order\n{q};\n")
    from_file = run("--lake", table_lake, "sql", "-f", str(script), "--format", "json")
    assert json.loads(from_file.stdout) == expected
    dash = run("--lake", table_lake, "sql", "-", "--format", "json", input=q)
    assert json.loads(dash.stdout) == expected
    piped = run("--lake", table_lake, "sql", "--format", "json", input=q + ";\n")
    assert json.loads(piped.stdout) == expected


def test_several_statements_print_each_result_in_order(table_lake, tmp_path):
    script = tmp_path / "two.sql"
    script.write_text(
        "SELECT 'a;b' AS s;\n/* two; */ SELECT count(*) AS n FROM orders;\nSELECT 3 AS last"
    )
    result = run("--lake", table_lake, "sql", "--file", str(script), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"s": "a;b"},
        {"n": 3},
        {"last": 3},
    ]
    tables = run("--lake", table_lake, "sql", "SELECT 1 AS first; SELECT 2 AS second")
    assert tables.stdout.index("first") < tables.stdout.index("second")


def test_bad_statement_sources_are_one_line_errors(table_lake, tmp_path):
    missing = run("--lake", table_lake, "sql", "-f", str(tmp_path / "nope.sql"))
    assert missing.exit_code == 2
    assert "nope.sql" in missing.stderr.splitlines()[0]
    old_habit = run("--lake", table_lake, "sql", "SELECT 1", "-f", "json")
    assert old_habit.exit_code == 2 and "both a statement and --file" in old_habit.stderr
    format_as_file = run("--lake", table_lake, "sql", "-f", "json")
    assert format_as_file.exit_code == 2
    assert "the output format is --format json" in format_as_file.stderr
    empty = run("--lake", table_lake, "sql", input="  -- nothing here\n")
    assert empty.exit_code == 2 and "empty SQL statement" in empty.stderr
    bad = run("--lake", table_lake, "sql", "SELECT amout FROM orders")
    assert bad.exit_code == 2
    first, second = bad.stderr.splitlines()[:2]
    assert first.startswith("error: SQL error") and "amout" in first
    assert second.startswith("help:")


# --------------------------------------------------------------------------- formats


def test_csv_json_and_jsonl_write_values_faithfully(table_lake):
    as_csv = run("--lake", table_lake, "sql", TYPED, "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows == [
        ["amount", "day", "ids", "missing", "ok", "text", "x"],
        ["12.50", "2024-01-02", "[1, 2]", "", "true", 'a,"b"', "0.30000000000000004"],
    ]
    as_json = json.loads(run("--lake", table_lake, "sql", TYPED, "--format", "json").stdout)
    assert as_json == [
        {
            "amount": 12.5,
            "day": "2024-01-02",
            "ids": [1, 2],
            "missing": None,
            "ok": True,
            "text": 'a,"b"',
            "x": 0.30000000000000004,
        }
    ]
    lines = run("--lake", table_lake, "sql", "SELECT * FROM orders ORDER BY 1", "--format", "jsonl")
    assert [json.loads(line) for line in lines.stdout.splitlines()] == [
        {"order_id": 1, "amount": 2.5, "city": "Lyon"},
        {"order_id": 2, "amount": 3.5, "city": "Oslo"},
        {"order_id": 3, "amount": None, "city": "Rome"},
    ]
    assert run("--lake", table_lake, "sql", "SELECT 1 WHERE false", "--format", "json").stdout == (
        "[]\n"
    )


def test_blobs_nans_structs_and_timestamps_in_text_formats(table_lake):
    q = (
        "SELECT '\\xAA\\x5Cz'::BLOB AS raw, 'nan'::DOUBLE AS n, {'a': 1, 'b': 'x'} AS rec, "
        "TIMESTAMP '2024-01-02 03:04:05' AS ts"
    )
    as_csv = run("--lake", table_lake, "sql", q, "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.reader(io.StringIO(as_csv.stdout)))[1] == [
        "\\xAA\\x5Cz",  # DuckDB's own text for bytes 0xAA 0x5C 'z'
        "nan",
        '{"a": 1, "b": "x"}',
        "2024-01-02 03:04:05",
    ]
    as_json = json.loads(run("--lake", table_lake, "sql", q, "--format", "json").stdout)
    assert as_json == [
        {"raw": "\\xAA\\x5Cz", "n": None, "rec": {"a": 1, "b": "x"}, "ts": "2024-01-02 03:04:05"}
    ]


def test_parquet_needs_output_and_keeps_the_types(table_lake, tmp_path):
    refused = run("--lake", table_lake, "sql", TYPED, "--format", "parquet")
    assert refused.exit_code == 2 and "--format parquet needs --output" in refused.stderr
    target = tmp_path / "typed.parquet"
    done = run("--lake", table_lake, "sql", TYPED, "--format", "parquet", "--output", str(target))
    assert done.exit_code == 0, done.output
    assert "wrote 1 row(s)" in done.stderr
    expected = docframe.open(table_lake, create=False).sql(TYPED).to_arrow()
    written = pq.read_table(target)
    assert written.schema.field("amount").type == pa.decimal128(10, 2)
    assert written.schema.equals(expected.schema) and written.equals(expected)


def test_output_file_for_text_formats_and_not_for_tables(table_lake, tmp_path):
    target = tmp_path / "orders.csv"
    done = run("--lake", table_lake, "sql", "SELECT city FROM orders ORDER BY 1",
               "--format", "csv", "-o", str(target))  # fmt: skip
    assert done.exit_code == 0 and done.stdout == ""
    assert target.read_text() == "city\nLyon\nOslo\nRome\n"
    table = run("--lake", table_lake, "sql", "SELECT 1", "--output", str(tmp_path / "t.txt"))
    assert table.exit_code == 2 and "table format is for the terminal" in table.stderr
    two = run("--lake", table_lake, "sql", "SELECT 1; SELECT 2", "--format", "csv",
              "-o", str(target))  # fmt: skip
    assert two.exit_code == 2 and "takes one statement, got 2" in two.stderr


def test_table_output_fits_the_width_and_cuts_long_cells(lake, sample_lake):
    # piped output renders 160 columns wide (docframe.cli.out)
    wide = run("--lake", lake, "sql", "SELECT * FROM chunks LIMIT 3")
    assert wide.exit_code == 0, wide.output
    lines = wide.stdout.splitlines()
    assert max(len(line) for line in lines) <= 160
    assert "columns not shown" in wide.stdout  # 17 columns do not fit: the middle is elided
    columns = sample_lake.sql("SELECT * FROM chunks LIMIT 0").columns
    assert columns[0] in lines[1] and columns[-1] in lines[1]  # first and last stay
    text = run("--lake", lake, "sql", "SELECT doc_key, text FROM chunks ORDER BY doc_key LIMIT 1")
    assert "…" in text.stdout  # a chunk's text is longer than a column may be
    assert all(len(line) <= 160 for line in text.stdout.splitlines())


def test_narrow_tables_elide_columns_instead_of_squeezing_them():
    table = pa.table({f"column_{i}": [f"value number {i}"] for i in range(12)})
    for width in (40, 60, 100):
        stream = io.StringIO()
        write_result(table, "table", stream=stream, console=Console(file=stream, width=width))
        lines = stream.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width, stream.getvalue()
        header = lines[1]
        assert "column_0" in header and "column_11" in header
        assert "┃ … ┃" in header and "columns not shown" in stream.getvalue()
        assert "┃┃" not in header  # no column squeezed to nothing


def test_max_rows_caps_the_table_and_says_so(table_lake):
    capped = run("--lake", table_lake, "sql", "SELECT * FROM range(100) t(i)", "--max-rows", "5")
    assert capped.exit_code == 0
    assert "showing 5 of 100 rows" in capped.stderr
    assert " 4 " in capped.stdout and " 5 " not in capped.stdout
    every = run("--lake", table_lake, "sql", "SELECT * FROM range(100) t(i)", "--format", "csv")
    assert len(every.stdout.splitlines()) == 101  # --max-rows is for tables only


# --------------------------------------------------------------------------- EXPLAIN


def test_explain_prints_plain_text(lake):
    q = "EXPLAIN SELECT c.doc_key FROM search('bees', k => 2) s JOIN chunks c USING (chunk_id)"
    result = run("--lake", lake, "sql", q)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("search 1: search('bees', k => 2); mode dense")
    assert "\nstatement: SELECT" in out and "\nduckdb plan:\n" in out
    assert "┏" not in out and "stage" not in out  # not a boxed table of rows
    analyzed = run("--lake", lake, "sql", "EXPLAIN ANALYZE SELECT * FROM search('bees', k => 2)")
    assert "\ntimings: search " in analyzed.stdout and " ms" in analyzed.stdout
    plain = run("--lake", lake, "sql", "EXPLAIN SELECT count(*) FROM documents")
    assert "explain_value" not in plain.stdout and "physical_plan" not in plain.stdout
    assert "┌" in plain.stdout  # DuckDB's own plan drawing
    as_json = json.loads(run("--lake", lake, "sql", q, "--format", "json").stdout)
    assert [r["stage"] for r in as_json] == ["search 1", "statement", "duckdb plan"]


# --------------------------------------------------------------------------- tables and describe


def test_tables_lists_relations_with_row_counts_then_lake_tables(lake, sample_lake):
    result = run("--lake", lake, "tables", "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    names = [(r["name"], r["kind"]) for r in listed]
    assert names == [
        ("chunks", "relation"),
        ("documents", "relation"),
        ("sources", "relation"),
        ("snapshots", "relation"),
        ("tables", "relation"),
        ("pdf_tables", "relation"),
        ("shipments", "table"),
    ]
    counts = {r["name"]: r["n_rows"] for r in listed}
    for name in ("chunks", "documents", "sources", "shipments"):
        n = sample_lake.sql(f"SELECT count(*) AS n FROM {name}").to_list()[0]["n"]
        assert counts[name] == n > 0
    shipments = listed[-1]
    assert shipments["source_uri"].endswith("shipments.csv") and shipments["n_columns"] == 8
    table = run("--lake", lake, "tables")
    assert "chunks" in table.stdout and "relation" in table.stdout and "shipments" in table.stdout


def test_tables_and_describe_read_an_older_snapshot(table_lake):
    now = [r["name"] for r in json.loads(run("--lake", table_lake, "tables", "-f", "json").stdout)]
    before = json.loads(run("--lake", table_lake, "tables", "-f", "json", "--snapshot", "1").stdout)
    assert "refunds" in now and "refunds" not in [r["name"] for r in before]
    gone = run("--lake", table_lake, "describe", "refunds", "--snapshot", "1")
    assert gone.exit_code == 2 and "refunds" in gone.stderr


def test_describe_shows_columns_types_and_rows(table_lake, lake, sample_lake):
    result = run("--lake", table_lake, "describe", "Orders", "--format", "json")
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["name"] == "orders" and described["kind"] == "table"
    assert described["n_rows"] == 3 and described["source_uri"].endswith("orders.csv")
    assert described["columns"] == [
        {"name": "order_id", "type": "BIGINT"},
        {"name": "amount", "type": "DOUBLE"},
        {"name": "city", "type": "VARCHAR"},
    ]
    chunks = run("--lake", lake, "describe", "chunks")
    assert chunks.exit_code == 0
    n = len(sample_lake.sql("SELECT chunk_id FROM chunks"))
    assert f"chunks: relation, {n} row(s)" in chunks.stdout
    assert "embedding" in chunks.stdout and "FLOAT[" in chunks.stdout
    as_csv = run("--lake", table_lake, "describe", "orders", "--format", "csv")
    assert as_csv.stdout.splitlines()[:2] == ["column_name,column_type", "order_id,BIGINT"]


def test_describe_unknown_name_suggests_the_closest(table_lake):
    result = run("--lake", table_lake, "describe", "order")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first == "error: no relation or table named 'order'; did you mean 'orders'?"
    assert "docframe tables" in result.stderr
    far = run("--lake", table_lake, "describe", "zzz")
    assert far.exit_code == 2 and "did you mean" not in far.stderr


def test_sql_help_names_the_shell_formats_and_file(table_lake):
    result = run("sql", "--help")
    assert result.exit_code == 0
    for word in ("--file", "--format", "jsonl", "parquet", "--output", "shell"):
        assert word in result.stdout


def test_nothing_is_written_for_a_failing_statement(table_lake, tmp_path: Path):
    target = tmp_path / "never.parquet"
    failed = run("--lake", table_lake, "sql", "SELECT nope", "--format", "parquet",
                 "--output", str(target))  # fmt: skip
    assert failed.exit_code == 2 and not target.exists()
