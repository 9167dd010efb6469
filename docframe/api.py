"""The facade: :class:`Lake`, what ``docframe.open()`` returns.

A ``Lake`` composes the services of the layers below for the CLI, the Python API,
notebooks and the agent server: the storage handle (``docframe.lake.store``), the
embedding model, ingest and repair (``docframe.pipelines``), SQL and search
(``docframe.query``), index upkeep (``docframe.index``). It holds no logic of its
own beyond choosing each service's collaborators; the services take the storage
handle and what they need explicitly, never the facade.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.lake.snapshot import Snapshot
from docframe.lake.store import LakeStore

if TYPE_CHECKING:
    import sqlite3

    import numpy as np

    from docframe.backend import Backend
    from docframe.config import Settings
    from docframe.connectors.media.options import MediaOptions
    from docframe.connectors.pdf.options import PdfOptions
    from docframe.connectors.tables import TableOptions
    from docframe.lake.gc import GcReport
    from docframe.lake.integrity import VerifyReport
    from docframe.lake.snapshot import TableInfo
    from docframe.pipelines.dry_run import DryRun
    from docframe.pipelines.embedding import Embedder
    from docframe.pipelines.reembed import ReembedReport
    from docframe.pipelines.repair import RepairReport
    from docframe.pipelines.report import IngestReport
    from docframe.query.result import Result


class Lake:
    """A lake directory and everything you can do with it. Open it with :func:`docframe.open`."""

    def __init__(self, store: LakeStore) -> None:
        self.store = store
        self._query_encoders: dict[str, Embedder] = {}  # identity -> its question encoder

    @classmethod
    def open(cls, path: str | Path = "lake", **options: Any) -> Lake:
        """The lake at ``path`` (``options``: see :func:`docframe.open`)."""
        return cls(LakeStore.open(path, **options))

    # -- the storage handle's facts ------------------------------------------------
    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def settings(self) -> Settings:
        return self.store.settings

    @property
    def backend(self) -> Backend:
        return self.store.backend

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    @property
    def model(self) -> str:
        return self.store.model

    def connect(self) -> sqlite3.Connection:
        return self.store.connect()

    def snapshot(self, snapshot_id: int | None = None) -> Snapshot:
        """Pin the newest committed snapshot (or an older one) for reading."""
        return self.store.snapshot(snapshot_id)

    def table_info(self, name: str, snapshot: int | Snapshot | None = None) -> TableInfo:
        return self.store.table_info(name, snapshot)

    @cached_property
    def embedder(self) -> Embedder:
        """What makes the lake's new vectors (the model loads on first use, once per
        process). With ``embed_backend`` auto: the embedder that made the vectors the
        lake holds (its recorded identity), so a lake keeps one embedder's vectors
        wherever it is opened; for a lake without vectors yet, auto's choice (ONNX int8
        on the CPU, torch fp16 on CUDA). A backend asked for by name is used as is: a
        commit refuses it if the lake holds another's vectors (``docframe reembed``)."""
        from docframe.pipelines.embedding import Embedder

        device, batch = self.backend.torch_device, self.settings.embed_batch
        requested = self.settings.embed_backend
        recorded = self.store.embedder if requested == "auto" else None
        if recorded is not None:
            return Embedder.for_identity(recorded, device, batch)
        return Embedder(self.model, device, batch, backend=requested)

    def query_encoder(self, snapshot: Snapshot | None = None) -> Embedder:
        """What encodes a question against ``snapshot``'s vectors (default: the newest):
        the ONNX form of the embedder that made them, so a search imports no torch
        (:meth:`Embedder.for_queries`). One per identity, kept for the process."""
        from docframe.pipelines.embedding import Embedder

        identity = (snapshot or self.snapshot()).embedder
        if identity is None:  # no vectors yet: nothing to compare a question with
            return self.embedder.for_queries()
        found = self._query_encoders.get(identity)
        if found is None:
            base = Embedder.for_identity(identity, self.backend.torch_device)
            found = self._query_encoders[identity] = base.for_queries()
        return found

    # -- writing ---------------------------------------------------------------------
    def ingest(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        prune: bool = False,
        progress: bool = False,
        table_options: TableOptions | None = None,
        pdf_options: PdfOptions | None = None,
        media_options: MediaOptions | None = None,
        jobs: int | None = None,
        follow_symlinks: bool = False,
        allowed_roots: Sequence[str | Path] | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        dry_run: bool = False,
        workers: int | None = None,
        scheduler: str | None = None,
        **table_settings: Any,
    ) -> IngestReport | DryRun:
        """Add new and changed files under ``paths``; unchanged files are skipped.

        Tabular files (CSV, Parquet, JSON, Excel, SQLite) become lake tables;
        ``table_settings`` are :class:`TableOptions` fields (``table=``,
        ``schema=``, ``delimiter=``, ``on_bad_rows=``...). PDFs read with
        ``pdf_options`` (passwords, OCR, limits); audio and video with
        ``media_options`` (speech model, language, length and time limits, screen OCR).
        ``jobs`` documents are extracted in parallel (default: the number of CPUs).

        Symbolic links found while walking folders are skipped and reported
        unless ``follow_symlinks``; paths given in ``paths`` are always followed.
        With ``allowed_roots``, any file whose real path lies outside those
        folders is refused (a failed outcome), links included. ``include`` and
        ``exclude`` (fnmatch patterns, see :mod:`docframe.pipelines.discovery`) choose
        among the files found; the files they leave out are not pruned while they exist.

        ``dry_run=True`` returns a :class:`~docframe.pipelines.dry_run.DryRun` instead:
        what would be ingested, skipped, failed and pruned, and why, with nothing
        written (no lock, no catalog write; the embedding model is not loaded).
        ``workers=N`` reads, chunks and embeds on a local Dask cluster of N processes
        (dask-cuda's, one per GPU, on a GPU lake); ``scheduler="tcp://host:8786"`` on an
        existing cluster whose workers reach the lake at the same path. This process
        alone commits, so the lake is what a single-process ingest makes
        (:mod:`docframe.pipelines.ingest_dask`).

        Called from the main thread, a first SIGINT/SIGTERM stops taking files,
        commits the batch in hand and raises
        :class:`docframe.pipelines.ingest.IngestInterrupted` (a ``SystemExit`` with
        code 130/143 holding the ``report``): calling again skips what was committed.
        """
        from docframe.connectors.tables import TableOptions
        from docframe.pipelines.ingest import IngestJob

        if isinstance(paths, (str, Path)):
            paths = [paths]
        if table_settings:
            table_options = TableOptions(**table_settings)
        job = IngestJob(
            self.store, [str(p) for p in paths], prune=prune,
            embedder=None if dry_run else self.embedder,
            progress=progress, table_options=table_options, pdf_options=pdf_options,
            media_options=media_options, jobs=jobs,
            follow_symlinks=follow_symlinks,
            allowed_roots=None if allowed_roots is None else [
                Path(r).expanduser().resolve() for r in allowed_roots
            ],
            include=include, exclude=exclude, workers=workers, scheduler=scheduler,
        )  # fmt: skip
        if workers is not None or scheduler is not None:
            from docframe.pipelines.ingest_dask import run_on_dask

            job.read_plans = partial(run_on_dask, job)
        return job.dry_run() if dry_run else job.run()

    def write_table(self, name: str, data: Any, *, source: str, content_hash: str) -> int:
        """Commit ``data`` (Arrow table, pandas or cuDF DataFrame) as a new version of ``name``.

        ``source`` names what produced it (e.g. ``job:delays``); if that source's
        live version already has ``content_hash``, nothing is written. Returns
        the snapshot holding the table.
        """
        from docframe.pipelines.table_writer import write_table

        return write_table(self.store, name, data, source=source, content_hash=content_hash)

    def gc(self) -> GcReport:
        """Delete segment files no snapshot references (crash leftovers) and stale indexes."""
        from docframe.index.store import remove_stale
        from docframe.lake.gc import collect

        return collect(self.store, derived=lambda latest: remove_stale(self.root, latest))

    def verify(self, *, full: bool = True) -> VerifyReport:
        """Check every segment the catalog references, read-only: with ``full`` every byte
        against the checksum recorded at commit, else size and Parquet footer only."""
        from docframe.lake.integrity import verify

        con = self.connect()
        try:
            return verify(self.root, con, full=full)
        finally:
            con.close()

    def repair(self, *, drop_missing: bool = False, progress: bool = False) -> RepairReport:
        """Replace what damaged segments hold in the newest snapshot: sources re-read from
        their files; with ``drop_missing``, the rest dropped in a new snapshot."""
        from docframe.pipelines.repair import repair

        return repair(self.store, self.embedder, drop_missing=drop_missing, progress=progress)

    def reembed(
        self,
        *,
        embed_backend: str | None = None,
        progress: bool = False,
        batch_chunks: int | None = None,
    ) -> ReembedReport:
        """Make every vector again with the lake's model run by ``embed_backend`` (default:
        the configured one; auto: ONNX int8 on the CPU, torch fp16 on CUDA), in committed
        batches, then rebuild the dense index. Run again after an interruption to finish."""
        from docframe.pipelines.embedding import Embedder
        from docframe.pipelines.reembed import reembed

        backend = embed_backend or self.settings.embed_backend
        embedder = Embedder(
            self.model, self.backend.torch_device, self.settings.embed_batch, backend=backend
        )
        report = reembed(self.store, embedder, progress=progress, batch_chunks=batch_chunks)
        self.__dict__.pop("embedder", None)  # the lake's embedder may have changed
        self._query_encoders.clear()
        return report

    # -- reading ---------------------------------------------------------------------
    def tables(self, *, snapshot: int | Snapshot | None = None) -> Result:
        """The lake's tables: name, source, rows, columns."""
        return self.sql("SELECT * FROM tables ORDER BY name", snapshot=snapshot)

    def table(self, name: str, *, snapshot: int | Snapshot | None = None) -> Result:
        """All rows of one lake table (for big tables, read ``table_info(name).files``)."""
        from docframe.lake.names import quote_ident

        pinned = self._pin(snapshot)
        info = self.table_info(name, pinned)
        return self.sql(f"SELECT * FROM {quote_ident(info.name)}", snapshot=pinned)

    def search(
        self,
        text: str,
        k: int = 10,
        *,
        mode: str = "dense",
        where: str | None = None,
        weights: tuple[float, float] = (1.0, 1.0),
        snapshot: int | Snapshot | None = None,
        allowed_ids: np.ndarray | None = None,
        per_document: bool = False,
    ) -> Result:
        """The ``k`` chunks best matching ``text``, best first, with provenance.

        ``mode``: ``dense`` (embeddings), ``keyword`` (BM25) or ``hybrid`` (both,
        fused by standardised score with ``weights`` = (dense, keyword)). ``where``: a
        SQL predicate on ``chunks`` columns, applied inside the index, so ``k``
        hits come back whenever ``k`` chunks match (``allowed_ids``: the chunk ids it
        matched, when the caller evaluated it elsewhere, e.g. in the agent sandbox).
        ``snapshot``: a snapshot number or an already pinned :class:`Snapshot`.
        ``result.info`` tells how many chunks were eligible and whether the search was
        ``exhausted``. ``per_document=True``: the best chunk of each of ``k`` distinct
        documents instead (``k`` documents whenever ``k`` have an eligible chunk), for
        "which documents?" questions where one long document would fill the top ``k``.
        """
        from docframe.query.search import search

        pinned = self._pin(snapshot)
        return search(
            self.store, pinned, text, k, embedder=self.query_encoder(pinned), mode=mode,
            where=where, weights=weights, allowed_ids=allowed_ids, per_document=per_document,
        )  # fmt: skip

    def prepare_search(self, snapshot: Snapshot, modes: set[str]) -> None:
        """Load the model (run once) and the indexes ``modes`` need on ``snapshot`` now,
        so a time limit on the next searches measures them, not one-off loads."""
        from docframe.query.search import prepare

        if modes - {"keyword"}:
            self.query_encoder(snapshot).encode(["warm up"])
        prepare(self.store, snapshot, modes)

    def sql(self, query: str, *, snapshot: int | Snapshot | None = None) -> Result:
        """Run DuckDB SQL over ``chunks``, ``documents``, ``sources``, ``snapshots``,
        ``tables``, ``pdf_tables`` and every lake table, with the search functions."""
        from docframe.query.sql import run_sql

        pinned = self._pin(snapshot)
        return run_sql(pinned, query, store=self.store, embedder=self.query_encoder(pinned))

    def sources(self) -> Result:
        from docframe.query.result import Result

        return Result(self.snapshot().sources)

    # -- indexes ---------------------------------------------------------------------
    def index_build(self, *, kind: str | None = None) -> dict[str, Any]:
        """Build the newest snapshot's dense (``kind`` or the lake's choice) and keyword
        indexes now, into the lake."""
        from docframe.index.maintenance import build

        return build(self.store, kind=kind)

    def index_export(self, *, to: str = "hnswlib") -> dict[str, Any]:
        """Export the GPU-built CAGRA index to ``to`` (hnswlib) so CPU-only machines serve
        that graph instead of building their own; the conversion runs on the GPU."""
        from docframe.index.export import export_index

        return export_index(self.store, to=to)

    def index_check(
        self, *, k: int = 10, n_queries: int = 200, texts: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """recall@k of the dense index against exact search, and its latency."""
        from docframe.index.maintenance import check

        encoder = self.query_encoder() if texts else None
        return check(self.store, k=k, n_queries=n_queries, texts=texts, embedder=encoder)

    def index_tune(
        self,
        *,
        target: float = 0.95,
        k: int = 10,
        n_queries: int = 200,
        texts: Sequence[str] | None = None,
        full: bool = False,
    ) -> dict[str, Any]:
        """The cheapest search setting reaching ``target`` recall@k, recorded in the lake;
        ``sweep`` holds each setting measured (``full``: all of them, the whole curve)."""
        from docframe.index.maintenance import tune

        return tune(
            self.store, target=target, k=k, n_queries=n_queries, texts=texts,
            embedder=self.query_encoder() if texts else None, full=full,
        )  # fmt: skip

    def evaluate(self, queries: str | Path, qrels: str | Path, **options: Any) -> dict[str, Any]:
        """Score search on judged queries (BEIR files): nDCG, recall, MRR (``docframe eval``)."""
        from docframe.query.evaluation import evaluate_lake

        return evaluate_lake(self.store, self.query_encoder(), queries, qrels, **options)

    def _pin(self, snapshot: int | Snapshot | None) -> Snapshot:
        return snapshot if isinstance(snapshot, Snapshot) else self.snapshot(snapshot)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r}, engine={self.backend.name})"
