"""Seconds of media done, from an isolated worker back to the ingest's progress display.

``run_isolated`` answers once, at the end; an hour of video must show how far it got
while it runs. The worker writes its progress (two numbers: seconds done, total) into
a small file the parent named; a thread in the parent reads it a few times a second
and calls the ingest's callback. A file and not a pipe or a shared value: the worker
was forked before the job existed, so it inherits neither, and only data pickles
through ``run_isolated``. Each write replaces the file whole (``os.replace``), so the
parent never reads half a line.

    with ProgressRelay(uri, callback) as relay:   # parent; relay.path is None without callback
        run_isolated(job, ..., relay.path, ...)
    report = reporter(path)                       # worker: None, or (done_s, total_s) -> None
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

POLL_S = 0.25  # how often the parent looks
WRITE_EVERY_S = 0.2  # how often the worker writes, at most


class ProgressRelay:
    """Parent side: polls the worker's progress file and calls ``callback(uri, done, total)``."""

    def __init__(self, uri: str, callback: Callable[[str, float, float], None] | None) -> None:
        self.uri = uri
        self.callback = callback
        self.path: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[float, float] | None = None

    def __enter__(self) -> ProgressRelay:
        if self.callback is not None:
            fd, self.path = tempfile.mkstemp(prefix="docframe-progress-", suffix=".txt")
            os.close(fd)
            self._thread = threading.Thread(target=self._poll, name="media-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._thread is None or self.path is None:
            return
        self._stop.set()
        self._thread.join()
        self._read()  # the last word, then the bar is done (or dropped, on an error)
        if exc[0] is None and self._last is not None and self.callback is not None:
            self.callback(self.uri, self._last[1], self._last[1])
        for path in (self.path, self.path + ".tmp"):
            try:
                os.unlink(path)
            except OSError:
                pass

    def _poll(self) -> None:
        while not self._stop.wait(POLL_S):
            self._read()

    def _read(self) -> None:
        try:
            with open(self.path or "", encoding="ascii") as fh:
                done_s, total_s = (float(v) for v in fh.read().split())
        except (OSError, ValueError):
            return  # nothing written yet
        if (done_s, total_s) != self._last and self.callback is not None:
            self._last = (done_s, total_s)
            self.callback(self.uri, done_s, total_s)


def reporter(path: str | None) -> Callable[[float, float], None] | None:
    """Worker side: a ``(done_s, total_s)`` callback writing to ``path`` (None: no-op None)."""
    if path is None:
        return None
    last = [0.0]

    def report(done_s: float, total_s: float) -> None:
        now = time.monotonic()
        if now - last[0] < WRITE_EVERY_S and done_s < total_s:
            return
        last[0] = now
        tmp = path + ".tmp"
        try:
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(f"{done_s:.3f} {total_s:.3f}")
            os.replace(tmp, path)
        except OSError:
            pass  # progress is a display, never a reason to fail

    return report
