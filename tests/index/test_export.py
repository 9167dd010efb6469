"""A CAGRA graph built on a GPU, served on a CPU-only machine (``docframe index export``).

The only step that needs a GPU is CAGRA itself: cuVS builds the graph and converts it
to hnswlib's file format (``cuvs.neighbors.hnsw.from_cagra`` + ``hnsw.save``, see
``docframe/index/cuvs_hnsw.py``; the GPU runners check that step in
``tests/index/test_cuvs_gpu.py``). Everything after it runs here, on real parts: an
hnswlib graph that hnswlib builds from the lake's own vectors stands in for the
converted file (same format, same labels: the base's row positions), is recorded as
the lake's index exactly as the export records it (``export.adopt_hnswlib``), and a
freshly opened lake must serve it -- searched through the ordinary path, with new
chunks merged -- at a recall against exact search an HNSW graph reaches.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import docframe
from docframe.cli import app
from docframe.errors import QueryError
from docframe.index import export, store
from docframe.index.cuvs_hnsw import HnswlibIndex
from tests.index.conftest import scifact_queries
from tests.index.test_store import truth

pytest.importorskip("hnswlib")


def _fresh_process_caches() -> None:
    """What a new process starts with: no base or view cached."""
    store._BASES.clear()
    store._VIEWS.clear()


@pytest.fixture
def lake(scifact_lake_dir: Path, tmp_path: Path) -> docframe.Lake:
    """A private copy of the SciFact lake (the export writes into it)."""
    shutil.copytree(scifact_lake_dir, tmp_path / "lake")
    _fresh_process_caches()
    return docframe.open(tmp_path / "lake")


def stand_in_export(lake: docframe.Lake, directory: Path) -> store.Base:
    """What the GPU machine hands over, made on the CPU: the lake's base rows and an
    hnswlib graph over their vectors, labelled by row position as cuVS labels them."""
    built = lake.index_build(kind="faiss-flat")  # a saved base: the rows the graph indexes
    source = store.ensure_index(lake.store, lake.snapshot()).base
    assert built["kind"] == source.kind == "faiss-flat"
    graph = HnswlibIndex(source.index.dim, M=16, ef_construction=100, ef_search=64)
    graph.build(np.asarray(source.vectors), np.arange(len(source), dtype=np.int64))
    directory.mkdir()
    graph.save(directory)
    return source


def test_a_lake_serves_an_exported_graph_on_the_cpu(lake, tmp_path):
    source = stand_in_export(lake, tmp_path / "graph")
    adopted = export.adopt_hnswlib(lake.store, source, tmp_path / "graph")

    # recorded in the lake's index folder, in its checksummed manifest
    folder = store.family_dir(lake.root, "faiss") / str(source.snapshot_id)
    assert adopted.directory == folder
    manifest = json.loads((folder / store.MANIFEST).read_text())
    assert manifest["kind"] == "hnswlib" and manifest["count"] == len(source)
    assert manifest["exported_from"]["kind"] == "faiss-flat"
    assert manifest["exported_from"]["snapshot_id"] == source.snapshot_id
    assert (folder / "index" / "index.hnsw").is_file()

    # a new process opens the lake and serves that graph, not an index of its own
    _fresh_process_caches()
    reader = docframe.open(lake.root)
    view = store.ensure_index(reader.store, reader.snapshot())
    assert isinstance(view.base.index, HnswlibIndex) and view.base.directory == folder
    assert "exported from faiss-flat" in view.describe()
    questions = scifact_queries(40)
    found = expected = 0
    for text in questions:
        want = set(truth(reader, text, 10))
        got = {hit["chunk_id"] for hit in reader.search(text, k=10).to_list()}
        found += len(got & want)
        expected += len(want)
    assert found / expected >= 0.95, f"recall@10 {found}/{expected} against exact search"
    assert json.loads((folder / store.MANIFEST).read_text())["kind"] == "hnswlib"  # kept

    # index check measures it against exact search, like any base
    record = reader.index_check(k=10, n_queries=50)
    assert record["kind"] == "hnswlib" and record["recall"] >= 0.95

    # chunks committed after the export are searchable at once (the exact delta)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "glacier.txt").write_text(
        "Tidewater glaciers in Greenland calve icebergs as warm ocean water melts their fronts."
    )
    reader.ingest(notes)
    view = store.ensure_index(reader.store, reader.snapshot())
    assert view.kind == "hnswlib" and "new exact" in view.describe()
    top = reader.search("icebergs calving from Greenland glaciers", k=1).to_list()[0]
    assert top["source_uri"].endswith("glacier.txt")


def test_an_exported_graph_that_does_not_match_its_rows_is_refused(lake, tmp_path):
    source = stand_in_export(lake, tmp_path / "graph")
    short = HnswlibIndex(source.index.dim)
    short.build(np.asarray(source.vectors[:10]), np.arange(10, dtype=np.int64))
    (tmp_path / "short").mkdir()
    short.save(tmp_path / "short")
    with pytest.raises(QueryError, match="holds 10 vectors"):
        export.adopt_hnswlib(lake.store, source, tmp_path / "short")
    folder = store.family_dir(lake.root, "faiss") / str(source.snapshot_id)
    assert json.loads((folder / store.MANIFEST).read_text())["kind"] == "faiss-flat"


def test_export_without_a_cagra_index_is_one_line_with_help(sample_lake):
    out = CliRunner().invoke(app, ["--lake", str(sample_lake.root), "index", "export"])
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2, out.stderr
    assert lines[0].startswith("error: lake ") and "has no CAGRA index to export" in lines[0]
    assert lines[1].startswith("help: ") and "--kind cuvs-cagra" in lines[1]
    out = CliRunner().invoke(app, ["--lake", str(sample_lake.root), "index", "export", "--to", "x"])
    assert out.exit_code == 2 and "hnswlib" in out.output  # the only target, named


def test_a_cagra_index_left_by_a_gpu_machine_is_exported_there_not_here(lake):
    """A lake copied from a GPU machine before its export: the CPU says where to run it.
    (The folder holds what the GPU machine's ``save_base`` writes first, its manifest;
    nothing past the manifest is read before the engine is checked.)"""
    sid = lake.snapshot().snapshot_id
    folder = store.family_dir(lake.root, "cuvs") / str(sid)
    folder.mkdir(parents=True)
    (folder / store.MANIFEST).write_text(json.dumps({"kind": "cuvs-cagra", "snapshot_id": sid}))
    with pytest.raises(QueryError, match="can only be exported on a GPU machine") as err:
        lake.index_export(to="hnswlib")
    assert "index export --to hnswlib" in err.value.help
    assert "dense-cuvs" in err.value.message
