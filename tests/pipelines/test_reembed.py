"""``docframe reembed``: every live vector made again by another embedder, in committed
batches, resumable after a kill, with every row, document and table kept as it was.

Real lakes, the packaged model run by torch and by ONNX Runtime (int8), real kills
(the failpoints' SIGKILL) in a child process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

import docframe
from docframe.pipelines.ingest import IngestJob
from docframe.pipelines.reembed import reembed
from tests.conftest import INT8, TORCH, write_topics
from tests.lake.test_pdf_ingest import make_pdf

ROWS = "SELECT * EXCLUDE (embedding) FROM chunks ORDER BY chunk_id"


def _ingest(lake, paths, embedder):
    job = IngestJob(lake.store, [str(p) for p in paths], embedder=embedder, prune=False,
                    progress=False)  # fmt: skip
    report = job.run()
    assert report.ok, report.failures
    return report


def _vectors(lake, snapshot=None) -> dict[str, np.ndarray]:
    rows = lake.sql("SELECT chunk_id, embedding FROM chunks", snapshot=snapshot).to_list()
    return {r["chunk_id"]: np.asarray(r["embedding"], np.float32) for r in rows}


def _chunk_embedders(lake) -> dict[str | None, int]:
    """Live chunk rows by the embedder their segment records."""
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    try:
        rows = con.execute(
            """SELECT s.embedder, sum(v.n_chunks) FROM segments s
            JOIN segment_versions sv ON sv.segment_id = s.segment_id
            JOIN versions v ON v.version_id = sv.version_id
            WHERE s.kind = 'chunks' AND v.removed_snapshot IS NULL GROUP BY 1"""
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def _meta_embedder(lake) -> str | None:
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
    finally:
        con.close()
    return row[0] if row else None


def test_reembed_remakes_every_vector_and_keeps_every_row(
    tmp_path, corpus, torch_embedder, int8_embedder
):
    make_pdf(corpus / "harbour.pdf")  # a document with a table inside: the table stays
    lake = docframe.open(tmp_path / "lake")
    _ingest(lake, [corpus], torch_embedder)
    old = lake.snapshot()
    rows = lake.sql(ROWS).to_list()
    documents = lake.sql("SELECT * FROM documents ORDER BY doc_id").to_list()
    tables = lake.sql("SELECT * EXCLUDE (snapshot_id) FROM tables ORDER BY name").to_list()
    pdf_table = lake.sql("SELECT name FROM pdf_tables").to_list()[0]["name"]
    table_rows = lake.sql(f'SELECT * FROM "{pdf_table}" ORDER BY 1').to_list()
    sources = lake.sql("SELECT source_uri, content_hash FROM sources ORDER BY 1").to_list()
    torch_vectors = _vectors(lake)

    report = reembed(lake.store, int8_embedder, batch_chunks=8)
    assert report.previous == TORCH and report.embedder == INT8
    assert report.chunks == len(rows) and report.batches > 2
    assert report.versions == sum(1 for s in sources if not s["source_uri"].endswith(".csv"))
    assert report.summary().startswith(f"snapshot {report.snapshot_id}: re-embedded {len(rows)}")
    new = lake.snapshot()
    assert new.embedder == INT8 and _meta_embedder(lake) == INT8
    assert _chunk_embedders(lake) == {INT8: len(rows)}
    # the same rows, documents, tables and sources; only the vectors changed
    assert lake.sql(ROWS).to_list() == rows
    assert lake.sql("SELECT * FROM documents ORDER BY doc_id").to_list() == documents
    assert lake.sql("SELECT * EXCLUDE (snapshot_id) FROM tables ORDER BY name").to_list() == tables
    assert lake.sql(f'SELECT * FROM "{pdf_table}" ORDER BY 1').to_list() == table_rows
    assert lake.sql("SELECT source_uri, content_hash FROM sources ORDER BY 1").to_list() == sources
    int8_vectors = _vectors(lake)
    assert int8_vectors.keys() == torch_vectors.keys()
    cosine = np.array([float(int8_vectors[k] @ torch_vectors[k]) for k in torch_vectors])
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.97 and cosine.max() < 1.0 - 1e-7
    # the snapshot pinned before keeps its own vectors
    pinned = _vectors(lake, old)
    assert pinned.keys() == torch_vectors.keys()
    assert all(np.array_equal(v, torch_vectors[k]) for k, v in pinned.items())
    # searches run on the new vectors, through an index built from them
    hit = lake.search("how fast do the quay cranes move containers", k=1).to_list()[0]
    assert "thirty moves per hour" in hit["text"]
    assert report.index and f"base snapshot {report.snapshot_id}" in report.index
    # nothing left: a second run changes nothing
    again = reembed(lake.store, int8_embedder)
    assert not again.changed and again.snapshot_id == new.snapshot_id
    assert again.summary().endswith(f"already {INT8}")


def test_reembed_then_ingest_reuses_the_new_vectors(tmp_path, corpus, torch_embedder,
                                                    int8_embedder):  # fmt: skip
    lake = docframe.open(tmp_path / "lake")
    _ingest(lake, [corpus], torch_embedder)
    reembed(lake.store, int8_embedder)
    path = corpus / "beekeeping.txt"
    path.write_text(path.read_text() + "\n\nA new closing paragraph about smokers and veils.\n")
    report = _ingest(lake, [path], int8_embedder)
    assert report.reused >= 1 and report.embedded >= 1
    assert _chunk_embedders(lake) == {INT8: lake.sql("SELECT count(*) AS n FROM chunks")
                                      .to_list()[0]["n"]}  # fmt: skip


def test_a_lake_without_vectors_adopts_the_embedder(tmp_path, corpus, int8_embedder):
    lake = docframe.open(tmp_path / "lake")
    report = reembed(lake.store, int8_embedder)
    assert report.changed and not report.versions and report.snapshot_id == 0
    assert lake.snapshot().embedder == INT8
    assert _ingest(lake, [corpus / "beekeeping.txt"], int8_embedder).n_chunks


def _reembed_in_child(lake_path, failpoint: str) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        "from docframe.lake.store import LakeStore\n"
        "from docframe.pipelines.embedding import Embedder\n"
        "from docframe.pipelines.reembed import reembed\n"
        "store = LakeStore.open(sys.argv[1], create=False)\n"
        "reembed(store, Embedder(store.model, 'cpu', backend='onnx-int8'), batch_chunks=6)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", DOCFRAME_FAILPOINT=failpoint)
    return subprocess.run([sys.executable, "-c", code, str(lake_path)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def _unreferenced(lake) -> set[str]:
    """Segment files on disk that no snapshot references."""
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    try:
        referenced = {os.path.basename(r[0]) for r in con.execute("SELECT path FROM segments")}
    finally:
        con.close()
    return {p.name for p in (lake.root / "segments").iterdir()} - referenced


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", ["segments-written:2", "before-commit:2", "after-commit:2"])
def test_killed_mid_reembed_then_run_again_finishes_the_rest(
    tmp_path, torch_embedder, int8_embedder, failpoint
):
    corpus = tmp_path / "corpus"
    write_topics(corpus, 24)
    lake = docframe.open(tmp_path / "lake")
    _ingest(lake, [corpus], torch_embedder)
    rows = lake.sql(ROWS).to_list()
    pinned = lake.snapshot()

    killed = _reembed_in_child(lake.root, failpoint)
    assert killed.returncode == -9, killed.stderr
    # one batch committed before the kill (two with after-commit), the rest untouched
    done = 2 if failpoint.startswith("after") else 1
    counts = _chunk_embedders(lake)
    assert sum(counts.values()) == len(rows) and counts.get(INT8)
    assert lake.snapshot().snapshot_id == pinned.snapshot_id + done
    assert _meta_embedder(lake) == TORCH  # the lake's embedder changes with the last batch
    assert lake.sql(ROWS).to_list() == rows  # no row lost, none live twice
    assert lake.sql(ROWS, snapshot=pinned).to_list() == rows  # a reader's pin still reads
    # what the killed batch wrote and never committed: the next writer removes it
    orphans = _unreferenced(lake)
    assert len(orphans) == (0 if failpoint.startswith("after") else 2)
    # the lake's embedder still ingests meanwhile; the next run takes those chunks too
    extra = write_topics(tmp_path / "more", 25)[-1]
    assert _ingest(lake, [extra], torch_embedder).n_chunks
    assert not _unreferenced(lake)

    report = reembed(lake.store, int8_embedder, batch_chunks=6)
    total = lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
    assert report.chunks == total - counts[INT8]  # committed batches are not redone
    assert _chunk_embedders(lake) == {INT8: total}
    assert _meta_embedder(lake) == INT8
    assert [r for r in lake.sql(ROWS).to_list() if r["source_uri"] != str(extra)] == rows
    assert lake.gc().segments == []  # the ingest after the kill removed them already
