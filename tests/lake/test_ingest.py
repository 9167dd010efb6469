"""Ingestion end to end on the real stack: files -> chunks -> embeddings -> lake -> search."""

import json
import os
from pathlib import Path

import pytest

import docframe
from docframe.errors import ModelMismatchError, NotALakeError
from tests.conftest import REPO

QUERIES = json.loads((REPO / "tests" / "fixtures" / "queries.json").read_text())


@pytest.mark.parametrize("case", QUERIES, ids=[q["query"][:40] for q in QUERIES])
def test_topic_queries_find_their_document(sample_lake, case):
    top = sample_lake.search(case["query"], k=3).to_list()
    assert Path(top[0]["source_uri"]).name == case["expected_source"]
    if case["expected_doc_key"]:
        assert top[0]["doc_key"] == case["expected_doc_key"]
    assert top[0]["score"] >= top[-1]["score"]


def test_search_rows_carry_provenance(sample_lake):
    hit = sample_lake.search("bees", k=1).to_list()[0]
    source = Path(hit["source_uri"])
    assert source.is_absolute() and source.exists()
    text = source.read_text()
    assert text[hit["char_start"] : hit["char_end"]] == hit["text"]


def test_sql_over_chunks_documents_sources(sample_lake):
    docs = sample_lake.sql("SELECT doc_key, n_chunks FROM documents ORDER BY doc_key").to_pandas()
    chunks = sample_lake.sql(
        "SELECT doc_key, count(*) AS n FROM chunks GROUP BY doc_key ORDER BY doc_key"
    ).to_pandas()
    assert list(docs.doc_key) == list(chunks.doc_key)
    assert list(docs.n_chunks) == list(chunks.n)
    assert {"a1", "a8", "sourdough.md", "volcanoes.html"} <= set(docs.doc_key)
    status = sample_lake.sql("SELECT DISTINCT status FROM sources").to_list()
    assert status == [{"status": "ok"}]
    dims = sample_lake.sql("SELECT DISTINCT len(embedding) AS d FROM chunks").to_list()
    assert dims == [{"d": 384}]
    meta = sample_lake.sql("SELECT value FROM duckdb_settings() LIMIT 1")  # plain DuckDB works
    assert len(meta) == 1


def test_the_sample_table_sits_beside_the_documents(sample_lake):
    late = sample_lake.sql(
        "SELECT count(*) AS n FROM shipments WHERE delivered_date > promised_date"
    ).to_list()[0]["n"]
    rows = (REPO / "examples" / "sample-corpus" / "shipments.csv").read_text().splitlines()[1:]
    assert late == sum(1 for r in rows if r.split(",")[5] > r.split(",")[4]) > 0
    types = (
        sample_lake.sql(
            "SELECT column_name, column_type FROM (DESCRIBE shipments) ORDER BY column_name"
        )
        .to_pandas()
        .set_index("column_name")
        .column_type.to_dict()
    )
    assert types["promised_date"] == "DATE" and types["freight_eur"] == "DOUBLE"
    assert types["weight_kg"] == "BIGINT"


def test_results_materialise_as_arrow_and_pandas(sample_lake):
    result = sample_lake.search("chess opening", k=2)
    assert result.to_arrow().num_rows == 2
    assert list(result.to_pandas().columns) == result.columns
    assert "Result(2 rows" in repr(result)


def _state(lake):
    return (
        lake.snapshot().snapshot_id,
        sorted(lake.sql("SELECT chunk_id FROM chunks").to_pandas().chunk_id),
    )


def test_reingest_unchanged_is_a_noop(corpus, lake_path):
    lake = docframe.open(lake_path)
    first = lake.ingest(corpus)
    assert first.count("ingested") == 6
    before = _state(lake)
    segments = sorted(os.listdir(lake_path / "segments"))
    again = lake.ingest(corpus)
    assert again.count("unchanged") == 6 and again.count("ingested") == 0
    assert _state(lake) == before
    assert sorted(os.listdir(lake_path / "segments")) == segments
    # touched but identical content: still a no-op
    os.utime(corpus / "beekeeping.txt", (1, 1))
    assert lake.ingest(corpus).count("unchanged") == 6
    assert _state(lake) == before


