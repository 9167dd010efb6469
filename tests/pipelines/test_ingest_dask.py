"""Document ingest on Dask gives exactly the single-process lake (issue 18).

Everything is real: a cluster started with the ``dask scheduler`` / ``dask worker``
commands (:mod:`tests.dask_cluster`), ``LocalCluster`` worker processes through
``workers=2``, the bundled model, PDFs from the shared corpus, kill -9 of a worker
(the ``worker-task`` failpoint) and signals to a ``docframe ingest`` process.

One mixed folder (notes, Markdown, three PDFs, one of them holding a table, and a
CSV) is ingested single-process once; every Dask run must reproduce that lake: the
same chunk ids, texts, documents, sources, tables and rows, vectors to float noise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import docframe
from docframe.errors import DocframeError
from docframe.testing import assert_frame_equal
from tests.conftest import (
    REPO,
    SHARED_CORPUS,
    chunk_ids,
    chunks_by_source,
    ingested_notes,
    write_topics,
)
from tests.dask_cluster import ExternalCluster
from tests.pipelines.test_ingest_interrupt import _cmd, _env, _latest, _on_disk, _referenced

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow

PDFS = (
    "py-pdf-sample-files/002-trivial-libre-office-writer.pdf",
    "py-pdf-sample-files/pdflatex-4-pages.pdf",
    "pdfplumber/nics-background-checks-2015-11.pdf",
)  # fmt: skip  (the last: a table)
STAGES = ("discover", "extract", "chunk", "embed", "write", "commit")
STAT_FIELDS = {"unit", "items", "busy_s", "wait_s", "lanes", "items_per_s"}
ALLOWED_FAILURES = "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"


# -- the data and the reference lake --------------------------------------------------
def _mixed_folder(folder: Path) -> Path:
    """Notes and Markdown written here, three PDFs from the shared corpus, a CSV."""
    missing = [rel for rel in PDFS if not (SHARED_CORPUS / "pdfs" / rel).is_file()]
    if missing:
        pytest.skip(f"the shared corpus's PDFs are not there: {SHARED_CORPUS / 'pdfs'} {missing}")
    write_topics(folder, 8)
    for name, topic in (("guide.md", "lanterns"), ("changelog.md", "glaciers")):
        sections = "\n\n".join(
            f"## Part {i}\n\nThis part of the {topic} guide explains step {i} in detail: "
            f"measure {i * 7} units, record them, and compare with part {i - 1}."
            for i in range(1, 7)
        )
        (folder / name).write_text(f"# About {topic}\n\n{sections}\n")
    for rel in PDFS:
        shutil.copyfile(SHARED_CORPUS / "pdfs" / rel, folder / Path(rel).name)
    rows = "\n".join(f"{i},item-{i},{i * 1.25}" for i in range(40))
    (folder / "stock.csv").write_text(f"id,label,value\n{rows}\n")
    return folder


def lake_state(lake) -> dict:
    """Everything an ingest leaves that must not depend on where it ran. Version and
    snapshot ids are left out: they count commits, which may be grouped differently."""
    chunks = lake.sql("SELECT * FROM chunks ORDER BY chunk_id").to_pandas()
    documents = lake.sql("SELECT * FROM documents ORDER BY doc_id").to_pandas()
    sources = {
        r["source_uri"]: {k: v for k, v in r.items() if k not in ("snapshot_id", "updated_at")}
        for r in lake.sources().to_list()
    }
    tables = {
        name: (t.source_uri, t.origin, t.columns, t.n_rows, t.notes, t.location)
        for name, t in lake.snapshot().tables.items()
    }
    rows = {name: lake.sql(f'SELECT * FROM "{name}"').to_pandas() for name in tables}
    return {"chunks": chunks, "documents": documents, "sources": sources, "tables": tables,
            "rows": rows, "by_source": chunks_by_source(lake)}  # fmt: skip


def assert_same_lake(lake, want: dict, uris: set[str] | None = None) -> None:
    """``lake`` holds what ``want`` holds (for the sources ``uris``, default all)."""
    got = lake_state(lake)

    def part(frame: pd.DataFrame) -> pd.DataFrame:
        keep = frame if uris is None else frame[frame.source_uri.isin(uris)]
        return keep.reset_index(drop=True)

    def mine(mapping: dict, uri_of=None) -> dict:  # keyed by uri unless uri_of says
        return {
            k: v for k, v in mapping.items()
            if uris is None or (uri_of(v) if uri_of else k) in uris
        }  # fmt: skip

    g, w = part(got["chunks"]), part(want["chunks"])
    assert list(g.chunk_id) == list(w.chunk_id)
    plain = [c for c in w.columns if c != "embedding"]
    pd.testing.assert_frame_equal(g[plain], w[plain])  # texts, provenance, metadata
    assert len(g) > 0
    assert np.allclose(np.stack(g.embedding), np.stack(w.embedding), atol=1e-5)
    pd.testing.assert_frame_equal(part(got["documents"]), part(want["documents"]))
    assert mine(got["by_source"]) == mine(want["by_source"])  # chunks per source
    assert mine(got["sources"]) == mine(want["sources"])
    tables = mine(want["tables"], lambda t: t[0])
    assert mine(got["tables"], lambda t: t[0]) == tables
    for name in tables:
        assert_frame_equal(got["rows"][name], want["rows"][name], check_dtype=True)


def check_stages(report, *, files: int, workers: list[str] | None) -> None:
    """The per-stage report: every stage, counted in its unit; on Dask, each worker's own
    stages, which add up to the run's, and no commits (the driver alone commits)."""
    from docframe.pipelines.stages import STAGE_UNITS, StageStats

    assert tuple(report.stages) == STAGES == tuple(STAGE_UNITS)
    for name, stats in report.stages.items():
        assert isinstance(stats, StageStats) and stats.unit == STAGE_UNITS[name], name
    assert report.stages["discover"].items == files
    assert report.stages["chunk"].items == report.n_chunks > 0
    assert report.stages["embed"].items == report.n_chunks  # a fresh lake: nothing reused
    assert report.stages["commit"].items >= 1
    assert report.bound in STAGES
    if workers is None:
        assert not report.workers  # filled on Dask only
        return
    assert sorted(report.workers) == workers
    for address, stages in report.workers.items():
        assert all(isinstance(s, StageStats) for s in stages.values()), address
        assert sum(s.items for s in stages.values()) > 0, f"{address} did nothing"
        assert stages.get("commit") is None or stages["commit"].items == 0, address
    on_workers = sum(w["chunk"].items for w in report.workers.values() if "chunk" in w)
    assert on_workers == report.stages["chunk"].items  # the workers chunked it all


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The mixed folder, its file count and the single-process lake's state."""
    root = tmp_path_factory.mktemp("dask-ingest")
    folder = _mixed_folder(root / "corpus")
    lake = docframe.open(root / "single")
    report = lake.ingest(folder)
    assert report.ok, report.failures
    files = len(list(folder.iterdir()))
    assert report.count("ingested") == files == 14
    check_stages(report, files=files, workers=None)
    return folder, files, lake_state(lake)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker --nthreads 1`` processes, killed after."""
    with ExternalCluster(tmp_path_factory.mktemp("cluster"), REPO) as external:
        external.start_scheduler()
        external.add_worker("worker-0")
        external.add_worker("worker-1")
        external.workers = external.wait_for_workers(2)
        yield external


@pytest.fixture(scope="module")
def cluster_lake(mixed, cluster, tmp_path_factory):
    """The mixed folder ingested through the external cluster."""
    folder, _, _ = mixed
    lake = docframe.open(tmp_path_factory.mktemp("via-cluster") / "lake")
    return lake, lake.ingest(folder, scheduler=cluster.address)


# -- the same lake, wherever it is made ----------------------------------------------
def test_external_cluster_ingest_equals_single_process(mixed, cluster, cluster_lake):
    folder, files, expected = mixed
    lake, report = cluster_lake
    assert report.ok, report.failures
    assert report.count("ingested") == files
    assert report.n_chunks == len(expected["chunks"])
    assert_same_lake(lake, expected)
    assert lake.verify().ok
    check_stages(report, files=files, workers=cluster.workers)


def test_workers_2_ingest_equals_single_process_and_leaves_no_process(mixed, tmp_path):
    folder, files, expected = mixed
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(folder, workers=2)
    assert report.ok, report.failures
    assert report.count("ingested") == files
    assert_same_lake(lake, expected)
    assert len(report.workers) == 2
    check_stages(report, files=files, workers=sorted(report.workers))
    deadline = time.monotonic() + 10
    while (left := {p.pid for p in psutil.Process().children(recursive=True)} - before) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not left, "the local cluster's worker processes outlived the ingest"


def test_rerun_through_the_cluster_with_nothing_changed_commits_nothing(
    mixed, cluster, cluster_lake
):
    folder, files, _ = mixed
    lake, first = cluster_lake
    assert first.ok, first.failures
    latest, segments = lake.snapshot().snapshot_id, _on_disk(lake.root)
    again = lake.ingest(folder, scheduler=cluster.address)
    assert again.ok, again.failures
    assert again.count("unchanged") == files
    assert again.count("ingested") == 0 and again.n_chunks == 0
    assert again.snapshot_id == latest
    assert docframe.open(lake.root, create=False).snapshot().snapshot_id == latest
    assert _on_disk(lake.root) == segments  # no worker wrote anything


# -- workers that die -------------------------------------------------------------
def _doomed_cluster(folder: Path, allowed_failures: int) -> ExternalCluster:
    """A scheduler retrying a task ``allowed_failures`` times after its worker died, a
    steady worker and one (no nanny: it stays dead) that kills itself with -9 as its
    first ingest task starts."""
    extra = ExternalCluster(folder, REPO)
    try:
        extra.start_scheduler(env={ALLOWED_FAILURES: str(allowed_failures)})
        extra.add_worker("steady")
        extra.add_worker("doomed", nanny=False, env={"DOCFRAME_FAILPOINT": "worker-task:1"})
        extra.wait_for_workers(2)
    except BaseException:
        extra.close()
        raise
    return extra


def _died(extra: ExternalCluster) -> None:
    doomed = extra.procs["doomed"]
    try:
        doomed.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the doomed worker never started an ingest task (it is still alive)")
    assert doomed.returncode == -signal.SIGKILL, extra.log("doomed")


def test_a_worker_killed_mid_job_has_its_files_retried_on_another(mixed, tmp_path):
    folder, files, expected = mixed
    with _doomed_cluster(tmp_path / "cluster", allowed_failures=1) as extra:
        lake = docframe.open(tmp_path / "lake")
        report = lake.ingest(folder, scheduler=extra.address)
        _died(extra)
    assert report.ok, report.failures
    assert report.count("ingested") == files
    assert_same_lake(lake, expected)
    assert lake.verify().ok


def test_files_whose_worker_died_past_the_retries_are_recorded_failed(tmp_path):
    """With no retry left (``allowed-failures`` 0 on this scheduler), the file the
    doomed worker held fails, named, saying a worker died; the rest go on and a
    re-run on the steady worker finishes the lake. Six files on two workers make
    groups of one file (a group of several would be split and retried alone)."""
    folder = tmp_path / "corpus"
    write_topics(folder, 6)
    single = docframe.open(tmp_path / "single")
    assert single.ingest(folder).ok
    expected = lake_state(single)
    with _doomed_cluster(tmp_path / "cluster", allowed_failures=0) as extra:
        lake = docframe.open(tmp_path / "lake")
        report = lake.ingest(folder, scheduler=extra.address)
        _died(extra)
        failed = {o.input: o.error for o in report.failures}
        assert 0 < len(failed) < 6
        for uri, error in failed.items():
            assert Path(uri).name in error and "died" in error.lower(), error
            assert "worker" in error.lower(), error
        ingested = {o.input for o in report.outcomes if o.status == "ingested"}
        assert ingested | set(failed) == {str(p) for p in folder.iterdir()}
        errors = {r["source_uri"] for r in lake.sources().to_list() if r["status"] != "ok"}
        assert errors == set(failed)
        assert_same_lake(lake, expected, uris=ingested)

        again = lake.ingest(folder, scheduler=extra.address)  # the steady worker alone
    assert again.ok, again.failures
    assert {o.input for o in again.outcomes if o.status == "ingested"} == set(failed)
    assert again.count("unchanged") == 6 - len(failed)
    assert_same_lake(lake, expected)


# -- the command line -----------------------------------------------------------------
def _check_report_file(path: Path, workers: list[str] | None) -> dict:
    data = json.loads(path.read_text())
    assert tuple(data["stages"]) == STAGES
    for name, stats in data["stages"].items():
        assert STAT_FIELDS <= set(stats), name
    assert data["bound"] in STAGES
    if workers is None:
        assert not data.get("workers")
    else:
        assert sorted(data["workers"]) == workers
        for address, stages in data["workers"].items():
            assert stages and set(stages) <= set(STAGES), address
            for name, stats in stages.items():
                assert STAT_FIELDS <= set(stats), (address, name)
    return data


def test_report_file_holds_stages_and_workers(mixed, cluster, tmp_path):
    folder, files, expected = mixed
    out = tmp_path / "report.json"
    cmd = [*_cmd(tmp_path / "lake", folder), "--scheduler", cluster.address, "--report", str(out)]
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = _check_report_file(out, cluster.workers)
    assert data["stages"]["chunk"]["items"] == len(expected["chunks"])
    assert data["stages"]["discover"]["items"] == files
    assert_same_lake(docframe.open(tmp_path / "lake", create=False), expected)

    single = tmp_path / "single.json"
    cmd = [*_cmd(tmp_path / "other", folder), "--report", str(single)]
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = _check_report_file(single, None)
    assert data["stages"]["chunk"]["items"] == len(expected["chunks"])


def test_cli_on_a_cluster_exits_1_and_records_a_bad_file_as_single_process_does(cluster, tmp_path):
    folder = tmp_path / "corpus"
    write_topics(folder, 3)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF at all\n")
    errors = {}
    for name, extra in (("single", []), ("cluster", ["--scheduler", cluster.address])):
        run = subprocess.run([*_cmd(tmp_path / name, folder), *extra], env=_env(),
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert run.returncode == 1, run.stderr
        assert "broken.pdf" in run.stderr
        lake = docframe.open(tmp_path / name, create=False)
        errors[name] = {
            r["source_uri"]: (r["status"], r["error"]) for r in lake.sources().to_list()
        }
        assert len(chunks_by_source(lake)) == 3
    assert errors["cluster"] == errors["single"]
    assert errors["single"][str(folder / "broken.pdf")][0] != "ok"


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    """200 notes and the chunk ids one single-process ingest of them gives."""
    return ingested_notes(tmp_path_factory.mktemp("notes"), 200)


def _group_gone(pgid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("target", ["driver", "process group"])
def test_sigint_mid_dask_ingest_commits_what_is_done_then_resume(tmp_path, notes, target):
    """SIGINT to the ``docframe ingest --workers 2`` process, or to its whole process
    group as Ctrl-C in a terminal sends it (the local cluster's workers get it too)."""
    folder, expected = notes
    lake_path = tmp_path / "lake"
    cmd = [*_cmd(lake_path, folder), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=_env(), text=True, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and _latest(lake_path) < 1:
            time.sleep(0.02)
        assert proc.poll() is None, "the ingest ended before it could be interrupted"
        if target == "driver":
            proc.send_signal(signal.SIGINT)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "run the same command again: committed files are skipped" in stderr
    assert _group_gone(proc.pid), "the local cluster's processes outlived the ingest"
    lake = docframe.open(lake_path, create=False)
    committed = chunks_by_source(lake)  # each committed file whole
    n = len(committed)
    assert 0 < n < 200
    assert f"committed {n} file(s)" in stderr
    assert f"{n} ingested" in stdout
    assert all(r["status"] == "ok" for r in lake.sources().to_list()), "a file was failed"
    assert chunk_ids(lake) < expected
    left = _on_disk(lake_path) - _referenced(lake_path)  # asserted last: the re-run first

    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{200 - n} ingested, {n} unchanged" in again.stdout
    lake = docframe.open(lake_path, create=False)
    assert len(chunks_by_source(lake)) == 200
    assert chunk_ids(lake) == expected  # the same result as one single-process ingest
    assert _on_disk(lake_path) == _referenced(lake_path)  # no orphan segments
    assert lake.verify().ok
    assert not left, (
        f"the interrupted run left {len(left)} segment file(s) it did not commit (the "
        f"re-run removed them): {sorted(left)}"
    )


# -- a worker that cannot reach the lake ------------------------------------------------
def test_a_worker_that_cannot_see_the_lake_folder_never_leaves_a_broken_lake(mixed, tmp_path):
    """One worker runs in its own mount namespace with an empty tmpfs over the lake's
    parent folder: the files are there for it, the lake is not (a host without the
    shared lake mount). Whatever the job does about it, it must never commit a segment
    the lake does not hold, and what it does not ingest must say why."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the lake from one worker needs root and unshare (mount namespace)")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs tmpfs {tmp_path}"], capture_output=True)  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"cannot mount in a private mount namespace here: {probe.stderr!r}")
    folder, files, expected = mixed
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    lake_path = hidden / "lake"
    blind_prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount -t tmpfs tmpfs "$0" && exec "$@"', str(hidden)]  # fmt: skip
    with ExternalCluster(tmp_path / "cluster", REPO) as extra:
        extra.start_scheduler()
        extra.add_worker("sighted")
        extra.add_worker("blind", prefix=blind_prefix)
        extra.wait_for_workers(2)
        blind = extra.addresses()["blind"]
        lake = docframe.open(lake_path)
        try:
            report, error = lake.ingest(folder, scheduler=extra.address), None
        except DocframeError as exc:
            report, error = None, str(exc)
    if report is None:  # refused: nothing may have been committed
        assert str(lake_path) in error and blind in error, error
        assert lake.snapshot().is_empty and not (lake_path / "segments").exists()
        return
    assert _referenced(lake_path) <= _on_disk(lake_path), "committed segments that are not there"
    assert lake.verify().ok
    committed = chunks_by_source(lake)  # reads every committed chunk
    ingested = {o.input for o in report.outcomes if o.status == "ingested"}
    assert ingested <= set(expected["sources"])
    if ingested:
        assert_same_lake(lake, expected, uris=ingested)
    assert set(committed) <= ingested
    for o in report.failures:
        assert "lake" in o.error.lower(), o.error
    if not report.failures:  # all ingested: then not by the blind worker
        assert not any(s.items for s in report.workers.get(blind, {}).values())
    assert ingested | {o.input for o in report.failures} == set(expected["sources"])
