"""How a dense base is laid out on disk: every vector stored once, old layouts still read.

Format 3 keeps no second copy of the vectors beside the index: a flat base saves no
index file and no row list (both are rebuilt from the chunk segments on load), HNSW
and IVF-PQ bases use the raw vectors their index keeps. A format-2 base (``index/``
plus ``vectors.npy``) must still load as it is, and one that cannot be read is
rebuilt, never an error.
Ground truth is numpy over the embeddings read back with SQL (``test_store.truth``).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import docframe
from docframe.index import store
from tests.index.test_store import beir_docs, hit_ids, truth

QUESTION = "farmers and wheat"
WHERE = "doc_key IN ('d0003', 'd0010', 'd0021', 'd0040')"


def _fresh() -> None:
    """Forget loaded bases, as a new process would."""
    store._BASES.clear()
    store._VIEWS.clear()


def _files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    beir_docs(src / "docs.jsonl", 60, seed=3)
    return src


def _lake(tmp_path, source, kind: str = "auto"):
    lake = docframe.open(tmp_path / "lake", index_kind=kind)
    lake.ingest(source)
    return lake


@pytest.mark.parametrize(
    ("kind", "home", "vector_files"),
    [
        ("faiss-flat", "segments", ["versions.npy"]),
        ("faiss-hnsw", "index", ["index/index.faiss"]),
        ("faiss-ivfpq", "index", ["index/ids.npy", "index/index.faiss", "index/vectors.npy"]),
    ],
)
def test_each_kind_stores_its_vectors_once(tmp_path, source, kind, home, vector_files):
    lake = _lake(tmp_path, source, kind)
    base = store.ensure_index(lake.store, lake.snapshot()).base
    folder = base.directory
    manifest = json.loads((folder / store.MANIFEST).read_text())
    assert manifest["format_version"] == store.FORMAT_VERSION and manifest["vectors"] == home
    assert manifest["kind"] == kind
    holding = [f for f in _files(folder) if f.endswith((".faiss", ".npy"))]
    assert holding == vector_files  # no vectors.npy beside an index that keeps them
    # a flat base lists no rows either: they are its versions' rows in its segments
    assert (folder / store.ROWS_FILE).exists() == (kind != "faiss-flat")

    _fresh()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sound base loads without a word
        again = docframe.open(tmp_path / "lake")
        loaded = store.ensure_index(again.store, again.snapshot()).base
    assert loaded.directory == folder and loaded.kind == kind
    assert list(loaded.chunk_ids) == list(base.chunk_ids)
    rows = again.sql("SELECT chunk_id, embedding FROM chunks").to_arrow()
    ids, vectors = rows.column("chunk_id").to_pylist(), rows.column("embedding").to_pylist()
    by_id = dict(zip(ids, vectors, strict=True))
    expected = np.array([by_id[c] for c in loaded.chunk_ids], dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(loaded.vectors), expected)  # exact, not close
    # a filter small enough to be scored exactly from the base's vectors
    result = again.search(QUESTION, 3, where=WHERE)
    assert hit_ids(result) == truth(again, QUESTION, 3, WHERE)
    if kind == "faiss-flat":  # exact: the unfiltered answer is the truth too
        assert hit_ids(again.search(QUESTION, 5)) == truth(again, QUESTION, 5)


def _write_format_2(base: store.Base) -> None:
    """Rewrite ``base``'s folder exactly as format 2 saved it: the index's own files in
    ``index/``, ``rows.parquet``, every vector again in ``vectors.npy``, checksums."""
    folder = base.directory
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (folder / store.INDEX_SUBDIR).mkdir()
    base.index.save(folder / store.INDEX_SUBDIR)
    rows = pa.table(
        {
            "chunk_id": pa.array(base.chunk_ids, pa.string()),
            "version_id": pa.array(base.versions, pa.int64()),
        }
    )
    pq.write_table(rows, folder / store.ROWS_FILE)
    np.save(folder / store.VECTORS_FILE, np.asarray(base.vectors, dtype=np.float32))
    manifest = {
        "format_version": 2,
        "snapshot_id": base.snapshot_id,
        "snapshot_created_at": base.stamp,
        "model": base.model,
        "embedder": base.embedder,
        "kind": base.kind,
        "params": base.index.params,
        "count": len(base),
        "segment_files": sorted(base.files),
        "built_at": 0.0,
        "build_seconds": 0.0,
        "files": store._digests(folder),
    }
    (folder / store.MANIFEST).write_text(json.dumps(manifest, indent=2))


def test_a_base_in_the_old_layout_still_loads(tmp_path, source):
    lake = _lake(tmp_path, source)
    base = store.ensure_index(lake.store, lake.snapshot()).base
    before = hit_ids(lake.search(QUESTION, 5))
    _write_format_2(base)
    old_files = _files(base.directory)
    assert "index/index.faiss" in old_files and store.VECTORS_FILE in old_files

    _fresh()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read as it is: no "unusable" warning, no rebuild
        again = docframe.open(tmp_path / "lake")
        loaded = store.ensure_index(again.store, again.snapshot()).base
        after = hit_ids(again.search(QUESTION, 5))
        filtered = hit_ids(again.search(QUESTION, 3, where=WHERE))
    assert isinstance(loaded.vectors, np.memmap)  # from the old vectors.npy
    assert _files(base.directory) == old_files  # nothing rewritten
    assert after == before == truth(again, QUESTION, 5)
    assert filtered == truth(again, QUESTION, 3, WHERE)
    # `docframe index build` rewrites it in the new layout
    rebuilt = store.ensure_index(again.store, again.snapshot(), rebuild=True).base
    assert rebuilt.directory == base.directory
    assert _files(base.directory) == ["manifest.json", store.VERSIONS_FILE]
    _fresh()
    assert hit_ids(docframe.open(tmp_path / "lake").search(QUESTION, 5)) == before


def test_a_base_of_an_unknown_format_is_rebuilt_in_the_new_layout(tmp_path, source):
    lake = _lake(tmp_path, source)
    base = store.ensure_index(lake.store, lake.snapshot()).base
    path = base.directory / store.MANIFEST
    path.write_text(json.dumps({**json.loads(path.read_text()), "format_version": 1}))
    _fresh()
    again = docframe.open(tmp_path / "lake")
    with pytest.warns(UserWarning, match=r"format 1, not 3.*rebuilding it"):
        result = again.search(QUESTION, 5)
    assert hit_ids(result) == truth(again, QUESTION, 5)
    manifest = json.loads(path.read_text())
    assert manifest["format_version"] == 3 and manifest["vectors"] == "segments"


def test_a_flat_base_whose_segments_disagree_is_rebuilt(tmp_path, source):
    lake = _lake(tmp_path, source)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "more.jsonl").write_text(
        json.dumps({"_id": "x1", "title": "wheat", "text": "Wheat fields before the rain."}) + "\n"
    )
    lake.ingest(extra)
    base = store.ensure_index(lake.store, lake.snapshot(), rebuild=True).base
    path = base.directory / store.MANIFEST
    manifest = json.loads(path.read_text())
    assert len(manifest["segment_order"]) == 2
    # the manifest is not among its own checksums: only reading the rows back can tell
    # that its segments no longer hold every version it was built from
    path.write_text(json.dumps({**manifest, "segment_order": manifest["segment_order"][:1]}))
    _fresh()
    again = docframe.open(tmp_path / "lake")
    with pytest.warns(UserWarning, match="no longer hold the rows.*rebuilding it"):
        assert hit_ids(again.search(QUESTION, 5)) == truth(again, QUESTION, 5)
    # passed over for the sound base of the first commit, with the second one's delta
    view = store.ensure_index(again.store, again.snapshot())
    assert view.base.snapshot_id < base.snapshot_id and len(view.delta_ids) == 1


def test_a_flat_base_whose_segment_is_gone_is_rebuilt_quietly(tmp_path, source):
    lake = _lake(tmp_path, source)
    base = store.ensure_index(lake.store, lake.snapshot()).base
    path = base.directory / store.MANIFEST
    manifest = json.loads(path.read_text())
    # as after a lost segment was repaired: the base's rows are nowhere to be read, which
    # `verify` reports; the index itself is not damaged, so no warning, just a rebuild
    path.write_text(json.dumps({**manifest, "segment_order": ["chunks-gone.parquet"]}))
    _fresh()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = docframe.open(tmp_path / "lake")
        assert hit_ids(again.search(QUESTION, 5)) == truth(again, QUESTION, 5)
    assert json.loads(path.read_text())["segment_order"] == manifest["segment_order"]
