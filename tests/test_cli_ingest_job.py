"""Ingest jobs through the CLI: `docframe run JOB.toml` for an [ingest] file, --dry-run
on `run` and `ingest`, and the `ingest` flags as the quick form of the same spec (the
same lake, chunk for chunk). Real lakes, files, PDFs and model, through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from docframe.cli import app
from docframe.pipelines.ingest_spec import SECTIONS
from tests.lake.test_pdf_ingest import make_pdf

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def sql(lake: Path, query: str) -> list[dict]:
    result = run("--lake", str(lake), "sql", query, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A job folder: docs/ (notes, a draft, a temp file) and nightly.toml naming it."""
    docs = tmp_path / "docs"
    (docs / "drafts").mkdir(parents=True)
    (docs / "granite.txt").write_text("Granite is an igneous rock that cools slowly.\n")
    (docs / "basalt.md").write_text("# Basalt\n\nBasalt cools quickly from lava flows.\n")
    (docs / "drafts" / "slate.txt").write_text("Slate is a metamorphic rock (draft).\n")
    (docs / "notes.tmp").write_text("scratch")
    (tmp_path / "nightly.toml").write_text(
        '[ingest]\nname = "nightly"\nsources = ["docs"]\nexclude = ["drafts/**", "*.tmp"]\n'
        "prune = true\n"
    )
    return tmp_path


def test_run_an_ingest_job_then_again_commits_nothing(project):
    lake, job = project / "lake", str(project / "nightly.toml")
    first = run("--lake", str(lake), "run", job)
    assert first.exit_code == 0, first.output
    assert "nightly: snapshot 1: 2 ingested" in first.stdout
    again = run("--lake", str(lake), "run", job)
    assert again.exit_code == 0, again.output
    assert "nightly: snapshot 1: 2 unchanged; 0 new chunk(s)" in again.stdout
    rows = sql(lake, "SELECT source_uri FROM sources ORDER BY 1")
    assert [r["source_uri"] for r in rows] == [
        str(project / "docs" / "basalt.md"),  # relative to the job file, not the cwd
        str(project / "docs" / "granite.txt"),
    ]
    assert sql(lake, "SELECT max(snapshot_id) AS s FROM snapshots") == [{"s": 1}]


def test_dry_run_of_a_job_lists_the_plan_and_creates_no_lake(project):
    lake = project / "lake"
    result = run("--lake", str(lake), "run", str(project / "nightly.toml"), "--dry-run")
    assert result.exit_code == 0, result.output
    docs = project / "docs"
    assert result.stdout.splitlines() == [
        f"a new lake would be created at {lake}",
        f"ingest {docs / 'basalt.md'}: new",
        f"ingest {docs / 'granite.txt'}: new",
        f"skip   {docs / 'drafts' / 'slate.txt'}: excluded by pattern 'drafts/**'",
        f"skip   {docs / 'notes.tmp'}: excluded by pattern '*.tmp'",
        "nightly: dry run: 2 to ingest (2 new), 2 to skip; nothing written",
    ]
    assert not lake.exists()


def test_ingest_dry_run_flags_list_changes_and_prunes(project):
    lake, docs = project / "lake", project / "docs"
    assert run("--lake", str(lake), "ingest", str(docs), "--no-progress").exit_code == 0
    (docs / "granite.txt").write_text("Granite holds quartz, feldspar and mica.\n")
    (docs / "basalt.md").unlink()
    catalog = (lake / "catalog.sqlite").read_bytes()
    result = run("--lake", str(lake), "ingest", str(docs), "--dry-run", "--prune",
                 "--exclude", "*.tmp")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"ingest {docs / 'granite.txt'}: changed" in result.stdout
    assert f"skip   {docs / 'drafts' / 'slate.txt'}: unchanged" in result.stdout
    assert f"prune  {docs / 'basalt.md'}: no longer exists" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "dry run: 1 to ingest (1 to update), 2 to skip, 1 to prune; nothing written"
    )
    assert (lake / "catalog.sqlite").read_bytes() == catalog


def test_a_bad_job_is_one_line_naming_the_file_and_key(project):
    job = project / "bad.toml"
    job.write_text('[ingest]\nsources = ["docs"]\n[ingest.pdf]\nocr_langs = "eng"\n')
    result = run("--lake", str(project / "lake"), "run", str(job))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {job}: unknown key 'ocr_langs' in [ingest.pdf]; did you mean 'ocr_lang'?",
        "help: valid keys: password, passwords_file, ocr, ocr_lang, tables, timeout, memory_mb",
    ]
    assert not (project / "lake").exists()


def test_run_refuses_what_does_not_apply_to_the_jobs_kind(project):
    table_job = str(REPO / "examples" / "jobs" / "delays_by_carrier.toml")
    dry = run("--lake", str(project / "lake"), "run", table_job, "--dry-run")
    assert dry.exit_code == 2
    assert "--dry-run lists the files of an ingest job; this is a table job" in dry.stderr
    job = str(project / "nightly.toml")
    sized = run("--lake", str(project / "lake"), "run", job, "--partition-size", "64MiB")
    assert sized.exit_code == 2 and "--partition-size applies to table jobs" in sized.stderr


