"""The lake's storage handle: a directory with a SQLite catalog, Parquet segments and
derived indexes.

:class:`LakeStore` opens or creates the directory, refuses directories that are not
lakes, connects to the catalog (read-only where the lake cannot be written), pins
snapshots for readers and looks up tables. It knows nothing of ingesting, searching
or SQL: those services take a store (and their collaborators, such as the embedder)
and the facade, :class:`docframe.api.Lake`, composes them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from docframe import backend as backend_mod
from docframe.config import CONFIG_FILE, Settings, canonical_model_name, load_settings
from docframe.errors import LakeError, ModelMismatchError, NotALakeError, did_you_mean
from docframe.lake import catalog
from docframe.lake.snapshot import Snapshot, TableInfo, pin

_ALLOWED_IN_NEW_LAKE = {CONFIG_FILE, ".lock"}
_canonical = canonical_model_name


class LakeStore:
    """A lake directory: its settings, engine, catalog and snapshots."""

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
        dry_run: bool = False,
        **settings: Any,
    ) -> LakeStore:
        """The lake at ``path``, created if missing (unless ``create=False``: refused).
        ``dry_run``: judged as for creating, but nothing is written, so a dry run
        (``ingest --dry-run``) can plan against a lake that does not exist yet; such a
        store has no catalog and serves nothing but that plan."""
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
        store = cls(root, config, chosen)
        if catalog_path.exists():
            store._check_catalog(explicit_model=model)
        elif not dry_run:
            store._create()
        return store

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

    @property
    def embedder(self) -> str | None:
        """The identity of the embedder whose vectors the lake holds (None: no vectors yet)."""
        con = self.connect()
        try:
            return catalog.lake_embedder(catalog.read_meta(con))
        finally:
            con.close()

    def snapshot(self, snapshot_id: int | None = None) -> Snapshot:
        """Pin the newest committed snapshot (or an older one) for reading."""
        con = self.connect()
        try:
            return pin(self.root, con, snapshot_id)
        finally:
            con.close()

    def table_info(self, name: str, snapshot: int | Snapshot | None = None) -> TableInfo:
        pinned = snapshot if isinstance(snapshot, Snapshot) else self.snapshot(snapshot)
        tables = pinned.tables
        if name not in tables:
            raise LakeError(
                f"no table {name!r} in lake {self.root}{did_you_mean(name, tables)}",
                help="list tables with: docframe tables",
            )
        return tables[name]

    def __repr__(self) -> str:
        return f"LakeStore({str(self.root)!r}, engine={self.backend.name})"
