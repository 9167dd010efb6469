"""The ingest job: discover files, extract, chunk, embed, commit — incrementally and crash-safe.

Work is committed in batches of about ``commit_chunks`` chunks. Each batch
writes its Parquet segments durably, then one catalog transaction adds a
snapshot, the new source versions, and retires the versions they replace. If
the process dies anywhere, the last committed batch is intact and the next run
skips what is already committed (same size/mtime/hash) and finishes the rest.

A file that fails is recorded in ``sources`` with its error and the batch goes
on; if it had an earlier good version, that version stays searchable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import time
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from docframe.connectors import Document, connector_for
from docframe.connectors.parquet import ParquetConnector
from docframe.connectors.pdf.options import PdfOptions
from docframe.connectors.tables import TableData, TableOptions
from docframe.errors import ConnectorError, DocframeError, UnsupportedInputError
from docframe.lake import catalog, integrity
from docframe.lake.segments import (
    DOCUMENT_SCHEMA,
    chunk_schema,
    write_segment,
    write_segment_batches,
)
from docframe.pipelines.chunking import Chunker
from docframe.pipelines.discovery import GLOB_CHARS, discover, fingerprint, hash_source
from docframe.pipelines.packing import pieces
from docframe.pipelines.progress import IngestProgress

if TYPE_CHECKING:
    from docframe.lake.lake import Lake

_COMMIT_TABLES = 16  # table sources per commit: their rows are already on disk
# a segment to register: kind, relation (tables), (path, bytes, rows, checksum), versions
_Segment = tuple[str, str | None, tuple[str, int, int, str | None], list[int]]


@dataclass
class Outcome:
    """What happened to one input; ``status`` is one of STATUSES."""

    input: str
    status: str
    n_documents: int = 0
    n_chunks: int = 0
    error: str | None = None
    tables: list[str] = field(default_factory=list)
    n_rows: int = 0
    notes: list[str] = field(default_factory=list)  # what was repaired: skipped bad lines


STATUSES = ("ingested", "unchanged", "failed", "unsupported", "skipped", "pruned")


@dataclass
class IngestReport:
    snapshot_id: int
    outcomes: list[Outcome] = field(default_factory=list)
    index: str | None = None
    # wall seconds: "total", "embed" (the model), "extract_wait" (this thread blocked on
    # the extraction workers): says which stage bounds an ingest
    seconds: dict[str, float] = field(
        default_factory=lambda: {"total": 0.0, "embed": 0.0, "extract_wait": 0.0}
    )

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def n_chunks(self) -> int:
        return sum(o.n_chunks for o in self.outcomes if o.status == "ingested")

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in STATUSES if self.count(s)]
        return f"snapshot {self.snapshot_id}: " + (", ".join(parts) or "nothing to do")

    def timing(self) -> str:
        """Where the wall time went: ``12.3 s (embedding 11.9 s, waiting on extraction 0.1 s)``."""
        s = self.seconds
        return (
            f"{s['total']:.1f} s (embedding {s['embed']:.1f} s, "
            f"waiting on extraction {s['extract_wait']:.1f} s)"
        )


@dataclass
class _WrittenTable:
    """A table's rows, already in a durable (not yet committed) segment."""

    name: str
    origin: str
    schema: pa.Schema
    path: str
    size: int
    n_rows: int
    notes: list[str]
    location: dict[str, Any] = field(default_factory=dict)
    checksum: str | None = None  # of the segment's bytes, recorded at commit


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
    tables: list[_WrittenTable] = field(default_factory=list)


_FAILPOINT_HITS: dict[str, int] = {}


