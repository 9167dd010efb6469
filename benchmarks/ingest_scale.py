"""Ingest scale-out: one corpus into three fresh lakes, single-process and on Dask.

The same folder (``--docs`` SciFact abstracts written as text files, plus ``--pdfs``
PDFs from the shared corpus) is ingested three times, each into a new lake:

- ``single``: ``lake.ingest(folder)`` in this process (extraction threads, one model);
- ``local``: ``lake.ingest(folder, workers=N)``, a fresh ``LocalCluster`` of N worker
  processes that the ingest starts and closes;
- ``external``: ``lake.ingest(folder, scheduler=ADDRESS)`` on a cluster this script
  starts with ``dask scheduler`` and N ``dask worker --nthreads 1`` commands (and kills
  at the end).

Timed: the ingest call, less Dask's start-up and shut-down. Cluster start-up is
reported apart: for ``external`` the commands until N workers are connected
(``external_cluster_start_s``), then a warm-up ingest of small notes into a scratch
lake so that every worker has imported docframe and loaded its model, as on a
long-lived cluster (``external_warmup_s``); for both Dask runs the client's start
inside the ingest (for ``local`` that is starting the ``LocalCluster``:
``local_startup_s``) and its close, measured by wrapping
``docframe.pipelines.ingest_dask.dask_client``. A local cluster is new on every
ingest: its workers import docframe and load the model on their first task, inside
the timed part (what ``--workers N`` costs every time). The driver's model is loaded
before each run and not timed (``model_load_s``).

Reported per run: files/s and chunks/s of the timed part, the stage that bounded
it and items/s per stage (the ingest's own ``IngestReport.stages``); then
``dask_local_ratio`` and ``dask_external_ratio`` (Dask files/s over single files/s:
> 1 means Dask is faster) and whether the three lakes hold the same chunk ids (and the
largest vector difference to ``single``). ``other_cpu_share``: the machine's CPU
used by processes other than this one and its descendants (the workers count as
ours) during each run; above 10% a warning is printed. The last line is one JSON
object.

    .venv/bin/python benchmarks/ingest_scale.py                     # 300 abstracts + 6 PDFs
    .venv/bin/python benchmarks/ingest_scale.py --docs 2000 --pdfs 8 --workers 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
sys.path.insert(0, str(REPO_ROOT))
from bench_ingest_search import CpuMeter, fmt_share, git_revision  # noqa: E402

from tests.dask_cluster import ExternalCluster  # noqa: E402  (the tests' cluster, same CLI)

SHARED = REPO_ROOT.parent / "shared" / "corpus"
DEFAULT_DATA = SHARED / "retrieval" / "scifact"
# PDFs that read cleanly, small to large; the one from pdfplumber holds a table
PDFS = (
    "py-pdf-sample-files/002-trivial-libre-office-writer.pdf",
    "py-pdf-sample-files/pdflatex-4-pages.pdf",
    "pdfplumber/nics-background-checks-2015-11.pdf",
    "py-pdf-sample-files/multicolumn.pdf",
    "py-pdf-sample-files/google-doc-document.pdf",
    "py-pdf-sample-files/pdflatex-outline.pdf",
    "py-pdf-sample-files/crazyones-pdfa.pdf",
    "py-pdf-sample-files/habibi.pdf",
)
RUNS = ("single", "local", "external")


# -- data ------------------------------------------------------------------------
def write_corpus(folder: Path, data: Path, n_docs: int, n_pdfs: int) -> tuple[int, list[str]]:
    """The first ``n_docs`` abstracts as ``<id>.txt`` (title, blank line, text) and the
    first ``n_pdfs`` PDFs of :data:`PDFS` that exist; returns (abstracts, PDFs)."""
    folder.mkdir(parents=True)
    docs = 0
    with gzip.open(data / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if docs >= n_docs:
                break
            doc = json.loads(line)
            text = f"{doc.get('title') or ''}\n\n{doc.get('text') or ''}\n"
            (folder / f"scifact-{doc['_id']}.txt").write_text(text, encoding="utf-8")
            docs += 1
    pdfs = []
    for rel in PDFS[:n_pdfs]:
        source = SHARED / "pdfs" / rel
        if source.is_file():
            shutil.copyfile(source, folder / source.name)
            pdfs.append(source.name)
    return docs, pdfs


# -- measuring -------------------------------------------------------------------
def _tree_cpu() -> float:
    """CPU seconds of this process and its descendants (live ones, and reaped ones)."""
    import psutil

    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for proc in psutil.Process().children(recursive=True):
        try:
            c = proc.cpu_times()
        except psutil.Error:  # ended meanwhile
            continue
        total += c.user + c.system + c.children_user + c.children_system
    return total


class TreeCpuMeter(CpuMeter):
    """:class:`CpuMeter` counting Dask workers (descendants of this process) as ours."""

    def __init__(self) -> None:
        super().__init__()
        self.own = _tree_cpu()

    def foreign_share(self) -> float | None:
        end = self._machine()
        if self.start is None or end is None:
            return None
        busy, total = end[0] - self.start[0], end[1] - self.start[1]
        return max(0.0, busy - (_tree_cpu() - self.own)) / total if total > 0 else None


@contextmanager
def dask_phases(log: dict[str, float]) -> Iterator[None]:
    """Time the Dask client's start (a local cluster's too) and close inside an ingest."""
    from docframe.pipelines import ingest_dask

    original = ingest_dask.dask_client

    @contextmanager
    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        entered = time.perf_counter()
        with original(*args, **kwargs) as client:
            log["startup_s"] = time.perf_counter() - entered
            try:
                yield client
            finally:
                log["work_end"] = time.perf_counter()
        log["teardown_s"] = time.perf_counter() - log["work_end"]

    ingest_dask.dask_client = timed
    try:
        yield
    finally:
        ingest_dask.dask_client = original


def run_ingest(lake_path: Path, folder: Path, **where: Any) -> dict[str, Any]:
    """One fresh lake, one ingest; the timed part and the report's stages."""
    import docframe

    lake = docframe.open(lake_path)
    start = time.perf_counter()
    lake.embedder.encode(["warm up"])  # the driver's model: loaded before the clock
    model_load_s = time.perf_counter() - start
    log: dict[str, float] = {}
    meter = TreeCpuMeter()
    with dask_phases(log):
        start = time.perf_counter()
        report = lake.ingest(folder, **where)
        wall = time.perf_counter() - start
    share = meter.foreign_share()
    if not report.ok:
        for o in report.failures:
            print(f"  failed: {o.error}")
    startup, teardown = log.get("startup_s", 0.0), log.get("teardown_s", 0.0)
    timed = wall - startup - teardown
    files = report.count("ingested")
    return {
        "lake": lake,
        "files": files,
        "failed": len(report.failures),
        "chunks": report.n_chunks,
        "wall_s": round(wall, 3),
        "startup_s": round(startup, 3),
        "teardown_s": round(teardown, 3),
        "timed_s": round(timed, 3),
        "files_s": round(files / timed, 2),
        "chunks_s": round(report.n_chunks / timed, 2),
        "model_load_s": round(model_load_s, 3),
        "bound": report.bound,
        "stages": {
            name: {
                "items": s.items,
                "unit": s.unit,
                "lanes": s.lanes,
                "items_per_s": None if s.items_per_s is None else round(s.items_per_s, 2),
                "busy_s": round(s.busy_s, 3),
                "wait_s": round(s.wait_s, 3),
            }
            for name, s in report.stages.items()
        },  # fmt: skip
        "workers": len(report.workers),
        "stage_lines": report.stage_lines(),
        "other_cpu_share": share,
    }


