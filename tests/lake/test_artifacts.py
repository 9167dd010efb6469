"""Derived files beside a document's rows (a video's thumbnails): written whole, named by
their lake path, and removed by gc only when no snapshot holds their document."""

from __future__ import annotations

import shutil

import docframe
from docframe.lake.artifacts import ARTIFACTS_DIR, write_artifacts
from tests.conftest import SAMPLE


def test_artifacts_are_written_under_the_document_and_named_by_lake_path(tmp_path):
    paths = write_artifacts(
        tmp_path, "doc123", {"frame-0001.jpg": b"\xff\xd8jpeg", "x/../e.jpg": b"e"}
    )
    assert paths == {"frame-0001.jpg": f"{ARTIFACTS_DIR}/doc123/frame-0001.jpg",
                     "x/../e.jpg": f"{ARTIFACTS_DIR}/doc123/e.jpg"}  # fmt: skip
    assert (tmp_path / paths["frame-0001.jpg"]).read_bytes() == b"\xff\xd8jpeg"
    assert sorted(p.name for p in (tmp_path / ARTIFACTS_DIR / "doc123").iterdir()) == [
        "e.jpg",
        "frame-0001.jpg",
    ]  # no temporary files left, nothing outside the document's folder


def test_gc_removes_only_artifacts_of_documents_no_snapshot_holds(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    lake = docframe.open(tmp_path / "lake")
    lake.ingest(corpus / "volcanoes.html")
    (doc_id,) = [r["doc_id"] for r in lake.sql("SELECT doc_id FROM documents").to_list()]
    write_artifacts(lake.root, doc_id, {"a.jpg": b"kept"})
    write_artifacts(lake.root, "orphan-from-a-crash", {"b.jpg": b"gone"})
    report = lake.gc()
    assert report.artifacts == ["orphan-from-a-crash"]
    assert (lake.root / ARTIFACTS_DIR / doc_id / "a.jpg").read_bytes() == b"kept"
    assert not (lake.root / ARTIFACTS_DIR / "orphan-from-a-crash").exists()
