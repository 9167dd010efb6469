"""The ingest job with hostile JSON: each bad file is one clear failed outcome naming it
and the batch goes on; --on-bad-rows skip keeps a document collection's good lines and
records the skipped ones. A real lake, the packaged model, real files."""

from __future__ import annotations

from pathlib import Path

import docframe
from docframe.connectors.jsonread import MAX_DEPTH

DEEP = 10_000


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_json_fails_by_name_and_the_batch_goes_on(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.txt").write_text("Ordinary notes about sandstone.\n")
    (data / "table.json").write_text('[{"id": 1, "x": ' + _deep(DEEP) + "}]")
    (data / "rows.jsonl").write_text('{"id": 1}\n{"id": 2, "x": ' + _deep(DEEP) + "}\n")
    (data / "first.jsonl").write_text('{"_id": "1", "text": "t", "m": ' + _deep(DEEP) + "}\n")
    (data / "docs.jsonl").write_text(
        '{"_id": "1", "text": "fine"}\n{"_id": "2", "text": "t", "m": ' + _deep(DEEP) + "}\n"
    )
    report = docframe.open(tmp_path / "lake").ingest(data, jobs=1)
    outcomes = {Path(o.input).name: o for o in report.outcomes}
    assert outcomes["good.txt"].status == "ingested"
    expected = {"table.json": "line 1", "rows.jsonl": "line 2", "first.jsonl": "line 1",
                "docs.jsonl": "docs.jsonl:2"}  # fmt: skip
    for name, where in expected.items():
        error = outcomes[name].error
        assert outcomes[name].status == "failed" and name in error and where in error
        assert f"nested deeper than {MAX_DEPTH} levels" in error
        assert "RecursionError" not in error and "\n" not in error


def test_skip_keeps_a_collections_good_documents_and_records_the_bad_lines(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        '{"_id": "a", "text": "Granite is an igneous rock."}\n'
        '{"_id": "b", "text": "broken\n'
        '{"_id": "c", "text": "Basalt cools quickly from lava."}\n'
    )
    lake = docframe.open(tmp_path / "lake")
    failed = lake.ingest(path)  # the default: one bad line fails the file, naming the line
    (outcome,) = failed.outcomes
    assert outcome.status == "failed" and f"{path}:2: invalid JSON" in outcome.error
    assert "--on-bad-rows skip" in outcome.error

    report = lake.ingest(path, on_bad_rows="skip")
    (outcome,) = report.outcomes
    assert outcome.status == "ingested" and outcome.n_documents == 2
    assert outcome.notes == [
        "skipped 1 bad record(s): line 2 (first: invalid JSON (Invalid control character "
        "at column 29))"
    ]
    keys = lake.sql("SELECT doc_key FROM documents ORDER BY 1").to_list()
    assert [r["doc_key"] for r in keys] == ["a", "c"]
    (source,) = lake.sources().to_list()
    assert source["status"] == "ok" and source["error"] == outcome.notes[0]
