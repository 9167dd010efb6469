"""The BM25 keyword index of a snapshot: built from its live chunks, saved, checksummed.

BM25 scores depend on corpus-wide statistics (document frequencies, mean
length), so a keyword index is exact only for the chunk set it was built over.
Unlike the dense index (a base plus an exact delta, see ``docframe.index.store``)
it is therefore built per snapshot, on the first keyword or hybrid search (or by
``docframe index build``), and saved under ``indexes/keyword/<snapshot>/``. That
is cheap next to embedding: bm25s indexes SciFact's ~12k chunks in about 1.3 s.

Each chunk is indexed as its document title and its text, so a query naming a
paper's title finds its chunks even when the chunk text does not repeat it.

The folder holds the index (``bm25/``, compact: see :meth:`KeywordIndex.save`) and a
checksummed ``manifest.json``. Which chunk each index position is comes from the
snapshot itself: positions are the snapshot's chunks in ``chunk_id`` order, read from
its segments on load (two columns), so no ``rows.parquet`` repeats the segments' ids;
the manifest keeps their count and digest, and an index whose snapshot no longer gives
those rows is rebuilt. Folders of an older layout (format 2: bm25s' raw ``.npy`` files
and ``rows.parquet``) are stale: rebuilt in this one on first use, never an error.

On a read-only lake it is saved in the per-user cache instead, next to the dense
index (:func:`docframe.index.store.index_roots`), and like it records its
snapshot's commit time so that a diverged copy of the lake never loads it.
"""

from __future__ import annotations

import functools
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

from docframe.errors import warn
from docframe.index.store import REBUILT_HELP, _digests, _sha256, index_roots
from docframe.lake.cache import SnapshotCache

if TYPE_CHECKING:
    import pandas as pd

    from docframe.index.keyword import KeywordIndex
    from docframe.lake.snapshot import Snapshot
    from docframe.lake.store import LakeStore

MANIFEST = "manifest.json"
INDEX_SUBDIR = "bm25"
# 3: compact bm25/ and rows read from the snapshot; 2: rows.parquet (chunk_id, doc_id)
FORMAT_VERSION = 3
ROWS = "SELECT chunk_id, doc_id FROM chunks ORDER BY chunk_id"  # TEXTS' order
TEXTS = """
SELECT c.chunk_id, c.doc_id, coalesce(d.title || chr(10), '') || c.text AS text
FROM chunks c LEFT JOIN documents d USING (doc_id)
ORDER BY c.chunk_id
"""

_VIEWS: SnapshotCache[KeywordView] = SnapshotCache(4)
_LOCK = threading.Lock()


@dataclass
class KeywordView:
    index: KeywordIndex
    chunk_ids: np.ndarray  # position -> chunk_id
    doc_ids: np.ndarray  # position -> doc_id of the chunk
    snapshot_id: int
    built_seconds: float = 0.0
    _lookup: Any = field(default=None, repr=False)

    def describe(self) -> str:
        return f"bm25 over {len(self.chunk_ids)} chunks (snapshot {self.snapshot_id})"

    def lookup(self) -> pd.Index:
        if self._lookup is None:
            import pandas as pd

            self._lookup = pd.Index(self.chunk_ids.astype(object))
        return self._lookup

    def positions_of(self, chunk_ids: Any) -> np.ndarray:
        found = self.lookup().get_indexer(np.asarray(chunk_ids, dtype=object))
        return np.sort(found[found >= 0]).astype(np.int64)

    def documents_of(self, chunk_ids: Any) -> dict[str, str]:
        """``{chunk_id: doc_id}`` for the given (live) chunk ids: what a hybrid search for
        distinct documents groups its rankings by (``rrf(groups=)``). The view holds
        every live chunk of its snapshot, so the dense index's hits are found here too;
        an unknown id is left out."""
        ids = np.asarray(list(chunk_ids), dtype=object)
        found = self.lookup().get_indexer(ids)
        keep = found >= 0
        return dict(zip(ids[keep].tolist(), self.doc_ids[found[keep]].tolist(), strict=True))

    def search(
        self, texts: list[str], k: int, *, allowed: np.ndarray | None = None
    ) -> list[list[tuple[str, float]]]:
        """(chunk_id, BM25 score) per query: only chunks sharing a term with it, best first."""
        ids, scores = self.index.search(texts, k, allowed=allowed)
        return [
            [(str(self.chunk_ids[i]), float(s)) for i, s in zip(r_ids, r_s, strict=True) if i >= 0]
            for r_ids, r_s in zip(ids, scores, strict=True)
        ]


@functools.cache
def default_params() -> dict[str, Any]:
    """The parameters a keyword index is built with today. An index saved with others
    (an older docframe's analyzer, say one that dropped "5") would tokenize questions
    and score chunks unlike a fresh one, so it is treated as stale and rebuilt."""
    from docframe.index.keyword import KeywordIndex

    return KeywordIndex().params


def keyword_dir(root: Path, snapshot_id: int) -> Path:
    return root / "indexes" / "keyword" / str(snapshot_id)


