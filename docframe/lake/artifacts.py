"""Derived files a document keeps beside its rows: a video's frame thumbnails.

They are not chunk data (a chunk's ``metadata.thumbnail`` names one), so they live
as plain files under ``<lake>/artifacts/<doc_id>/``, written before the commit that
references them, like segments: a crash leaves at most an unreferenced folder, which
``docframe gc`` removes (a folder is referenced while any snapshot's documents hold
its ``doc_id``). Files are written whole under a temporary name and renamed, so a
reader never sees half a thumbnail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

ARTIFACTS_DIR = "artifacts"


def write_artifacts(root: Path, doc_id: str, files: Mapping[str, bytes]) -> dict[str, str]:
    """Write ``files`` (name -> bytes) for ``doc_id``; returns name -> path relative to the
    lake root (what chunk metadata records)."""
    if not files:
        return {}
    folder = root / ARTIFACTS_DIR / doc_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in files.items():
        safe = Path(name).name  # a connector's name, never a path out of the folder
        target = folder / safe
        tmp = folder / f".tmp-{uuid.uuid4().hex}-{safe}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
        paths[name] = f"{ARTIFACTS_DIR}/{doc_id}/{safe}"
    return paths


def remove_unreferenced(root: Path, referenced_docs: set[str]) -> tuple[list[str], int]:
    """Delete artifact folders of documents no snapshot holds (``docframe gc``, under the
    writer lock). Returns the folders removed and the bytes freed."""
    import shutil

    base = root / ARTIFACTS_DIR
    removed, freed = [], 0
    for folder in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        if folder.name not in referenced_docs:
            freed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed, freed
