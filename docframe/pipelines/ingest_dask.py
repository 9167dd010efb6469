"""Document ingestion on Dask: workers read, chunk, embed and write; the driver commits.

The driver (the process that ran ``docframe ingest --workers N`` or
``--scheduler ADDRESS``) discovers and plans the files exactly as a
single-process ingest does, while holding the lake's writer lock. Each planned
file gets its version id up front; files go to the workers in small groups.
A worker runs the same code a single process runs — extract (the PDF sandbox
and its limits included), chunk, embed — then writes the group's immutable
Parquet segments into the lake and returns their descriptors. Only the driver
touches the catalog: it commits the returned segments in batches (by chunks and
by time, as a single process does), so snapshots, incremental skips, crash
safety and readers during writes are unchanged, and the lake holds the same
chunk ids, texts and vectors as a single-process ingest of the same files.

The lake must be on a filesystem every worker reaches at the same path: before
any work, each worker reads a probe file the driver wrote and the job stops
with one line naming the workers that could not.

A worker that dies while it holds a group (a crash, a kill -9, the OOM killer)
gets its group retried by the scheduler once (``allowed-failures`` is 1 on the
clusters this starts; set ``distributed.scheduler.allowed-failures`` on your
own); a group of several files that dies twice is split and each file tried
alone, and a file that still kills its worker is recorded as failed. Segments a
dead worker left half-written are not in the catalog; the next writer removes
them (:mod:`docframe.lake.orphans`): the driver holds the writer lock for the
whole job and waits for every group it submitted, so none is removed while a worker
may still write it (a second signal, which aborts at once, is the exception).
"""

from __future__ import annotations

import bisect
import math
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from docframe.backend import engine_for
from docframe.errors import ConnectorError, DocframeError
from docframe.lake import commits
from docframe.lake.commits import Failure, SegmentRecord, SourceVersion
from docframe.pipelines.dask_exec import DASK_HINT, _require, dask_client
from docframe.pipelines.stages import StageClock
from docframe.pipelines.table_writer import claimed_name

if TYPE_CHECKING:
    from docframe.connectors.media.options import MediaOptions
    from docframe.connectors.pdf.options import PdfOptions
    from docframe.connectors.tables import TableOptions
    from docframe.lake.store import LakeStore
    from docframe.pipelines.ingest import IngestJob, _Plan

# A task reads a group of consecutive files and writes one chunk segment for them: at
# most GROUP_FILES files or GROUP_BYTES of input (a big file goes alone), and about four
# groups per worker, so a slow group does not leave the others idle at the end. At scale
# (1 M files) that is ~16k groups: segments a few times smaller than a single process's
# 4,096-chunk ones, and a retry of a dead worker's group redoes at most this much.
GROUP_FILES = 64
GROUP_BYTES = 64 << 20
_PROBE = ".dask-probe"
_WORKER_STAGES = ("extract", "chunk", "embed", "write")


@dataclass(frozen=True)
class _Context:
    """What every task needs to read files as the driver would (pickled to the workers)."""

    store: LakeStore
    identity: str  # the embedder, by the identity the lake records
    device: str
    batch_size: int | None
    table_options: TableOptions
    pdf_options: PdfOptions
    media_options: MediaOptions
    table_owner: dict[str, str]
    per_host: dict[str, int]  # workers per host: each takes its share of the host's cores


@dataclass(frozen=True)
class _Group:
    plans: tuple[_Plan, ...]
    ids: dict[str, int]  # input -> the version id its rows carry

    @property
    def order(self) -> int:
        """Its place among the planned files (ids are given in plan order)."""
        return min(self.ids.values())


@dataclass
class _Done:
    """A task's result: written segments and what the driver commits and reports."""

    address: str
    uris: list[str]
    versions: dict[int, SourceVersion]
    segments: list[SegmentRecord]
    failures: list[Failure]
    clock: StageClock
    seconds: dict[str, float]
    embedded: int = 0
    reused: int = 0
    repeated: int = 0
    pages: int = 0
    cores: int = 1  # the worker's extraction threads

    @property
    def chunks(self) -> int:
        return sum(v.n_chunks for v in self.versions.values())

    @property
    def tables(self) -> int:
        return sum(len(v.tables) for v in self.versions.values())


