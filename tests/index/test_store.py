"""The lake's dense index on disk: fresh after every commit (delta + mask), rebuilt past a
threshold or when damaged, and filtered search that returns exactly k correct hits.

Ground truth is computed here, independently of docframe's search: the live chunks'
embeddings read back with SQL and scored with numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import docframe
from docframe.index import store

TOPICS = {
    "volcano": "Lava from the volcano flowed down the slope after the eruption.",
    "orchestra": "The orchestra tuned its violins before the symphony began.",
    "compiler": "The compiler reported a type error in the parser module.",
    "harvest": "Farmers brought in the wheat harvest before the autumn rain.",
    "glacier": "The glacier retreated several metres up the valley this year.",
}


def beir_docs(path: Path, n: int, seed: int = 0) -> Path:
    """``n`` one-chunk BEIR-style documents, each about one of TOPICS, with a group tag."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    with path.open("w") as fh:
        for i in range(n):
            topic = names[int(rng.integers(len(names)))]
            doc = {"_id": f"d{i:04d}", "title": f"{topic} note {i}", "text": TOPICS[topic]}
            fh.write(json.dumps(doc) + "\n")
    return path


def truth(lake, text: str, k: int, where: str = "true") -> list[str]:
    """Exact top-k chunk ids among live chunks matching ``where``, scored with numpy."""
    rows = lake.sql(f"SELECT chunk_id, embedding FROM chunks WHERE {where}").to_arrow()
    ids = rows.column("chunk_id").to_pylist()
    vectors = np.array(rows.column("embedding").to_pylist(), dtype=np.float32)
    query = lake.query_encoder().encode([text])[0]  # what search encodes the question with
    scores = vectors @ query
    order = sorted(range(len(ids)), key=lambda i: (-round(float(scores[i]), 5), ids[i]))
    return [ids[i] for i in order[:k]]


def hit_ids(result) -> list[str]:
    return result.to_arrow().column("chunk_id").to_pylist()


def scores_close(lake, result, text: str, expected: list[str]) -> None:
    """Same hits as the exact truth, allowing swaps between equal scores."""
    got = hit_ids(result)
    assert len(got) == len(expected)
    rows = lake.sql("SELECT chunk_id, embedding FROM chunks").to_arrow()
    vec = dict(
        zip(rows.column("chunk_id").to_pylist(), rows.column("embedding").to_pylist(), strict=True)
    )
    q = lake.query_encoder().encode([text])[0]
    got_s = sorted(round(float(np.dot(vec[c], q)), 4) for c in got)
    exp_s = sorted(round(float(np.dot(vec[c], q)), 4) for c in expected)
    assert got_s == exp_s


@pytest.fixture
def two_commits(tmp_path):
    """A lake searched once (base built at snapshot 1), then a second file committed."""
    src = tmp_path / "src"
    src.mkdir()
    beir_docs(src / "first.jsonl", 60)
    lake = docframe.open(tmp_path / "lake")
    lake.ingest(src)
    lake.search("lava eruption", 3)  # builds and saves the base
    (src / "second.jsonl").write_text(
        json.dumps(
            {
                "_id": "new1",
                "title": "submarine",
                "text": "The submarine dived under the arctic ice.",
            }
        )
        + "\n"
    )
    lake.ingest(src)
    return lake, src


def test_new_chunks_are_searchable_at_once_through_the_delta(two_commits):
    lake, _ = two_commits
    snap = lake.snapshot()
    view = store.ensure_index(lake, snap)
    assert view.base.snapshot_id < snap.snapshot_id  # no rebuild for one new chunk
    assert len(view.delta_ids) == 1
    result = lake.search("a submarine under arctic ice", 5)
    assert result.to_list()[0]["doc_key"] == "new1"
    scores_close(
        lake, result, "a submarine under arctic ice", truth(lake, "a submarine under arctic ice", 5)
    )


def test_replaced_chunks_are_masked_at_once(two_commits):
    lake, src = two_commits
    (src / "second.jsonl").write_text(
        json.dumps({"_id": "new1", "title": "kite", "text": "A red kite rose over the beach."})
        + "\n"
    )
    lake.ingest(src)
    view = store.ensure_index(lake, lake.snapshot())
    assert len(view.excluded) == 0 and len(view.delta_ids) == 1  # the old delta row is gone
    texts = [r["text"] for r in lake.search("submarine arctic ice", 61).to_list()]
    assert not any("submarine" in t for t in texts)
    # and a base row that is replaced is masked, not returned
    lines = (src / "first.jsonl").read_text().splitlines()
    (src / "first.jsonl").write_text("\n".join(lines[:30]) + "\n")
    lake.ingest(src)
    view = store.ensure_index(lake, lake.snapshot())
    assert view.base.snapshot_id == 1 and len(view.excluded) == 60
    keys = {r["doc_key"] for r in lake.search("lava eruption", 100).to_list()}
    assert len(keys) == 31 and keys <= {f"d{i:04d}" for i in range(30)} | {"new1"}


