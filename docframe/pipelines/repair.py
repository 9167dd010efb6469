"""Repairing a lake whose segments are damaged: ``docframe repair``.

Data files are never rewritten, so a repair is new snapshots on top, like any ingest:

1. Full verify (every byte against its checksum) finds the damaged segments; the
   source versions they hold that the newest snapshot reads are what must be replaced.
2. A source whose file still exists with the same content hash is ingested again (with
   the table options it was read with): its new version lands in new, sound segments
   and retires the damaged one.
3. What cannot be re-read (the file is gone or changed, a job's output) is dropped in
   a snapshot of its own, but only when asked (``--drop-missing``): dropping data is
   the user's decision. Otherwise it is reported, and writers stay refused.
4. The damaged segments are recorded in the catalog: older snapshots that read them
   say so in one line, and ``verify`` counts them as lost history, not as damage.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from docframe.lake import catalog, commits, integrity
from docframe.lake.integrity import Damage

if TYPE_CHECKING:
    from docframe.lake.store import LakeStore
    from docframe.pipelines.embedding import Embedder


@dataclass
class RepairReport:
    damaged: list[Damage] = field(default_factory=list)  # what verify found first
    reingested: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # source -> why it was not re-read
    snapshot_id: int = 0

    @property
    def ok(self) -> bool:
        """The newest snapshot reads no damaged segment any more."""
        return not self.missing

    def summary(self) -> str:
        if not self.damaged:
            return f"no damaged segment; nothing to repair (snapshot {self.snapshot_id})"
        parts = [f"{len(self.damaged)} damaged segment(s)"]
        if self.reingested:
            parts.append(f"{len(self.reingested)} source(s) re-ingested")
        if self.dropped:
            parts.append(f"{len(self.dropped)} source(s) dropped")
        text = f"snapshot {self.snapshot_id}: " + ", ".join(parts)
        if self.missing:
            text += (
                f"; {len(self.missing)} source(s) cannot be re-read from their files: restore "
                "them (same content) and run repair again, or run repair --drop-missing to "
                "drop them (then ingest or re-run their jobs)"
            )
        return text


def _options(key: str | None):
    """The TableOptions a source was read with (its recorded JSON), for reading it again."""
    from docframe.connectors.tables import TableOptions

    if not key:
        return TableOptions()
    known = {f.name for f in dataclasses.fields(TableOptions)}
    return TableOptions(**{k: v for k, v in json.loads(key).items() if k in known})


def _rereadable(uri: str, content_hash: str) -> str | None:
    """Why ``uri`` cannot give back the version with ``content_hash``, or None."""
    from docframe.pipelines.discovery import hash_source

    path = Path(uri)
    if not path.exists():
        return "no such file" if path.is_absolute() else "not a file (a job's output?)"
    try:
        if hash_source(path) != content_hash:
            return "the file has changed since"
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    return None


def _live_sources(con, damage: list[Damage]) -> list[tuple[int, str, str, str | None]]:
    """(version_id, source_uri, content_hash, read_options) of the newest snapshot's
    versions that sit in damaged segments."""
    versions = sorted({v for d in damage for v in d.live_versions})
    rows = []
    for vid in versions:
        row = con.execute(
            "SELECT v.version_id, v.source_uri, v.content_hash, s.read_options "
            "FROM versions v LEFT JOIN sources s ON s.source_uri = v.source_uri "
            "WHERE v.version_id = ? AND v.removed_snapshot IS NULL",
            (vid,),
        ).fetchone()
        if row is not None:
            rows.append(tuple(row))
    return rows


def repair(
    store: LakeStore, embedder: Embedder, *, drop_missing: bool = False, progress: bool = False
) -> RepairReport:
    """Make the newest snapshot read only sound segments again (see the module doc)."""
    from docframe.lake.lock import WriterLock
    from docframe.pipelines.ingest import IngestJob

    report = RepairReport()
    with WriterLock(store.root):
        con = store.connect()
        try:
            catalog.upgrade(con)
            report.damaged = integrity.verify(store.root, con, full=True).damaged
            affected = _live_sources(con, report.damaged)
        finally:
            con.close()
    groups: dict[str | None, list[str]] = {}
    for _, uri, content_hash, options in affected:
        why = _rereadable(uri, content_hash)
        if why is None:
            groups.setdefault(options, []).append(uri)
        else:
            report.missing[uri] = why
    for options, uris in groups.items():  # one job per set of table read options
        job = IngestJob(store, uris, embedder=embedder, prune=False, progress=progress,
                        table_options=_options(options), repair=uris)  # fmt: skip
        for outcome in job.run().outcomes:
            if outcome.status == "ingested":
                report.reingested.append(outcome.input)
            elif outcome.input in uris:
                report.missing[outcome.input] = outcome.error or outcome.status
    with WriterLock(store.root):
        con = store.connect()
        try:
            _finish(con, report, drop_missing)
            report.snapshot_id = catalog.latest_snapshot(con)
        finally:
            con.close()
    if report.ok and report.damaged:
        _refresh_index(store)
    return report


def _finish(con, report: RepairReport, drop_missing: bool) -> None:
    """Drop what is still damaged at the newest snapshot (if asked), and record every
    damaged segment, in one transaction."""
    seg_rows = {s["path"]: s for s in integrity.segment_rows(con)}
    still = [
        integrity.describe(con, seg_rows[d.path], d.reason)
        for d in report.damaged
        if d.path in seg_rows
    ]
    remaining = _live_sources(con, [d for d in still if d.at_latest])
    with catalog.transaction(con):
        if remaining and drop_missing:
            uris = sorted({uri for _, uri, _, _ in remaining})
            note = f"dropped {len(uris)} source(s) held by damaged segments"
            drops = [(vid, uri) for vid, uri, _, _ in remaining]
            commits.drop_versions(con, drops, job="repair", note=note)
            report.dropped = uris
            report.missing = {}
        elif not remaining:
            report.missing = {}
        else:  # not dropped: say which, and writers stay refused (recorded below)
            for _, uri, _, _ in remaining:
                report.missing.setdefault(uri, "still read by the newest snapshot")
        integrity.record(con, report.damaged)


def _refresh_index(store: LakeStore) -> None:
    from docframe.index.store import ensure_index

    snapshot = store.snapshot()
    if not snapshot.is_empty:
        ensure_index(store, snapshot)