def run_on_dask(job: IngestJob, plans: list[_Plan]) -> None:
    """Read ``plans`` on the job's Dask cluster and commit what the workers write."""
    if not plans:
        job._flush()  # failures and touched mtimes found while planning
        return
    dask = _require("dask", DASK_HINT)
    distributed = _require("distributed", DASK_HINT)
    settings = {  # read by the clusters started here (a cluster of yours has its own)
        "distributed.scheduler.allowed-failures": 1,
        # the PDF sandbox starts processes: a daemonic worker process may not
        "distributed.worker.daemon": False,
    }
    # GPU lakes: dask-cuda's LocalCUDACluster, one worker per GPU, each embedding on its own
    engine = engine_for(job.store.backend.name, distributed=True)
    clients = dask_client(engine, workers=job.workers, scheduler=job.scheduler)
    with dask.config.set(settings), ExitStack() as stack:
        with _workers_ignore_sigint():  # the processes a local cluster starts now
            client = stack.enter_context(clients)
        workers = _check_workers(client, job.store.root)
        clock = job.clock
        for stage in _WORKER_STAGES:
            clock.stages[stage].lanes = len(workers)
        for plan in plans:  # the terminal's media bars stay in this process
            if hasattr(plan.connector, "progress"):
                plan.connector.progress = None
        context = _context(job, workers)
        ids = commits.next_version_ids(job.con, len(plans))  # unused until committed
        groups = _groups(plans, ids, len(workers))
        _Driver(job, client, distributed, context, workers).run(groups)


@contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Start processes with SIGINT ignored: a Ctrl-C at the terminal reaches the whole
    process group, and the driver alone handles it (commits, then closes the cluster).
    Without this the local cluster's workers die of KeyboardInterrupt mid-task."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _context(job: IngestJob, workers: list[str]) -> _Context:
    return _Context(
        store=job.store,
        identity=job.identity,
        device=job.embedder.device,
        batch_size=job.embedder._batch_size,
        table_options=job.table_options,
        pdf_options=job.pdf_options,
        media_options=job.media_options,
        table_owner=dict(job._table_owner),
        per_host=dict(Counter(_host(a) for a in workers)),
    )


def _host(address: str) -> str:
    return urlsplit(address).hostname or address


def _groups(plans: list[_Plan], ids: list[int], workers: int) -> list[_Group]:
    """Consecutive files in groups (see :data:`GROUP_FILES`), each file with its id."""
    size = max(1, min(GROUP_FILES, math.ceil(len(plans) / (4 * workers))))
    groups: list[list[tuple[_Plan, int]]] = [[]]
    held = 0
    for plan, version in zip(plans, ids, strict=True):
        if groups[-1] and (len(groups[-1]) >= size or held + plan.st.st_size > GROUP_BYTES):
            groups.append([])
            held = 0
        groups[-1].append((plan, version))
        held += plan.st.st_size
    return [_Group(tuple(p for p, _ in g), {str(p.path): v for p, v in g}) for g in groups]