def _dirs(store: LakeStore, snapshot: Snapshot) -> list[Path]:
    """The snapshot's keyword index folders, best first: the lake's own, then the cache's."""
    return [r / "keyword" / str(snapshot.snapshot_id) for r in index_roots(store, snapshot)]


def _build(con: Any, snapshot: Snapshot) -> KeywordView:
    from docframe.index.keyword import KeywordIndex

    start = time.perf_counter()
    table = con.execute(TEXTS).to_arrow_table()
    chunk_ids = table.column("chunk_id").to_numpy(zero_copy_only=False)
    doc_ids = table.column("doc_id").to_numpy(zero_copy_only=False)
    index = KeywordIndex()
    index.build(table.column("text").to_pylist(), np.arange(len(chunk_ids), dtype=np.int64))
    seconds = time.perf_counter() - start
    return KeywordView(index, chunk_ids, doc_ids, snapshot.snapshot_id, seconds)


def _rows_digest(chunk_ids: np.ndarray, doc_ids: np.ndarray) -> str:
    """SHA-256 of the (chunk_id, doc_id) rows in position order: what a saved index
    checks the snapshot's rows against before it trusts its positions."""
    digest = hashlib.sha256("\n".join(map(str, chunk_ids.tolist())).encode())
    digest.update(b"\0")
    digest.update("\n".join(map(str, doc_ids.tolist())).encode())
    return digest.hexdigest()


def _rows(snapshot: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """(chunk_ids, doc_ids) of the snapshot's chunks in index position order."""
    from docframe.lake.reader import reader

    table = reader(snapshot).hit_rows()  # the search's hit rows are in this order too
    if table is not None:
        table = table.table
    else:
        with reader(snapshot).cursor() as con:
            table = con.execute(ROWS).to_arrow_table()
    return (
        table.column("chunk_id").to_numpy(zero_copy_only=False),
        table.column("doc_id").to_numpy(zero_copy_only=False),
    )


def _save(view: KeywordView, directory: Path, stamp: float | None) -> None:
    tmp = directory.parent / f".tmp-{uuid.uuid4().hex}"
    (tmp / INDEX_SUBDIR).mkdir(parents=True)
    try:
        view.index.save(tmp / INDEX_SUBDIR)
        manifest = {
            "format_version": FORMAT_VERSION,
            "snapshot_id": view.snapshot_id,
            "snapshot_created_at": stamp,
            "count": len(view.chunk_ids),
            "rows_sha256": _rows_digest(view.chunk_ids, view.doc_ids),
            "params": view.index.params,
            "build_seconds": round(view.built_seconds, 3),
            "files": _digests(tmp),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (directory / MANIFEST).exists():
            raise


def _load(directory: Path, snapshot: Snapshot) -> KeywordView | None:
    from docframe.index.keyword import KeywordIndex

    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        stamp = snapshot.committed_at()
        if manifest.get("snapshot_created_at", stamp) != stamp:
            return None  # built for another history of this lake (a diverged copy)
        if manifest.get("format_version") != FORMAT_VERSION:
            return None  # another docframe's layout: stale, rebuilt (no damage to report)
        if manifest.get("params") != default_params():
            return None  # built with another analyzer or BM25 parameters: stale, rebuilt
        for name, digest in manifest["files"].items():
            if _sha256(directory / name) != digest:
                raise ValueError(f"checksum mismatch in {name}")
        index = KeywordIndex.load(directory / INDEX_SUBDIR)
        chunk_ids, doc_ids = _rows(snapshot)
        if not len(chunk_ids) == len(index) == manifest["count"]:
            raise ValueError(
                f"the snapshot has {len(chunk_ids)} chunks, the index {len(index)}, "
                f"its manifest says {manifest['count']}"
            )
        if _rows_digest(chunk_ids, doc_ids) != manifest["rows_sha256"]:
            raise ValueError("the snapshot's chunks are not the ones it was built over")
        return KeywordView(
            index,
            chunk_ids,
            doc_ids,
            snapshot.snapshot_id,
            float(manifest.get("build_seconds", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        message = f"keyword index {directory} is unusable ({exc}); rebuilding it"
        warn(message, help=REBUILT_HELP)
        return None


def ensure_keyword_index(
    store: LakeStore, snapshot: Snapshot, *, rebuild: bool = False
) -> KeywordView:
    """The snapshot's keyword index: from memory, from disk, or built (over the snapshot's
    reader) and saved."""
    from docframe.lake.reader import reader

    stamp = snapshot.committed_at()
    key = SnapshotCache.key(snapshot)
    if not rebuild and (cached := _VIEWS.get(key)) is not None:
        return cached
    with _LOCK:
        directories = _dirs(store, snapshot)
        view = None
        for directory in [] if rebuild else directories:
            view = _load(directory, snapshot)
            if view is not None:
                break
        if view is None:
            with reader(snapshot).cursor() as con:
                view = _build(con, snapshot)
            directory = directories[-1]  # the cache's on a read-only lake
            try:
                _save(view, directory, stamp)
            except OSError as exc:  # still searchable: it is rebuilt by the next process
                message = f"could not save keyword index to {directory}: {exc}"
                why = "searches still work; each new process rebuilds it until it saves"
                warn(message, help=why)
        return _VIEWS.put(key, view)
