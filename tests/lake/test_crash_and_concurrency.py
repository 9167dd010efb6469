"""kill -9 at every stage of a commit and at random moments, and readers querying while
another process writes.

The random trials (:func:`test_sigkill_at_a_random_moment_then_the_lake_recovers_exactly`)
are seeded (``SEED``): each aims at the same moment on every run (timing still varies);
run with ``-s`` to see where each one landed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import docframe
from tests.conftest import chunk_ids, chunks_by_source, ingested_notes, write_topics

pytestmark = pytest.mark.slow


def _ingest_cmd(lake: Path, corpus: Path) -> list[str]:
    return [sys.executable, "-m", "docframe.cli", "--lake", str(lake), "ingest", str(corpus),
            "--no-progress"]  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", DOCFRAME_COMMIT_CHUNKS="6", **extra)
    env.pop("DOCFRAME_FAILPOINT", None)
    env.update(extra)
    return env


def _consistent(lake) -> tuple[int, set[str]]:
    """Every committed file's chunks are fully there; nothing else is."""
    snap = lake.snapshot()
    chunks_by_source(lake)
    return snap.snapshot_id, chunk_ids(lake)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The chunk ids a clean, uninterrupted ingest of the corpus produces."""
    return ingested_notes(tmp_path_factory.mktemp("ref"), 24)


@pytest.mark.parametrize(
    "failpoint",
    ["segments-written:1", "segments-written:3", "before-commit:2", "after-commit:2", "timer"],
)
def test_kill_9_mid_ingest_then_resume(tmp_path, reference, failpoint):
    corpus, expected_ids = reference
    lake_path = tmp_path / "lake"
    if failpoint == "timer":  # a kill at an arbitrary moment, from outside
        proc = subprocess.Popen(_ingest_cmd(lake_path, corpus), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        catalog = lake_path / "catalog.sqlite"
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if catalog.exists():
                con = sqlite3.connect(catalog)
                try:
                    if con.execute("SELECT max(snapshot_id) FROM snapshots").fetchone()[0] >= 2:
                        break
                except sqlite3.OperationalError:
                    pass
                finally:
                    con.close()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    else:
        env = _env(DOCFRAME_FAILPOINT=failpoint)
        proc = subprocess.run(
            _ingest_cmd(lake_path, corpus), env=env, capture_output=True, timeout=300
        )
    assert proc.returncode == -signal.SIGKILL

    lake = docframe.open(lake_path, create=False)
    snapshot_id, partial = _consistent(lake)
    assert partial < expected_ids or partial == set()
    if failpoint == "after-commit:2":
        assert snapshot_id == 2  # the commit it died after is durable
    assert lake.search("glacier", k=3) is not None  # readable and searchable as it is

    if failpoint.startswith("segments-written"):  # died holding written, uncommitted files
        collected = lake.gc()
        assert collected.segments, "the uncommitted segments are garbage"
        assert _consistent(lake) == (snapshot_id, partial)  # and nothing committed was touched
    committed = sum(1 for r in lake.sources().to_list() if r["status"] == "ok")
    report = lake.ingest(corpus)
    assert report.ok
    assert report.count("unchanged") == committed  # committed work is not redone
    assert report.count("ingested") == 24 - committed
    _, final = _consistent(lake)
    assert final == expected_ids
    assert lake.search("glacier", k=1).to_list()[0]["text"].count("glacier") > 0


def test_readers_keep_answering_while_another_process_ingests(tmp_path):
    corpus = tmp_path / "corpus"
    write_topics(corpus, 40)
    lake_path = tmp_path / "lake"
    lake = docframe.open(lake_path)  # create it so readers can open it at once
    log = open(tmp_path / "writer.log", "w+")  # noqa: SIM115 - closed below
    writer = subprocess.Popen(_ingest_cmd(lake_path, corpus), env=_env(),
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    counts: list[int] = []
    searches = 0
    try:
        while writer.poll() is None:
            n = lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
            counts.append(n)
            if n:
                hits = lake.search("violin", k=2).to_list()
                assert hits and all(h["chunk_id"] for h in hits)
                searches += 1
    finally:
        writer.wait(timeout=300)
        log.close()
    assert writer.returncode == 0, (tmp_path / "writer.log").read_text()
    final = lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
    assert counts == sorted(counts), "a reader saw the lake shrink"
    assert len(set(counts)) > 2, "the reader should have seen several committed snapshots"
    assert searches > 0 and final >= counts[-1]


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    from docframe.errors import LakeLockedError
    from docframe.lake.lock import WriterLock

    lake = docframe.open(tmp_path / "lake")
    (tmp_path / "a.txt").write_text("some words about orbits")
    with WriterLock(lake.root), pytest.raises(LakeLockedError, match=f"pid {os.getpid()}"):
        lake.ingest(tmp_path / "a.txt")
    assert lake.ingest(tmp_path / "a.txt").ok  # released: the next writer goes ahead


# -- SIGKILL at random moments, before and after commits ---------------------------------

TRIALS = 12  # random kills; each costs one writer process (model load) and one re-run
SEED = 13
COMMIT_CHUNKS = 6  # via the lake's docframe.toml: one ingest makes many commits


def _new_lake(path: Path):
    path.mkdir(parents=True)
    (path / "docframe.toml").write_text(f"commit_chunks = {COMMIT_CHUNKS}\n")
    return docframe.open(path)


def _mixed_corpus(folder: Path) -> Path:
    """24 notes and 2 CSV tables: chunk, document and table segments in most commits."""
    write_topics(folder, 24)
    for name, n in (("stock", 40), ("prices", 25)):
        rows = "\n".join(f"{i},{name}-{i},{i * 1.25}" for i in range(n))
        (folder / f"{name}.csv").write_text(f"id,label,value\n{rows}\n")
    return folder


def _state(lake) -> dict:
    """Everything an ingest leaves behind that must not depend on how often it was killed.

    Every relation is read in full here, so a committed file that is missing or cut
    short fails this, not a later query."""
    chunks = lake.sql(
        "SELECT chunk_id, doc_id, source_uri, ordinal, text, embedding FROM chunks "
        "ORDER BY chunk_id"
    ).to_pandas()
    documents = lake.sql(
        "SELECT doc_id, source_uri, title, n_chunks FROM documents ORDER BY doc_id"
    ).to_pandas()
    sources = {
        r["source_uri"]: (r["status"], r["content_hash"], r["n_documents"], r["n_chunks"],
                          r["n_tables"], r["n_rows"])
        for r in lake.sources().to_list()
    }  # fmt: skip
    listed = lake.tables().to_pandas()
    tables = {
        name: lake.sql(f'SELECT * FROM "{name}" ORDER BY id').to_pandas() for name in listed.name
    }
    owners = dict(zip(listed.name, listed.source_uri, strict=True))
    return {"chunks": chunks, "documents": documents, "sources": sources, "tables": tables,
            "owners": owners}  # fmt: skip


def _assert_consistent(state: dict) -> None:
    """chunks vs documents vs sources agree: each committed source is whole, nothing else is."""
    chunks, documents, sources = state["chunks"], state["documents"], state["sources"]
    ok = {uri: row for uri, row in sources.items() if row[0] == "ok"}
    assert set(chunks.source_uri) | set(documents.source_uri) <= set(ok)
    for uri, (_, _, n_docs, n_chunks, n_tables, n_rows) in ok.items():
        assert (chunks.source_uri == uri).sum() == n_chunks, uri
        assert (documents.source_uri == uri).sum() == n_docs, uri
        mine = [t for name, t in state["tables"].items() if state["owners"][name] == uri]
        assert (len(mine), sum(len(t) for t in mine)) == (n_tables, n_rows), uri
    assert set(chunks.doc_id) <= set(documents.doc_id)
    per_doc = chunks.groupby("doc_id").size()
    assert (documents.set_index("doc_id").n_chunks == per_doc).all()
    assert chunks.chunk_id.is_unique


def _assert_same(state: dict, expected: dict, uris: set[str] | None = None) -> None:
    """``state`` equals ``expected`` (restricted to ``uris``); embeddings to float noise."""
    import numpy as np

    def part(frame, column="source_uri"):
        keep = frame if uris is None else frame[frame[column].isin(uris)]
        return keep.reset_index(drop=True)

    got, want = part(state["chunks"]), part(expected["chunks"])
    cols = ["chunk_id", "doc_id", "source_uri", "ordinal", "text"]
    assert got[cols].equals(want[cols])
    if len(got):  # a kill before the first chunk commit leaves none (tables may be there)
        assert np.allclose(np.stack(got.embedding), np.stack(want.embedding), atol=1e-5)
    assert part(state["documents"]).equals(part(expected["documents"]))
    want_sources = {u: r for u, r in expected["sources"].items() if uris is None or u in uris}
    assert {u: r for u, r in state["sources"].items() if r[0] == "ok"} == want_sources
    for name, frame in state["tables"].items():
        assert frame.equals(expected["tables"][name]), name
    if uris is None:
        assert state["tables"].keys() == expected["tables"].keys()


@pytest.fixture(scope="module")
def mixed_reference(tmp_path_factory):
    """The mixed corpus ingested once without interruption: what every trial must reach."""
    root = tmp_path_factory.mktemp("mixed")
    corpus = _mixed_corpus(root / "corpus")
    lake = _new_lake(root / "lake")
    assert lake.ingest(corpus).ok
    state = _state(lake)
    _assert_consistent(state)
    commits = lake.snapshot().snapshot_id
    assert commits >= 5, "the corpus should need several commits"
    return corpus, state, commits


def _latest(catalog: Path) -> int:
    con = sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT max(snapshot_id) FROM snapshots").fetchone()[0])
    except sqlite3.OperationalError:
        return -1
    finally:
        con.close()


def _kill_at_random(lake_path: Path, corpus: Path, rng, commits: int) -> tuple[bool, int]:
    """Start an ingest and SIGKILL it at a random moment: half the trials a random delay
    (up to 0.4 s) after a random one of its commits, which lands anywhere in reading,
    embedding or the index build that follows the last commit; the others a few
    milliseconds after a random segment file appears, near a commit. Returns (whether
    it was still running, the snapshots it had committed)."""
    near_segment = rng.random() < 0.5
    after = rng.randint(1, 3 * commits) if near_segment else rng.randint(1, commits)
    delay = rng.uniform(0.0, 0.02) if near_segment else rng.uniform(0.0, 0.4)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    for var in ("DOCFRAME_FAILPOINT", "DOCFRAME_COMMIT_CHUNKS"):
        env.pop(var, None)  # commit_chunks comes from the lake's docframe.toml
    proc = subprocess.Popen(_ingest_cmd(lake_path, corpus), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    segments, seen = lake_path / "segments", set()
    deadline = time.time() + 240
    while proc.poll() is None and time.time() < deadline:
        if near_segment:
            seen |= {p.name for p in segments.iterdir()} if segments.is_dir() else set()
            if len(seen) >= after:  # temporary and final names both count
                break
            time.sleep(0.002)
        else:
            if _latest(lake_path / "catalog.sqlite") >= after:
                break
            time.sleep(0.01)
    time.sleep(delay)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return killed, _latest(lake_path / "catalog.sqlite")


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_at_a_random_moment_then_the_lake_recovers_exactly(
    tmp_path, mixed_reference, trial
):
    import random

    corpus, expected, commits = mixed_reference
    lake_path = tmp_path / "lake"
    _new_lake(lake_path)
    killed, at = _kill_at_random(lake_path, corpus, random.Random(SEED * 100 + trial), commits)

    lake = docframe.open(lake_path, create=False)  # opens, whatever the moment
    assert lake.snapshot().snapshot_id == at
    state = _state(lake)  # every relation reads in full
    _assert_consistent(state)
    committed = {u for u, r in state["sources"].items() if r[0] == "ok"}
    _assert_same(state, expected, committed)  # what was committed is exactly the reference's

    con = lake.connect()
    try:
        known = {Path(r[0]).name for r in con.execute("SELECT path FROM segments")}
    finally:
        con.close()
    orphans = {p.name for p in (lake_path / "segments").iterdir()} - known
    assert sorted(lake.gc().segments) == sorted(orphans)
    assert {p.name for p in (lake_path / "segments").iterdir()} == known
    _assert_same(_state(lake), state)  # gc touched nothing committed

    report = lake.ingest(corpus)  # the re-run finishes the job
    assert report.ok
    assert report.count("unchanged") == len(committed)
    _assert_same(_state(lake), expected)
    print(f"trial {trial}: killed={killed} at snapshot {at} of {commits}, "
          f"{len(orphans)} orphan(s) collected, recovered exactly")  # fmt: skip
