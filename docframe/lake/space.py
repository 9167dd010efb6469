"""A full disk is a condition to report in one line, not a crash.

Writers write Parquet segments first and commit the catalog last, so when the
disk fills at any point nothing is half-committed: the job stops, the last
snapshot stays as it was, and :class:`DiskFullError` says which lake and how
much room was wanted against how much is free.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from docframe.errors import DiskFullError, LakeError

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "database or disk is full")
NEARLY_FULL = 1 << 20  # below this many free bytes an unexplained I/O error is the full disk


def human(n: int) -> str:
    """Bytes for people: 950 B, 40.2 kB, 1.3 MB, 2.0 GB (powers of 1000, as df -H)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def free_bytes(path: Path) -> int | None:
    """Free bytes for this user on the file system holding ``path`` (None if unknown)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (OSError, pyarrow's OSError, sqlite3.Error) means no space left."""
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == 13:
        return True  # SQLITE_FULL
    text = str(exc).lower()
    return isinstance(exc, OSError | sqlite3.Error) and any(t in text for t in _FULL_TEXTS)


def disk_full(root: Path, what: str, needed: int | None = None) -> DiskFullError:
    """The one-line error for a write of ``what`` into lake ``root`` that found the disk full."""
    free = free_bytes(root)
    sizes = [f"about {human(needed)} to write"] if needed else []
    sizes.append(f"{human(free)} free" if free is not None else "free space unknown")
    return DiskFullError(
        f"lake {root}: disk full while writing {what} ({', '.join(sizes)}); nothing was committed",
        help="free space on the lake's disk (docframe gc drops uncommitted files), "
        "then run the job again",
    )


def open_failure(root: Path, exc: sqlite3.Error) -> LakeError:
    """Why a writer could not open the catalog: a full disk (no room for SQLite's -shm file)
    or the catalog error itself, named."""
    free = free_bytes(root)
    if is_disk_full(exc) or (free is not None and free < NEARLY_FULL):
        return disk_full(root, "the catalog's shared-memory and log files")
    return LakeError(
        f"cannot open the catalog of lake {root} for writing ({exc})",
        help="check the lake's disk and permissions; readers may still work",
    )
