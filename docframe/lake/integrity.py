"""Is every segment the catalog references still the file it committed?

Two checks, for two costs:

- *quick* (size as committed, Parquet's ``PAR1`` magic at both ends): one ``stat`` and
  8 bytes per file, remembered per file while its inode, size and mtime stay the same,
  so a reader pays for it once, not per query. It finds deleted, cut-off and replaced
  files; it cannot see a bit flipped inside a page.
- *full* (every byte against the SHA-256 recorded at commit): ``docframe verify``.
  Segments made before checksums (NULL) get the quick check, their footer parsed and
  every row group decoded instead.

A damaged segment is described in one line: the file, why, what it holds (relation
and the sources whose versions are in it) and which snapshots read it. Readers keep
every healthy relation; writers refuse to commit on top of damage that the newest
snapshot reads, until ``docframe repair``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from docframe.errors import DamagedSegmentError
from docframe.lake import catalog
from docframe.lake.segments import checksum_file

MAGIC = b"PAR1"

# path -> (inode, size, mtime_ns) at the last check it passed; files are immutable, so
# an unchanged stat means unchanged bytes for the quick check (and for the hash, below)
_QUICK_SOUND: dict[str, tuple[int, int, int]] = {}
_HASH_SOUND: dict[str, tuple[int, int, int]] = {}
_GUARD = threading.Lock()

REPAIR_HELP = (
    "restore the file from a backup, or run: docframe repair (re-reads its sources from "
    "their files; --drop-missing drops those that are gone); docframe verify lists all damage"
)


@dataclass(frozen=True)
class Damage:
    """One damaged segment and what it takes with it."""

    path: str  # relative to the lake root
    reason: str  # "missing", "truncated: 10 of 2000 bytes", "checksum mismatch ..."
    kind: str  # chunks | documents | table
    relations: tuple[str, ...]  # the SQL relations it feeds: chunks, documents or a table
    sources: tuple[str, ...]  # the inputs whose versions it holds
    snapshots: str  # the snapshots that read it: "1-4, 7"
    live_versions: tuple[int, ...] = ()  # versions it holds that the newest snapshot reads
    recorded: bool = False  # repair found it damaged and said so in the catalog

    @property
    def at_latest(self) -> bool:
        """Whether the newest snapshot reads it (then writers wait for a repair)."""
        return bool(self.live_versions)

    @property
    def lost(self) -> bool:
        """Given up: repair recorded it and the newest snapshot no longer needs it; only
        older snapshots miss what it held."""
        return self.recorded and not self.live_versions

    @property
    def message(self) -> str:
        names = [Path(s).name or s for s in self.sources]
        held = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        what = f"table {self.relations[0]}" if self.kind == "table" else self.kind
        where = f"{what} from {held}" if held else what
        if self.lost:
            return (
                f"segment {self.path} was lost ({self.reason}) and given up by repair: "
                f"{where} at {self.snapshots} cannot be read"
            )
        return (
            f"segment {self.path} is damaged ({self.reason}): "
            f"it holds {where}, read by {self.snapshots}"
        )

    @property
    def help(self) -> str:
        if self.lost:
            return "query a later snapshot: repair re-ingested or dropped what it held"
        return REPAIR_HELP

    def error(self) -> DamagedSegmentError:
        return DamagedSegmentError(self.message, help=self.help)


@dataclass
class VerifyReport:
    """What ``docframe verify`` found: every damaged segment, and those repair gave up."""

    full: bool
    checked: int = 0
    bytes: int = 0
    unchecksummed: int = 0  # segments made before checksums: size, footer and decoding only
    damaged: list[Damage] = field(default_factory=list)
    lost: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    def summary(self) -> str:
        how = "every byte hashed" if self.full else "size and footer only"
        head = f"checked {self.checked} segment(s), {self.bytes / 1e6:.1f} MB ({how})"
        parts = [head]
        if self.unchecksummed and self.full:
            parts.append(f"{self.unchecksummed} made before checksums: decoded, not hashed")
        if self.lost:
            parts.append(f"{len(self.lost)} lost earlier (older snapshots only)")
        parts.append(f"{len(self.damaged)} damaged" if self.damaged else "no damage")
        return "; ".join(parts)


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def quick_check(path: Path, size: int) -> str | None:
    """Why ``path`` is not the ``size``-byte Parquet file committed, or None.

    Remembered per file while its stat is unchanged: one ``stat`` per call after the
    first. A flipped bit inside the file passes (only :func:`full_check` sees it).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    key = _stat_key(st)
    with _GUARD:
        if _QUICK_SOUND.get(str(path)) == key and st.st_size == size:
            return None
    if st.st_size != size:
        if st.st_size < size:
            return f"truncated: {st.st_size} of {size} bytes"
        return f"wrong size: {st.st_size} bytes, {size} committed"
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC))
            fh.seek(-len(MAGIC), os.SEEK_END)
            tail = fh.read(len(MAGIC))
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if head != MAGIC or tail != MAGIC:
        return "not a Parquet file any more: no PAR1 magic at " + (
            "start" if head != MAGIC else "end"
        )
    with _GUARD:
        _QUICK_SOUND[str(path)] = key
    return None


