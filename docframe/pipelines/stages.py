"""Per-stage accounting for an ingest: what each stage did and where the time went.

An ingest is a pipeline — discover, extract, chunk, embed, write, commit — whose
stages overlap: documents are extracted on several threads (or Dask workers)
while one thread chunks, embeds and commits. The wall time alone cannot say
which stage to speed up; per stage, the seconds spent working (``busy_s``,
summed over its ``lanes``) and the seconds spent waiting for the stage before
it (``wait_s``) can. The stage whose lanes were busiest for the longest,
``busy_s / lanes``, bounds the run: making any other stage faster would not
make the run faster.

:class:`StageClock` is thread-safe (extraction threads report into it) and
plain data (it pickles, so Dask workers send theirs back with their results).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

# the stages in pipeline order, with the unit each counts
STAGE_UNITS: dict[str, str] = {
    "discover": "files",  # walk the folders, stat and hash what changed
    "extract": "files",  # parse PDFs, transcribe media, read text (thread pool / workers)
    "chunk": "chunks",  # split into chunks with provenance
    "embed": "chunks",  # the model (vectors reused from earlier versions count too)
    "write": "segments",  # Parquet segments, durably
    "commit": "commits",  # catalog transactions (the driver alone)
}


@dataclass
class StageStats:
    """One stage's totals: ``items`` done (in ``unit``), seconds working summed over
    its ``lanes`` (threads or workers that run it at once), seconds waiting."""

    unit: str
    items: int = 0
    busy_s: float = 0.0
    wait_s: float = 0.0
    lanes: int = 1

    @property
    def items_per_s(self) -> float | None:
        """Throughput of the stage's lanes together while busy (None when it never ran)."""
        return self.items * self.lanes / self.busy_s if self.busy_s > 0 else None

    @property
    def load_s(self) -> float:
        """Wall seconds the stage would need alone: its work spread over its lanes."""
        return self.busy_s / max(1, self.lanes)

    def to_dict(self) -> dict[str, Any]:
        rate = self.items_per_s
        return {
            **asdict(self),
            "busy_s": round(self.busy_s, 3),
            "wait_s": round(self.wait_s, 3),
            "items_per_s": None if rate is None else round(rate, 2),
        }


class StageClock:
    """Accumulates :class:`StageStats` per stage, from any thread."""

    def __init__(self, lanes: Mapping[str, int] | None = None) -> None:
        self.stages = {name: StageStats(unit) for name, unit in STAGE_UNITS.items()}
        for name, n in (lanes or {}).items():
            self.stages[name].lanes = max(1, n)
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"stages": self.stages}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.stages = state["stages"]
        self._lock = threading.Lock()

    def add(self, stage: str, *, items: int = 0, busy: float = 0.0, wait: float = 0.0) -> None:
        with self._lock:
            s = self.stages[stage]
            s.items += items
            s.busy_s += busy
            s.wait_s += wait

    @contextmanager
    def busy(self, stage: str, items: int = 0) -> Iterator[None]:
        """Time the block as ``stage`` work (``items`` counted when it ends)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, items=items, busy=time.perf_counter() - start)

    @contextmanager
    def waiting(self, stage: str) -> Iterator[None]:
        """Time the block as ``stage`` waiting for the stage before it."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, wait=time.perf_counter() - start)

    def merge(self, other: StageClock) -> None:
        """Add another clock's totals (a Dask worker's), keeping this clock's lanes."""
        for name, s in other.stages.items():
            self.add(name, items=s.items, busy=s.busy_s, wait=s.wait_s)


def bounding(stages: Mapping[str, StageStats]) -> str | None:
    """The stage that bounded the run: the largest ``load_s`` (None when none ran)."""
    ran = {name: s.load_s for name, s in stages.items() if s.busy_s > 0}
    return max(ran, key=ran.__getitem__) if ran else None


def stage_table(stages: Mapping[str, StageStats]) -> list[str]:
    """Lines for a terminal: ``extract   12 files   3.4/s   busy 3.5 s  wait 0.0 s``."""
    bound = bounding(stages)
    lines = []
    for name, s in stages.items():
        if not (s.items or s.busy_s or s.wait_s):
            continue
        rate = s.items_per_s
        lanes = f" x{s.lanes}" if s.lanes > 1 else ""
        lines.append(
            f"{name:<9}{s.items:>8} {s.unit:<9}"
            + (f"{rate:>9.1f}/s" if rate is not None else f"{'-':>11}")
            + f"  busy {s.busy_s:7.2f} s{lanes}  wait {s.wait_s:7.2f} s"
            + ("  <- bounded the run" if name == bound else "")
        )
    return lines