def warm_up(address: str, folder: Path, workers: int) -> tuple[float, int]:
    """A long-lived cluster is warm: before the timed run, a scratch ingest of small notes
    (groups of one file, several per worker) has every worker import docframe and load
    its model. Returns its seconds and how many workers it reached."""
    import docframe

    notes = folder / "notes"
    notes.mkdir(parents=True)
    for i in range(8 * workers):
        (notes / f"warm-{i:03d}.txt").write_text(f"Warm-up note {i}: nothing to see here.\n")
    start = time.perf_counter()
    report = docframe.open(folder / "lake").ingest(notes, scheduler=address)
    return time.perf_counter() - start, len(report.workers)


def compare(lakes: dict[str, Any]) -> tuple[bool, float | None]:
    """Whether every lake holds the single lake's chunk ids, and the largest absolute
    difference of any vector component to the single lake's (same chunk id)."""
    import numpy as np

    frames = {
        name: lake.sql("SELECT chunk_id, embedding FROM chunks ORDER BY chunk_id").to_pandas()
        for name, lake in lakes.items()
    }
    want = frames["single"]
    same = all(list(f.chunk_id) == list(want.chunk_id) for f in frames.values())
    if not same or not len(want):
        return same, None
    base = np.stack(want.embedding)
    diff = max(float(np.abs(np.stack(f.embedding) - base).max()) for f in frames.values())
    return same, diff


def machine() -> dict[str, Any]:
    import platform

    import dask
    import distributed
    import onnxruntime

    import docframe

    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "docframe": docframe.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "onnxruntime": onnxruntime.__version__,
        "git": git_revision(),
    }