def full_check(path: Path, size: int, checksum: str | None) -> str | None:
    """Why ``path`` is not byte for byte the segment committed, or None.

    With a recorded checksum every byte is hashed; without one (a segment made before
    checksums) the footer is parsed and every row group decoded, which finds most but
    not all damage.
    """
    reason = quick_check(path, size)
    if reason is not None:
        return reason
    key = _stat_key(os.stat(path))
    with _GUARD:
        if _HASH_SOUND.get(str(path)) == key:
            return None
    if checksum is None:
        reason = _decode(path)
    else:
        try:
            actual = checksum_file(path)
        except OSError as exc:
            return f"unreadable: {exc.strerror}"
        if actual != checksum:
            reason = "checksum mismatch: its bytes changed after commit"
    if reason is None:
        with _GUARD:
            _HASH_SOUND[str(path)] = key
    return reason


def _decode(path: Path) -> str | None:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            parquet.read_row_group(group)
    except Exception as exc:  # noqa: BLE001 - any failure to decode is the damage itself
        return f"undecodable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


def _snapshot_ranges(ids: set[int]) -> str:
    """{1, 2, 3, 7} -> "snapshots 1-3, 7"; {1} -> "snapshot 1"."""
    if not ids:
        return "no snapshot"
    ordered = sorted(ids)
    runs: list[list[int]] = []
    for i in ordered:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)
    return f"snapshot {text}" if len(ordered) == 1 else f"snapshots {text}"


def describe(
    con: sqlite3.Connection, segment: sqlite3.Row, reason: str, *, recorded: bool = False
) -> Damage:
    """A :class:`Damage` for one catalog ``segments`` row: the sources whose versions it
    holds and the snapshots that read it (a version is read from the later of its
    segment's and its own first snapshot until it was replaced)."""
    latest = catalog.latest_snapshot(con)
    versions = con.execute(
        "SELECT v.version_id, v.source_uri, v.added_snapshot, v.removed_snapshot "
        "FROM segment_versions sv JOIN versions v ON v.version_id = sv.version_id "
        "WHERE sv.segment_id = ? ORDER BY v.version_id",
        (segment["segment_id"],),
    ).fetchall()
    readers: set[int] = set()
    live: list[int] = []
    sources: list[str] = []
    for v in versions:
        end = latest if v["removed_snapshot"] is None else v["removed_snapshot"] - 1
        readers.update(range(max(segment["snapshot_id"], v["added_snapshot"]), end + 1))
        if v["removed_snapshot"] is None:
            live.append(v["version_id"])
        if v["source_uri"] not in sources:
            sources.append(v["source_uri"])
    kind = segment["kind"]
    return Damage(
        path=segment["path"],
        reason=reason,
        kind=kind,
        relations=(segment["relation"] if kind == "table" else kind,),
        sources=tuple(sources),
        snapshots=_snapshot_ranges(readers),
        live_versions=tuple(live),
        recorded=recorded,
    )


