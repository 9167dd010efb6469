"""Nothing done is lost: commits by time as well as by chunks, a SIGINT/SIGTERM commits
the batch in hand and says how to resume, and a kill -9's orphan segments are removed
by the next writer. Real lakes, real signals, the ingest in a child process."""

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
from tests.conftest import SHARED_CORPUS, chunk_ids, chunks_by_source, ingested_notes, write_topics

pytestmark = pytest.mark.slow

SAMPLE_PDFS = SHARED_CORPUS / "pdfs" / "py-pdf-sample-files"


def _cmd(lake: Path, corpus: Path) -> list[str]:
    return [sys.executable, "-m", "docframe.cli", "--lake", str(lake), "ingest", str(corpus),
            "--no-progress"]  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", DOCFRAME_COMMIT_CHUNKS="4")
    for var in ("DOCFRAME_FAILPOINT", "DOCFRAME_COMMIT_SECONDS"):
        env.pop(var, None)
    env.update(extra)
    return env


def _latest(lake: Path) -> int:
    catalog = lake / "catalog.sqlite"
    if not catalog.exists():
        return 0
    con = sqlite3.connect(catalog)
    try:
        return con.execute("SELECT max(snapshot_id) FROM snapshots").fetchone()[0] or 0
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _on_disk(lake: Path) -> set[str]:
    return {p.name for p in (lake / "segments").iterdir()}


def _referenced(lake: Path) -> set[str]:
    con = sqlite3.connect(lake / "catalog.sqlite")
    try:
        return {Path(r[0]).name for r in con.execute("SELECT path FROM segments")}
    finally:
        con.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """200 notes and the chunk ids one clean ingest of them gives."""
    return ingested_notes(tmp_path_factory.mktemp("interrupt"), 200)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_ingest_commits_the_batch_in_hand_then_resume(tmp_path, corpus, sig, code):
    folder, expected = corpus
    lake_path = tmp_path / "lake"
    env = _env(DOCFRAME_COMMIT_SECONDS="0.5")  # the time trigger on as well
    proc = subprocess.Popen(_cmd(lake_path, folder), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and _latest(lake_path) < 2:
        time.sleep(0.02)
    assert proc.poll() is None, "the ingest ended before it could be interrupted"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == code, stderr
    assert "run the same command again: committed files are skipped" in stderr
    lake = docframe.open(lake_path, create=False)
    committed = chunks_by_source(lake)
    n = len(committed)
    assert 0 < n < 200
    assert f"committed {n} file(s)" in stderr
    assert f"{n} ingested" in stdout
    assert chunk_ids(lake) < expected

    again = subprocess.run(_cmd(lake_path, folder), env=_env(), capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"{200 - n} ingested, {n} unchanged" in again.stdout
    lake = docframe.open(lake_path, create=False)
    assert len(chunks_by_source(lake)) == 200
    assert chunk_ids(lake) == expected  # the same result as one clean ingest


def test_time_trigger_commits_before_commit_chunks(tmp_path, monkeypatch):
    """A 1.8 MB PDF thesis, read in a sandboxed worker process and chunked, takes more
    than 0.5 s before the last file is in hand; 1,000,000 chunks are never reached."""
    if not SAMPLE_PDFS.is_dir():
        pytest.skip(f"{SAMPLE_PDFS} is not there (the shared corpus)")
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("002-trivial-libre-office-writer.pdf", "GeoTopo-komprimiert.pdf",
                 "minimal-document.pdf"):  # fmt: skip
        (folder / name).write_bytes((SAMPLE_PDFS / name).read_bytes())
    monkeypatch.setenv("DOCFRAME_COMMIT_CHUNKS", "1000000")
    clean = docframe.open(tmp_path / "clean")
    assert clean.ingest(folder, jobs=1).ok
    assert _latest(tmp_path / "clean") == 1  # by chunks alone: one commit at the end

    monkeypatch.setenv("DOCFRAME_COMMIT_SECONDS", "0.5")
    lake = docframe.open(tmp_path / "lake")
    assert lake.ingest(folder, jobs=1).ok
    assert _latest(tmp_path / "lake") >= 2, "the time trigger committed nothing early"
    first = lake.sql("SELECT count(DISTINCT source_uri) AS n FROM chunks", snapshot=1)
    assert 0 < first.to_pandas().n[0] < 3  # the first commit came before the last file
    assert chunk_ids(lake) == chunk_ids(clean)
    assert len(chunks_by_source(lake)) == 3


def test_orphans_of_a_kill_9_are_removed_by_the_next_ingest(tmp_path):
    folder = tmp_path / "corpus"
    write_topics(folder, 24)
    lake_path = tmp_path / "lake"
    env = _env(DOCFRAME_FAILPOINT="segments-written:2")  # dies holding uncommitted files
    died = subprocess.run(_cmd(lake_path, folder), env=env, capture_output=True, timeout=300)
    assert died.returncode == -signal.SIGKILL
    orphans = _on_disk(lake_path) - _referenced(lake_path)
    assert orphans, "the kill left uncommitted segment files"

    lake = docframe.open(lake_path, create=False)
    assert lake.ingest(folder).ok  # no gc
    assert not orphans & _on_disk(lake_path)
    assert _on_disk(lake_path) == _referenced(lake_path)
    assert len(chunks_by_source(lake)) == 24
    assert lake.gc().segments == []


def test_a_second_signal_aborts_at_once_and_the_next_run_finishes(tmp_path):
    """The first SIGINT asks for the batch in hand to be committed; a second one while it
    is still being embedded (1,300 chunks in one batch: seconds on any CPU) aborts
    without committing it, as an unhandled Ctrl-C would; the next run does the work."""
    import random

    folder = tmp_path / "corpus"
    folder.mkdir()
    words = ["alpha", "river", "stone", "cloud", "field", "night", "glass", "orbit"]
    for i in range(12):
        rng = random.Random(i)
        text = " ".join(f"{rng.choice(words)}{rng.randint(0, 999)}" for _ in range(6000))
        (folder / f"f{i:02d}.txt").write_text(text + "\n")
    lake_path = tmp_path / "lake"
    env = _env(DOCFRAME_COMMIT_CHUNKS="100000", DOCFRAME_COMMIT_SECONDS="1000")  # one batch
    proc = subprocess.Popen(_cmd(lake_path, folder), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and not (lake_path / "catalog.sqlite").exists():
        time.sleep(0.05)
    time.sleep(1.0)  # reading 12 files takes well under the seconds their embedding does
    proc.send_signal(signal.SIGINT)
    first = proc.stderr.readline()  # the job says it will commit what it holds
    assert first.startswith("SIGINT: committing the work in hand"), first
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 130, stderr
    assert "interrupted by SIGINT: committed" not in stderr  # aborted, not committed
    assert _latest(lake_path) == 0
    again = subprocess.run(_cmd(lake_path, folder), env=_env(), capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "12 ingested" in again.stdout
    assert _on_disk(lake_path) == _referenced(lake_path)  # the abort's files were swept
