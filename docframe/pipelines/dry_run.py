"""What an ingest would do, without doing it: ``--dry-run``'s plan.

A spec that names folders, globs and patterns is easy to get subtly wrong (a pattern
that takes too much, a prune that would drop half the lake). The dry run answers
"what would this do?" before anything is written. It is filled by
:meth:`docframe.pipelines.ingest.IngestJob.dry_run` from the same decisions the real
run makes (discovery, the unchanged check, prune's list), so the two cannot drift;
this module only words them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docframe.pipelines.discovery import Discovered
from docframe.pipelines.report import Outcome

# what would happen to an input, in the order a listing shows them
ACTIONS = ("ingest", "skip", "fail", "prune")


@dataclass(frozen=True)
class Planned:
    """One input and what the ingest would do with it, and why (``new``, ``changed``,
    ``unchanged``, ``excluded by pattern '*.tmp'``, ``no longer exists``...)."""

    input: str
    action: str  # one of ACTIONS
    reason: str


@dataclass
class DryRun:
    """The plan of one ingest: every input it names or finds, with its action."""

    lake: Path
    lake_exists: bool  # False: the run would create the lake
    entries: list[Planned] = field(default_factory=list)

    def add(self, uri: str, action: str, message: str, kind: str = "") -> None:
        """``message`` as the run would print it (``PATH: reason (help: ...)``), kept as
        its reason alone (after ``kind``): the listing already names the input."""
        reason = message.removeprefix(f"{uri}: ").split(" (help: ")[0]
        self.entries.append(Planned(uri, action, kind + reason))

    # -- filled by IngestJob.dry_run ---------------------------------------------------
    def discovered(self, found: Discovered) -> None:
        for uri, message in found.problems:  # missing paths, globs matching nothing
            self.add(uri, "fail", message)
        for uri, message in [*found.skipped, *found.excluded]:
            self.add(uri, "skip", message)

    def read(
        self,
        uri: str,
        known: Mapping[str, Any] | None,
        is_table: bool,
        options: str,
        why: str = "",
    ) -> None:
        """An input the run would read: new to the lake, or why its version is stale
        (``known``: its ``sources`` row; ``why``: the planner's reason to read an
        unchanged file again)."""
        if why:
            reason = why
        elif known is None:
            reason = "new"
        elif known["status"] != "ok":
            reason = f"failed last time ({known['status']}); read again"
        elif is_table and known["read_options"] != options:
            reason = "changed read options (--schema, --delimiter, ...)"
        else:
            reason = "changed"
        self.entries.append(Planned(uri, "ingest", reason))

    def settled(self, outcomes: Iterable[Outcome]) -> None:
        """What the unchanged check settled without reading (unchanged, unsupported, or
        failing before a read)."""
        for o in outcomes:
            if o.status == "failed":
                self.add(o.input, "fail", o.error or "failed")
            elif o.status == "unsupported":  # what would read it, or that nothing does
                self.add(o.input, "skip", o.help or o.error or "", kind="unsupported: ")
            else:
                self.add(o.input, "skip", o.status)

    def pruned(self, uris: Iterable[str]) -> None:
        for uri in uris:
            self.entries.append(Planned(uri, "prune", "no longer exists"))

    # -- reading it ----------------------------------------------------------------------
    def of(self, action: str) -> list[Planned]:
        return [e for e in self.entries if e.action == action]

    def lines(self) -> list[str]:
        """One line per input, grouped by action (ingest, skip, fail, prune), inputs in
        order within each; first, where it applies, the lake that would be created."""
        head = [] if self.lake_exists else [f"a new lake would be created at {self.lake}"]
        ordered = sorted(self.entries, key=lambda e: (ACTIONS.index(e.action), e.input))
        return head + [f"{e.action:<6} {e.input}: {e.reason}" for e in ordered]

    def summary(self) -> str:
        """``dry run: 2 to ingest (1 new, 1 to update), 3 to skip, 1 failing, 1 to prune;
        nothing written``."""
        ingest = self.of("ingest")
        new = sum(1 for e in ingest if e.reason == "new")
        parts = []
        if ingest:
            counts = ((new, "new"), (len(ingest) - new, "to update"))
            detail = ", ".join(f"{n} {what}" for n, what in counts if n)
            parts.append(f"{len(ingest)} to ingest ({detail})")
        for action, words in (("skip", "to skip"), ("fail", "failing"), ("prune", "to prune")):
            if n := len(self.of(action)):
                parts.append(f"{n} {words}")
        return f"dry run: {', '.join(parts) or 'nothing to do'}; nothing written"