# -- main ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact BEIR directory")
    ap.add_argument("--docs", type=int, default=300, help="SciFact abstracts (default 300)")
    ap.add_argument("--pdfs", type=int, default=6, help=f"PDFs, at most {len(PDFS)} (default 6)")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers (default 2)")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the corpus and lakes")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and the lakes")
    args = ap.parse_args(argv)
    if args.docs < 0 or not 0 <= args.pdfs <= len(PDFS) or args.docs + args.pdfs < 1:
        ap.error(f"--docs >= 0 and 0 <= --pdfs <= {len(PDFS)}, at least one file in all")
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    if not (args.data / "corpus.jsonl.gz").is_file():
        sys.exit(f"SciFact not found: {args.data / 'corpus.jsonl.gz'} (pass --data DIR)")

    root = Path(tempfile.mkdtemp(prefix="ingest-scale-", dir=args.tmp))
    try:
        return measure(args, root)
    finally:
        if args.keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def measure(args: argparse.Namespace, root: Path) -> int:
    folder = root / "corpus"
    n_docs, pdfs = write_corpus(folder, args.data, args.docs, args.pdfs)
    if len(pdfs) < args.pdfs:
        print(f"note: {args.pdfs - len(pdfs)} PDF(s) not found under {SHARED / 'pdfs'}")
    info = machine()
    n = args.workers
    print(
        f"ingest scale-out {dt.datetime.now().isoformat(timespec='seconds')}: "
        f"{n_docs} abstracts + {len(pdfs)} PDFs; {n} Dask worker(s); "
        f"{info['cpu_count']} CPU cores; commit {info['git']}"
    )
    runs: dict[str, dict[str, Any]] = {}
    runs["single"] = run_ingest(root / "single", folder)
    runs["local"] = run_ingest(root / "local", folder, workers=n)
    start = time.perf_counter()
    with ExternalCluster(root / "cluster", REPO_ROOT) as cluster:
        cluster.start_scheduler()
        for i in range(n):
            cluster.add_worker(f"worker-{i}")
        cluster.wait_for_workers(n)
        cluster_start = time.perf_counter() - start
        warm_s, warmed = warm_up(cluster.address, root / "warm-up", n)
        if warmed < n:
            print(f"note: the warm-up reached {warmed} of {n} workers")
        runs["external"] = run_ingest(root / "external", folder, scheduler=cluster.address)
        stopping = time.perf_counter()
    cluster_stop = time.perf_counter() - stopping
    same, diff = compare({name: run.pop("lake") for name, run in runs.items()})

    print(f"\n{'run':<9}{'files':>7}{'chunks':>8}{'timed s':>9}{'files/s':>9}{'chunks/s':>10}"
          f"{'start s':>9}  bound")  # fmt: skip
    for name, r in runs.items():
        print(
            f"{name:<9}{r['files']:>7}{r['chunks']:>8}{r['timed_s']:>9.2f}{r['files_s']:>9.2f}"
            f"{r['chunks_s']:>10.1f}{r['startup_s']:>9.2f}  {r['bound']}"
        )
    for name, r in runs.items():
        print(f"\n{name}: stages" + (f" ({r['workers']} workers)" if r["workers"] else ""))
        for line in r.pop("stage_lines"):
            print(f"  {line}")
    single = runs["single"]["files_s"]
    local_ratio = runs["local"]["files_s"] / single if single else None
    external_ratio = runs["external"]["files_s"] / single if single else None
    print(
        f"\nDask / single files/s: local {local_ratio:.3f}, external {external_ratio:.3f} "
        f"(>1: Dask faster); external cluster start {cluster_start:.2f} s, warm-up "
        f"{warm_s:.2f} s, stop {cluster_stop:.2f} s; same chunk ids in all three lakes: {same}"
        + (f" (largest vector difference {diff:.2e})" if diff is not None else "")
    )
    shares = {name: r.pop("other_cpu_share") for name, r in runs.items()}
    print(
        "CPU used by other processes meanwhile: "
        + ", ".join(f"{k} {fmt_share(v)}" for k, v in shares.items())
    )
    if any(v is not None and v > 0.10 for v in shares.values()):
        print("WARNING: the machine was busy with other work; timings are not reliable")
    failed = {name: r["failed"] for name, r in runs.items() if r["failed"]}
    summary = {
        "docs": n_docs,
        "pdfs": len(pdfs),
        "files": runs["single"]["files"],
        "chunks": runs["single"]["chunks"],
        "workers": n,
        **{f"{name}_files_s": r["files_s"] for name, r in runs.items()},
        **{f"{name}_chunks_s": r["chunks_s"] for name, r in runs.items()},
        "dask_local_ratio": None if local_ratio is None else round(local_ratio, 4),
        "dask_external_ratio": None if external_ratio is None else round(external_ratio, 4),
        "local_startup_s": runs["local"]["startup_s"],
        "external_cluster_start_s": round(cluster_start, 3),
        "external_warmup_s": round(warm_s, 3),
        "external_cluster_stop_s": round(cluster_stop, 3),
        "same_chunk_ids": same,
        "max_vector_diff": diff,
        "failed": failed,
        "runs": runs,
        "other_cpu_share": {k: None if v is None else round(v, 3) for k, v in shares.items()},
        "machine": info,
    }
    print(json.dumps(summary))
    return 0 if same and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
