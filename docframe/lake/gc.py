"""Garbage collection: files no snapshot references.

A crash between writing a segment and committing it leaves an unreferenced
Parquet file; superseded snapshots leave index folders nobody will load again.
Both are safe to delete while holding the writer lock: no writer can be about
to commit them, and readers only ever open referenced segments (an index is
rebuilt by a reader that misses it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from docframe.lake import catalog
from docframe.lake.artifacts import ARTIFACTS_DIR, remove_unreferenced
from docframe.lake.lock import WriterLock
from docframe.lake.segments import SEGMENTS_DIR

if TYPE_CHECKING:
    from docframe.lake.store import LakeStore


@dataclass
class GcReport:
    segments: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)  # documents' folders of thumbnails
    bytes_freed: int = 0

    def summary(self) -> str:
        extra = f", {len(self.artifacts)} unreferenced artifact folder(s)" if self.artifacts else ""
        return (
            f"removed {len(self.segments)} unreferenced segment file(s) and "
            f"{len(self.indexes)} stale index folder(s){extra}, {self.bytes_freed / 1e6:.1f} MB"
        )


def collect(
    store: LakeStore, *, derived: Callable[[int], tuple[list[str], int]] | None = None
) -> GcReport:
    """Delete unreferenced segment files under the writer lock; then ``derived(latest)``
    (the index layer's clean-up, ``docframe.index.store.remove_stale``) removes derived
    files no reader of the latest snapshot needs and returns their names and bytes."""
    report = GcReport()
    with WriterLock(store.root) as lock:
        report.segments += lock.removed_orphans  # taking the lock removed these
        report.bytes_freed += lock.orphan_bytes
        con = store.connect()
        try:
            referenced = {r[0] for r in con.execute("SELECT path FROM segments")}
            latest = catalog.latest_snapshot(con)
        finally:
            con.close()
        segdir = store.root / SEGMENTS_DIR
        for path in sorted(segdir.glob("*")) if segdir.is_dir() else []:
            if path.is_file() and f"{SEGMENTS_DIR}/{path.name}" not in referenced:
                report.bytes_freed += path.stat().st_size
                path.unlink()
                report.segments.append(path.name)
        if (store.root / ARTIFACTS_DIR).is_dir():
            docs = _referenced_documents(store.root, referenced)
            names, freed = remove_unreferenced(store.root, docs)
            report.artifacts.extend(names)
            report.bytes_freed += freed
        if derived is not None:
            names, freed = derived(latest)
            report.indexes.extend(names)
            report.bytes_freed += freed
    return report


def _referenced_documents(root: Path, referenced: set[str]) -> set[str]:
    """Every ``doc_id`` any committed documents segment holds (any snapshot can be read)."""
    import pyarrow.parquet as pq

    docs: set[str] = set()
    for path in sorted(p for p in referenced if Path(p).name.startswith("documents-")):
        try:
            ids = pq.read_table(root / path, columns=["doc_id"]).column("doc_id")
        except (OSError, ValueError):  # a damaged segment: keep everything, gc is not repair
            return {p.name for p in (root / ARTIFACTS_DIR).iterdir()}
        docs.update(ids.to_pylist())
    return docs
