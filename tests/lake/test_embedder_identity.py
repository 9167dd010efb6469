"""The lake records the exact embedder of its vectors (model, backend, precision) and
refuses vectors of another one; lakes from before identities are torch fp32.

Real lakes, real embedders (the packaged all-MiniLM-L6-v2 run by torch and by ONNX
Runtime in int8), real Parquet and faiss indexes."""

from __future__ import annotations

import json
import sqlite3
import warnings

import pytest

import docframe
from docframe.errors import ModelMismatchError
from docframe.index import store as index_store
from docframe.pipelines.ingest import IngestJob
from docframe.pipelines.reembed import reembed
from tests.conftest import INT8, TORCH


def _ingest(lake, paths, embedder):
    job = IngestJob(lake.store, [str(p) for p in paths], embedder=embedder, prune=False,
                    progress=False)  # fmt: skip
    return job.run()


def _segments(lake) -> list[tuple[str, str | None]]:
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    try:
        return con.execute("SELECT kind, embedder FROM segments ORDER BY segment_id").fetchall()
    finally:
        con.close()


def test_the_embedders_name_themselves(torch_embedder, int8_embedder):
    assert torch_embedder.identity == TORCH
    assert int8_embedder.identity == INT8


def test_a_lake_records_its_embedder_with_its_first_vectors(tmp_path, corpus, torch_embedder):
    lake = docframe.open(tmp_path / "lake")
    assert lake.snapshot().embedder is None
    _ingest(lake, [corpus / "shipments.csv"], torch_embedder)  # a table: no vectors yet
    assert lake.snapshot().embedder is None
    report = _ingest(lake, [corpus], torch_embedder)
    assert report.ok and report.n_chunks
    assert lake.snapshot().embedder == TORCH
    kinds = _segments(lake)
    assert {e for k, e in kinds if k == "chunks"} == {TORCH}
    assert {e for k, e in kinds if k != "chunks"} == {None}  # documents and tables: none


def test_vectors_of_another_embedder_are_refused_in_one_line(
    tmp_path, corpus, torch_embedder, int8_embedder
):
    lake = docframe.open(tmp_path / "lake")
    _ingest(lake, [corpus / "beekeeping.txt"], torch_embedder)
    before = lake.snapshot().snapshot_id
    with pytest.raises(ModelMismatchError) as caught:
        _ingest(lake, [corpus / "sourdough.md"], int8_embedder)
    message = str(caught.value)
    assert "\n" not in message
    assert TORCH in message and INT8 in message
    assert "--embed-backend torch (the lake's)" in caught.value.help
    assert "docframe reembed --embed-backend onnx-int8" in caught.value.help
    assert lake.snapshot().snapshot_id == before  # nothing committed
    # a table carries no vectors: any embedder may ingest one
    assert _ingest(lake, [corpus / "shipments.csv"], int8_embedder).ok
    # and the other way round: an int8 lake refuses torch vectors
    other = docframe.open(tmp_path / "int8")
    _ingest(other, [corpus / "beekeeping.txt"], int8_embedder)
    with pytest.raises(ModelMismatchError, match="--embed-backend onnx-int8 \\(the lake's\\)"):
        _ingest(other, [corpus / "sourdough.md"], torch_embedder)


def test_a_lake_from_before_identities_is_torch_fp32(
    tmp_path, corpus, torch_embedder, int8_embedder
):
    lake = docframe.open(tmp_path / "lake")
    _ingest(lake, [corpus / "beekeeping.txt"], torch_embedder)
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    with con:  # the catalog as docframe made it before identities were recorded
        con.execute("ALTER TABLE segments DROP COLUMN embedder")
        con.execute("DELETE FROM meta WHERE key = 'embedder'")
    con.close()
    assert docframe.open(lake.root).snapshot().embedder == TORCH
    with pytest.raises(ModelMismatchError, match="onnx-int8"):
        _ingest(lake, [corpus / "sourdough.md"], int8_embedder)
    assert _ingest(lake, [corpus / "sourdough.md"], torch_embedder).ok  # the writer upgrades
    assert [e for k, e in _segments(lake) if k == "chunks"] == [None, TORCH]
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    assert con.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone() == (TORCH,)
    con.close()


def test_an_index_of_other_vectors_is_never_reused(tmp_path, corpus, torch_embedder, int8_embedder):
    lake = docframe.open(tmp_path / "lake")
    _ingest(lake, [corpus], torch_embedder)
    old = index_store.ensure_index(lake.store, lake.snapshot())
    manifest = json.loads((old.base.directory / index_store.MANIFEST).read_text())
    assert manifest["embedder"] == TORCH and old.base.embedder == TORCH

    report = reembed(lake.store, int8_embedder)
    snapshot = lake.snapshot()
    view = index_store.ensure_index(lake.store, snapshot)
    assert view.base.embedder == INT8 and view.base.snapshot_id == report.snapshot_id
    assert view.base.directory != old.base.directory and not len(view.delta_ids)
    manifest = json.loads((view.base.directory / index_store.MANIFEST).read_text())
    assert manifest["embedder"] == INT8
    # the torch base is sound, just not this lake's now: passed over without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert index_store._load_base(old.base.directory, lake.model, INT8) is None
        loaded = index_store._load_base(old.base.directory, lake.model, TORCH)
    assert loaded is not None and loaded.embedder == TORCH


def test_a_manifest_from_before_identities_is_torch_fp32(tmp_path, corpus, torch_embedder):
    lake = docframe.open(tmp_path / "lake")
    _ingest(lake, [corpus], torch_embedder)
    base = index_store.ensure_index(lake.store, lake.snapshot()).base
    path = base.directory / index_store.MANIFEST
    manifest = json.loads(path.read_text())
    del manifest["embedder"]
    path.write_text(json.dumps(manifest))
    assert index_store._load_base(base.directory, lake.model, TORCH).embedder == TORCH
    assert index_store._load_base(base.directory, lake.model, INT8) is None