class _Driver:
    """Submits the groups, commits results as they come, handles dead workers and signals."""

    def __init__(
        self, job: IngestJob, client: Any, distributed: Any, context: _Context, workers: list[str]
    ) -> None:
        self.job = job
        # each worker's stages, idle ones too (the report holds their stage tables)
        self.clocks = {address: StageClock() for address in workers}
        job.report.workers = {address: c.stages for address, c in self.clocks.items()}
        self.client = client
        self.distributed = distributed
        self.context = context
        self.token = secrets.token_hex(4)
        self.versions: dict[int, SourceVersion] = {}
        self.segments: list[SegmentRecord] = []
        self.chunks = 0
        self.tables = 0
        self.queue: deque[_Group] = deque()  # groups not yet submitted
        # groups are taken in plan order, whatever order they finish in, so table names
        # are claimed as a single process claims them (first file first)
        self.waiting: list[int] = []  # the orders of groups submitted or queued, sorted
        self.ready: dict[int, _Done] = {}  # finished, waiting for an earlier group

    def submit(self, group: _Group) -> Any:
        future = self.client.submit(
            _read_group, self.context, group, pure=False,
            key=f"docframe-ingest-{self.token}-{secrets.token_hex(6)}",
        )  # fmt: skip
        future.group = group  # what to retry or record when its worker dies
        return future

    def run(self, groups: list[_Group]) -> None:
        """Keep one group per worker thread in flight and commit what comes back. Nothing
        waits queued on the cluster, so a stop (SIGINT) cancels nothing: it submits no
        more, and the groups in flight — the batch in hand — are committed when done."""
        job = self.job
        self.queue.extend(groups)
        self.waiting = sorted(g.order for g in groups)
        slots = max(1, sum(self.client.nthreads().values()))
        pending = self.distributed.as_completed()

        def fill() -> None:
            while self.queue and pending.count() < slots and job._stop is None:
                pending.add(self.submit(self.queue.popleft()))

        fill()
        waited = time.perf_counter()
        for future in pending:
            job.clock.add("commit", wait=time.perf_counter() - waited)  # on the workers
            self.take(future)
            if job._stop is None and job._batch_full(self.chunks, self.tables):
                self.commit()
            fill()
            waited = time.perf_counter()
        self.commit()

    def take(self, future: Any) -> None:
        """One finished task: its result waits for the groups before it, or its death is
        handled; then every result whose turn has come is accepted."""
        try:
            self.ready[future.group.order] = future.result()
        except self.distributed.KilledWorker:
            self.died(future.group)
        while self.waiting and self.waiting[0] in self.ready:
            self.accept(self.ready.pop(self.waiting.pop(0)))

    def accept(self, done: _Done) -> None:
        """A group's result, in plan order: its tables claim their names, its segments
        join the next commit."""
        job = self.job
        self.claim_tables(done)
        for failure in done.failures:
            job._add_failure(failure)
        self.versions.update(done.versions)
        self.segments += done.segments
        self.chunks += done.chunks
        self.tables += done.tables
        job.report.embedded += done.embedded
        job.report.reused += done.reused
        job.report.repeated += done.repeated
        for stage, seconds in done.seconds.items():
            job.report.seconds[stage] += seconds
        job.clock.merge(done.clock)
        if done.address not in self.clocks:  # a worker that joined after the start
            self.clocks[done.address] = StageClock()
            job.report.workers[done.address] = self.clocks[done.address].stages
        mine = self.clocks[done.address]
        mine.merge(done.clock)
        mine.stages["extract"].lanes = done.cores
        job.clock.stages["extract"].lanes = sum(
            c.stages["extract"].lanes for c in self.clocks.values()
        )
        job.progress.count("pages", done.pages)
        job.progress.count("chunks", done.chunks)
        for _ in done.uris:
            job.progress.advance_file()

    def claim_tables(self, done: _Done) -> None:
        """Give ``done``'s tables their names against every table this job committed or
        accepted before (its worker knew only the lake's): a PDF's table takes the next
        free ``name_2``, a table file whose name is taken fails, as in one process."""
        owners = self.job._table_owner
        for vid, version in list(done.versions.items()):
            mine = [s for s in done.segments if s.version_ids == [vid]]
            try:
                for table in version.tables:
                    name = claimed_name(
                        owners, version.uri, table.name, in_document=bool(table.location)
                    )
                    for segment in mine:
                        if segment.kind == "table" and segment.relation == table.name:
                            segment.relation = name
                    table.name = name
                    owners[name] = version.uri
            except ConnectorError as exc:  # not committed: its files go, its claims too
                for name in [n for n, uri in owners.items() if uri == version.uri]:
                    owners.pop(name)
                for segment in mine:
                    (self.job.store.root / segment.path).unlink(missing_ok=True)
                done.segments = [s for s in done.segments if s not in mine]
                del done.versions[vid]
                done.failures.append(
                    Failure(version.uri, version.size, version.mtime, version.connector, str(exc))
                )

    def died(self, group: _Group) -> None:
        """A group whose worker died on each try: its files alone, next; then failed."""
        job = self.job
        if len(group.plans) > 1:
            alone = [_Group((p,), {str(p.path): group.ids[str(p.path)]}) for p in group.plans]
            self.queue.extendleft(reversed(alone))
            for single in alone[1:]:  # the first keeps the group's place
                bisect.insort(self.waiting, single.order)
            return
        plan = group.plans[0]
        uri = str(plan.path)
        job._add_failure(
            Failure(
                uri, plan.st.st_size, plan.st.st_mtime, plan.connector.name,
                f"{uri}: the Dask worker reading it died, on each try (docframe's clusters "
                "retry once; yours: distributed.scheduler.allowed-failures); the workers' "
                "logs say why (out of memory? a crash?)",
            )
        )  # fmt: skip
        job.progress.advance_file()
        self.waiting.remove(group.order)

    def commit(self) -> None:
        job = self.job
        failed, job._failed = job._failed, []
        touched, job._touched = job._touched, []
        if not (self.versions or failed or touched):
            return
        commits.failpoint("segments-written")
        job._commit(self.versions, self.segments, failed, touched)
        self.versions, self.segments, self.chunks, self.tables = {}, [], 0, 0


