"""What an ingest did, per input and in total: the report every caller prints or checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from docframe.pipelines.stages import StageStats, bounding, stage_table


@dataclass
class Outcome:
    """What happened to one input; ``status`` is one of STATUSES."""

    input: str
    status: str
    n_documents: int = 0
    n_chunks: int = 0
    error: str | None = None
    tables: list[str] = field(default_factory=list)
    n_rows: int = 0
    notes: list[str] = field(default_factory=list)  # what was repaired: skipped bad lines
    help: str | None = None  # what to do about it: for an unsupported file, what would read it

    @property
    def needs_ocr(self) -> bool:
        """Ingested with pages left unread for want of OCR (its note says which)."""
        from docframe.connectors.pdf.needs_ocr import needs_ocr

        return needs_ocr(self.notes)


STATUSES = ("ingested", "unchanged", "failed", "unsupported", "skipped", "pruned")


@dataclass
class IngestReport:
    snapshot_id: int
    outcomes: list[Outcome] = field(default_factory=list)
    index: str | None = None
    # wall seconds: "total", "embed" (the model), "extract_wait" (this thread blocked on
    # the extraction workers), and the media stages summed over files as the workers ran
    # them ("transcribe": speech recognition, "ocr": text on screen): which stage bounds it
    seconds: dict[str, float] = field(
        default_factory=lambda: {
            "total": 0.0, "embed": 0.0, "extract_wait": 0.0, "transcribe": 0.0, "ocr": 0.0
        }
    )  # fmt: skip

    # chunk vectors: made by the model, taken from a file's previous version (unchanged
    # text, same embedder), or shared with an identical text of the same batch
    embedded: int = 0
    reused: int = 0
    repeated: int = 0

    # per stage (docframe.pipelines.stages): items, busy and waiting seconds; on Dask
    # also per worker (its address -> its stages), which the run's stages sum
    stages: dict[str, StageStats] = field(default_factory=dict)
    workers: dict[str, dict[str, StageStats]] = field(default_factory=dict)

    @property
    def bound(self) -> str | None:
        """The stage that bounded the run (its lanes were busy longest)."""
        return bounding(self.stages)

    def stage_lines(self) -> list[str]:
        """The per-stage table a terminal shows at the end of a run."""
        return stage_table(self.stages)

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: what ``docframe ingest --report FILE.json`` writes."""
        return {
            "snapshot_id": self.snapshot_id,
            "summary": self.summary(),
            "counts": {s: self.count(s) for s in STATUSES},
            "need_ocr": self.n_need_ocr,
            "n_chunks": self.n_chunks,
            "vectors": {"embedded": self.embedded, "reused": self.reused,
                        "repeated": self.repeated},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "bound": self.bound,
            "stages": {name: s.to_dict() for name, s in self.stages.items()},
            "workers": {
                addr: {name: s.to_dict() for name, s in stages.items()}
                for addr, stages in self.workers.items()
            },
            "index": self.index,
            "outcomes": [asdict(o) for o in self.outcomes],
        }  # fmt: skip

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def n_chunks(self) -> int:
        return sum(o.n_chunks for o in self.outcomes if o.status == "ingested")

    @property
    def n_need_ocr(self) -> int:
        """Inputs ingested with pages that need OCR: a warning, not a failure."""
        return sum(1 for o in self.outcomes if o.status == "ingested" and o.needs_ocr)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in STATUSES if self.count(s)]
        if self.n_need_ocr:
            parts.append(f"{self.n_need_ocr} need OCR")
        return f"snapshot {self.snapshot_id}: " + (", ".join(parts) or "nothing to do")

    def unsupported_lines(self, name: Callable[[str], str] = str, shown: int = 3) -> list[str]:
        """The files no connector reads, named, with what would read them: one line per
        hint, most files first, counting them by type and naming at most ``shown``::

            unsupported: 12 .bin, 1 (no suffix) (a.bin, b.bin, c.bin and 10 more; --dry-run
              lists each): no connector reads this type (...)
            unsupported: 2 .docx (y.docx, z.docx): save or export it as PDF (...)

        ``name`` shortens a path for the terminal."""
        from docframe.connectors.unsupported import file_type

        groups: dict[str, dict[str, list[str]]] = {}  # hint -> type -> inputs
        for o in self.outcomes:
            if o.status == "unsupported":
                kinds = groups.setdefault(o.help or "", {})
                kinds.setdefault(file_type(Path(o.input)), []).append(o.input)
        lines = []
        for hint, kinds in sorted(groups.items(), key=lambda g: -sum(map(len, g[1].values()))):
            ordered = sorted(kinds.items(), key=lambda k: (-len(k[1]), k[0]))
            counts = ", ".join(f"{len(inputs)} {kind}" for kind, inputs in ordered)
            inputs = [i for _, found in ordered for i in found]
            names = ", ".join(name(i) for i in inputs[:shown])
            if len(inputs) > shown:
                names += f" and {len(inputs) - shown} more; --dry-run lists each"
            lines.append(f"unsupported: {counts} ({names})" + (f": {hint}" if hint else ""))
        return lines

    def vectors(self) -> str | None:
        """``vectors: 12 embedded, 30 reused (unchanged text), 2 repeated texts embedded
        once``: what the model ran on; None when no chunk was committed."""
        if not (self.embedded or self.reused or self.repeated):
            return None
        line = f"vectors: {self.embedded} embedded"
        if self.reused:
            line += f", {self.reused} reused (unchanged text)"
        if self.repeated:
            line += f", {self.repeated} repeated text(s) embedded once"
        return line

    def timing(self) -> str:
        """Where the wall time went: ``12.3 s (embedding 11.9 s, waiting on extraction 0.1 s)``,
        plus ``transcription``/``OCR`` seconds (in the workers, beside the rest) when media ran.
        On Dask, embedding is summed over the workers and the wait is the driver's."""
        s = self.seconds
        media = "".join(
            f", {label} {s[key]:.1f} s"
            for key, label in (("transcribe", "transcription"), ("ocr", "OCR"))
            if s.get(key)
        )
        waiting = "waiting on the workers" if self.workers else "waiting on extraction"
        return (
            f"{s['total']:.1f} s (embedding {s['embed']:.1f} s, "
            f"{waiting} {s['extract_wait']:.1f} s{media})"
        )
