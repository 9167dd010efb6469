"""One small real lake for the agent-tool tests: the bundled sample corpus (text,
HTML, Markdown, a JSONL collection, a CSV table) plus a two-page PDF with known
text, ingested once per session. Tests that write use a copy."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE


def two_page_pdf(path: Path) -> Path:
    """A report whose first page mentions tiltmeters and whose second page covers lava."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), "Annual Report on Volcanoes", fontsize=22, fontname="hebo")
    page.insert_textbox(
        pymupdf.Rect(72, 130, 540, 200),
        "Magma chambers swell before an eruption; tiltmeters record the ground rising "
        "by centimetres.",
        fontsize=11,
    )
    second = doc.new_page()
    second.insert_textbox(
        pymupdf.Rect(72, 72, 540, 200),
        "Page two covers lava flows and evacuation plans for nearby towns.",
        fontsize=11,
    )
    doc.save(path)
    return path


@pytest.fixture(scope="session")
def mcp_lake(tmp_path_factory: pytest.TempPathFactory):
    """The read-only test lake (a ``Lake``; its model is loaded)."""
    import docframe

    root = tmp_path_factory.mktemp("mcp")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE, corpus)
    two_page_pdf(corpus / "report.pdf")
    lake = docframe.open(root / "lake")
    report = lake.ingest(corpus, jobs=1)
    assert report.ok, report.failures
    return lake


@pytest.fixture
def lake_copy(mcp_lake, tmp_path: Path) -> Path:
    """A private, writable copy of the test lake (indexes included)."""
    dest = tmp_path / "lake"
    shutil.copytree(mcp_lake.root, dest)
    return dest


def fingerprint(lake_root: Path) -> str:
    """What must not change when agents only read: the catalog's rows and the segment
    files (indexes are derived data a reader may build, so they are left out)."""
    import sqlite3

    digest = hashlib.sha256()
    con = sqlite3.connect(f"file:{lake_root / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        for table in (
            "snapshots",
            "segments",
            "segment_versions",
            "versions",
            "sources",
            "tables",
            "errors",
            "meta",
        ):
            for row in con.execute(f"SELECT * FROM {table} ORDER BY 1"):
                digest.update(repr(row).encode())
    finally:
        con.close()
    for path in sorted((lake_root / "segments").rglob("*")):
        stat = path.stat()
        digest.update(f"{path.relative_to(lake_root)} {stat.st_size} {stat.st_mtime_ns}".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())  # every byte, not just sizes
    return digest.hexdigest()