def test_changed_file_replaces_its_chunks_and_old_snapshot_stays_readable(corpus, lake_path):
    lake = docframe.open(lake_path)
    lake.ingest(corpus)
    old_snapshot = lake.snapshot().snapshot_id
    q = "SELECT text FROM chunks WHERE doc_key = 'beekeeping.txt' ORDER BY ordinal"
    old_text = lake.sql(q).to_pandas().text.tolist()
    (corpus / "beekeeping.txt").write_text("Queen bees and drones.\n\nA short new note on hives.\n")
    report = lake.ingest(corpus)
    assert report.count("ingested") == 1 and report.count("unchanged") == 5
    assert lake.sql(q).to_pandas().text.tolist() == [
        "Queen bees and drones.\n\nA short new note on hives."
    ]
    assert lake.sql(q, snapshot=old_snapshot).to_pandas().text.tolist() == old_text
    n_docs = lake.sql("SELECT count(*) AS n FROM documents WHERE doc_key='beekeeping.txt'")
    assert n_docs.to_list() == [{"n": 1}]
    assert lake.search("queen bees drones hives", k=1).to_list()[0]["doc_key"] == "beekeeping.txt"


def test_prune_removes_vanished_files_only_when_asked(corpus, lake_path):
    lake = docframe.open(lake_path)
    lake.ingest(corpus)
    (corpus / "volcanoes.html").unlink()
    kept = lake.ingest(corpus)
    assert kept.count("pruned") == 0
    assert (
        lake.sql("SELECT count(*) AS n FROM chunks WHERE doc_key='volcanoes.html'").to_list()[0][
            "n"
        ]
        > 0
    )
    pruned = lake.ingest(corpus, prune=True)
    assert [o.input for o in pruned.outcomes if o.status == "pruned"] == [
        str(corpus / "volcanoes.html")
    ]
    assert lake.sql(
        "SELECT count(*) AS n FROM chunks WHERE doc_key='volcanoes.html'"
    ).to_list() == [{"n": 0}]
    assert str(corpus / "volcanoes.html") not in lake.sources().to_pandas().source_uri.tolist()
    assert "volcanoes.html" not in {
        h["doc_key"] for h in lake.search("volcano eruption", k=5).to_list()
    }


def test_bad_files_are_recorded_and_the_batch_goes_on(corpus, lake_path):
    (corpus / "latin1.txt").write_bytes("caf\u00e9".encode("latin-1"))
    (corpus / "empty.md").write_text("")
    (corpus / "fake.html").write_bytes(b"\x00\x01\x02binary")
    (corpus / "image.png").write_bytes(b"\x89PNG")
    lake = docframe.open(lake_path)
    report = lake.ingest([str(corpus), str(corpus / "missing.txt")])
    assert not report.ok
    assert report.count("ingested") == 6  # 5 documents and shipments.csv
    assert report.count("unsupported") == 1  # found in a folder walk: reported, not failed
    failed = {Path(o.input).name: o.error for o in report.failures}
    assert set(failed) == {"latin1.txt", "empty.md", "fake.html", "missing.txt"}
    assert "no such file or directory" in failed["missing.txt"]
    errors = lake.sql(
        "SELECT source_uri, error FROM sources WHERE status = 'error' ORDER BY 1"
    ).to_list()
    assert {Path(r["source_uri"]).name for r in errors} == {"latin1.txt", "empty.md", "fake.html"}
    assert all(r["source_uri"] in r["error"] for r in errors)
    # a failing re-read of a good file keeps its last good chunks searchable
    (corpus / "beekeeping.txt").write_bytes(b"\xff\xfe broken now")
    report = lake.ingest(corpus / "beekeeping.txt")
    assert not report.ok
    row = lake.sql("SELECT status, n_chunks FROM sources WHERE source_uri LIKE '%beekeeping.txt'")
    assert row.to_list()[0]["status"] == "error" and row.to_list()[0]["n_chunks"] > 0
    assert lake.search("honeybee colony", k=1).to_list()[0]["doc_key"] == "beekeeping.txt"


def test_a_lake_refuses_a_different_model(lake_path, tmp_path):
    docframe.open(lake_path)
    with pytest.raises(ModelMismatchError, match="all-MiniLM-L6-v2"):
        docframe.open(lake_path, model=str(tmp_path))
    assert docframe.open(lake_path, model="all-MiniLM-L6-v2").model.endswith("all-MiniLM-L6-v2")


def test_foreign_directories_are_not_lakes(tmp_path):
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(NotALakeError, match="not empty and is not a docframe lake"):
        docframe.open(foreign)
    assert sorted(os.listdir(foreign)) == ["notes.txt"]
    with pytest.raises(NotALakeError, match="is a file"):
        docframe.open(foreign / "notes.txt")
    with pytest.raises(NotALakeError, match="no catalog.sqlite"):
        docframe.open(tmp_path / "nope", create=False)
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / "catalog.sqlite").write_text("this is not sqlite")
    with pytest.raises(NotALakeError, match="not a docframe catalog"):
        docframe.open(bogus)


def test_the_lake_is_not_ingested_into_itself(tmp_path):
    (tmp_path / "doc.txt").write_text("a note about lighthouses")
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(tmp_path)
    assert [Path(o.input).name for o in report.outcomes] == ["doc.txt"]
