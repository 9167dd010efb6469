"""kill -9 at every stage of a commit, and readers querying while another process writes."""

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
from tests.conftest import write_topics

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
    by_source = (
        lake.sql("SELECT source_uri, count(*) AS n FROM chunks GROUP BY 1")
        .to_pandas()
        .set_index("source_uri")
        .n.to_dict()
    )
    expected = {
        r["source_uri"]: r["n_chunks"] for r in lake.sources().to_list() if r["status"] == "ok"
    }
    assert by_source == expected
    ids = set(lake.sql("SELECT chunk_id FROM chunks").to_pandas().chunk_id)
    return snap.snapshot_id, ids


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The chunk ids a clean, uninterrupted ingest of the corpus produces."""
    root = tmp_path_factory.mktemp("ref")
    corpus = root / "corpus"
    write_topics(corpus, 24)
    lake = docframe.open(root / "lake")
    assert lake.ingest(corpus).ok
    return corpus, set(lake.sql("SELECT chunk_id FROM chunks").to_pandas().chunk_id)


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