def test_workers_on_the_command_line_replace_the_jobs_choice(project):
    job = project / "nightly.toml"
    job.write_text(job.read_text() + 'scheduler = "tcp://127.0.0.1:8786"\n')
    lake = str(project / "lake")
    both = run("--lake", lake, "run", str(job), "--workers", "2", "--scheduler", "tcp://x:1")
    assert both.exit_code == 2 and "give workers or scheduler, not both" in both.stderr
    planned = run("--lake", lake, "run", str(job), "--workers", "2", "--dry-run")
    assert planned.exit_code == 0 and "2 to ingest" in planned.stdout
    now = run("--lake", lake, "run", str(job), "--workers", "2")  # not the spec's scheduler
    assert now.exit_code == 0 and "2 ingested" in now.stdout


def test_flags_and_a_job_file_build_identical_lakes(tmp_path):
    """The same ingest as flags (and a setting from the environment) and as a job file
    (its chunking table): the same sources, chunk ids and tables."""
    import pymupdf

    docs = tmp_path / "docs"
    (docs / "drafts").mkdir(parents=True)
    make_pdf(tmp_path / "plain.pdf")
    with pymupdf.open(tmp_path / "plain.pdf") as pdf:
        pdf.save(docs / "locked.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256,
                 owner_pw="owner", user_pw="open-sesame")  # fmt: skip
    (docs / "notes.md").write_text(
        "# Harbour notes\n\n" + " ".join(f"Crane {i} moved {i * 7} boxes." for i in range(90))
    )
    (docs / "rates.csv").write_text("id;rate;region\n1;0.5;north\n2;0.75;south\n")
    (docs / "drafts" / "todo.txt").write_text("not for the lake")
    (tmp_path / "pw.toml").write_text('"locked.pdf" = "open-sesame"\n')
    (tmp_path / "types.toml").write_text('rate = "float32"\n')
    (tmp_path / "job.toml").write_text(
        '[ingest]\nsources = ["docs"]\nexclude = ["drafts"]\n'
        "[ingest.chunking]\ntokens = 96\n"
        '[ingest.pdf]\npasswords_file = "pw.toml"\nocr = "off"\n'
        '[ingest.tables]\ndelimiter = ";"\nschema_file = "types.toml"\nschema = { id = "int32" }\n'
    )
    flags = run(
        "--lake", str(tmp_path / "by-flags"), "ingest", str(docs), "--exclude", "drafts",
        "--pdf-passwords", str(tmp_path / "pw.toml"), "--ocr", "off", "--delimiter", ";",
        "--schema-file", str(tmp_path / "types.toml"), "--schema", "id=int32", "--no-progress",
        env={"DOCFRAME_CHUNK_TOKENS": "96"},
    )  # fmt: skip
    assert flags.exit_code == 0, flags.output
    spec = run("--lake", str(tmp_path / "by-spec"), "run", str(tmp_path / "job.toml"))
    assert spec.exit_code == 0, spec.output
    assert "3 ingested" in flags.stdout and "3 ingested" in spec.stdout

    queries = (
        "SELECT source_uri, status, content_hash FROM sources ORDER BY 1",
        "SELECT chunk_id, n_tokens FROM chunks ORDER BY 1",
        "SELECT name, n_rows, columns FROM tables ORDER BY 1",
    )
    for query in queries:
        a, b = sql(tmp_path / "by-flags", query), sql(tmp_path / "by-spec", query)
        assert a == b and a, query
    chunks = sql(tmp_path / "by-spec", "SELECT max(n_tokens) AS n FROM chunks")
    assert chunks[0]["n"] <= 96  # the job's chunk size was used
    rates = sql(tmp_path / "by-spec", "SELECT columns FROM tables WHERE name = 'rates'")
    assert rates == [{"columns": "id int32, rate float, region string"}]


def test_every_ingest_flag_is_a_job_key():
    """The flags and the job file are two forms of one thing: each `docframe ingest`
    option has its key (README: Ingest jobs), and each key's flag exists."""
    command = typer.main.get_command(app).commands["ingest"]
    flags = {opt for p in command.params for opt in [*p.opts, *p.secondary_opts]}
    flags -= {"--progress", "--no-progress", "--dry-run", "--report"}  # not what it reads
    mirrored = {
        flag
        for keys in SECTIONS.values()
        for key in keys.values()
        for flag in key.mirrors.split()[0].split("/")
    }
    assert {f for f in flags if f.startswith("--")} <= mirrored
    assert {m for m in mirrored if m.startswith("--")} <= flags


def test_the_example_ingest_job_plans_and_ingests_the_sample_corpus(tmp_path):
    job = str(REPO / "examples" / "jobs" / "ingest_docs.toml")
    lake = str(tmp_path / "lake")
    plan = run("--lake", lake, "run", job, "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert plan.stdout.splitlines()[-1] == (
        "sample-docs: dry run: 6 to ingest (6 new); nothing written"
    )
    done = run("--lake", lake, "run", job)
    assert done.exit_code == 0, done.output
    assert "sample-docs: snapshot 1: 6 ingested" in done.stdout
    assert str(REPO / "examples" / "sample-corpus" / "sourdough.md") in {
        r["source_uri"] for r in sql(tmp_path / "lake", "SELECT source_uri FROM sources")
    }
