"""``--format`` is one list for every command that prints results: table, csv, json,
jsonl and parquet (with ``--output``), as ``docframe sql`` has it. Real sample lake,
through typer's runner."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from docframe.cli import app
from docframe.cli.output import Format
from docframe.shell.output import FORMATS

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def lake(sample_lake) -> str:
    return str(sample_lake.root)


# every command with --format, and the arguments it needs
COMMANDS = {
    "search": ["search", "beekeeping in winter", "-k", "2"],
    "sql": ["sql", "SELECT doc_key FROM documents ORDER BY 1 LIMIT 2"],
    "sources": ["sources"],
    "tables": ["tables"],
    "describe": ["describe", "documents"],
    "index check": ["index", "check", "--n", "5", "-k", "2"],
}


def test_the_format_list_has_one_home():
    assert tuple(Format) == FORMATS == ("table", "csv", "json", "jsonl", "parquet")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_jsonl_is_one_object_a_line_everywhere(lake, command):
    result = run("--lake", lake, *COMMANDS[command], "--format", "jsonl")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines), result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_csv_and_json_everywhere(lake, command):
    as_csv = run("--lake", lake, *COMMANDS[command], "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    header, *rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert header and rows
    as_json = run("--lake", lake, *COMMANDS[command], "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_parquet_needs_output_everywhere(lake, command, tmp_path):
    refused = run("--lake", lake, *COMMANDS[command], "--format", "parquet")
    assert refused.exit_code == 2
    assert "--format parquet needs --output" in refused.stderr
    assert "help: " in refused.stderr
    target = tmp_path / "out.parquet"
    done = run("--lake", lake, *COMMANDS[command], "--format", "parquet", "--output", str(target))
    assert done.exit_code == 0, done.output
    assert pq.read_table(target).num_rows >= 1
    assert "wrote " in done.stderr and done.stdout == ""


def test_search_jsonl_holds_the_hits_of_json(lake):
    args = ("--lake", lake, "search", "beekeeping in winter", "-k", "3")
    lines = run(*args, "--format", "jsonl").stdout.splitlines()
    hits = json.loads(run(*args, "--format", "json").stdout)
    assert [json.loads(line) for line in lines] == hits
    assert [h["rank"] for h in hits] == [1, 2, 3]


def test_search_output_file_and_the_table_format_refused_there(lake, tmp_path):
    target = tmp_path / "hits.csv"
    done = run("--lake", lake, "search", "volcano", "-k", "2", "--format", "csv", "-o", str(target))
    assert done.exit_code == 0 and done.stdout == ""
    assert len(list(csv.DictReader(io.StringIO(target.read_text())))) == 2
    table = run("--lake", lake, "search", "volcano", "--output", str(tmp_path / "t.txt"))
    assert table.exit_code == 2 and "table format is for the terminal" in table.stderr
