"""One writer at a time: an advisory ``flock`` on ``<lake>/.lock``; none on a read-only lake.

The kernel drops the lock when the holder dies (even by kill -9), so a crashed
job never leaves the lake locked; the next writer to take it removes the segment
files such a job wrote but never committed (:func:`docframe.lake.orphans.remove_orphans`).
Readers never take it: they work on a lake
they may not write (a read-only mount, or another user's files), while every
writer (ingest, gc, table jobs, index build) is refused there with one line.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from docframe.errors import LakeLockedError, LakeReadOnlyError
from docframe.lake.catalog import CATALOG_FILE

LOCK_FILE = ".lock"

# errors that mean "this process may not write here", not "something broke"
_READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
_HELD: set[Path] = set()  # lake roots whose writer lock this process holds


def holds(root: Path) -> bool:
    """True while this process holds ``root``'s writer lock (its catalog is opened to write)."""
    return root in _HELD


def read_only_reason(root: Path) -> str | None:
    """Why this process cannot write the lake at ``root``, or None when it can.

    ``os.access`` answers for the real user and reports a read-only file system
    even to root (who otherwise ignores file modes), so it covers both a
    read-only mount and a lake owned by someone else.
    """
    targets = [root] + [p for p in (root / CATALOG_FILE,) if p.exists()]
    if all(os.access(p, os.W_OK) for p in targets):
        return None
    try:
        if os.statvfs(root).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "no write permission for this user"


def _refuse(root: Path, reason: str) -> LakeReadOnlyError:
    return LakeReadOnlyError(
        f"lake {root} is read-only ({reason}); ingest, gc, table jobs and index builds "
        "need to write to it",
        help="readers (sql, search, tables) still work; to write, remount it read-write, "
        "fix its permissions, or copy it to a writable place",
    )


def check_writable(root: Path) -> None:
    """Raise :class:`LakeReadOnlyError` (one line, with help) when ``root`` is read-only."""
    reason = read_only_reason(root)
    if reason is not None:
        raise _refuse(root, reason)


class WriterLock:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOCK_FILE
        self._fd: int | None = None
        self.removed_orphans: list[str] = []  # names of orphan segments taking it removed
        self.orphan_bytes = 0

    def acquire(self) -> None:
        check_writable(self.root)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno not in _READ_ONLY_ERRNOS:
                raise
            raise _refuse(self.root, f"{self.path.name}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LakeLockedError(
                f"lake {self.path.parent} is being written by another process (pid {holder})",
                help="wait for that job to finish; readers (search, sql) work meanwhile",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        _HELD.add(self.root)
        self.removed_orphans, self.orphan_bytes = self._remove_orphans()

    def _remove_orphans(self) -> tuple[list[str], int]:
        """Segment files a killed writer left uncommitted go now, not at the next ``gc``:
        unreferenced and older than this lock, they can only be orphans."""
        from docframe.lake.orphans import remove_orphans

        return remove_orphans(self.root, before=time.time())

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            _HELD.discard(self.root)

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
