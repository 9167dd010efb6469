"""Progress display for long jobs (rich, on stderr), a no-op when disabled.

In Jupyter, rich redraws its bars inside an ipywidgets ``Output`` (the ``notebook``
extra installs ipywidgets). Without ipywidgets a notebook cannot redraw anything in
place, and rich would warn on each refresh; there the bars are not animated but drawn
once, as they stand when the job ends.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np


class IngestProgress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._files: Any = None
        self._media: dict[str, Any] = {}  # a bar per media file in progress
        self._counters: dict[str, Any] = {}  # open-ended bars: pages read, chunks made
        self._lock = threading.Lock()
        self._live = False  # redrawn in place (a terminal, or Jupyter with ipywidgets)

    def __enter__(self) -> IngestProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            console = Console(stderr=True)
            self._live = not console.is_jupyter or _has_ipywidgets()
            self._progress = Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
                auto_refresh=self._live,
            )
            if self._live:
                self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is None:
            return
        if self._live:
            self._progress.stop()
        else:  # a notebook without ipywidgets: the final state, drawn once
            self._progress.console.print(self._progress.get_renderable())

    def start_files(self, total: int) -> None:
        if self._progress is not None:
            self._files = self._progress.add_task("files", total=total)

    def advance_file(self) -> None:
        if self._files is not None:
            self._progress.advance(self._files)

    def count(self, what: str, n: int) -> None:
        """Advance the open-ended bar ``what`` ("pages" of PDFs read, "chunks" made) by
        ``n``; the bar appears with the first item."""
        if self._progress is None or n <= 0:
            return
        with self._lock:
            task = self._counters.get(what)
            if task is None:
                task = self._counters[what] = self._progress.add_task(what, total=None)
            self._progress.advance(task, n)

    def media(self, uri: str, done_s: float, total_s: float) -> None:
        """Seconds of one media file transcribed (and read on screen) so far: a long
        recording shows its own bar, in seconds, until it is done. Called from the
        ingest's extraction threads."""
        if self._progress is None:
            return
        with self._lock:
            task = self._media.get(uri)
            if task is None:
                label = f"media {Path(uri).name[:20]} (s)"
                task = self._media[uri] = self._progress.add_task(label, total=total_s or None)
            self._progress.update(task, completed=done_s, total=total_s or None)
            if total_s and done_s >= total_s:
                self._progress.remove_task(self._media.pop(uri))

    def log_failure(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(f"[red]failed[/red] {message}", highlight=False)

    def embed(self, embedder: Any, texts: list[str], step: int = 256) -> np.ndarray:
        """Encode in slices so the bar moves; one model call per slice."""
        if self._progress is None:
            return embedder.encode(texts)
        task = self._progress.add_task("embedding", total=len(texts))
        parts = []
        for i in range(0, len(texts), step):
            parts.append(embedder.encode(texts[i : i + step]))
            self._progress.advance(task, len(parts[-1]))
        return np.concatenate(parts)


def _has_ipywidgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def quiet_tqdm_in_jupyter() -> None:
    """Import tqdm's notebook switch (``tqdm.autonotebook``) once, without its warnings.

    bm25s, faster-whisper, huggingface_hub and sentence-transformers import
    ``tqdm.auto``/``tqdm.autonotebook`` when docframe first loads them. In a Jupyter
    kernel without ipywidgets that import prints ``TqdmWarning: IProgress not found``
    under whichever cell first searches or ingests (with ipywidgets, sentence-transformers'
    import prints ``TqdmExperimentalWarning`` instead). docframe shows none of their bars
    (its own progress is rich's), so the warnings tell a user nothing: tqdm remembers the
    module, and the later imports print nothing.
    """
    import warnings

    try:
        from tqdm import TqdmWarning
    except ImportError:  # no library here can print tqdm's warnings
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        import tqdm.autonotebook  # noqa: F401