def test_a_large_delta_is_folded_into_a_new_base(two_commits, monkeypatch):
    lake, src = two_commits
    monkeypatch.setattr(store, "DELTA_REBUILD_MIN", 0)
    monkeypatch.setattr(store, "REBUILD_SHARE", 0.0)
    beir_docs(src / "third.jsonl", 5, seed=3)
    (src / "third.jsonl").write_text((src / "third.jsonl").read_text().replace('"d0', '"t0'))
    lake.ingest(src)
    snap = lake.snapshot()
    view = store.ensure_index(lake, snap)
    assert view.base.snapshot_id == snap.snapshot_id and len(view.delta_ids) == 0
    assert (store.family_dir(lake.root, "faiss") / str(snap.snapshot_id) / store.MANIFEST).exists()


@pytest.mark.parametrize(
    ("kind", "damaged"),
    [
        ("faiss-flat", store.VERSIONS_FILE),  # no index file: the rows are the segments'
        ("faiss-hnsw", f"{store.INDEX_SUBDIR}/index.faiss"),
    ],
)
def test_a_damaged_base_is_rebuilt_from_the_segments(tmp_path, kind, damaged):
    src = tmp_path / "src"
    src.mkdir()
    beir_docs(src / "docs.jsonl", 40)
    lake = docframe.open(tmp_path / "lake", index_kind=kind)
    lake.ingest(src)
    before = hit_ids(lake.search("violins and a symphony", 5))
    folder = store.family_dir(lake.root, "faiss") / "1"
    index_file = folder / damaged
    data = bytearray(index_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index_file.write_bytes(bytes(data))
    store._BASES.clear()
    store._VIEWS.clear()
    with pytest.warns(UserWarning, match="checksum mismatch"):
        after = hit_ids(docframe.open(tmp_path / "lake").search("violins and a symphony", 5))
    assert after == before


@pytest.fixture(scope="module")
def big_lake(tmp_path_factory):
    """400 one-chunk documents on an HNSW index: a predicate on one doc group is < 1 %."""
    root = tmp_path_factory.mktemp("filtered")
    src = root / "src"
    src.mkdir()
    beir_docs(src / "docs.jsonl", 400, seed=7)
    lake = docframe.open(root / "lake", index_kind="faiss-hnsw")
    lake.ingest(src)
    return lake


@pytest.mark.parametrize(
    "exact_max", [store.EXACT_SUBSET_MAX, 0], ids=["exact-subset", "native-filter"]
)
def test_a_selective_filter_returns_k_correct_hits(big_lake, monkeypatch, exact_max):
    monkeypatch.setattr(store, "EXACT_SUBSET_MAX", exact_max)
    where = "doc_key IN ('d0003', 'd0101', 'd0202')"  # 3 of 400 chunks: 0.75 %
    result = big_lake.search("farmers and wheat", 3, where=where)
    assert result.info["matched"] == 3 and not result.info["exhausted"]
    assert store.ensure_index(big_lake, big_lake.snapshot()).kind == "faiss-hnsw"
    assert hit_ids(result) == truth(big_lake, "farmers and wheat", 3, where)


def test_a_filter_matching_fewer_than_k_says_exhausted(big_lake):
    result = big_lake.search("glacier", 10, where="doc_key IN ('d0001', 'd0002')")
    assert len(result) == 2
    assert result.info["exhausted"] and result.info["candidates"] == 2
    assert "only 2 chunk(s) match" in result.info["reason"]


def test_unfiltered_hnsw_search_matches_exact_search(big_lake):
    # 400 vectors: HNSW at its default ef_search finds the exact top 10
    text = "the retreat of ice in a valley"
    scores_close(big_lake, big_lake.search(text, 10), text, truth(big_lake, text, 10))


def test_gc_keeps_the_base_the_newest_snapshot_uses(two_commits):
    lake, _ = two_commits
    base = store.ensure_index(lake, lake.snapshot()).base
    lake.gc()
    assert (base.directory / store.MANIFEST).exists()