def segment_rows(con: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every segment the catalog references, with its checksum and recorded damage."""
    upgraded = {"checksum", "damage"} <= catalog.columns(con, "segments")
    integrity = "checksum, damage" if upgraded else "NULL AS checksum, NULL AS damage"
    return con.execute(
        f"SELECT segment_id, kind, relation, path, bytes, snapshot_id, {integrity} "
        "FROM segments ORDER BY segment_id"
    ).fetchall()


def verify(root: Path, con: sqlite3.Connection, *, full: bool = True) -> VerifyReport:
    """Check every segment the catalog references (every snapshot's), read-only."""
    report = VerifyReport(full=full)
    for seg in segment_rows(con):
        report.checked += 1
        report.bytes += seg["bytes"]
        report.unchecksummed += seg["checksum"] is None
        if seg["damage"] is not None:  # found by repair: known bad, not checked again
            damage = describe(con, seg, seg["damage"], recorded=True)
            (report.lost if damage.lost else report.damaged).append(damage)
            continue
        path = root / seg["path"]
        reason = (
            full_check(path, seg["bytes"], seg["checksum"])
            if full
            else quick_check(path, seg["bytes"])
        )
        if reason is not None:
            report.damaged.append(describe(con, seg, reason))
    return report


def visible_damage(
    root: Path, con: sqlite3.Connection, segments: list[sqlite3.Row]
) -> dict[str, Damage]:
    """The damaged ones among a snapshot's ``segments`` (from
    :func:`catalog.visible_segments`), by absolute path: those repair gave up, and those
    failing the quick check."""
    found: dict[str, Damage] = {}
    for seg in segments:
        path = root / seg["path"]
        recorded = seg["damage"] is not None
        reason = seg["damage"] if recorded else quick_check(path, seg["bytes"])
        if reason is not None:
            found[str(path)] = describe(con, seg, reason, recorded=recorded)
    return found


def describe_file(root: Path, path: str, reason: str) -> Damage:
    """:func:`describe` for a file a query found damaged, looked up in the catalog."""
    relative = Path(path).relative_to(root).as_posix() if Path(path).is_absolute() else path
    try:
        con = catalog.connect(root / catalog.CATALOG_FILE, readonly=True)
        try:
            seg = next((s for s in segment_rows(con) if s["path"] == relative), None)
            if seg is not None:
                return describe(con, seg, reason)
        finally:
            con.close()
    except sqlite3.Error:
        pass  # the catalog cannot say more: name the file and why
    return Damage(relative, reason, "segment", ("?",), (), "the snapshots that read it")


def refuse_if_damaged(root: Path, con: sqlite3.Connection) -> None:
    """Raise :class:`DamagedSegmentError` if the newest snapshot reads a damaged segment
    (quick check, plus what repair recorded): a writer must not commit on top of it."""
    latest = catalog.latest_snapshot(con)
    segments = catalog.visible_segments(con, latest)
    damage = list(visible_damage(root, con, segments).values())
    if not damage:
        return
    more = f" (and {len(damage) - 1} more damaged segment(s))" if len(damage) > 1 else ""
    raise DamagedSegmentError(
        damage[0].message + more,
        help="nothing was written; repair the lake first: docframe repair "
        "(docframe verify lists the damage)",
    )


def record(con: sqlite3.Connection, damage: list[Damage]) -> None:
    """Mark segments as given up (inside the caller's transaction): readers of the
    snapshots that need them get the one-line message without re-checking."""
    con.executemany(
        "UPDATE segments SET damage = ? WHERE path = ?", [(d.reason, d.path) for d in damage]
    )
