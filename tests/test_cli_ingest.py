"""`docframe ingest` and symbolic links: links found in folders are skipped and reported
unless --follow-symlinks; links named on the command line are followed. Real lake, files
and links, through typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from docframe.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def linked(tmp_path: Path) -> dict[str, Path]:
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    (outside / "more").mkdir(parents=True)
    (data / "plain.txt").write_text("Plain notes about basalt columns.\n")
    (outside / "secret.txt").write_text("Linked notes about obsidian blades.\n")
    (outside / "more" / "deep.txt").write_text("Linked folder notes about pumice stones.\n")
    (data / "link.txt").symlink_to(outside / "secret.txt")
    (data / "folder").symlink_to(outside / "more")
    return {"data": data, "lake": tmp_path / "lake"}


def sources(lake: Path) -> set[str]:
    result = run("--lake", str(lake), "sources", "--format", "csv")
    return {Path(line.split(",")[0]).name for line in result.output.splitlines()[1:]}


def test_links_in_folders_are_skipped_and_reported(linked):
    result = run("--lake", str(linked["lake"]), "ingest", str(linked["data"]), "--no-progress")
    assert result.exit_code == 0, result.output  # a skipped link is not a failure
    assert "1 ingested, 2 skipped" in result.output
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 2
    assert all("symbolic link" in s and "--follow-symlinks" in s for s in skipped)
    assert sources(linked["lake"]) == {"plain.txt"}


def test_follow_symlinks_reads_linked_files_and_folders(linked):
    result = run("--lake", str(linked["lake"]), "ingest", str(linked["data"]),
                 "--follow-symlinks", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 ingested" in result.output and "skipped" not in result.output
    assert sources(linked["lake"]) == {"plain.txt", "link.txt", "deep.txt"}


def test_a_link_named_on_the_command_line_is_followed(linked):
    link = linked["data"] / "link.txt"
    result = run("--lake", str(linked["lake"]), "ingest", str(link), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "1 ingested" in result.output
    assert sources(linked["lake"]) == {"link.txt"}


def test_help_explains_the_flag():
    result = run("ingest", "--help")
    assert "--follow-symlinks" in result.output and "symbolic link" in result.output


def test_on_bad_rows_skip_keeps_a_collections_good_documents(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        '{"_id": "a", "text": "Granite is an igneous rock."}\n'
        "not json at all\n"
        '{"_id": "c", "text": "Basalt cools quickly from lava."}\n'
    )
    lake = str(tmp_path / "lake")
    failed = run("--lake", lake, "ingest", str(path), "--no-progress")
    assert failed.exit_code == 1
    assert f"failed {path}:2: invalid JSON (Expecting value at column 1)" in failed.output
    result = run("--lake", lake, "ingest", str(path), "--on-bad-rows", "skip", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "1 ingested" in result.output
    assert f"note {path}: skipped 1 bad record(s): line 2 (first: invalid JSON" in result.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deep.json", "[" * 10_000 + "]" * 10_000, "JSON nested deeper than 128 levels"),
        ("list.json", '["id", "int64"]', "expected a map of key = value, found a list"),
        ("deep.toml", "x = " + "[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ],
)
def test_a_bad_schema_file_is_one_line_naming_it(tmp_path, name, content, message):
    schema = tmp_path / name
    schema.write_text(content)
    (tmp_path / "t.csv").write_text("id\n1\n")
    result = run("--lake", str(tmp_path / "lake"), "ingest", str(tmp_path / "t.csv"),
                 "--schema-file", str(schema), "--no-progress")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"--schema-file {schema}: {message}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
