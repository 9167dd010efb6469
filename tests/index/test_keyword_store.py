"""The keyword index of a real lake: numbers are searchable, a stale index is rebuilt,
and hybrid search fuses chunks by document (the view maps chunks to documents)."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

import docframe
from docframe.errors import DocframeWarning
from docframe.index import keyword_store
from docframe.index.keyword import TWO_CHAR_PATTERN, KeywordIndex

# Ten dosing notes that differ only in their number, plus two long multi-chunk papers
# (without digits).
GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omicron".split()
DOSES = [(f"dose-{n}", f"Dose {n}", f"Give {n} tablets of aspirin after meals.") for n in range(10)]
LONG = [
    (
        "paper-a",
        "Coral reefs",
        " ".join(f"Sentence {g} says coral reefs bleach when warm water stays." for g in GREEK),
    ),
    (
        "paper-b",
        "Tides",
        " ".join(f"Sentence {g} says the moon raises the tides twice daily." for g in GREEK),
    ),
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("kw-lake")
    src = root / "docs.jsonl"
    src.write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, t, x in DOSES + LONG)
    )
    lake = docframe.open(root / "lake", chunk_tokens=32, chunk_overlap=4)
    assert lake.ingest([src]).ok
    return lake


def keys(result) -> list[str]:
    return [r["doc_key"] for r in result.to_list()]


def test_a_number_finds_the_chunk_holding_it(lake):
    assert keys(lake.search("5", 3, mode="keyword")) == ["dose-5"]
    assert keys(lake.search("5 tablets", 1, mode="keyword")) == ["dose-5"]


def test_filtered_keyword_search_for_numbers_is_not_short(lake):
    where = "doc_key LIKE 'dose-%'"
    result = lake.search("tablets 3 7", 5, mode="keyword", where=where)
    found = keys(result)
    assert len(found) == 5 and not result.info["exhausted"]
    assert set(found[:2]) == {"dose-3", "dose-7"}  # the two holding a number asked for


def test_an_index_built_with_the_old_analyzer_is_rebuilt(lake):
    snapshot = lake.snapshot()
    view = keyword_store.ensure_keyword_index(lake.store, snapshot)
    directory = keyword_store.keyword_dir(lake.root, snapshot.snapshot_id)
    assert (directory / keyword_store.MANIFEST).exists()
    # Save in its place what an older docframe built: the two-character analyzer.
    old = KeywordIndex(token_pattern=TWO_CHAR_PATTERN)
    texts = [f"{t}\n{x}" for _, t, x in DOSES + LONG]  # any texts: only the params matter
    old.build(texts[: len(view.chunk_ids)], list(range(min(len(texts), len(view.chunk_ids)))))
    stale = keyword_store.KeywordView(old, view.chunk_ids[: len(old)], view.doc_ids[: len(old)],
                                      snapshot.snapshot_id)  # fmt: skip
    keyword_store._save(stale, directory, snapshot.committed_at())
    saved = json.loads((directory / keyword_store.MANIFEST).read_text())
    assert saved["params"]["token_pattern"] == TWO_CHAR_PATTERN
    keyword_store._VIEWS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stale is not damage: no warning, just a rebuild
        assert keys(lake.search("5", 3, mode="keyword")) == ["dose-5"]
    saved = json.loads((directory / keyword_store.MANIFEST).read_text())
    assert saved["params"] == KeywordIndex().params
    assert saved["count"] == len(view.chunk_ids)


def test_an_index_of_an_older_format_is_rebuilt(lake):
    snapshot = lake.snapshot()
    keyword_store.ensure_keyword_index(lake.store, snapshot)
    manifest = keyword_store.keyword_dir(lake.root, snapshot.snapshot_id) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 1
    manifest.write_text(json.dumps(data))
    keyword_store._VIEWS.clear()
    view = keyword_store.ensure_keyword_index(lake.store, snapshot)
    assert json.loads(manifest.read_text())["format_version"] == keyword_store.FORMAT_VERSION
    assert len(view.doc_ids) == len(view.chunk_ids)


def test_the_view_maps_chunks_to_their_documents(lake):
    view = keyword_store.ensure_keyword_index(lake.store, lake.snapshot())
    rows = lake.sql("SELECT chunk_id, doc_id FROM chunks").to_list()
    truth = {r["chunk_id"]: r["doc_id"] for r in rows}
    assert view.documents_of([*truth, "no-such-chunk"]) == truth


def test_fusing_a_real_hybrid_by_document_groups_its_chunks(lake):
    from docframe.query.fusion import rrf

    rows = lake.sql("SELECT doc_key, count(*) AS n FROM chunks GROUP BY doc_key").to_list()
    chunks = {r["doc_key"]: r["n"] for r in rows}
    assert chunks["paper-a"] > 1 and chunks["paper-b"] > 1  # long papers are split
    q = "coral reefs bleach in warm water"
    lists = [
        [r["chunk_id"] for r in lake.search(q, 20, mode=mode).to_list()]
        for mode in ("dense", "keyword")
    ]
    view = keyword_store.ensure_keyword_index(lake.store, lake.snapshot())
    groups = view.documents_of({c for r in lists for c in r})
    fused = rrf(lists, groups=groups)
    docs = [groups[c] for c, _ in fused]
    # every chunk carries its document's fused score, and a document's chunks are adjacent
    for doc in set(docs):
        first, n = docs.index(doc), docs.count(doc)
        assert docs[first : first + n] == [doc] * n
        assert len({s for c, s in fused if groups[c] == doc}) == 1
    key_of = {
        r["chunk_id"]: r["doc_key"]
        for r in lake.sql("SELECT chunk_id, doc_key FROM chunks").to_list()
    }
    assert key_of[fused[0][0]] == "paper-a"


def test_an_index_saved_in_the_old_layout_is_rebuilt_in_the_compact_one(lake, tmp_path):
    # What docframe wrote before: bm25s' raw .npy files, ids.npy and rows.parquet,
    # store format 2. It must never fail a search: it is rebuilt, quietly, compactly.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from docframe.index.store import _digests

    snapshot = lake.snapshot()
    view = keyword_store.ensure_keyword_index(lake.store, snapshot)
    directory = keyword_store.keyword_dir(lake.root, snapshot.snapshot_id)
    want = keys(lake.search("aspirin 5", 3, mode="keyword"))
    old = tmp_path / "old"
    (old / "bm25").mkdir(parents=True)
    index = view.index
    np.save(old / "bm25" / "ids.npy", index._ids, allow_pickle=False)
    index._bm25.save(old / "bm25" / "bm25s", show_progress=False)
    inner = {"kind": "bm25", "count": len(index), "format_version": 1,
             "params": index.params, "has_terms": True}  # fmt: skip
    (old / "bm25" / "index.json").write_text(json.dumps(inner))
    rows = {"chunk_id": pa.array(view.chunk_ids, pa.string()),
            "doc_id": pa.array(view.doc_ids, pa.string())}  # fmt: skip
    pq.write_table(pa.table(rows), old / "rows.parquet")
    manifest = {"format_version": 2, "snapshot_id": snapshot.snapshot_id,
                "snapshot_created_at": snapshot.committed_at(), "count": len(view.chunk_ids),
                "params": index.params, "files": _digests(old)}  # fmt: skip
    (old / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(directory)
    shutil.copytree(old, directory)
    keyword_store._VIEWS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an older layout is not damage
        assert keys(lake.search("aspirin 5", 3, mode="keyword")) == want
    saved = json.loads((directory / "manifest.json").read_text())
    assert saved["format_version"] == keyword_store.FORMAT_VERSION
    assert not (directory / "rows.parquet").exists()
    assert not (directory / "bm25" / "bm25s").exists()


def test_the_compact_index_loads_its_rows_from_the_snapshot(lake):
    snapshot = lake.snapshot()
    built = keyword_store.ensure_keyword_index(lake.store, snapshot, rebuild=True)
    directory = keyword_store.keyword_dir(lake.root, snapshot.snapshot_id)
    assert not (directory / "rows.parquet").exists()
    keyword_store._VIEWS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = keyword_store.ensure_keyword_index(lake.store, snapshot)
    assert loaded is not built
    np.testing.assert_array_equal(loaded.chunk_ids, built.chunk_ids)
    np.testing.assert_array_equal(loaded.doc_ids, built.doc_ids)
    q = ["coral reefs bleach", "give 7 tablets"]
    assert loaded.search(q, 5) == built.search(q, 5)


def test_an_index_whose_rows_differ_from_the_snapshot_is_rebuilt(lake):
    snapshot = lake.snapshot()
    keyword_store.ensure_keyword_index(lake.store, snapshot)
    manifest = keyword_store.keyword_dir(lake.root, snapshot.snapshot_id) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["rows_sha256"] = "0" * 64  # built over other chunks than the snapshot now gives
    manifest.write_text(json.dumps(data))
    keyword_store._VIEWS.clear()
    with pytest.warns(DocframeWarning, match="not the ones it was built over"):
        view = keyword_store.ensure_keyword_index(lake.store, snapshot)
    assert keys(lake.search("5", 3, mode="keyword")) == ["dose-5"]
    assert json.loads(manifest.read_text())["rows_sha256"] != "0" * 64
    assert len(view.chunk_ids) == data["count"]
