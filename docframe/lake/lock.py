"""One writer at a time: an advisory ``flock`` on ``<lake>/.lock``.

The kernel drops the lock when the holder dies (even by kill -9), so a crashed
job never leaves the lake locked. Readers never take it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from docframe.errors import LakeError, LakeLockedError

LOCK_FILE = ".lock"


class WriterLock:
    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError as exc:
            raise LakeError(
                f"cannot write to lake {self.path.parent}: {exc.strerror}",
                help="check the directory's permissions or choose another --lake",
            ) from exc
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

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
