"""A small real lake for query-layer tests: six BEIR-style documents whose answers are
known by construction (unique codes, one topic each)."""

from __future__ import annotations

import json

import pytest

import docframe

DOCS = [
    ("fw-e1234", "Firmware update", "Error E1234 means the firmware checksum failed."),
    ("fw-e5678", "Firmware rollback", "Error E5678 appears when rollback storage is full."),
    ("bake-1", "Sourdough", "Feed the sourdough starter flour and water every day."),
    ("bake-2", "Rye bread", "Rye bread needs a long, slow proof in a warm kitchen."),
    ("sea-1", "Tides", "The moon's pull raises the tides twice a day."),
    ("sea-2", "Reefs", "Coral reefs bleach when the water grows too warm."),
]


@pytest.fixture(scope="session")
def docs_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs-lake")
    src = root / "docs.jsonl"
    src.write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, t, x in DOCS)
    )
    lake = docframe.open(root / "lake")
    assert lake.ingest([src]).ok
    return lake
