"""Garbage collection: files no snapshot references.

A crash between writing a segment and committing it leaves an unreferenced
Parquet file; superseded snapshots leave index folders nobody will load again.
Both are safe to delete while holding the writer lock: no writer can be about
to commit them, and readers only ever open referenced segments (an index is
rebuilt by a reader that misses it).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docframe.lake import catalog
from docframe.lake.lock import WriterLock
from docframe.lake.segments import SEGMENTS_DIR

if TYPE_CHECKING:
    from docframe.lake.lake import Lake


@dataclass
class GcReport:
    segments: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    bytes_freed: int = 0

    def summary(self) -> str:
        return (
            f"removed {len(self.segments)} unreferenced segment file(s) and "
            f"{len(self.indexes)} stale index folder(s), {self.bytes_freed / 1e6:.1f} MB"
        )


def collect(lake: Lake) -> GcReport:
    report = GcReport()
    with WriterLock(lake.root):
        con = lake.connect()
        try:
            referenced = {r[0] for r in con.execute("SELECT path FROM segments")}
            latest = catalog.latest_snapshot(con)
        finally:
            con.close()
        segdir = lake.root / SEGMENTS_DIR
        for path in sorted(segdir.glob("*")) if segdir.is_dir() else []:
            if path.is_file() and f"{SEGMENTS_DIR}/{path.name}" not in referenced:
                report.bytes_freed += path.stat().st_size
                path.unlink()
                report.segments.append(path.name)
        from docframe.index.store import bases_in_use

        # a dense base serves every later snapshot: keep the one the newest searches
        keep = bases_in_use(lake.root, latest)
        for family in sorted(p for p in (lake.root / "indexes").glob("*") if p.is_dir()):
            for folder in sorted(p for p in family.iterdir() if p.is_dir()):
                if folder not in keep and folder.name != str(latest):
                    report.bytes_freed += sum(
                        f.stat().st_size for f in folder.rglob("*") if f.is_file()
                    )
                    shutil.rmtree(folder, ignore_errors=True)
                    report.indexes.append(f"{family.name}/{folder.name}")
    return report
