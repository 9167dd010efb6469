"""Segment files a killed writer wrote and never committed, removed by the next writer.

Its own module so that :mod:`docframe.lake.lock` can call it as it takes the lock
without importing :mod:`docframe.lake.gc` (which takes the lock itself).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from docframe.lake.catalog import CATALOG_FILE
from docframe.lake.segments import SEGMENTS_DIR


def remove_orphans(root: Path, before: float) -> tuple[list[str], int]:
    """Delete segment files (and ``.tmp-`` files) no snapshot references, last written
    before ``before``: what a writer killed between writing and committing left.

    Called by :class:`~docframe.lake.lock.WriterLock` as it takes the lock, so the next
    writer cleans up after a ``kill -9`` without an explicit ``gc``. Holding the lock,
    no other writer can be about to commit such a file; the time bound keeps anything
    written after the lock was taken (this writer's own files). Returns the names and
    the bytes freed.
    """
    segdir, catalog_path = root / SEGMENTS_DIR, root / CATALOG_FILE
    if not segdir.is_dir() or not catalog_path.is_file():
        return [], 0
    try:
        con = sqlite3.connect(f"{catalog_path.as_uri()}?mode=ro", uri=True)
        try:
            referenced = {r[0] for r in con.execute("SELECT path FROM segments")}
        finally:
            con.close()
    except sqlite3.Error:  # no segments table yet, or a damaged catalog: not ours to judge
        return [], 0
    removed, freed = [], 0
    for path in sorted(segdir.iterdir()):
        if f"{SEGMENTS_DIR}/{path.name}" in referenced:
            continue
        try:
            st = path.stat()
            if not path.is_file() or st.st_mtime >= before:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path.name)
        freed += st.st_size
    return removed, freed
