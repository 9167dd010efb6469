"""Dense indexes on disk: a base index, kept fresh for every snapshot by a delta and a mask.

Building an ANN index costs minutes at a million chunks, so it is not rebuilt
for every commit. Instead each family (``faiss``, ``cuvs``) keeps *base* indexes,
one folder per snapshot it was built at (``indexes/dense-<family>/<snapshot>/``).
A snapshot ``S`` is searched through the newest base built at or before ``S``:

- **mask**: base rows whose source version is no longer live at ``S`` (a file
  replaced or pruned since) are excluded inside the index search (faiss
  ``IDSelectorNot``, cuVS bitsets), so deletions are invisible at once;
- **delta**: chunks in segments committed after the base are scored exactly
  (one matrix product over a few thousand vectors) and merged with the base's
  hits, so new chunks are searchable right after their commit.

Past :data:`DELTA_REBUILD_MIN` rows or :data:`REBUILD_SHARE` of the base (delta or
mask), the next search folds them in: a new base is built at ``S`` and saved
(``docframe index build`` does it on demand). A base serves only snapshots at or
after its own: every row live at a later snapshot in a segment the base covered
was live when it was built, because versions never come back to life.

A base folder holds ``manifest.json`` (the snapshot, model and embedder identity,
kind, parameters, covered segment files in build order and the SHA-256 of every
file), and, where the kind needs one, the index itself (``index/``, written by the
implementation's ``save``) with ``rows.parquet`` (position -> ``chunk_id``,
``version_id``). The raw vectors (exact re-scoring for filters, the ground truth of
``docframe index check``) are stored once, and the manifest's ``vectors`` says where:

- ``segments``: a flat index *is* its vectors, so it saves no index file at all, only
  ``versions.npy`` (the source versions live at its snapshot); a load reads those
  versions' rows from the covered segments (ids and the ``embedding`` column, the
  lake's own copy) and rebuilds the flat index in memory, which costs about what
  reading and hashing ``index.faiss`` and ``vectors.npy`` did (format 2 stored the
  vectors three times);
- ``index``: the index keeps the raw vectors itself (HNSW storage, IVF-PQ's
  re-ranking copy), and the base uses them (``vectors_by_id``);
- ``file``: other kinds (cuVS, IVF-PQ without re-ranking): ``vectors.npy``,
  memory-mapped, as every base of format 2 had.

faiss loads a corrupted file without complaint, which is why the checksums are
ours: a base that fails them, or whose segments no longer give the rows it was
built from, is rebuilt from the segments. A base of format 2 still loads as it is.
A base of another embedder's vectors (the lake was re-embedded since) is passed over.

On a read-only lake (a read-only mount, another user's files) nothing is
written into ``indexes/``: a reader that must build an index saves it in a
per-user cache instead, ``$XDG_CACHE_HOME/docframe/indexes/<lake key>/``
(:func:`index_roots`). The key digests the lake's path and the creation time of
its snapshot 0, so two lakes never share a folder and a lake rebuilt in place
gets a new one; each manifest also records its snapshot's creation time, so a
copy whose history diverged from the one an index was built for never loads it.

Filtered search (:meth:`DenseView.search` with ``allowed``) returns exactly
``min(k, len(allowed))`` hits: small allowed sets (up to
:data:`EXACT_SUBSET_MAX` rows) are scored exactly from ``vectors.npy``; larger
ones go through the index's native filter and fall back to exact scoring in
the rare case the graph search comes back short.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from docframe.errors import MissingDependencyError, QueryError, warn
from docframe.index.topk import exact_top_k, row_top_k
from docframe.lake import embedders
from docframe.lake.cache import SnapshotCache
from docframe.lake.segments import SEGMENTS_DIR

if TYPE_CHECKING:
    import pandas as pd

    from docframe.index.base import VectorIndex
    from docframe.lake.snapshot import Snapshot
    from docframe.lake.store import LakeStore

MANIFEST = "manifest.json"
ROWS_FILE = "rows.parquet"
VECTORS_FILE = "vectors.npy"
VERSIONS_FILE = "versions.npy"  # a segments base: the versions whose rows it holds
INDEX_SUBDIR = "index"
TUNING_FILE = "tuning.json"  # per family: search parameters chosen by `docframe index tune`
FORMAT_VERSION = 3  # 3: vectors stored once (manifest "vectors"); 2 still loads
READABLE_FORMATS = (2, 3)
# what a user may do about an index found unusable and rebuilt (the dense and keyword ones)
REBUILT_HELP = (
    "nothing to do: the search goes on with the rebuilt index; if this happens again, "
    "check the disk (docframe verify checks the segments)"
)
# kinds whose index is nothing but the vectors: saved as none, rebuilt from the segments
REBUILT_FROM_SEGMENTS = frozenset({"faiss-flat"})

DELTA_REBUILD_MIN = 4096  # a delta or mask smaller than this never triggers a rebuild
REBUILD_SHARE = 0.10  # ... and one larger than this share of the base does
EXACT_SUBSET_MAX = 20_000  # allowed sets up to this size are scored exactly

_BASES: SnapshotCache[Base] = SnapshotCache(4)  # keyed by the base's own snapshot
_VIEWS: SnapshotCache[DenseView] = SnapshotCache(4)
_BUILD_LOCK = threading.Lock()


def family_dir(root: Path, family: str) -> Path:
    return root / "indexes" / f"dense-{family}"


def lake_cache_key(root: Path, snapshot: Snapshot) -> str:
    """The lake's folder in the per-user index cache: its name and a digest of its real
    path and the creation time of its snapshot 0 (a lake made again in place differs)."""
    real = Path(root).resolve()
    digest = hashlib.sha256(f"{real}\0{snapshot.committed_at(0)!r}".encode()).hexdigest()
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in real.name) or "lake"
    return f"{name}-{digest[:16]}"


def index_roots(store: LakeStore, snapshot: Snapshot) -> list[Path]:
    """Where saved indexes are looked for, best first; a reader saves into the last one.

    The lake's own ``indexes/`` folder, and, when this process cannot write the
    lake, the per-user cache folder of this lake (``docframe.config.cache_dir``).
    """
    roots = [store.root / "indexes"]
    if store.read_only:
        from docframe.config import cache_dir

        roots.append(cache_dir() / "indexes" / lake_cache_key(store.root, snapshot))
    return roots


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digests(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): _sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


# -- the base: one saved index -------------------------------------------------------


@dataclass
class Base:
    """An index built at one snapshot, with what maps its positions back to chunks."""

    directory: Path
    snapshot_id: int
    model: str
    index: VectorIndex
    chunk_ids: np.ndarray  # position -> chunk_id (object array of str)
    versions: np.ndarray  # position -> version_id (int64)
    files: frozenset[str]  # segment file names whose rows it holds
    vectors: np.ndarray  # (n, dim) float32: the index's own, or memory-mapped vectors.npy
    built_seconds: float = 0.0
    stamp: float | None = None  # when its snapshot was committed (Snapshot.committed_at)
    embedder: str | None = None  # the identity of the embedder of its vectors
    segment_order: tuple[str, ...] = ()  # covered segment file names, in row order
    lake_root: Path | None = None  # where its segments are (the base may sit in a cache)
    origin: dict[str, Any] | None = None  # an exported base: what it was exported from

    @property
    def kind(self) -> str:
        return self.index.kind

    def __len__(self) -> int:
        return len(self.chunk_ids)


def _read_rows(files: list[str], live: np.ndarray, dim: int) -> tuple[np.ndarray, ...]:
    """(chunk_ids, versions, vectors) of the live rows in ``files``, in file order."""
    ids, versions, vectors = [], [], []
    for name in files:
        table = pq.read_table(name, columns=["chunk_id", "version_id", "embedding"])
        keep = np.isin(table.column("version_id").to_numpy(), live)
        if not keep.all():
            table = table.filter(pa.array(keep))
        if not table.num_rows:
            continue
        ids.append(table.column("chunk_id").to_numpy(zero_copy_only=False))
        versions.append(table.column("version_id").to_numpy())
        emb = table.column("embedding").combine_chunks()
        vectors.append(emb.flatten().to_numpy().reshape(table.num_rows, dim))
    if not ids:
        return np.empty(0, object), np.empty(0, np.int64), np.empty((0, dim), np.float32)
    return (
        np.concatenate(ids),
        np.concatenate(versions).astype(np.int64, copy=False),
        np.ascontiguousarray(np.concatenate(vectors), dtype=np.float32),
    )


def _dim(store: LakeStore, snapshot: Snapshot) -> int:
    if snapshot.dim is None:  # no vector was ever committed: nothing to index
        raise QueryError(
            f"lake {store.root} has no embeddings yet", help="docframe ingest PATH first"
        )
    return int(snapshot.dim)


def configured_kind(store: LakeStore) -> str:
    """The lake's ``index_kind`` setting, checked against the family's kinds."""
    from docframe.index import FAMILY_KINDS

    family = store.backend.index_family
    kind = store.settings.index_kind
    if kind != "auto" and kind not in FAMILY_KINDS[family]:
        raise QueryError(
            f"index_kind {kind!r} is not a {family} index kind",
            help=f"use auto or one of: {', '.join(FAMILY_KINDS[family])}",
        )
    return kind


def build_base(store: LakeStore, snapshot: Snapshot, *, kind: str | None = None) -> Base:
    """Build (not save) a base index over every live chunk of ``snapshot``."""
    from docframe.index import FAMILY_KINDS, choose_kind, make_index_kind

    start = time.perf_counter()
    family = store.backend.index_family
    dim = _dim(store, snapshot)
    live = np.asarray(snapshot.live_versions, dtype=np.int64)
    chunk_ids, versions, vectors = _read_rows(list(snapshot.chunk_files), live, dim)
    if kind is None or kind == "auto":
        kind = configured_kind(store)
    if kind == "auto":
        kind = choose_kind(len(chunk_ids), family, dim=dim)
    elif kind not in FAMILY_KINDS[family]:
        raise QueryError(
            f"index kind {kind!r} does not run on the {store.backend.name} engine ({family})",
            help=f"use one of: {', '.join(FAMILY_KINDS[family])}",
        )
    try:
        index = make_index_kind(kind, dim)
    except ValueError as exc:
        raise QueryError(f"index kind {kind!r}: {exc}", help="see docframe index --help") from None
    _apply_tuning(store.root, family, index)
    index.build(vectors, np.arange(len(chunk_ids), dtype=np.int64))
    stored = _stored_vectors(index)
    if stored is not None:  # the index's own copy serves: one copy in memory, not two
        vectors = stored
    save_root = index_roots(store, snapshot)[-1]
    return Base(
        directory=save_root / f"dense-{family}" / str(snapshot.snapshot_id),
        snapshot_id=snapshot.snapshot_id,
        model=snapshot.model,
        index=index,
        chunk_ids=chunk_ids,
        versions=versions,
        files=frozenset(Path(f).name for f in snapshot.chunk_files),
        vectors=vectors,
        built_seconds=time.perf_counter() - start,
        stamp=snapshot.committed_at(),
        embedder=snapshot.embedder,
        segment_order=tuple(Path(f).name for f in snapshot.chunk_files),
        lake_root=store.root,
    )


def _stored_vectors(index: VectorIndex) -> np.ndarray | None:
    """The raw vectors ``index`` keeps itself, by id (``vectors_by_id``), if any."""
    method = getattr(index, "vectors_by_id", None)
    return method() if method is not None else None


def vector_home(base: Base) -> str:
    """Where ``save_base`` puts the base's vectors: ``segments``, ``index`` or ``file``
    (see the module docstring)."""
    if base.kind in REBUILT_FROM_SEGMENTS and base.segment_order and base.lake_root:
        return "segments"
    return "index" if _stored_vectors(base.index) is not None else "file"


def save_base(base: Base) -> None:
    """Write ``base`` to its folder atomically (temp folder, fsync'd files, rename)."""
    directory = base.directory
    tmp = directory.parent / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    home = vector_home(base)
    try:
        if home == "segments":  # its rows are those of these versions in its segments
            np.save(tmp / VERSIONS_FILE, np.unique(base.versions))
        else:
            (tmp / INDEX_SUBDIR).mkdir()
            base.index.save(tmp / INDEX_SUBDIR)
            rows = pa.table(
                {
                    "chunk_id": pa.array(base.chunk_ids, pa.string()),
                    "version_id": pa.array(base.versions, pa.int64()),
                }
            )
            pq.write_table(rows, tmp / ROWS_FILE)
        if home == "file":
            np.save(tmp / VECTORS_FILE, np.asarray(base.vectors, dtype=np.float32))
        manifest = {
            "format_version": FORMAT_VERSION,
            "snapshot_id": base.snapshot_id,
            "snapshot_created_at": base.stamp,
            "model": base.model,
            "embedder": base.embedder,
            "kind": base.kind,
            "dim": int(base.index.dim),
            "params": base.index.params,
            "count": len(base),
            "segment_files": sorted(base.files),
            "segment_order": list(base.segment_order),
            "vectors": home,
            "built_at": time.time(),
            "build_seconds": round(base.built_seconds, 3),
            "files": _digests(tmp),
        }
        if base.origin:
            manifest["exported_from"] = base.origin
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if directory.exists():
            existing = _load_base(
                directory, base.model, base.embedder, base.stamp, root=base.lake_root
            )
            if (
                existing is not None
                and existing.kind == base.kind
                and _format_of(directory) == FORMAT_VERSION
            ):  # another process saved it
                shutil.rmtree(tmp, ignore_errors=True)
                return
            # damaged (its readers fail the checksums anyway), another kind (index build)
            # or an older layout (index build rewrites it in this one)
            shutil.rmtree(directory)
        tmp.rename(directory)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (directory / MANIFEST).exists():  # lost a race to an equal index: fine
            raise


def _format_of(directory: Path) -> int | None:
    """The ``format_version`` of the base saved in ``directory`` (None if unreadable)."""
    try:
        return json.loads((directory / MANIFEST).read_text()).get("format_version")
    except (OSError, ValueError, AttributeError):
        return None


def _load_base(
    directory: Path,
    model: str,
    embedder: str | None,
    stamp: float | None = None,
    *,
    root: Path | None = None,
) -> Base | None:
    """The base saved in ``directory``; None (with a warning) when it is unusable.

    None without a warning when it was built for another history of the lake (its
    snapshot's commit time is not ``stamp``: a copy that diverged), from another
    ``embedder``'s vectors (re-embedded since; no identity recorded: torch fp32), or,
    for a ``segments`` base, from a segment file that is gone.
    ``root`` is the lake whose segments hold the vectors of a ``segments`` base
    (default: the lake that holds ``directory``, ``<root>/indexes/dense-<family>/<id>``).
    """
    from docframe.index import load_index, make_index_kind

    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if stamp is not None and manifest.get("snapshot_created_at", stamp) != stamp:
            return None
        if manifest.get("format_version") not in READABLE_FORMATS:
            raise ValueError(f"format {manifest.get('format_version')}, not {FORMAT_VERSION}")
        if manifest["model"] != model:
            raise ValueError(f"built with model {manifest['model']!r}, the lake uses {model!r}")
        built_by = manifest.get("embedder") or embedders.legacy(manifest["model"])
        if embedder is not None and built_by != embedder:
            return None
        for name, digest in manifest["files"].items():
            if _sha256(directory / name) != digest:
                raise ValueError(f"checksum mismatch in {name}")
        order = tuple(manifest.get("segment_order", ()))
        home = manifest.get("vectors", "file")  # format 2: index/ and vectors.npy
        lake_root = Path(root) if root is not None else directory.resolve().parents[2]
        if home == "segments":
            segments = lake_root / SEGMENTS_DIR
            if not all((segments / name).is_file() for name in order):
                # a segment it was built from is gone (lost, then repaired): the base is
                # sound but of rows no snapshot it could serve reads; `verify` reports
                # the segment, the base is simply built again
                return None
            index = make_index_kind(manifest["kind"], int(manifest["dim"]), **manifest["params"])
            live = np.load(directory / VERSIONS_FILE)
            chunk_ids, versions, vectors = _segment_rows(lake_root, order, live, index.dim)
            index.build(vectors, np.arange(len(vectors), dtype=np.int64))
            vectors = _stored_vectors(index)
        else:
            rows = pq.read_table(directory / ROWS_FILE)
            chunk_ids = rows.column("chunk_id").to_numpy(zero_copy_only=False)
            versions = rows.column("version_id").to_numpy()
            index = load_index(directory / INDEX_SUBDIR)
            if home == "index":
                vectors = _stored_vectors(index)
            elif home == "file":
                vectors = np.load(directory / VECTORS_FILE, mmap_mode="r")
            else:
                raise ValueError(f"unknown vectors location {home!r}")
        if vectors is None:
            raise ValueError(f"its {manifest['kind']} index holds no vectors")
        if not len(chunk_ids) == len(index) == len(vectors) == manifest["count"]:
            raise ValueError("row, index and vector counts differ")
        return Base(
            directory=directory,
            snapshot_id=int(manifest["snapshot_id"]),
            model=model,
            index=index,
            chunk_ids=chunk_ids,
            versions=versions,
            files=frozenset(manifest["segment_files"]),
            vectors=vectors,
            built_seconds=float(manifest.get("build_seconds", 0.0)),
            stamp=manifest.get("snapshot_created_at"),
            embedder=built_by,
            segment_order=order,
            lake_root=lake_root,
            origin=manifest.get("exported_from"),
        )
    except MissingDependencyError as exc:  # sound, but this machine cannot read its kind
        raise MissingDependencyError(
            f"index {directory} ({manifest.get('kind')}): {exc.message}", help=exc.help
        ) from None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        message = f"index {directory} is unusable ({exc}); rebuilding it from the segments"
        warn(message, help=REBUILT_HELP)
        return None


def _segment_rows(
    root: Path, order: tuple[str, ...], live: np.ndarray, dim: int
) -> tuple[np.ndarray, ...]:
    """(chunk_ids, versions, vectors) of a ``segments`` base, read from the lake's segments.

    The base's rows are the rows of its segments (in ``order``) whose version was
    live at its snapshot (``live``, from ``versions.npy``), so they need no list of
    their own (``rows.parquet`` would repeat the segments' ``chunk_id`` column). Every
    one of those versions must still be found, or the base is not this lake's.
    """
    if not order:
        raise ValueError("its manifest lists no segment files")
    files = [str(root / SEGMENTS_DIR / name) for name in order]
    chunk_ids, versions, vectors = _read_rows(files, live, dim)
    if not np.array_equal(np.unique(versions), live):
        raise ValueError(f"the segments under {root} no longer hold the rows it was built from")
    return chunk_ids, versions, vectors


def _base_at_or_before(store: LakeStore, snapshot: Snapshot) -> Base | None:
    """The newest usable saved base at or before ``snapshot`` (cached per process)."""
    family = store.backend.index_family
    found = []  # (snapshot id, folder): the lake's own first among equals (stable sort)
    for root in index_roots(store, snapshot):
        folder = root / f"dense-{family}"
        if folder.is_dir():
            found += [(int(p.name), p) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
    found.sort(key=lambda item: item[0], reverse=True)
    for sid, directory in found:
        if sid > snapshot.snapshot_id:
            continue
        stamp = snapshot.committed_at(sid)
        key = (str(store.root), sid, stamp, family)
        cached = _BASES.get(key)
        embedder = snapshot.embedder
        if cached is not None and cached.model == snapshot.model and cached.embedder == embedder:
            return cached
        base = _load_base(directory, snapshot.model, embedder, stamp, root=store.root)
        if base is not None:
            _apply_tuning(store.root, family, base.index)
            return _BASES.put(key, base)
    return None


# -- the view: one snapshot's index ----------------------------------------------------


@dataclass
class DenseView:
    """A snapshot's dense index: a base, minus its dead rows, plus the newer chunks."""

    base: Base
    snapshot_id: int
    excluded: np.ndarray  # base positions not live at this snapshot
    delta_ids: np.ndarray  # chunk ids committed after the base
    delta_vectors: np.ndarray  # their vectors (m, dim)
    _lookup: Any = field(default=None, repr=False)  # pandas Index: live chunk_id -> position
    _live_positions: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_base(self) -> int:
        return len(self.base)

    @property
    def n_live(self) -> int:
        return self.n_base - len(self.excluded) + len(self.delta_ids)

    @property
    def kind(self) -> str:
        return self.base.kind

    def describe(self) -> str:
        extra = []
        if len(self.delta_ids):
            extra.append(f"+{len(self.delta_ids)} new exact")
        if len(self.excluded):
            extra.append(f"{len(self.excluded)} masked")
        origin = self.base.origin
        if origin:
            extra.append(f"exported from {origin.get('kind', '?')}")
        more = f" ({', '.join(extra)})" if extra else ""
        return (
            f"{self.kind} over {self.n_live} chunks{more}, "
            f"base snapshot {self.base.snapshot_id}, snapshot {self.snapshot_id}"
        )

    def chunk_id(self, position: int) -> str:
        if position < self.n_base:
            return str(self.base.chunk_ids[position])
        return str(self.delta_ids[position - self.n_base])

    def live_positions(self) -> np.ndarray:
        if self._live_positions is None:
            keep = np.ones(self.n_base, dtype=bool)
            keep[self.excluded] = False
            delta = np.arange(self.n_base, self.n_base + len(self.delta_ids), dtype=np.int64)
            self._live_positions = np.concatenate([np.flatnonzero(keep), delta])
        return self._live_positions

    def lookup(self) -> pd.Index:
        """A hash index from live chunk_id to position (built on first use)."""
        if self._lookup is None:
            import pandas as pd

            pos = self.live_positions()
            ids = np.concatenate([self.base.chunk_ids, self.delta_ids])[pos]
            self._lookup = pd.Index(ids.astype(object))
            if not self._lookup.is_unique:  # a chunk id live twice would be a lake bug
                raise QueryError(
                    f"snapshot {self.snapshot_id}: duplicate live chunk ids",
                    help="a lake bug: docframe verify, then report it with the lake's catalog",
                )
        return self._lookup

    def positions_of(self, chunk_ids: Any) -> np.ndarray:
        """Positions of ``chunk_ids`` (live ones; unknown ids are dropped)."""
        found = self.lookup().get_indexer(np.asarray(chunk_ids, dtype=object))
        return np.sort(self.live_positions()[found[found >= 0]])

    def vectors_at(self, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        in_base = positions[positions < self.n_base]
        in_delta = positions[positions >= self.n_base] - self.n_base
        parts = [np.asarray(self.base.vectors[in_base], dtype=np.float32)]
        parts.append(self.delta_vectors[in_delta])
        return np.concatenate(parts) if len(in_delta) else parts[0]

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> list[list[tuple[str, float]]]:
        """Top-``k`` (chunk_id, score) per query among live chunks (and ``allowed`` positions).

        ``allowed`` holds live positions, as :meth:`positions_of` returns them.
        Returns exactly ``min(k, candidates)`` hits per query, where candidates
        are the live chunks, or the ``allowed`` ones.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is None:
            want = min(k, self.n_live)
            base_ids, base_scores = self._base_search(queries, k, None)
            delta_pos = np.arange(len(self.delta_ids), dtype=np.int64)
        else:
            allowed = np.asarray(allowed, dtype=np.int64)
            want = min(k, len(allowed))
            in_base = allowed[allowed < self.n_base]
            if len(in_base) <= EXACT_SUBSET_MAX:
                base_ids, base_scores = _exact(
                    queries, np.asarray(self.base.vectors[in_base]), in_base, k
                )
            else:
                base_ids, base_scores = self._base_search(queries, k, in_base)
            delta_pos = allowed[allowed >= self.n_base] - self.n_base
        d_ids, d_scores = _exact(queries, self.delta_vectors[delta_pos], delta_pos, k)
        d_ids = np.where(d_ids >= 0, d_ids + self.n_base, -1)
        ids = np.concatenate([base_ids, d_ids], axis=1)
        scores = np.concatenate([base_scores, d_scores], axis=1)
        out = []
        for row_ids, row_scores in zip(ids, scores, strict=True):
            valid = row_ids >= 0
            best, values = row_top_k(row_scores[valid], row_ids[valid], want)  # ties by position
            out.append(
                [(self.chunk_id(int(p)), float(v)) for p, v in zip(best, values, strict=True)]
            )
        return out

    def _base_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The base's top-k among live (and allowed) rows; exact when the ANN comes back short."""
        index = self.base.index
        excluded = self.excluded if len(self.excluded) else None
        n = (self.n_base - len(self.excluded)) if allowed is None else len(allowed)
        want = min(k, n)
        if want <= 0:
            return _exact(queries, np.empty((0, index.dim), np.float32), np.empty(0, np.int64), k)
        if allowed is not None:
            excluded = None  # allowed positions are live ones (positions_of)
        ids, scores = index.search(queries, k, allowed=allowed, excluded=excluded)
        if ((ids >= 0).sum(axis=1) >= want).all():
            return ids, scores
        # a graph search under a tight filter can strand itself: score the candidates exactly
        if allowed is None:
            keep = np.ones(self.n_base, dtype=bool)
            keep[self.excluded] = False
            allowed = np.flatnonzero(keep)
        return _exact(queries, np.asarray(self.base.vectors[allowed]), allowed, k)


def _exact(
    queries: np.ndarray, vectors: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product of ``vectors`` labelled ``labels`` (-1 / -inf padded)."""
    return exact_top_k(queries, vectors, labels, k)


def _apply_tuning(root: Path, family: str, index: VectorIndex) -> None:
    """Search parameters recorded by ``docframe index tune`` for this kind, if any."""
    path = family_dir(root, family) / TUNING_FILE
    if not path.is_file():
        return
    try:
        tuned = json.loads(path.read_text()).get(index.kind, {}).get("params", {})
    except (OSError, ValueError, AttributeError):
        return
    if tuned:
        index.set_search_params(**tuned)


def save_tuning(root: Path, family: str, kind: str, record: dict[str, Any]) -> Path:
    """Record tuned search parameters for ``kind`` (read by every later load)."""
    path = family_dir(root, family) / TUNING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[kind] = record
    tmp = path.with_suffix(f".tmp-{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
    for cache in (_BASES, _VIEWS):  # reload with the new parameters
        cache.discard(lambda key: key[0] == str(root) and key[-1] == family)
    return path


def _view(store: LakeStore, snapshot: Snapshot, base: Base) -> DenseView:
    live = np.asarray(snapshot.live_versions, dtype=np.int64)
    excluded = np.flatnonzero(~np.isin(base.versions, live)).astype(np.int64)
    newer = [f for f in snapshot.chunk_files if Path(f).name not in base.files]
    ids, _, vectors = _read_rows(newer, live, _dim(store, snapshot))
    return DenseView(base, snapshot.snapshot_id, excluded, ids, vectors)


def _stale(view: DenseView) -> bool:
    limit = max(DELTA_REBUILD_MIN, REBUILD_SHARE * view.n_base)
    return len(view.delta_ids) > limit or len(view.excluded) > limit


def ensure_index(
    store: LakeStore, snapshot: Snapshot, *, rebuild: bool = False, kind: str | None = None
) -> DenseView:
    """The dense index of ``snapshot``: a base (loaded, or built and saved) plus its delta.

    ``rebuild=True`` builds a new base at ``snapshot`` whatever exists (``docframe
    index build``), of ``kind`` when given; otherwise one is built only when none
    fits, the delta or mask has outgrown the base, or the lake's ``index_kind``
    setting names another kind.
    """
    family = store.backend.index_family
    key = SnapshotCache.key(snapshot, family)
    if not rebuild and (cached := _VIEWS.get(key)) is not None:
        return cached
    with _BUILD_LOCK:  # one build at a time per process: they are memory-hungry
        base = None if rebuild else _base_at_or_before(store, snapshot)
        view = _view(store, snapshot, base) if base is not None else None
        wanted = configured_kind(store)
        if view is None or _stale(view) or (wanted != "auto" and base.kind != wanted):
            base = build_base(store, snapshot, kind=kind if rebuild else None)
            try:
                save_base(base)
            except OSError as exc:  # still searchable: it is rebuilt by the next process
                message = f"could not save index to {base.directory}: {exc}"
                why = "searches still work; each new process rebuilds it until it saves"
                warn(message, help=why)
            _BASES.put(key, base)
            view = _view(store, snapshot, base)
        return _VIEWS.put(key, view)


def bases_in_use(root: Path, latest: int) -> set[Path]:
    """Base folders the latest snapshot searches through (``docframe gc`` keeps them)."""
    keep: set[Path] = set()
    indexes = root / "indexes"
    for folder in indexes.glob("dense-*") if indexes.is_dir() else []:
        sids = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
        usable = [s for s in sids if s <= latest and (folder / str(s) / MANIFEST).is_file()]
        if usable:
            keep.add(folder / str(max(usable)))
    return keep


def remove_stale(root: Path, latest: int) -> tuple[list[str], int]:
    """Delete index folders no reader of snapshot ``latest`` will load (``docframe gc``,
    under the writer lock): a dense base serves every later snapshot, so the one the
    newest searches is kept, as is every folder of ``latest`` itself. Returns the
    folders removed (``family/snapshot``) and the bytes freed."""
    import shutil

    keep = bases_in_use(root, latest)
    removed, freed = [], 0
    for family in sorted(p for p in (root / "indexes").glob("*") if p.is_dir()):
        for folder in sorted(p for p in family.iterdir() if p.is_dir()):
            if folder not in keep and folder.name != str(latest):
                freed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(f"{family.name}/{folder.name}")
    return removed, freed