def _failpoint(name: str) -> None:
    """Die here, as kill -9 would, when DOCFRAME_FAILPOINT is ``name:N`` on the N-th pass.

    Crash tests use it to stop the writer between writing segments and
    committing, inside the transaction, and right after it.
    """
    target, _, nth = os.environ.get("DOCFRAME_FAILPOINT", "").partition(":")
    if target != name:
        return
    _FAILPOINT_HITS[name] = _FAILPOINT_HITS.get(name, 0) + 1
    if _FAILPOINT_HITS[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _stable_id(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=10).hexdigest()


@dataclass(frozen=True)
class _Plan:
    """An input that must be read: it is new, changed, or was read with other options."""

    path: Path
    connector: Any
    st: _Stat
    digest: str
    is_table: bool


def _extract(plan: _Plan) -> list[Document]:
    return list(plan.connector.extract(plan.path))


@dataclass(frozen=True)
class _Producer:
    """Stands in for a connector when tables come from a job rather than a file."""

    name: str


@dataclass(frozen=True)
class _Stat:
    st_size: int
    st_mtime: float


class IngestJob:
    def __init__(
        self,
        lake: Lake,
        paths: list[str],
        *,
        prune: bool,
        progress: bool,
        table_options: TableOptions | None = None,
        pdf_options: PdfOptions | None = None,
        jobs: int | None = None,
        follow_symlinks: bool = False,
        allowed_roots: Sequence[Path] | None = None,
        repair: Collection[str] = (),
    ) -> None:
        self.lake = lake
        # inputs a repair reads again although unchanged; a repair job alone may write
        # while the newest snapshot reads a damaged segment (docframe.pipelines.repair)
        self.repair = frozenset(repair)
        self.follow_symlinks = follow_symlinks
        self.allowed_roots = allowed_roots  # the agent tool's --allow-ingest folders (real paths)
        self.pdf_options = pdf_options or PdfOptions()
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.table_options = table_options or TableOptions()
        options = dataclasses.asdict(self.table_options)
        options.pop("batch_rows")  # how rows are batched does not change what is read
        self._options_key = json.dumps(options, sort_keys=True)
        self.paths = paths
        self.prune = prune
        self.progress = IngestProgress(enabled=progress)
        self.settings = lake.settings
        self.report = IngestReport(snapshot_id=0)
        self._pending: list[_Pending] = []
        self._failed: list[tuple[str, _Stat | None, str, str]] = []
        self._touched: list[tuple[str, float]] = []
        self._chunker: Chunker | None = None

    # -- driver ------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the lake's writer lock and a catalog connection; know who owns which table."""
        from docframe.lake.lock import WriterLock

        with WriterLock(self.lake.root):
            self.con = self.lake.connect()
            try:
                catalog.upgrade(self.con)  # a catalog made before checksums: add them
                if not self.repair:  # never commit on top of damage: repair first
                    integrity.refuse_if_damaged(self.lake.root, self.con)
                self._table_owner = {
                    t.name: t.source_uri for t in self.lake.snapshot().tables.values()
                }
                yield
            finally:
                self.con.close()

    def run(self) -> IngestReport:
        start = time.perf_counter()
        try:
            with self._writing(), self.progress:
                return self._run()
        finally:
            self.report.seconds["total"] = time.perf_counter() - start

    def _run(self) -> IngestReport:
        found = discover(
            self.paths, self.lake.root,
            follow_symlinks=self.follow_symlinks, allowed_roots=self.allowed_roots,
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
            plan = self._plan(path, explicit, known.get(str(path)))
            if plan is None:
                self.progress.advance_file()
            else:
                plans.append(plan)
        # Documents are extracted ahead on a thread pool (PDF parsing runs in worker
        # processes, so this is real parallelism) while this thread chunks, embeds
        # and commits in input order; at most 2 x jobs results wait in memory.
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            window: deque[tuple[_Plan, Future | None]] = deque()
            queue = iter(plans)

            def submit_next() -> None:
                plan = next(queue, None)
                if plan is not None:
                    docs = None if plan.is_table else pool.submit(_extract, plan)
                    window.append((plan, docs))

            for _ in range(2 * self.jobs):
                submit_next()
            while window:
                plan, docs = window.popleft()
                submit_next()
                self._accept(plan, docs)
                self.progress.advance_file()
                chunks = sum(len(p.rows) for p in self._pending)
                tables = sum(len(p.tables) for p in self._pending)
                if chunks >= self.settings.commit_chunks or tables >= _COMMIT_TABLES:
                    self._flush()
        self._flush()
        if self.prune:
            self._prune({str(p) for p, _ in files})
        self.report.snapshot_id = catalog.latest_snapshot(self.con)
        self.report.index = self._refresh_index()
        return self.report

    # -- per file ----------------------------------------------------------------
    def _plan(self, path: Path, explicit: bool, known: Any) -> _Plan | None:
        """Decide what to do with one input; None when it is settled (unchanged or failed)."""
        uri = str(path)
        try:
            size, mtime = fingerprint(path)
            connector = ParquetConnector() if path.is_dir() else connector_for(path)
        except UnsupportedInputError as exc:
            if explicit:
                self._record_failure(uri, None, "", str(exc))
            else:
                self.report.outcomes.append(Outcome(uri, "unsupported", error=str(exc)))
            return None
        except OSError as exc:
            self._record_failure(uri, None, "", f"{uri}: cannot read: {exc.strerror}")
            return None
        if hasattr(connector, "configured"):
            connector = connector.configured(self.pdf_options)
        if hasattr(connector, "with_table_options"):  # document collections: --on-bad-rows
            connector = connector.with_table_options(self.table_options)
        st = _Stat(size, mtime)
        is_table = getattr(connector, "kind", "documents") == "table"
        if is_table and known is not None and known["read_options"] != self._options_key:
            known = None  # read with other options (--schema, --delimiter...): read it again
        if uri in self.repair:
            known = None  # its committed rows are damaged: read it again
        if known is not None and known["status"] == "ok":
            if known["size"] == size and known["mtime"] == mtime:
                self.report.outcomes.append(Outcome(uri, "unchanged"))
                return None
        try:
            digest = hash_source(path)
        except OSError as exc:
            self._record_failure(uri, st, connector.name, f"{uri}: cannot read: {exc.strerror}")
            return None
        if known is not None and known["status"] == "ok" and known["content_hash"] == digest:
            self._touched.append((uri, st.st_mtime))
            self.report.outcomes.append(Outcome(uri, "unchanged"))
            return None
        return _Plan(path, connector, st, digest, is_table)

    def _accept(self, plan: _Plan, docs: Future | None) -> None:
        """Turn one read input into pending rows, or record why it failed."""
        uri, st, connector = str(plan.path), plan.st, plan.connector
        try:
            if docs is None:
                self._pending.append(self._read_tables(plan.path, st, plan.digest, connector))
            else:
                waited = time.perf_counter()
                try:
                    documents = docs.result()
                finally:
                    self.report.seconds["extract_wait"] += time.perf_counter() - waited
                self._pending.append(self._chunk(uri, st, plan.digest, connector, documents))
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
        uri = pending.uri
        try:
            for data in tables:
                owner = self._table_owner.get(data.name, uri)
                if owner != uri and not data.location:
                    raise ConnectorError(
                        f"{uri}: table name {data.name!r} is already taken by {owner}",
                        help="pass --table NAME to give this file's table another name",
                    )
                if owner != uri:  # found inside a document (report.pdf in two folders):
                    data.name = self._free_name(data.name, uri)  # the name is ours to pick
                try:
                    seg, size, n_rows, checksum = write_segment_batches(
                        self.lake.root, "table", data.schema, data.batches
                    )
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise ConnectorError(
                        f"{uri}: table {data.name!r}: {exc}".splitlines()[0],
                        help="fix the value or override the column type with --schema COL=TYPE",
                    ) from None
                self._table_owner[data.name] = uri
                pending.tables.append(
                    _WrittenTable(
                        data.name,
                        data.origin,
                        data.schema,
                        seg,
                        size,
                        n_rows,
                        data.notes,
                        dict(data.location),
                        checksum,
                    )  # fmt: skip
                )
        except BaseException:
            for table in pending.tables:  # not committed: nobody references them
                (self.lake.root / table.path).unlink(missing_ok=True)
                self._table_owner.pop(table.name, None)
            raise
        if not pending.tables:
            raise ConnectorError(f"{uri}: no tables found", help="is the file empty?")
        return pending

    def _free_name(self, base: str, uri: str) -> str:
        n = 2
        while self._table_owner.get(f"{base}_{n}", uri) != uri:
            n += 1
        return f"{base}_{n}"

    def commit_tables(self, source: str, content_hash: str, tables: list[TableData]) -> int:
        """Commit tables made in this process (a job's output) as one version of ``source``."""
        with self._writing():
            row = self.con.execute(
                "SELECT content_hash, status FROM sources WHERE source_uri = ?", (source,)
            ).fetchone()
            if row is None or row["status"] != "ok" or row["content_hash"] != content_hash:
                connector = _Producer(source.partition(":")[0] or "python")
                pending = _Pending(source, 0, time.time(), content_hash, connector)
                self._write_tables(pending, tables)
                pending.size = sum(t.size for t in pending.tables)
                self._pending.append(pending)
                self._flush()
            return catalog.latest_snapshot(self.con)

    def _chunk(
        self, uri: str, st: _Stat, digest: str, connector: Any, docs: list[Document]
    ) -> _Pending:
        if self._chunker is None:
            emb = self.lake.embedder
            self._chunker = Chunker(
                emb.tokenizer, self.settings.chunk_tokens, self.settings.chunk_overlap
            )
        rows: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        texts: list[str] = []
        pending = _Pending(uri, st.st_size, st.st_mtime, digest, connector, rows, documents, texts)
        for doc in docs:
            doc_id = _stable_id(uri, doc.doc_key)
            ordinal = 0
            for piece in pieces(self._chunker, doc.elements):
                text = piece.text
                if doc.parser:
                    piece.metadata.setdefault("parser", doc.parser)
                rows.append(
                    {
                        "chunk_id": _stable_id(doc_id, ordinal, text),
                        "doc_id": doc_id,
                        "doc_key": doc.doc_key,
                        "source_uri": uri,
                        "modality": connector.modality,
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
                title = doc.title
                texts.append(f"{title}\n{text}" if title and title not in text else text)
                ordinal += 1
            for table in doc.tables:  # tables found inside the document become lake tables
                table.location = {**table.location, "doc_id": doc_id, "doc_key": doc.doc_key}
            if doc.tables:
                self._write_tables(pending, doc.tables)
            documents.append(
                {
                    "doc_id": doc_id,
                    "doc_key": doc.doc_key,
                    "source_uri": uri,
                    "title": doc.title,
                    "modality": connector.modality,
                    "n_chunks": ordinal,
                    "n_chars": sum(len(e.text) for e in doc.elements),
                    "metadata": json.dumps(doc.metadata, default=str),
                    "content_hash": digest,
                }
            )
        return pending

    def _record_failure(self, uri: str, st: _Stat | None, connector: str, msg: str) -> None:
        self._failed.append((uri, st, connector, msg))
        self.report.outcomes.append(Outcome(uri, "failed", error=msg))
        self.progress.log_failure(msg)

    # -- commit ------------------------------------------------------------------
    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        failed, self._failed = self._failed, []
        touched, self._touched = self._touched, []
        if not (pending or failed or touched):
            return
        texts = [t for p in pending for t in p.embed_texts]
        embedder = self.lake.embedder if texts else None
        vectors = None
        if embedder is not None and texts:
            start = time.perf_counter()
            vectors = self.progress.embed(embedder, texts)
            self.report.seconds["embed"] += time.perf_counter() - start
        con = self.con
        next_version = con.execute("SELECT coalesce(max(version_id), 0) FROM versions")
        versions = {p.uri: v for v, p in enumerate(pending, start=next_version.fetchone()[0] + 1)}
        segments: list[_Segment] = []
        with_docs = [p for p in pending if p.rows or p.documents]
        if with_docs:
            segments = self._write_segments(with_docs, versions, vectors)
        for p in pending:
            for t in p.tables:
                written = (t.path, t.size, t.n_rows, t.checksum)
                segments.append(("table", t.name, written, [versions[p.uri]]))
        now = time.time()
        _failpoint("segments-written")
        with catalog.transaction(con):
            sid = catalog.latest_snapshot(con)
            if pending:
                sid += 1
                con.execute(
                    "INSERT INTO snapshots VALUES (?, ?, 'ingest', ?)",
                    (sid, now, f"{len(pending)} file(s)"),
                )
                if embedder is not None and texts:
                    self._record_model(embedder.dim)
                for kind, relation, (path, size, rows, checksum), vids in segments:
                    cur = con.execute(
                        "INSERT INTO segments (kind, relation, path, rows, bytes, snapshot_id, "
                        "checksum) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (kind, relation, path, rows, size, sid, checksum),
                    )
                    con.executemany(
                        "INSERT INTO segment_versions VALUES (?, ?)",
                        [(cur.lastrowid, v) for v in vids],
                    )
            for p in pending:
                self._commit_source(p, versions[p.uri], sid, now)
            for uri, mtime in touched:
                con.execute("UPDATE sources SET mtime = ? WHERE source_uri = ?", (mtime, uri))
                catalog.log_source(con, uri, sid)
            for uri, st, connector, msg in failed:
                self._write_failure(uri, st, connector, msg, sid, now)
            _failpoint("before-commit")
        _failpoint("after-commit")

    def _commit_source(self, p: _Pending, version: int, sid: int, now: float) -> None:
        """Inside the batch transaction: retire the old version, record the new one."""
        con = self.con
        con.execute(
            "UPDATE versions SET removed_snapshot = ? "
            "WHERE source_uri = ? AND removed_snapshot IS NULL",
            (sid, p.uri),
        )
        con.execute(
            "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (version, p.uri, p.content_hash, len(p.documents), len(p.rows), sid),
        )
        for t in p.tables:
            schema = [{"name": f.name, "type": str(f.type)} for f in t.schema]
            con.execute(
                "INSERT INTO tables VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (t.name, version, t.origin, json.dumps(schema), t.n_rows, len(schema),
                 "; ".join(t.notes) or None,
                 json.dumps(t.location, default=str) if t.location else None),
            )  # fmt: skip
        n_rows = sum(t.n_rows for t in p.tables)
        notes = list(getattr(p.connector, "notes", None) or [])  # an ok source's error: notes
        con.execute(
            "INSERT OR REPLACE INTO sources "
            "VALUES (?, ?, ?, ?, ?, 'ok', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (p.uri, p.size, p.mtime, p.content_hash, p.connector.name, "; ".join(notes) or None,
             sid, version,
             len(p.documents), len(p.rows), len(p.tables), n_rows,
             self._options_key if p.tables else None, now),
        )  # fmt: skip
        catalog.log_source(con, p.uri, sid)
        outcome = Outcome(p.uri, "ingested", len(p.documents), len(p.rows))
        outcome.tables, outcome.n_rows = [t.name for t in p.tables], n_rows
        outcome.notes = notes
        self.report.outcomes.append(outcome)

    def _write_failure(
        self, uri: str, st: _Stat | None, connector: str, msg: str, sid: int, now: float
    ) -> None:
        con = self.con
        con.execute("INSERT INTO errors (snapshot_id, input, error, at) VALUES (?, ?, ?, ?)",
                    (sid, uri, msg, now))  # fmt: skip
        if st is None and not Path(uri).exists():
            return  # a path that does not exist: logged in errors, it is not a source
        # keep size/mtime/hash of the last good version so an unchanged bad file is retried
        con.execute(
            """INSERT INTO sources (source_uri, size, mtime, connector, status, error,
                                    snapshot_id, updated_at)
               VALUES (?, ?, ?, ?, 'error', ?, ?, ?)
               ON CONFLICT (source_uri) DO UPDATE SET status = 'error', error = excluded.error,
                   connector = excluded.connector, updated_at = excluded.updated_at""",
            (
                uri,
                st.st_size if st else None,
                st.st_mtime if st else None,
                connector,
                msg,
                sid,
                now,
            ),
        )
        catalog.log_source(con, uri, sid)

    def _record_model(self, dim: int) -> None:
        row = self.con.execute("SELECT value FROM meta WHERE key = 'embedding_dim'").fetchone()
        if row is None:
            self.con.execute("INSERT INTO meta VALUES ('embedding_dim', ?)", (str(dim),))
        elif int(row[0]) != dim:
            raise DocframeError(
                f"lake {self.lake.root} holds {row[0]}-dim vectors but the model gives {dim}",
                help="use the lake's model or a new lake",
            )

    def _write_segments(
        self, pending: list[_Pending], versions: dict[str, int], vectors: Any
    ) -> list[_Segment]:
        chunk_rows = [dict(r, version_id=versions[p.uri]) for p in pending for r in p.rows]
        doc_rows = [dict(d, version_id=versions[p.uri]) for p in pending for d in p.documents]
        out = []
        vids = sorted(versions[p.uri] for p in pending)
        if chunk_rows:
            dim = self.lake.embedder.dim
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
            out.append(("chunks", None, write_segment(self.lake.root, "chunks", table), vids))
        if doc_rows:
            table = pa.Table.from_pylist(doc_rows, schema=DOCUMENT_SCHEMA)
            out.append(("documents", None, write_segment(self.lake.root, "documents", table), vids))
        return out

    def _prune(self, seen: set[str]) -> None:
        roots = [Path(p).expanduser().absolute() for p in self.paths if not GLOB_CHARS & set(p)]
        rows = self.con.execute("SELECT source_uri FROM sources").fetchall()
        gone = [
            r[0]
            for r in rows
            if r[0] not in seen
            and not Path(r[0]).exists()
            and any(Path(r[0]) == root or Path(r[0]).is_relative_to(root) for root in roots)
        ]
        if not gone:
            return
        with catalog.transaction(self.con):
            sid = catalog.latest_snapshot(self.con) + 1
            self.con.execute(
                "INSERT INTO snapshots VALUES (?, ?, 'prune', ?)",
                (sid, time.time(), f"{len(gone)} vanished file(s)"),
            )
            for uri in gone:
                self.con.execute(
                    "UPDATE versions SET removed_snapshot = ? "
                    "WHERE source_uri = ? AND removed_snapshot IS NULL",
                    (sid, uri),
                )
                self.con.execute("DELETE FROM sources WHERE source_uri = ?", (uri,))
                catalog.log_source(self.con, uri, sid)
                self.report.outcomes.append(Outcome(uri, "pruned"))

    def _refresh_index(self) -> str | None:
        from docframe.index.store import ensure_index

        if self.repair:
            return None  # other segments may still be damaged: repair refreshes it after
        snapshot = self.lake.snapshot()
        if snapshot.is_empty:
            return None
        return ensure_index(self.lake, snapshot).describe()
