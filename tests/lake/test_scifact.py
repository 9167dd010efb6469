"""Retrieval on real data: a slice of the SciFact BEIR collection from ../shared/corpus."""

from __future__ import annotations

import gzip
import json

import pytest

import docframe
from tests.conftest import SHARED_CORPUS

SCIFACT = SHARED_CORPUS / "retrieval" / "scifact"
N_DOCS = 150

pytestmark = pytest.mark.skipif(
    not (SCIFACT / "corpus.jsonl.gz").exists(),
    reason=f"SciFact not found at {SCIFACT} (the shared corpus sits beside the repo in CI)",
)


def test_scifact_slice_recall_at_10(tmp_path):
    lines = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt") as fh:
        for line in fh:
            lines.append(line)
            if len(lines) == N_DOCS:
                break
    subset = tmp_path / "scifact.jsonl"
    subset.write_text("".join(lines))
    doc_ids = {json.loads(line)["_id"] for line in lines}
    relevant: dict[str, set[str]] = {}
    for row in (SCIFACT / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        qid, doc, score = row.split("\t")
        if doc in doc_ids and int(score) > 0:
            relevant.setdefault(qid, set()).add(doc)
    queries = {
        q["_id"]: q["text"]
        for q in map(json.loads, (SCIFACT / "queries.jsonl").read_text().splitlines())
        if q["_id"] in relevant
    }
    assert len(queries) >= 20

    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(subset)
    assert report.ok and report.outcomes[0].n_documents == N_DOCS
    hits = 0
    for qid, text in queries.items():
        found = {h["doc_key"] for h in lake.search(text, k=10).to_list()}
        hits += bool(found & relevant[qid])
    # all-MiniLM-L6-v2 scores nDCG@10 ~0.65 on the full 5k-doc SciFact; a 150-doc slice is easier
    assert hits / len(queries) >= 0.75, f"recall@10 {hits}/{len(queries)}"