# -- on the workers ------------------------------------------------------------------
def _check_workers(client: Any, root: Path) -> list[str]:
    """Every worker must reach the lake at ``root``: a probe file the driver writes, read
    back by each worker. Returns the workers' addresses."""
    client.wait_for_workers(1, timeout=60)
    token = secrets.token_hex(8)
    probe = root / f"{_PROBE}-{token}"
    probe.write_text(token)
    try:
        answers = client.run(_probe_lake, str(probe), token)
    finally:
        probe.unlink(missing_ok=True)
    bad = {addr: why for addr, why in answers.items() if why}
    if bad:
        addr, why = next(iter(bad.items()))
        raise DocframeError(
            f"{len(bad)} of {len(answers)} Dask worker(s) cannot reach the lake at {root} "
            f"({addr}: {why})",
            help="workers write segments into the lake: put it on a filesystem every worker "
            "mounts at the same path (NFS, a shared volume), or run with --workers N on this host",
        )
    return sorted(answers)


def _probe_lake(probe: str, token: str) -> str | None:
    path = Path(probe)
    try:
        if path.read_text() != token:
            return f"{path} holds another token: a different lake at the same path"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    segments = path.parent / "segments"  # made by the first write
    where = segments if segments.exists() else path.parent
    if not os.access(where, os.W_OK):
        return f"cannot write {where}"
    return None


_EMBEDDERS: dict[tuple[str, str, int | None], Any] = {}  # one model per worker process


def _read_group(context: _Context, group: _Group) -> _Done:
    """A task: read, chunk and embed ``group``'s files, write their segments."""
    from docframe.pipelines.embedding import Embedder
    from docframe.pipelines.ingest import IngestJob, _extract

    commits.failpoint("worker-task")
    _allow_children()
    key = (context.identity, context.device, context.batch_size)
    cores = _cores(context.per_host.get(_host(_worker_address()), 1))
    if key not in _EMBEDDERS:
        _share_cores(cores)
        _EMBEDDERS[key] = Embedder.for_identity(*key)
    job = IngestJob(
        context.store, [], embedder=_EMBEDDERS[key], prune=False, progress=False,
        table_options=context.table_options, pdf_options=context.pdf_options,
        media_options=context.media_options, jobs=1,
    )  # fmt: skip
    job._table_owner = context.table_owner
    job.con = context.store.connect()  # to find reusable vectors; never written
    job.clock.stages["extract"].lanes = cores
    try:
        # documents extracted ahead on this worker's cores (PDFs in sandbox processes),
        # taken in order, as a single process does
        with ThreadPoolExecutor(max_workers=cores) as pool:
            window: deque[tuple[_Plan, Future | None]] = deque()
            for plan in group.plans:
                window.append(
                    (plan, None if plan.is_table else pool.submit(_extract, plan, job.clock))
                )
                if len(window) > 2 * cores:
                    job._accept(*_taken(window.popleft(), job))
            while window:
                job._accept(*_taken(window.popleft(), job))
        pages = sum(p.pages for p in job._pending)
        ids = {p.uri: group.ids[p.uri] for p in job._pending}
        versions, segments = job._prepare(job._pending, ids)
    finally:
        job.con.close()
    return _Done(
        address=_worker_address(),
        uris=[str(p.path) for p in group.plans],
        versions=versions,
        segments=segments,
        failures=job._failed,
        clock=job.clock,
        seconds={k: job.report.seconds[k] for k in ("transcribe", "ocr")},  # in clock: the rest
        embedded=job.report.embedded,
        reused=job.report.reused,
        repeated=job.report.repeated,
        pages=pages,
        cores=cores,
    )


def _taken(item: tuple[_Plan, Future | None], job: IngestJob) -> tuple[_Plan, Any]:
    """``job._accept``'s arguments for a plan whose extraction may still run."""
    plan, docs = item
    return plan, None if docs is None else partial(job._wait, docs)


def _cores(workers_here: int) -> int:
    """This worker's share of its host's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, workers_here))


def _share_cores(threads: int) -> None:
    """Before the model loads: ``threads`` (this worker's share of the host's cores) for
    the model (ONNX Runtime's session, torch's pool), so workers on one host do not each
    start a thread per core. A worker alone on its host keeps the libraries' defaults."""
    if threads >= (os.cpu_count() or 1):
        return
    from docframe.pipelines.embedding import onnx_backend

    onnx_backend.THREADS = threads
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # read when torch loads


def _worker_address() -> str:
    from distributed import get_worker

    return get_worker().address


def _allow_children() -> None:
    """Let this worker process start the PDF sandbox's processes.

    A Nanny runs its worker as a daemonic process so it dies with the nanny, and
    multiprocessing refuses children to daemonic processes. The sandbox's processes
    are in their own process groups and are killed by docframe.isolation when their
    file is done or its limits are hit, so lifting the flag leaves nothing behind.
    """
    process = multiprocessing.current_process()
    if process.daemon:
        process._config["daemon"] = False  # noqa: SLF001 - the flag has no public setter
