"""A lake of real text vectors for the index tests that measure recall: a slice of the
SciFact BEIR collection (../shared/corpus, beside the repository in CI), embedded once
per session with the packaged model. Synthetic vectors (the contract suite's Gaussian
mixtures) say little about how an approximate index does on sentence embeddings."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_CORPUS

SCIFACT = SHARED_CORPUS / "retrieval" / "scifact"
SCIFACT_DOCS = 300  # ~700 chunks


def scifact_queries(n: int) -> list[str]:
    """The first ``n`` SciFact questions (real questions, not chunk midpoints)."""
    lines = (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:n]]


@pytest.fixture(scope="session")
def scifact_lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of the first ``SCIFACT_DOCS`` SciFact abstracts; copy it before writing."""
    if not (SCIFACT / "corpus.jsonl.gz").exists():
        pytest.skip(f"SciFact not found at {SCIFACT} (the shared corpus sits beside the repo)")
    import docframe

    root = tmp_path_factory.mktemp("scifact")
    subset = root / "scifact.jsonl"
    with (
        gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh,
        subset.open("w") as out,
    ):
        for i, line in enumerate(fh):
            if i == SCIFACT_DOCS:
                break
            out.write(line)
    lake = docframe.open(root / "lake")
    report = lake.ingest(subset)
    assert report.ok, report.failures
    return root / "lake"
