"""Dense indexes on disk: one per snapshot, checksummed, rebuilt when missing or damaged.

An index is derived data, so the rule is simple: trust it only if its manifest
matches the snapshot, the model and the checksums of its files; otherwise
rebuild it from the snapshot's segments. faiss loads a corrupted file without
complaint, which is why the checksums are ours.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from docframe.index import load_index, make_index
from docframe.index.base import VectorIndex

if TYPE_CHECKING:
    from docframe.lake.lake import Lake
    from docframe.lake.snapshot import Snapshot

MANIFEST = "manifest.json"
IDS_FILE = "chunk_ids.parquet"
_CACHE: OrderedDict[tuple[str, str, int], DenseIndex] = OrderedDict()
_CACHE_SIZE = 4


@dataclass
class DenseIndex:
    index: VectorIndex
    chunk_ids: np.ndarray  # position -> chunk_id
    snapshot_id: int

    def describe(self) -> str:
        return f"{self.index.kind} over {len(self.chunk_ids)} chunks (snapshot {self.snapshot_id})"

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        ids, scores = self.index.search(queries, min(k, len(self.chunk_ids)) or 1)
        return [
            [
                (str(self.chunk_ids[i]), float(s))
                for i, s in zip(row_ids, row_scores, strict=True)
                if i >= 0
            ]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]


def index_dir(root: Path, family: str, snapshot_id: int) -> Path:
    return root / "indexes" / f"dense-{family}" / str(snapshot_id)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load(directory: Path, snapshot: Snapshot) -> DenseIndex | None:
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest["snapshot_id"] != snapshot.snapshot_id or manifest["model"] != snapshot.model:
            raise ValueError("manifest does not match the snapshot")
        for name, digest in manifest["files"].items():
            if _sha256(directory / name) != digest:
                raise ValueError(f"checksum mismatch in {name}")
        ids = pq.read_table(directory / IDS_FILE).column("chunk_id").to_numpy(zero_copy_only=False)
        return DenseIndex(load_index(directory), ids, snapshot.snapshot_id)
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(
            f"index {directory} is unusable ({exc}); rebuilding it from the segments", stacklevel=2
        )
        return None


def _build(lake: Lake, snapshot: Snapshot) -> DenseIndex:
    from docframe.query.sql import connect

    con = connect(snapshot)
    try:
        table = con.execute(
            "SELECT chunk_id, embedding FROM chunks ORDER BY chunk_id"
        ).to_arrow_table()
    finally:
        con.close()
    dim = snapshot.dim or lake.embedder.dim
    emb = table.column("embedding").combine_chunks()
    vectors = emb.flatten().to_numpy().reshape(len(table), dim).astype(np.float32, copy=False)
    index = make_index(lake.backend.index_family, dim)
    index.build(vectors, np.arange(len(table), dtype=np.int64))
    ids = table.column("chunk_id").to_numpy(zero_copy_only=False)
    return DenseIndex(index, ids, snapshot.snapshot_id)


def _save(dense: DenseIndex, directory: Path, snapshot: Snapshot, family: str) -> None:
    tmp = directory.parent / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        dense.index.save(tmp)
        pq.write_table(
            pa.table({"chunk_id": pa.array(dense.chunk_ids, pa.string())}), tmp / IDS_FILE
        )
        manifest = {
            "snapshot_id": snapshot.snapshot_id,
            "model": snapshot.model,
            "family": family,
            "kind": dense.index.kind,
            "count": len(dense.chunk_ids),
            "built_at": time.time(),
            "files": {p.name: _sha256(p) for p in sorted(tmp.iterdir())},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if directory.exists():
            if _load(directory, snapshot) is not None:  # another process just saved it
                shutil.rmtree(tmp, ignore_errors=True)
                return
            shutil.rmtree(directory)  # damaged copy: its readers fail the checksum anyway
        tmp.rename(directory)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (directory / MANIFEST).exists():  # lost a race to an equal index: fine
            raise


def ensure_index(lake: Lake, snapshot: Snapshot) -> DenseIndex:
    """The dense index of ``snapshot``: from memory, from disk, or built and saved."""
    family = lake.backend.index_family
    key = (str(lake.root), family, snapshot.snapshot_id)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    directory = index_dir(lake.root, family, snapshot.snapshot_id)
    dense = _load(directory, snapshot)
    if dense is None:
        dense = _build(lake, snapshot)
        try:
            _save(dense, directory, snapshot, family)
        except OSError as exc:  # a read-only lake can still be searched
            warnings.warn(f"could not save index to {directory}: {exc}", stacklevel=2)
    _CACHE[key] = dense
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return dense
