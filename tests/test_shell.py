"""The SQL shell's logic (docframe.shell.Shell) fed lines as a terminal would, over real
lakes; and once through a real pseudo-terminal, for readline, history and completion."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import docframe
from docframe.shell import Shell, split_statements


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory: pytest.TempPathFactory):
    """A table-only lake (no embedding model needed): ``orders`` in snapshot 1,
    ``refunds`` added in snapshot 2."""
    root = tmp_path_factory.mktemp("shell")
    (root / "in").mkdir()
    (root / "in" / "orders.csv").write_text("order_id,amount,city\n1,2.5,Lyon\n2,3.5,Oslo\n")
    lake = docframe.open(root / "lake")
    assert lake.ingest(root / "in" / "orders.csv", progress=False).ok
    (root / "in" / "refunds.csv").write_text("refund_id,order_id\n7,1\n")
    assert lake.ingest(root / "in" / "refunds.csv", progress=False).ok
    return lake


def feed(shell: Shell, *lines: str) -> str:
    return "".join(shell.feed(line) for line in lines)


# --------------------------------------------------------------------------- statements


@pytest.mark.parametrize(
    ("text", "statements", "rest"),
    [
        ("SELECT 1;", ["SELECT 1"], ""),
        ("SELECT 1; SELECT 2;\n", ["SELECT 1", "SELECT 2"], "\n"),
        ("SELECT ';' AS s; SELECT", ["SELECT ';' AS s"], " SELECT"),
        ("SELECT 'it''s;' AS s;", ["SELECT 'it''s;' AS s"], ""),
        ('SELECT 1 AS "a;b";', ['SELECT 1 AS "a;b"'], ""),
        ("SELECT 1 -- not the end;\n, 2;", ["SELECT 1 -- not the end;\n, 2"], ""),
        ("SELECT /* ; */ 1;", ["SELECT /* ; */ 1"], ""),
        ("SELECT $$a;b$$;", ["SELECT $$a;b$$"], ""),
        ("SELECT $x$a;b$x$ AS t;", ["SELECT $x$a;b$x$ AS t"], ""),
        (";; -- only a comment;\n", [], " -- only a comment;\n"),
        ("SELECT 'unterminated; still typing", [], "SELECT 'unterminated; still typing"),
    ],
)
def test_statements_end_at_a_semicolon_outside_strings_and_comments(text, statements, rest):
    assert split_statements(text) == (statements, rest)


# --------------------------------------------------------------------------- running


def test_a_statement_spans_lines_and_runs_at_its_semicolon(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    assert shell.prompt == "docframe> "
    assert shell.feed("SELECT city, amount") == ""
    assert shell.prompt.strip() == "...>"
    assert shell.feed("FROM orders") == ""
    out = shell.feed("ORDER BY amount DESC; SELECT 40 +")
    assert out.index("Oslo") < out.index("Lyon")  # ordered, in a table
    assert "┃ city" in out
    assert shell.prompt.strip() == "...>"  # "SELECT 40 +" is still open
    assert "42" in shell.feed("2 AS answer;")
    assert shell.prompt == "docframe> " and shell.buffer == ""


def test_errors_print_one_line_and_help_and_the_shell_goes_on(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    out = shell.feed("SELECT amout FROM orders;")
    first, second = out.splitlines()[:2]
    assert first.startswith("error: SQL error") and "amout" in first
    assert second.startswith("help:")
    assert "2.5" in shell.feed("SELECT amount FROM orders ORDER BY 1;")
    assert "did you mean '.format'" in shell.feed(".formt")
    assert "did you mean 'orders'" in shell.feed(".schema order")


def test_comments_and_blank_lines_leave_nothing_to_finish(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    assert feed(shell, "", "   ", "-- a note;", "/* another */") == ""
    assert shell.prompt == "docframe> "
    shell.feed("/* an open comment")
    assert shell.prompt.strip() == "...>"
    assert "1" in feed(shell, "*/ SELECT 1 AS one;")


def test_cancel_drops_a_half_typed_statement(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    shell.feed("SELECT nonsense")
    shell.cancel()
    assert shell.prompt == "docframe> "
    assert "1" in shell.feed("SELECT 1 AS one;")


def test_format_switches_output_and_rejects_parquet(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    assert shell.feed(".format") == "format: table\n"
    assert shell.feed(".format jsonl") == ""
    out = shell.feed("SELECT order_id, city FROM orders ORDER BY 1;")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"order_id": 1, "city": "Lyon"},
        {"order_id": 2, "city": "Oslo"},
    ]
    shell.feed(".format csv")
    assert shell.feed("SELECT order_id, city FROM orders ORDER BY 1;") == (
        "order_id,city\n1,Lyon\n2,Oslo\n"
    )
    shell.feed(".format json")
    assert json.loads(shell.feed("SELECT 1 AS a;")) == [{"a": 1}]
    refused = shell.feed(".format parquet")
    assert refused.startswith("error:") and "--output" in refused
    assert shell.fmt == "json"


def test_timer_reports_run_time(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    assert "Run Time" not in shell.feed("SELECT 1;")
    shell.feed(".timer on")
    assert "Run Time: " in shell.feed("SELECT 1;")
    shell.feed(".timer off")
    assert "Run Time" not in shell.feed("SELECT 1;")
    assert shell.feed(".timer maybe").startswith("error:")


def test_tables_and_schema_list_relations_columns_and_row_counts(two_snapshots):
    shell = Shell(two_snapshots, width=100)
    listing = shell.feed(".tables")
    for name in ("chunks", "documents", "sources", "snapshots", "tables", "pdf_tables"):
        assert name in listing
    orders = next(line for line in listing.splitlines() if " orders " in line)
    assert "table" in orders and " 2 " in orders and " 3 " in orders  # 2 rows, 3 columns
    schema = shell.feed(".schema ORDERS")  # SQL names are case-insensitive
    assert schema.startswith("orders: table, 2 rows")
    assert "amount" in schema and "DOUBLE" in schema
    everything = shell.feed(".schema")
    assert "orders(order_id BIGINT, amount DOUBLE, city VARCHAR)" in everything
    assert everything.splitlines()[0].startswith("chunks(chunk_id VARCHAR")


def test_the_shell_pins_a_snapshot_and_can_move_it(two_snapshots):
    shell = Shell(two_snapshots, snapshot=1, width=80)
    assert shell.feed(".snapshot") == "snapshot 1\n"
    assert "refunds" not in shell.feed(".tables")
    assert "refunds" not in shell.complete("SELECT * FROM re", 14)
    assert "error:" in shell.feed("SELECT * FROM refunds;")
    assert shell.feed(".snapshot latest") == "snapshot 2\n"
    assert "refunds" in shell.feed(".tables")
    assert "refunds" in shell.complete("SELECT * FROM re", 14)
    assert "7" in shell.feed("SELECT refund_id FROM refunds;")
    assert shell.feed(".snapshot 9").startswith("error: snapshot 9 does not exist")
    assert shell.feed(".snapshot x").startswith("error:")


def test_help_and_quit(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    help_text = shell.feed(".help")
    for command in (".tables", ".schema", ".format", ".timer", ".quit", "search("):
        assert command in help_text
    assert not shell.done
    shell.feed(".quit")
    assert shell.done


# --------------------------------------------------------------------------- completion


def test_completion_offers_relations_columns_functions_keywords_and_commands(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    line = "SELECT * FROM ord"
    assert shell.complete(line, len(line) - 3) == ["orders"]
    assert "chunks" in shell.complete("SELECT * FROM c", 14)
    assert shell.complete("SELECT * FROM hyb", 14) == ["hybrid_search("]
    assert shell.complete("SELECT * FROM keyword", 14) == ["keyword_search("]
    assert shell.complete("SELECT am", 7) == ["amount"]
    assert shell.complete("SELECT orders.ci", 7) == ["orders.city"]
    assert "o.city" in shell.complete("SELECT o.ci", 7)  # an alias: any column
    assert shell.complete("SEL", 0) == ["SELECT"]
    assert shell.complete("sel", 0) == ["select"]
    assert "doc_key" in shell.complete("SELECT doc_k", 7)  # chunks/documents columns
    assert shell.complete(".sch", 0) == [".schema"]
    assert shell.complete(".schema ref", 8) == ["refunds"]
    assert shell.complete(".format j", 8) == ["json", "jsonl"]
    assert shell.complete(".timer o", 7) == ["on", "off"]


def test_completion_knows_the_statement_so_far(two_snapshots):
    shell = Shell(two_snapshots, width=80)
    shell.feed("SELECT *")
    shell.feed("FROM")
    assert shell.complete("ord", 0) == ["orders"]  # FROM was on the previous line


# --------------------------------------------------------------------------- searching


def test_search_functions_and_explain_in_the_shell(sample_lake):
    shell = Shell(sample_lake, width=120)
    out = feed(
        shell,
        "SELECT c.doc_key, s.rank",
        "FROM search('keeping bees through winter', k => 2) s",
        "JOIN chunks c USING (chunk_id) ORDER BY s.rank;",
    )
    assert "beekeeping.txt" in out
    explained = shell.feed("EXPLAIN SELECT * FROM keyword_search('penalty', k => 3);")
    assert explained.startswith("search 1: keyword_search('penalty', k => 3)")
    assert "duckdb plan:\n" in explained and "┏" not in explained  # plain text, no table
    plain = shell.feed("EXPLAIN SELECT 1;")
    assert "explain_key" not in plain and "PROJECTION" in plain


# --------------------------------------------------------------------------- a terminal


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_on_a_terminal_the_shell_edits_completes_and_keeps_history(two_snapshots, tmp_path):
    """``docframe sql`` with no statement on a terminal: readline completes ``ord`` to
    ``orders`` (Tab), runs a two-line statement, and saves it as one history entry."""
    import pty
    import select
    import subprocess
    import time

    history = tmp_path / "history"
    env = {**os.environ, "DOCFRAME_HISTORY": str(history), "TERM": "xterm", "COLUMNS": "100"}
    env.pop("PYTHONSTARTUP", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "docframe.cli", "--lake", str(two_snapshots.root), "sql"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, timeout: float = 60.0) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {marker!r} in {seen.decode(errors='replace')!r}")
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 4096)
                except OSError:  # the child closed the terminal
                    break
        return seen

    try:
        read_until(b"docframe> ")
        os.write(leader, b"SELECT city FROM ord\t")
        read_until(b"orders")
        os.write(leader, b"\nWHERE amount > 3;\n")
        read_until(b"Oslo")
        os.write(leader, b".quit\n")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    text = seen.decode(errors="replace")
    assert "Lyon" not in text.split("WHERE amount > 3;")[-1]
    entries = Path(history).read_text().replace("\\040", " ").splitlines()  # libedit escapes
    assert "SELECT city FROM orders WHERE amount > 3;" in entries
