"""What the benchmarks share: their cache folder, made on first use.

Why: the benchmarks keep what is slow to make again (embedded corpora, corpus subsets,
ingested lakes) under ``benchmarks/.cache/``, which git ignores, so a fresh clone has
no such folder. Every path into it comes from :func:`cache_path`, which makes the
folder first, and a cached lake comes from :func:`cached_lake`, which counts it only
once its ingest finished: a run stopped half-way is never measured as a smaller lake.

Scripts import this as ``from common import ...`` (``python benchmarks/x.py`` puts
``benchmarks/`` on ``sys.path``); the paths are read at call time, so a test can point
:data:`CACHE` at an empty folder.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
DONE = ".ingested"  # written into a cached lake once its ingest finished (its seconds)


def cache_path(name: str) -> Path:
    """``benchmarks/.cache/<name>``, the cache folder made first (a fresh clone has none)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    return CACHE / name


def cached_lake(name: str, build: Callable[[Path], object]) -> tuple[Path, float | None]:
    """The lake cached as ``name``, built by ``build(root)`` when absent.

    Returns the lake's folder and the seconds ``build`` took (None when it was cached).
    A folder without the :data:`DONE` marker is an ingest that did not finish (or is
    running in another process), so it stops the benchmark rather than being measured
    or deleted under that process.
    """
    root = cache_path(name)
    if (root / DONE).exists():
        return root, None
    if root.exists():
        raise SystemExit(f"{root}: an ingest did not finish (or is running); remove it")
    print(f"building {root} (once)", file=sys.stderr)
    start = time.perf_counter()
    build(root)
    seconds = time.perf_counter() - start
    (root / DONE).write_text(f"{seconds:.1f}\n")
    return root, seconds
