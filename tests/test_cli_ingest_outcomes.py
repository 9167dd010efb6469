"""What ``docframe ingest`` says about what it did not read: unsupported files named with
what would read them, pages that need OCR, and failures pointing at where their errors
are kept. Real lake, files and PDFs, through typer's runner (and once as a subprocess,
with Tesseract off the PATH)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docframe.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def lines_of(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


# -- unsupported files ------------------------------------------------------------------


def test_unsupported_files_are_named_with_what_would_read_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths print relative to the working directory
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("Notes about basalt columns.\n")
    (docs / "blob.bin").write_bytes(bytes(range(256)))
    (docs / "README").write_bytes(b"\x00\x01 no suffix")
    (docs / "report.docx").write_bytes(b"PK\x03\x04 not really")
    (docs / "plan.docx").write_bytes(b"PK\x03\x04 not really")
    (docs / "setup.rst").write_text("Title\n=====\n")
    result = run("--lake", str(tmp_path / "lake"), "ingest", str(docs), "--no-progress")
    assert result.exit_code == 0, result.output  # found in a folder: reported, not failed
    assert "1 ingested, 5 unsupported" in result.stdout
    found = lines_of(result.stderr, "unsupported: ")
    assert len(found) == 3, result.stderr  # one line per kind of advice, most files first
    assert found[-1].startswith("unsupported: 1 .rst (")
    office, unknown, text = sorted(found, key=lambda line: (".rst" in line, ".bin" in line))
    assert office.startswith("unsupported: 2 .docx (")
    assert "plan.docx" in office and "report.docx" in office and "as PDF" in office
    assert unknown.startswith("unsupported: 1 (no suffix), 1 .bin (")
    assert "README" in unknown and "blob.bin" in unknown
    assert "no connector reads this type" in unknown
    assert "setup.rst" in text and "rename it to .txt" in text


def test_many_unsupported_files_are_counted_and_some_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Granite is an igneous rock.\n")
    for i in range(12):
        (docs / f"sample{i:02}.bin").write_bytes(b"\x00" * 8)
    result = run("--lake", str(tmp_path / "lake"), "ingest", str(docs), "--no-progress")
    assert result.exit_code == 0, result.output
    (line,) = lines_of(result.stderr, "unsupported: ")
    assert line.startswith("unsupported: 12 .bin (")
    named = "docs/sample00.bin, docs/sample01.bin, docs/sample02.bin and 9 more"
    assert f"({named}; --dry-run lists each): no connector reads this type" in line
    listed = run("--lake", str(tmp_path / "lake"), "ingest", str(docs), "--dry-run")
    skipped = [ln for ln in listed.stdout.splitlines() if ".bin: unsupported" in ln]
    assert len(skipped) == 12 and all("no connector reads this type" in ln for ln in skipped)


def test_an_unsupported_file_named_explicitly_fails_with_the_same_advice(tmp_path):
    path = tmp_path / "deck.pptx"
    path.write_bytes(b"PK\x03\x04")
    result = run("--lake", str(tmp_path / "lake"), "ingest", str(path), "--no-progress")
    assert result.exit_code == 1
    (failed,) = lines_of(result.stderr, "failed ")
    assert f"{path}: no connector for file type '.pptx'" in failed and "as PDF" in failed


# -- where a failure's details are --------------------------------------------------------


def details_hint_holds(output: str, lake: Path, inputs: list[str]) -> None:
    """Every ``details: COMMAND`` hint the ingest printed, run: it must list ``inputs``."""
    for line in output.splitlines():
        if "docframe sources" in line:
            command = shlex.split(line.split(": ", 1)[1].split("docframe ", 1)[1])
            listed = run("--lake", str(lake), *command, "--format", "json")
            uris = {r["source_uri"] for r in json.loads(listed.stdout)}
            assert all(uri in uris for uri in inputs), (line, uris)


def test_a_missing_path_is_named_and_no_hint_points_at_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lake = tmp_path / "lake"
    result = run("--lake", str(lake), "ingest", "missing.pdf", "--no-progress")
    assert result.exit_code == 1
    assert "failed missing.pdf: no such file or directory" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("1 input(s) failed, each named above")
    assert "docframe sources" not in result.stderr  # it is not a source: sources shows nothing
    assert run("--lake", str(lake), "sources", "--status", "error", "-f", "json").stdout == "[]\n"


def test_failed_files_point_at_sources_which_lists_them(tmp_path):
    lake = tmp_path / "lake"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01 binary behind a text suffix")
    result = run("--lake", str(lake), "ingest", str(bad), "--no-progress")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "1 input(s) failed; details: docframe sources --status error"
    )
    details_hint_holds(result.stderr, lake, [str(bad)])


def test_mixed_failures_say_which_are_kept(tmp_path):
    lake = tmp_path / "lake"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01")
    result = run(
        "--lake", str(lake), "ingest", str(bad), str(tmp_path / "gone.txt"), "--no-progress"
    )
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert last == (
        "2 input(s) failed, each named above; the 1 file(s) among them are also in: "
        "docframe sources --status error"
    )
    details_hint_holds(last, lake, [str(bad)])


# -- pages that need OCR ------------------------------------------------------------------


def scanned_pdf(path: Path, lines: list[str]) -> Path:
    """A two-page PDF whose pages are pictures of ``lines`` (no text layer): a scan."""
    import pymupdf

    doc = pymupdf.open()
    for number in (1, 2):
        src = pymupdf.open()
        page = src.new_page(width=612, height=792)
        for i, line in enumerate(lines):
            page.insert_text((72, 100 + 30 * i), f"{line} (page {number})", fontsize=16)
        scan = doc.new_page(width=612, height=792)
        scan.insert_image(scan.rect, pixmap=page.get_pixmap(dpi=200))
    doc.save(path)
    return path


SCAN_LINES = ["Volcanic eruptions follow seismic swarms.", "Invoice 4711 was paid in March."]


def ocr_available() -> bool:
    from docframe.connectors.ocr import available

    return available("eng")


def test_scanned_pages_without_ocr_are_said_counted_and_read_once_ocr_runs(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    scan = scanned_pdf(docs / "scan.pdf", SCAN_LINES)
    (docs / "notes.txt").write_text("Notes about basalt columns.\n")
    lake = str(tmp_path / "lake")
    off = run("--lake", lake, "ingest", str(docs), "--ocr", "off", "--no-progress")
    assert off.exit_code == 0, off.output  # a warning, not a failure
    assert "2 ingested, 1 need OCR; 1 new chunk(s)" in off.stdout
    (note,) = lines_of(off.stderr, f"note {scan}: ")
    assert "needs OCR: pages 1-2 have no text layer and were not read (OCR is off)" in note
    assert "they are read again once OCR can run" in note
    warning = off.stderr.splitlines().index(
        "warning: 1 file(s) have pages that need OCR (noted above)"
    )
    assert off.stderr.splitlines()[warning + 1].startswith("help: ")
    assert "--ocr off" in off.stderr.splitlines()[warning + 1]
    kept = json.loads(run("--lake", lake, "sources", "-f", "json").stdout)
    assert [r["error"] for r in kept if r["source_uri"] == str(scan)] == [note.split(": ", 1)[1]]

    again = run("--lake", lake, "ingest", str(docs), "--ocr", "off", "--no-progress")
    assert "2 unchanged" in again.stdout  # OCR still off: nothing to read again
    if not ocr_available():
        pytest.skip("Tesseract with English data is not installed: the re-read is not checked")
    planned = run("--lake", lake, "ingest", str(docs), "--dry-run")
    assert f"ingest {scan}: pages that needed OCR: it can run now" in planned.stdout
    read = run("--lake", lake, "ingest", str(docs), "--no-progress")
    assert read.exit_code == 0, read.output
    assert "1 ingested, 1 unchanged;" in read.stdout and "need OCR" not in read.output
    hits = run("--lake", lake, "search", "invoice paid in March", "--mode", "keyword", "-f", "json")
    assert any(h["source_uri"] == str(scan) for h in json.loads(hits.stdout))
    last = run("--lake", lake, "ingest", str(docs), "--no-progress")
    assert "2 unchanged" in last.stdout  # read once: its note no longer asks for OCR


def test_without_tesseract_on_the_path_the_help_says_to_install_it(tmp_path):
    """As a user without Tesseract meets it: a real process whose PATH has no tesseract."""
    scan = scanned_pdf(tmp_path / "scan.pdf", SCAN_LINES)
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    assert shutil.which("tesseract", path=env["PATH"]) is None
    out = subprocess.run(
        [sys.executable, "-m", "docframe.cli", "--lake", str(tmp_path / "lake"), "ingest",
         str(scan), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "1 ingested, 1 need OCR; 0 new chunk(s)" in out.stdout
    assert "(tesseract is not installed (not on PATH)); they are read again" in out.stderr
    assert "help: install Tesseract (make ocr; Debian/Ubuntu: apt-get install" in out.stderr
