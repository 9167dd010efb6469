"""The lake: a directory with a SQLite catalog, Parquet segments and derived indexes.

``Lake`` is the one object the CLI, the Python API and (later) the agent server
share. It opens or creates the directory, refuses directories that are not
lakes, pins snapshots for readers and hands writes to the ingest job.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe import backend as backend_mod
from docframe.config import CONFIG_FILE, Settings, load_settings
from docframe.errors import LakeError, ModelMismatchError, NotALakeError
from docframe.lake import catalog
from docframe.lake.snapshot import Snapshot, TableInfo, pin

if TYPE_CHECKING:
    from docframe.connectors.pdf.options import PdfOptions
    from docframe.connectors.tables import TableOptions
    from docframe.lake.gc import GcReport
    from docframe.lake.integrity import VerifyReport
    from docframe.pipelines.embedding import Embedder
    from docframe.pipelines.ingest import IngestReport
    from docframe.pipelines.repair import RepairReport
    from docframe.query.result import Result

_ALLOWED_IN_NEW_LAKE = {CONFIG_FILE, ".lock"}


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _canonical(model: str) -> str:
    from docframe.pipelines.embedding import canonical_model_name

    return canonical_model_name(model)


class Lake:
    """A lake directory. Open it with :func:`docframe.open`."""

    def __init__(self, root: Path, settings: Settings, backend: backend_mod.Backend) -> None:
        self.root = root
        self.settings = settings
        self.backend = backend

    # -- opening -----------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path = "lake",
        *,
        create: bool = True,
        engine: str | None = None,
        model: str | None = None,
        **settings: Any,
    ) -> Lake:
        root = Path(path).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise NotALakeError(
                f"{root} is a file, not a lake directory", help="choose a directory"
            )
        catalog_path = root / catalog.CATALOG_FILE
        if not catalog_path.exists():
            if not create:
                raise NotALakeError(
                    f"{root} is not a docframe lake (no {catalog.CATALOG_FILE})",
                    help="create one with: docframe --lake PATH init",
                )
            if root.exists() and any(p.name not in _ALLOWED_IN_NEW_LAKE for p in root.iterdir()):
                raise NotALakeError(
                    f"{root} is not empty and is not a docframe lake (no {catalog.CATALOG_FILE})",
                    help="point --lake at a new or empty directory",
                )
        config = load_settings(
            root if root.is_dir() else None, engine=engine, model=model, **settings
        )
        chosen = backend_mod.resolve(config.engine)
        lake = cls(root, config, chosen)
        if catalog_path.exists():
            lake._check_catalog(explicit_model=model)
        else:
            lake._create()
        return lake

    def _create(self) -> None:
        from docframe.lake.space import disk_full, is_disk_full

        tmp = self.root / f".{catalog.CATALOG_FILE}.creating"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            catalog.create(tmp, {"embedding_model": _canonical(self.settings.model)})
            tmp.rename(self.root / catalog.CATALOG_FILE)  # a half-created catalog is never seen
        except (OSError, sqlite3.OperationalError) as exc:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                try:
                    leftover.unlink(missing_ok=True)
                except OSError:
                    pass
            if is_disk_full(exc):
                raise disk_full(self.root, "a new catalog") from None
            reason = getattr(exc, "strerror", None) or str(exc)
            raise LakeError(
                f"cannot create lake {self.root}: {reason}",
                help="choose a writable --lake directory",
            ) from None

    def _check_catalog(self, explicit_model: str | None) -> None:
        try:
            con = self.connect()
            try:
                meta = catalog.read_meta(con)
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            raise NotALakeError(
                f"{self.root / catalog.CATALOG_FILE} is not a docframe catalog ({exc})",
                help="point --lake at a docframe lake or a new directory",
            ) from exc
        if meta.get("format_version") != catalog.FORMAT_VERSION:
            raise NotALakeError(
                f"{self.root}: unsupported lake format {meta.get('format_version')!r}",
                help=f"this docframe reads format {catalog.FORMAT_VERSION}",
            )
        recorded = meta["embedding_model"]
        if explicit_model is not None and _canonical(explicit_model) != recorded:
            raise ModelMismatchError(
                f"lake {self.root} was built with embedding model {recorded!r}, "
                f"not {_canonical(explicit_model)!r}; one lake holds one model's vectors",
                help="drop --model to use the lake's model, or ingest into a new lake",
            )

    # -- catalog access ----------------------------------------------------------
    @property
    def read_only(self) -> bool:
        """True where this process cannot write the lake (a read-only mount, another
        user's files): readers work as usual, writers are refused in one line."""
        from docframe.lake.lock import read_only_reason

        return read_only_reason(self.root) is not None

    def connect(self) -> sqlite3.Connection:
        """The catalog: read-write for the writer (who holds the lock), else for reading.

        A reader gets a read-write connection where the lake is writable (SQLite
        then keeps its log short) and otherwise, or when that fails (a full disk
        leaves no room for SQLite's -shm file), a read-only one that writes nothing
        (:func:`catalog.connect` with ``readonly=True``). A writer that cannot
        open the catalog gets one line saying why.
        """
        from docframe.lake.lock import holds, read_only_reason
        from docframe.lake.space import open_failure

        path = self.root / catalog.CATALOG_FILE
        if holds(self.root):
            try:
                return catalog.connect(path)
            except sqlite3.OperationalError as exc:
                raise open_failure(self.root, exc) from None
        if read_only_reason(self.root) is None:
            try:
                return catalog.connect(path)
            except sqlite3.OperationalError:
                pass  # read it without writing anything
        return catalog.connect(path, readonly=True)

    @property
    def model(self) -> str:
        con = self.connect()
        try:
            return catalog.read_meta(con)["embedding_model"]
        finally:
            con.close()

    def snapshot(self, snapshot_id: int | None = None) -> Snapshot:
        """Pin the newest committed snapshot (or an older one) for reading."""
        con = self.connect()
        try:
            return pin(self.root, con, snapshot_id)
        finally:
            con.close()

    @cached_property
    def embedder(self) -> Embedder:
        from docframe.pipelines.embedding import Embedder

        return Embedder(self.model, self.backend.torch_device, self.settings.embed_batch)

    # -- the public verbs --------------------------------------------------------
    def ingest(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        prune: bool = False,
        progress: bool = False,
        table_options: TableOptions | None = None,
        pdf_options: PdfOptions | None = None,
        jobs: int | None = None,
        follow_symlinks: bool = False,
        allowed_roots: Sequence[str | Path] | None = None,
        **table_settings: Any,
    ) -> IngestReport:
        """Add new and changed files under ``paths``; unchanged files are skipped.

        Tabular files (CSV, Parquet, JSON, Excel, SQLite) become lake tables;
        ``table_settings`` are :class:`TableOptions` fields (``table=``,
        ``schema=``, ``delimiter=``, ``on_bad_rows=``...). PDFs read with
        ``pdf_options`` (passwords, OCR, limits). ``jobs`` documents are
        extracted in parallel (default: the number of CPUs).

        Symbolic links found while walking folders are skipped and reported
        unless ``follow_symlinks``; paths given in ``paths`` are always followed.
        With ``allowed_roots``, any file whose real path lies outside those
        folders is refused (a failed outcome), links included.
        """
        from docframe.connectors.tables import TableOptions
        from docframe.pipelines.ingest import IngestJob

        if isinstance(paths, (str, Path)):
            paths = [paths]
        if table_settings:
            table_options = TableOptions(**table_settings)
        job = IngestJob(
            self, [str(p) for p in paths], prune=prune, progress=progress,
            table_options=table_options, pdf_options=pdf_options, jobs=jobs,
            follow_symlinks=follow_symlinks,
            allowed_roots=None if allowed_roots is None else [
                Path(r).expanduser().resolve() for r in allowed_roots
            ],
        )  # fmt: skip
        return job.run()

    def gc(self) -> GcReport:
        """Delete segment files no snapshot references (crash leftovers) and stale indexes."""
        from docframe.lake.gc import collect

        return collect(self)

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

        return repair(self, drop_missing=drop_missing, progress=progress)

    def tables(self, *, snapshot: int | None = None) -> Result:
        """The lake's tables: name, source, rows, columns."""
        return self.sql("SELECT * FROM tables ORDER BY name", snapshot=snapshot)

    def table(self, name: str, *, snapshot: int | None = None) -> Result:
        """All rows of one lake table (for big tables, read ``table_info(name).files``)."""
        return self.sql(f"SELECT * FROM {_quote_ident(self.table_info(name, snapshot).name)}",
                        snapshot=snapshot)  # fmt: skip

    def table_info(self, name: str, snapshot: int | None = None) -> TableInfo:
        tables = self.snapshot(snapshot).tables
        if name not in tables:
            import difflib

            close = difflib.get_close_matches(name, list(tables), n=1)
            raise LakeError(
                f"no table {name!r} in lake {self.root}"
                + (f"; did you mean {close[0]!r}?" if close else ""),
                help="list tables with: docframe tables",
            )
        return tables[name]

    def write_table(self, name: str, data: Any, *, source: str, content_hash: str) -> int:
        """Commit ``data`` (Arrow table, pandas or cuDF DataFrame) as a new version of ``name``.

        ``source`` names what produced it (e.g. ``job:delays``); if that source's
        live version already has ``content_hash``, nothing is written. Returns
        the snapshot holding the table.
        """
        from docframe.pipelines.table_writer import write_table

        return write_table(self, name, data, source=source, content_hash=content_hash)

    def search(
        self,
        text: str,
        k: int = 10,
        *,
        mode: str = "dense",
        where: str | None = None,
        weights: tuple[float, float] = (1.0, 1.0),
        snapshot: int | None = None,
    ) -> Result:
        """The ``k`` chunks best matching ``text``, best first, with provenance.

        ``mode``: ``dense`` (embeddings), ``keyword`` (BM25) or ``hybrid`` (both,
        fused by reciprocal rank with ``weights`` = (dense, keyword)). ``where``: a
        SQL predicate on ``chunks`` columns, applied inside the index, so ``k``
        hits come back whenever ``k`` chunks match. ``result.info`` tells how many
        chunks were eligible and whether the search was ``exhausted``.
        """
        from docframe.query.search import search

        return search(
            self, self.snapshot(snapshot), text, k, mode=mode, where=where, weights=weights
        )

    def sql(self, query: str, *, snapshot: int | None = None) -> Result:
        """Run DuckDB SQL over ``chunks``, ``documents``, ``sources`` and ``snapshots``."""
        from docframe.query.sql import run_sql

        return run_sql(self.snapshot(snapshot), query, lake=self)

    def sources(self) -> Result:
        from docframe.query.result import Result

        return Result(self.snapshot().sources)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r}, engine={self.backend.name})"
