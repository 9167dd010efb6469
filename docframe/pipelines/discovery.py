"""Finding the inputs of an ingest: files, folders, globs, and their fingerprints.

A partitioned Parquet folder counts as one input. Fingerprints (size, mtime)
make the unchanged check cheap; the content hash settles it.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

from docframe.connectors.parquet import is_partitioned_dataset

GLOB_CHARS = set("*?[")


def discover(
    args: list[str], lake_root: Path
) -> tuple[list[tuple[Path, bool]], list[tuple[str, str]]]:
    """Expand files, folders and globs into (input, named explicitly) pairs.

    A partitioned Parquet folder is one input, not one per file.
    """
    found: dict[Path, bool] = {}
    problems: list[tuple[str, str]] = []
    for arg in args:
        if GLOB_CHARS & set(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
            if not matches:
                problems.append((arg, f"{arg}: no files match this pattern"))
            for m in matches:
                if m.is_file() or is_partitioned_dataset(m):
                    found.setdefault(m.absolute(), True)
            continue
        path = Path(arg).expanduser()
        if path.is_file() or is_partitioned_dataset(path):
            found[path.absolute()] = True
        elif path.is_dir():
            _walk(path, lake_root, found)
        else:
            problems.append((arg, f"{arg}: no such file or directory; check the path"))
    return sorted(found.items()), problems


def _walk(top: Path, lake_root: Path, found: dict[Path, bool]) -> None:
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            sub = (here / name).absolute()
            if name.startswith(".") or sub == lake_root or sub.is_relative_to(lake_root):
                continue  # hidden folders, and never the lake itself
            if is_partitioned_dataset(sub):
                found.setdefault(sub, False)
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not name.startswith("."):
                found.setdefault((here / name).absolute(), False)


def fingerprint(path: Path) -> tuple[int, float]:
    """(size, mtime) of a file, or totals over a dataset folder's files."""
    if path.is_file():
        st = path.stat()
        return st.st_size, st.st_mtime
    stats = [p.stat() for p in path.rglob("*") if p.is_file()]
    return sum(s.st_size for s in stats), max((s.st_mtime for s in stats), default=0.0)


def hash_source(path: Path) -> str:
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f != path:
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
