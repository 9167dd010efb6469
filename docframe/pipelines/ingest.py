"""The ingest job: discover files, extract, chunk, embed, commit — incrementally and crash-safe.

Work is committed in batches of about ``commit_chunks`` chunks, or sooner once
``commit_seconds`` of work wait uncommitted (so a crash loses at most that). Each batch
writes its Parquet segments durably, then one catalog transaction adds a
snapshot, the new source versions, and retires the versions they replace. If
the process dies anywhere, the last committed batch is intact and the next run
skips what is already committed (same size/mtime/hash) and finishes the rest.

The first SIGINT or SIGTERM (when the job runs in the main thread) stops it
taking new files; the batch in hand is committed and :class:`IngestInterrupted`
carries the report out; a second signal aborts at once, as it would have.

A file that fails is recorded in ``sources`` with its error and the batch goes
on; if it had an earlier good version, that version stays searchable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from docframe.connectors import Document, choose_connector
from docframe.connectors.archives import Options, mark_recognised
from docframe.connectors.media.options import MediaOptions
from docframe.connectors.parquet import ParquetConnector
from docframe.connectors.pdf.options import PdfOptions
from docframe.connectors.tables import TableData, TableOptions
from docframe.errors import ConnectorError, DocframeError, UnsupportedInputError
from docframe.lake import catalog, commits, integrity
from docframe.lake.artifacts import write_artifacts
from docframe.lake.commits import Failure, SegmentRecord, SourceVersion
from docframe.lake.segments import DOCUMENT_SCHEMA, chunk_schema, write_segment
from docframe.pipelines.chunking import Chunker
from docframe.pipelines.discovery import GLOB_CHARS, discover, fingerprint, hash_source
from docframe.pipelines.packing import pieces
from docframe.pipelines.progress import IngestProgress
from docframe.pipelines.report import STATUSES, IngestReport, Outcome
from docframe.pipelines.stages import StageClock
from docframe.pipelines.table_writer import WrittenTable, write_table_segments
from docframe.pipelines.vectors import (
    embed_batch,
    embed_text,
    identity_of,
    progress_step,
    stored_vectors,
)

if TYPE_CHECKING:
    from docframe.lake.store import LakeStore
    from docframe.pipelines.dry_run import DryRun
    from docframe.pipelines.embedding import Embedder

__all__ = ["STATUSES", "IngestInterrupted", "IngestJob", "IngestReport", "Outcome"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class IngestInterrupted(SystemExit):
    """An ingest stopped by SIGINT/SIGTERM after committing the batch in hand.

    A ``SystemExit`` with the shell's code for the signal (130, 143) so that a
    script that does not catch it ends as an interrupted program would, without a
    traceback; ``report`` says what was committed and ``message`` how to resume.
    """

    def __init__(self, report: IngestReport, signum: int) -> None:
        super().__init__(128 + signum)
        self.report = report
        self.signum = signum
        done = [o.input for o in report.outcomes if o.status == "ingested"]
        self.message = (
            f"interrupted by {signal.Signals(signum).name}: committed {len(done)} file(s) "
            f"in snapshot {report.snapshot_id}; run the same command again: committed "
            "files are skipped"
        )


_COMMIT_TABLES = 16  # table sources per commit: their rows are already on disk


@dataclass
class _Pending:
    """One source read, waiting for its batch to be embedded and committed."""

    uri: str
    size: int
    mtime: float
    content_hash: str
    connector: Any
    rows: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    embed_texts: list[str] = field(default_factory=list)
    tables: list[WrittenTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a document said of itself (cut...)
    previous: int | None = None  # the source's live version: its vectors may be reused
    pages: int = 0  # PDF pages read (for the progress display)


def _stable_id(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=10).hexdigest()


@dataclass(frozen=True)
class _Plan:
    """An input that must be read: it is new, changed, or was read with other options."""

    path: Path
    connector: Any
    st: _Stat
    digest: str | None  # None: not hashed yet (a new file: read and hash it together)
    is_table: bool
    previous: int | None = None  # the live version it replaces (unless being repaired)
    recognised: str | None = None  # what its content was found to be (its name said nothing)
    why: str = ""  # why an unchanged file is read again (a dry run says it)


def _extract(plan: _Plan, clock: StageClock) -> list[Document]:
    with clock.busy("extract", items=1):
        return list(plan.connector.extract(plan.path))


@dataclass(frozen=True)
class _Stat:
    st_size: int
    st_mtime: float


class IngestJob:
    """One ingest into ``store``: the embedder chunks (its tokenizer) and embeds documents
    (a :meth:`dry_run` needs none: it reads nothing but fingerprints and hashes)."""

    def __init__(
        self,
        store: LakeStore,
        paths: list[str],
        *,
        embedder: Embedder | None,
        prune: bool,
        progress: bool,
        table_options: TableOptions | None = None,
        pdf_options: PdfOptions | None = None,
        media_options: MediaOptions | None = None,
        jobs: int | None = None,
        follow_symlinks: bool = False,
        allowed_roots: Sequence[Path] | None = None,
        repair: Collection[str] = (),
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        workers: int | None = None,
        scheduler: str | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        # recorded with its vectors, checked by commits (None: a dry run, which embeds nothing)
        self.identity = identity_of(embedder) if embedder is not None else None
        self.include, self.exclude = tuple(include), tuple(exclude)  # discovery's patterns
        # inputs a repair reads again although unchanged; a repair job alone may write
        # while the newest snapshot reads a damaged segment (docframe.pipelines.repair)
        self.repair = frozenset(repair)
        self.follow_symlinks = follow_symlinks
        self.allowed_roots = allowed_roots  # the agent tool's --allow-ingest folders (real paths)
        self.pdf_options = pdf_options or PdfOptions()
        self._ocr_ready: bool | None = None  # OCR can run in this job (asked when needed)
        self.media_options = media_options or MediaOptions()
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        # Dask: a local cluster of ``workers`` processes, or the cluster at ``scheduler``
        # (docframe.pipelines.ingest_dask); neither: this process and its threads
        if workers is not None and scheduler is not None:
            raise DocframeError(
                "--workers and --scheduler both given",
                help="--workers N starts a local cluster; --scheduler ADDRESS uses yours",
            )
        if workers is not None and workers < 1:
            raise DocframeError(
                f"--workers {workers}: needs at least 1 worker", help="e.g. --workers 4"
            )
        self.workers = workers
        self.scheduler = scheduler
        # what reads the planned files: this process, or (set by Lake.ingest when workers
        # or scheduler is given) docframe.pipelines.ingest_dask.run_on_dask on Dask
        self.read_plans: Callable[[list[_Plan]], None] = self._run_here
        self.clock = StageClock({"extract": self.jobs})
        self.table_options = table_options or TableOptions()
        options = dataclasses.asdict(self.table_options)
        options.pop("batch_rows")  # how rows are batched does not change what is read
        self._options_key = json.dumps(options, sort_keys=True)
        self.paths = paths
        self.prune = prune
        self.progress = IngestProgress(enabled=progress)
        self.settings = store.settings
        self.report = IngestReport(snapshot_id=0)
        self._pending: list[_Pending] = []
        self._failed: list[Failure] = []
        self._touched: list[tuple[str, float]] = []
        self._chunker: Chunker | None = None
        self._media_checked = False
        self._stop: int | None = None  # the signal that asked the job to stop
        self._last_commit = time.monotonic()

    # -- driver ------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the lake's writer lock and a catalog connection; know who owns which table."""
        from docframe.lake.lock import WriterLock

        with WriterLock(self.store.root):
            self.con = self.store.connect()
            try:
                catalog.upgrade(self.con)  # a catalog made before checksums: add them
                if not self.repair:  # never commit on top of damage: repair first
                    integrity.refuse_if_damaged(self.store.root, self.con)
                self._table_owner = {
                    t.name: t.source_uri for t in self.store.snapshot().tables.values()
                }
                yield
            finally:
                self.con.close()

    def run(self) -> IngestReport:
        """Ingest; raises :class:`IngestInterrupted` (after committing) on SIGINT/SIGTERM."""
        start = time.perf_counter()
        try:
            with self._writing(), self.progress, self._stoppable():
                report = self._run()
        finally:
            self.report.seconds["total"] = time.perf_counter() - start
            self._report_stages()
        if self._stop is not None:
            stopped = IngestInterrupted(report, self._stop)
            sys.stderr.write(stopped.message + "\n")
            raise stopped
        return report

    def _report_stages(self) -> None:
        """The stages into the report, and the ``time:`` line's figures taken from them:
        the model's seconds, and what the committing thread waited on (extraction here,
        the workers on Dask)."""
        stages = self.report.stages = self.clock.stages
        self.report.seconds["embed"] = stages["embed"].busy_s
        waited = stages["commit"] if self.report.workers else stages["chunk"]
        self.report.seconds["extract_wait"] = waited.wait_s

    @contextmanager
    def _stoppable(self) -> Iterator[None]:
        """Turn the first SIGINT/SIGTERM into "stop taking files, commit what is in hand";
        the handlers before it come back at once, so a second signal aborts as it would
        have. Signal handlers can only be set from the main thread: elsewhere, no change."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}

        def stop(signum: int, frame: Any) -> None:
            self._stop = signum
            for sig, handler in before.items():
                signal.signal(sig, handler)
            sys.stderr.write(
                f"{signal.Signals(signum).name}: committing the work in hand, then stopping "
                "(send it again to abort at once)\n"
            )

        for sig in _STOP_SIGNALS:
            signal.signal(sig, stop)
        try:
            yield
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)

    def _run(self) -> IngestReport:
        self._last_commit = time.monotonic()
        discovering = time.perf_counter()
        found = discover(
            self.paths, self.store.root,
            follow_symlinks=self.follow_symlinks, allowed_roots=self.allowed_roots,
            include=self.include, exclude=self.exclude,
        )  # fmt: skip
        for arg, message in found.problems:
            self._record_failure(arg, None, "", message)
        for arg, message in found.skipped:  # links not followed, pipes: reported, not read
            self.report.outcomes.append(Outcome(arg, "skipped", error=message))
        files = found.files
        known = {r["source_uri"]: r for r in self.con.execute("SELECT * FROM sources")}
        self.progress.start_files(len(files))
        plans = []
        for path, explicit in files:  # cheap checks first: only changed files are read
            if self._stop is not None:  # hashing thousands of files takes a while
                break
            plan = self._plan(path, explicit, known.get(str(path)))
            if plan is None:
                self.progress.advance_file()
            else:
                plans.append(plan)
        self.clock.add("discover", items=len(files), busy=time.perf_counter() - discovering)
        self.read_plans(plans)
        return self._finish({str(p) for p, _ in files})

    def _run_here(self, plans: list[_Plan]) -> None:
        """Read, chunk, embed and commit ``plans`` in this process."""
        # Documents are extracted ahead on a thread pool (PDF parsing runs in worker
        # processes, so this is real parallelism) while this thread chunks, embeds
        # and commits in input order; at most 2 x jobs results wait in memory.
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            window: deque[tuple[_Plan, Future | None]] = deque()
            queue = iter(plans)

            def submit_next() -> None:
                plan = next(queue, None)
                if plan is not None:
                    docs = None if plan.is_table else pool.submit(_extract, plan, self.clock)
                    window.append((plan, docs))

            for _ in range(2 * self.jobs):
                submit_next()
            while window and self._stop is None:
                plan, docs = window.popleft()
                submit_next()
                self._accept(plan, None if docs is None else partial(self._wait, docs))
                self.progress.advance_file()
                if self._batch_full(
                    sum(len(p.rows) for p in self._pending),
                    sum(len(p.tables) for p in self._pending),
                ):
                    self._flush()
            if self._stop is not None:  # stopped: files not yet taken are left for a re-run
                for _, docs in window:
                    if docs is not None:
                        docs.cancel()
        self._flush()

    def _batch_full(self, chunks: int, tables: int) -> bool:
        """Time to commit: enough chunks or tables wait, or work has waited long enough."""
        return (
            chunks >= self.settings.commit_chunks
            or tables >= _COMMIT_TABLES
            or time.monotonic() - self._last_commit >= self.settings.commit_seconds
        )

    def _finish(self, seen: set[str]) -> IngestReport:
        """After the last commit: prune what is gone and refresh the index (full runs only)."""
        if self._stop is not None:  # committed; prune and the index wait for a full run
            self.report.snapshot_id = catalog.latest_snapshot(self.con)
            return self.report
        if self.prune:
            self._prune(seen)
        self.report.snapshot_id = catalog.latest_snapshot(self.con)
        self.report.index = self._refresh_index()
        return self.report

    # -- per file ----------------------------------------------------------------
    def _plan(self, path: Path, explicit: bool, known: Any) -> _Plan | None:
        """Decide what to do with one input; None when it is settled (unchanged or failed)."""
        uri = str(path)
        try:
            size, mtime = fingerprint(path)
            chosen = None if path.is_dir() else choose_connector(path)
            connector = ParquetConnector() if chosen is None else chosen.connector
            recognised = None if chosen is None else chosen.recognised
        except UnsupportedInputError as exc:
            if explicit:
                self._record_failure(uri, None, "", str(exc))
            else:
                outcome = Outcome(uri, "unsupported", error=exc.message, help=exc.help)
                self.report.outcomes.append(outcome)
            return None
        except OSError as exc:
            self._record_failure(uri, None, "", f"{uri}: cannot read: {exc.strerror}")
            return None
        st = _Stat(size, mtime)
        is_table = getattr(connector, "kind", "documents") == "table"
        # a changed file's unchanged chunks take their stored vectors; a repaired one's
        # segments are damaged, so it is embedded again
        previous = known["version_id"] if known is not None and uri not in self.repair else None
        if is_table and known is not None and known["read_options"] != self._options_key:
            known = None  # read with other options (--schema, --delimiter...): read it again
        if uri in self.repair:
            known = None  # its committed rows are damaged: read it again

        def planned(digest: str | None, why: str = "") -> _Plan:  # it will be read
            reader = self._with_options(connector, path)
            return _Plan(path, reader, st, digest, is_table, previous, recognised, why)

        if known is None or known["status"] != "ok":
            # nothing to compare its hash with: whoever reads it hashes it (a Dask worker,
            # or this thread while the extraction threads work), not the planning loop
            return planned(None)
        if self._ocr_can_read(connector, known):  # unchanged, but its scans can be read now
            return planned(None, "pages that needed OCR: it can run now")
        if known["size"] == size and known["mtime"] == mtime:
            self.report.outcomes.append(Outcome(uri, "unchanged"))
            return None
        try:
            digest = hash_source(path)
        except OSError as exc:
            self._record_failure(uri, st, connector.name, f"{uri}: cannot read: {exc.strerror}")
            return None
        if known["content_hash"] == digest:
            self._touched.append((uri, st.st_mtime))
            self.report.outcomes.append(Outcome(uri, "unchanged"))
            return None
        return planned(digest)

    def _with_options(self, connector: Any, path: Path) -> Any:
        """``connector`` set up to read ``path`` with this ingest's options: asked only for
        files that will be read (an archive's listing is opened, the speech model's
        options are checked)."""
        if hasattr(connector, "with_options"):  # archives: their members read with them all
            if connector.holds_media(path):
                self._check_media_options()
            connector = connector.with_options(
                Options(self.pdf_options, self.media_options, self.table_options)
            )
        elif hasattr(connector, "configured"):  # PDFs and media read with this ingest's options
            media = connector.modality in ("audio", "video")
            if media:
                self._check_media_options()
            connector = connector.configured(self.media_options if media else self.pdf_options)
            if media:
                connector.progress = self.progress.media  # seconds of media done, per file
        if hasattr(connector, "with_table_options"):  # document collections: --on-bad-rows
            connector = connector.with_table_options(self.table_options)
        return connector

    def _ocr_can_read(self, connector: Any, known: Any) -> bool:
        """A PDF whose pages waited for OCR (its note says they are read again), now that
        OCR can run: on, and Tesseract found with the language's data."""
        from docframe.connectors.pdf.needs_ocr import READ_AGAIN

        if getattr(connector, "modality", "") != "pdf" or READ_AGAIN not in (known["error"] or ""):
            return False
        if self._ocr_ready is None:  # asked once a job: it runs tesseract --list-langs
            from docframe.connectors.ocr import available

            options = self.pdf_options
            self._ocr_ready = options.ocr != "off" and available(options.ocr_lang)
        return self._ocr_ready

    def _check_media_options(self) -> None:
        """Before the first audio or video file: refuse a bad ``--asr-model``/``--language``
        once for the job (not once per file), and run the speech model where the lake's
        engine runs (``auto``: CUDA on the GPU engine when CTranslate2 sees a device)."""
        if self._media_checked:
            return
        from docframe.connectors.media import models, transcribe

        options = self.media_options
        models.check_choice(options.asr_model)
        transcribe.check_language(options.language)
        if options.device == "auto":
            where = models.runtime("auto", options.compute_type, engine=self.store.backend.name)
            self.media_options = dataclasses.replace(options, device=where.device)
        self._media_checked = True

    def _wait(self, docs: Future) -> list[Document]:
        """A document's extraction result, counting the wait as chunking's."""
        waited = time.perf_counter()
        try:
            return docs.result()
        finally:
            self.clock.add("chunk", wait=time.perf_counter() - waited)

    def _accept(self, plan: _Plan, docs: Callable[[], list[Document]] | None) -> None:
        """Turn one input into pending rows (``docs`` gives its documents; None: a table
        file, read here), or record why it failed."""
        uri, st, connector = str(plan.path), plan.st, plan.connector
        try:
            with self.clock.busy("discover"):  # a new file's content hash (see _plan)
                digest = plan.digest or hash_source(plan.path)
        except OSError as exc:
            self._record_failure(uri, st, connector.name, f"{uri}: cannot read: {exc.strerror}")
            return
        try:
            if docs is None:
                with self.clock.busy("extract", items=1):
                    pending = self._read_tables(plan.path, st, digest, connector)
            else:
                documents = docs()
                for doc in documents if plan.recognised else ():
                    mark_recognised(doc, plan.recognised)
                with self.clock.busy("chunk"):
                    pending = self._chunk(uri, st, digest, connector, documents)
                self.clock.add("chunk", items=len(pending.rows))
                self.progress.count("pages", pending.pages)
                self.progress.count("chunks", len(pending.rows))
                pending.previous = plan.previous
            if plan.recognised:
                pending.notes.append(_recognised_note(plan.recognised))
            self._pending.append(pending)
        except ConnectorError as exc:
            self._record_failure(uri, st, connector.name, str(exc))
        except PermissionError as exc:
            self._record_failure(uri, st, connector.name, f"{uri}: permission denied ({exc})")
        except DocframeError:
            raise  # lake or model problems stop the job: they are not about this file
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch
            msg = f"{uri}: {connector.name} connector failed: {type(exc).__name__}: {exc}"
            self._record_failure(uri, st, connector.name, msg.splitlines()[0])

    def _read_tables(self, path: Path, st: _Stat, digest: str, connector: Any) -> _Pending:
        """Stream each table of ``path`` into its own segment (committed later, with the batch)."""
        pending = _Pending(str(path), st.st_size, st.st_mtime, digest, connector)
        return self._write_tables(pending, connector.read_tables(path, self.table_options))

    def _write_tables(self, pending: _Pending, tables: Iterable[TableData]) -> _Pending:
        pending.tables += write_table_segments(
            self.store.root, pending.uri, tables, self._table_owner
        )
        return pending

    def _chunk(
        self, uri: str, st: _Stat, digest: str, connector: Any, docs: list[Document]
    ) -> _Pending:
        if self._chunker is None:
            self._chunker = Chunker(
                self.embedder.tokenizer, self.settings.chunk_tokens, self.settings.chunk_overlap
            )
        rows: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        texts: list[str] = []
        pending = _Pending(uri, st.st_size, st.st_mtime, digest, connector, rows, documents, texts)
        for doc in docs:
            doc_id = _stable_id(uri, doc.doc_key)
            ordinal = 0
            # a member of an archive has its own address and modality (a PDF in a .zip)
            doc_uri = doc.source_uri or uri
            modality = doc.modality or connector.modality
            pending.pages += int(doc.metadata.get("page_count") or 0)
            if doc.metadata.get("note"):  # media cut at --media-max-seconds, no speech...
                pending.notes.append(str(doc.metadata["note"]))
            for stage, seconds in (doc.metadata.get("seconds") or {}).items():
                if stage in ("transcribe", "ocr"):  # media stages, for the time: line
                    self.report.seconds[stage] += float(seconds)
            # derived files (a video's frame thumbnails) go into the lake first; chunks
            # name them by their path in the lake
            stored = write_artifacts(self.store.root, doc_id, getattr(doc, "artifacts", {}))
            for piece in pieces(self._chunker, doc.elements):
                text = piece.text
                if doc.parser:
                    piece.metadata.setdefault("parser", doc.parser)
                if piece.metadata.get("thumbnail") in stored:
                    piece.metadata["thumbnail"] = stored[piece.metadata["thumbnail"]]
                rows.append(
                    {
                        "chunk_id": _stable_id(doc_id, ordinal, text),
                        "doc_id": doc_id,
                        "doc_key": doc.doc_key,
                        "source_uri": doc_uri,
                        "modality": modality,
                        "ordinal": ordinal,
                        "text": text,
                        "page": piece.page,
                        "bbox": list(piece.bbox) if piece.bbox else None,
                        "start_s": piece.start_s,
                        "end_s": piece.end_s,
                        "char_start": piece.char_start,
                        "char_end": piece.char_end,
                        "n_tokens": piece.n_tokens,
                        "metadata": json.dumps(piece.metadata, default=str),
                        "content_hash": digest,
                    }
                )
                texts.append(embed_text(doc.title, text))
                ordinal += 1
            for table in doc.tables:  # tables found inside the document become lake tables
                table.location = {**table.location, "doc_id": doc_id, "doc_key": doc.doc_key}
            if doc.tables:
                self._write_tables(pending, doc.tables)
            documents.append(
                {
                    "doc_id": doc_id,
                    "doc_key": doc.doc_key,
                    "source_uri": doc_uri,
                    "title": doc.title,
                    "modality": modality,
                    "n_chunks": ordinal,
                    "n_chars": sum(len(e.text) for e in doc.elements),
                    "metadata": json.dumps(doc.metadata, default=str),
                    "content_hash": digest,
                }
            )
        return pending

    def _record_failure(self, uri: str, st: _Stat | None, connector: str, msg: str) -> None:
        size, mtime = (st.st_size, st.st_mtime) if st else (None, None)
        self._add_failure(Failure(uri, size, mtime, connector, msg))

    def _add_failure(self, failure: Failure) -> None:
        """Record ``failure`` with the next commit, in the report and on the terminal."""
        self._failed.append(failure)
        self.report.outcomes.append(Outcome(failure.uri, "failed", error=failure.message))
        self.progress.log_failure(failure.message)

    # -- commit ------------------------------------------------------------------
    def _flush(self) -> None:
        """Embed the pending documents, write their segments, commit the batch."""
        pending, self._pending = self._pending, []
        failed, self._failed = self._failed, []
        touched, self._touched = self._touched, []
        if not (pending or failed or touched):
            return
        ids = dict(zip((p.uri for p in pending), commits.next_version_ids(self.con, len(pending)),
                       strict=True))  # fmt: skip
        versions, segments = self._prepare(pending, ids)
        commits.failpoint("segments-written")
        self._commit(versions, segments, failed, touched)

    def _prepare(
        self, pending: list[_Pending], ids: dict[str, int]
    ) -> tuple[dict[int, SourceVersion], list[SegmentRecord]]:
        """Embed ``pending`` and write its segments as versions ``ids`` (nothing is
        committed: on Dask a worker does this and the driver commits)."""
        texts = [t for p in pending for t in p.embed_texts]
        vectors = self._embed(pending, texts) if texts else None
        segments: list[SegmentRecord] = []
        with_docs = [p for p in pending if p.rows or p.documents]
        if with_docs:
            with self.clock.busy("write"):
                segments = self._write_segments(with_docs, ids, vectors)
            self.clock.add("write", items=len(segments))
        for p in pending:
            segments += [t.segment([ids[p.uri]]) for t in p.tables]
        return {ids[p.uri]: self._version(p) for p in pending}, segments

    def _commit(
        self,
        versions: dict[int, SourceVersion],
        segments: list[SegmentRecord],
        failed: list[Failure],
        touched: list[tuple[str, float]],
    ) -> None:
        """One catalog transaction for written segments; their outcomes join the report."""
        vectors = any(s.kind == "chunks" for s in segments)
        with self.clock.busy("commit", items=1):
            commits.commit(
                self.con, self.store.root, job="ingest", versions=versions, segments=segments,
                failures=failed, touched=touched, dim=self.embedder.dim if vectors else None,
                embedder=self.identity if vectors else None,
            )  # fmt: skip
        for version in versions.values():
            outcome = Outcome(version.uri, "ingested", version.n_documents, version.n_chunks)
            outcome.tables, outcome.n_rows = [t.name for t in version.tables], version.n_rows
            outcome.notes = version.notes
            self.report.outcomes.append(outcome)
        self._last_commit = time.monotonic()  # the time trigger counts from this commit

    def _embed(self, pending: list[_Pending], texts: list[str]) -> Any:
        """The batch's vectors: stored ones for texts the files' previous versions held,
        the model for the rest, each distinct text once, shortest first
        (:mod:`docframe.pipelines.vectors`). Refuses another embedder's vectors first."""
        start = time.perf_counter()
        commits.check_embedder(self.con, self.store.root, self.identity)
        previous = [p.previous for p in pending if p.previous is not None and p.embed_texts]
        known = stored_vectors(self.store.root, self.con, previous, self.identity)
        step = progress_step(self.embedder)
        result = embed_batch(
            texts, self.identity, self.embedder.dim,
            lambda todo: self.progress.embed(self.embedder, todo, step=step), known,
        )  # fmt: skip
        self.report.embedded += result.embedded
        self.report.reused += result.reused
        self.report.repeated += result.repeated
        self.clock.add("embed", items=len(texts), busy=time.perf_counter() - start)
        return result.vectors

    def _version(self, p: _Pending) -> SourceVersion:
        return SourceVersion(
            uri=p.uri,
            size=p.size,
            mtime=p.mtime,
            content_hash=p.content_hash,
            connector=p.connector.name,
            n_documents=len(p.documents),
            n_chunks=len(p.rows),
            tables=[t.record() for t in p.tables],
            read_options=self._options_key,
            # kept in an ok source's error column, and printed: skipped lines, media cut
            notes=[*(getattr(p.connector, "notes", None) or []), *p.notes],
        )

    def _write_segments(
        self, pending: list[_Pending], versions: dict[str, int], vectors: Any
    ) -> list[SegmentRecord]:
        chunk_rows = [dict(r, version_id=versions[p.uri]) for p in pending for r in p.rows]
        doc_rows = [dict(d, version_id=versions[p.uri]) for p in pending for d in p.documents]
        out = []
        vids = sorted(versions[p.uri] for p in pending)
        if chunk_rows:
            dim = self.embedder.dim
            schema = chunk_schema(dim)
            columns = {
                name: [r[name] for r in chunk_rows] for name in schema.names if name != "embedding"
            }
            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            columns["embedding"] = pa.FixedSizeListArray.from_arrays(flat, dim)
            table = pa.table(
                {n: columns[n] for n in schema.names},
                schema=schema,
            )
            written = write_segment(self.store.root, "chunks", table)
            out.append(_segment("chunks", written, vids, self.identity))
        if doc_rows:
            table = pa.Table.from_pylist(doc_rows, schema=DOCUMENT_SCHEMA)
            written = write_segment(self.store.root, "documents", table)
            out.append(_segment("documents", written, vids))
        return out

    def _prune(self, seen: set[str]) -> None:
        gone = self._prunable(seen)
        if not gone:
            return
        commits.prune(self.con, gone)
        self.report.outcomes += [Outcome(uri, "pruned") for uri in gone]

    def _prunable(self, seen: set[str]) -> list[str]:
        """Sources under the folders named that are gone from disk: what ``--prune``
        removes. A file that exists is kept even when not ``seen`` (an exclude pattern
        left it out): pruning is for what was deleted, not for what was not asked for."""
        roots = [Path(p).expanduser().absolute() for p in self.paths if not GLOB_CHARS & set(p)]
        rows = self.con.execute("SELECT source_uri FROM sources").fetchall()
        return [
            r[0]
            for r in rows
            if r[0] not in seen
            and not Path(r[0]).exists()
            and any(Path(r[0]) == root or Path(r[0]).is_relative_to(root) for root in roots)
        ]

    def _refresh_index(self) -> str | None:
        from docframe.index.store import ensure_index

        if self.repair:
            return None  # other segments may still be damaged: repair refreshes it after
        snapshot = self.store.snapshot()
        if snapshot.is_empty:
            return None
        return ensure_index(self.store, snapshot).describe()

    # -- dry run -----------------------------------------------------------------
    def dry_run(self) -> DryRun:
        """What :meth:`run` would do, decided by the same code (discovery, :meth:`_plan`,
        :meth:`_prunable`) over a read-only catalog: no lock, no commit, no segment; a
        lake that does not exist yet stays absent (everything would be new to it)."""
        from docframe.pipelines.dry_run import DryRun

        found = discover(
            self.paths, self.store.root,
            follow_symlinks=self.follow_symlinks, allowed_roots=self.allowed_roots,
            include=self.include, exclude=self.exclude,
        )  # fmt: skip
        path = self.store.root / catalog.CATALOG_FILE
        plan = DryRun(self.store.root, lake_exists=path.is_file())
        plan.discovered(found)
        self.con = self.store.connect() if plan.lake_exists else None  # as any reader does
        try:
            rows = self.con.execute("SELECT * FROM sources") if self.con else ()
            known = {r["source_uri"]: r for r in rows}
            for file, explicit in found.files:
                row = known.get(str(file))
                chosen = self._plan(file, explicit, row)  # the rest it records as outcomes
                if chosen is not None:
                    plan.read(str(file), row, chosen.is_table, self._options_key, chosen.why)
            plan.settled(self.report.outcomes)
            if self.prune and self.con is not None:
                plan.pruned(self._prunable({str(f) for f, _ in found.files}))
        finally:
            if self.con is not None:
                self.con.close()
        return plan


def _segment(
    kind: str,
    written: tuple[str, int, int, str | None],
    vids: list[int],
    embedder: str | None = None,
) -> SegmentRecord:
    path, size, rows, checksum = written
    return SegmentRecord(kind, None, path, size, rows, checksum, vids, embedder)


def _recognised_note(what: str) -> str:
    """The outcome's note for an input whose type came from its content, not its name."""
    return f"recognised by content: {what}"
