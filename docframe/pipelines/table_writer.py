"""Writing tables into the lake: a source's tables into segments, and a DataFrame made
in Python (a job's output) as a committed lake table.

Whatever engine made the frame — pandas, cuDF, or Arrow directly — it enters the
lake as Arrow record batches through the same segment writer and the same commit
(``docframe.lake.commits``) as ingested files, so versioning, snapshots and crash
safety are identical.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from docframe.backend import frame_kind
from docframe.connectors.tables import TableData, table_name
from docframe.errors import ConnectorError, DocframeError
from docframe.lake.commits import SegmentRecord, TableRecord
from docframe.lake.segments import write_segment_batches

if TYPE_CHECKING:
    from docframe.lake.store import LakeStore


def to_arrow(data: Any) -> pa.Table:
    """An Arrow table from Arrow, pandas or cuDF data (the index is dropped).

    A Dask frame is refused rather than computed here: it may not fit in memory.
    """
    kind = frame_kind(data)
    if kind is not None and kind.to_arrow is not None:
        return kind.to_arrow(data)
    raise DocframeError(
        f"cannot write a {type(data).__name__} as a lake table",
        help="pass a pyarrow Table, a pandas DataFrame or a cuDF DataFrame",
    )


@dataclass
class WrittenTable:
    """A table's rows, already in a durable (not yet committed) segment."""

    name: str
    origin: str
    schema: pa.Schema
    path: str
    size: int
    n_rows: int
    notes: list[str]
    location: dict[str, Any] = field(default_factory=dict)
    checksum: str | None = None  # of the segment's bytes, recorded at commit

    def record(self) -> TableRecord:
        return TableRecord(
            self.name, self.origin, self.schema, self.n_rows, self.notes, self.location
        )

    def segment(self, version_ids: list[int]) -> SegmentRecord:
        return SegmentRecord(
            "table", self.name, self.path, self.size, self.n_rows, self.checksum, version_ids
        )


def write_table_segments(
    root: Path, uri: str, tables: Iterable[TableData], owners: dict[str, str]
) -> list[WrittenTable]:
    """Stream each table of ``uri`` into its own segment (committed later by the caller).

    ``owners`` maps table names to the source that holds them, and learns the new ones:
    a name another file already holds is refused, unless the table was found inside a
    document (a PDF's table), which takes the next free ``name_2``. If anything fails,
    the segments written so far are removed (nobody references them yet)."""
    written: list[WrittenTable] = []
    try:
        for data in tables:
            data.name = claimed_name(owners, uri, data.name, in_document=bool(data.location))
            try:
                seg, size, n_rows, checksum = write_segment_batches(
                    root, "table", data.schema, data.batches
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ConnectorError(
                    f"{uri}: table {data.name!r}: {exc}".splitlines()[0],
                    help="fix the value or override the column type with --schema COL=TYPE",
                ) from None
            owners[data.name] = uri
            written.append(
                WrittenTable(
                    data.name,
                    data.origin,
                    data.schema,
                    seg,
                    size,
                    n_rows,
                    data.notes,
                    dict(data.location),
                    checksum,
                )  # fmt: skip
            )
    except BaseException:
        for table in written:  # not committed: nobody references them
            (root / table.path).unlink(missing_ok=True)
            owners.pop(table.name, None)
        raise
    if not written:
        raise ConnectorError(f"{uri}: no tables found", help="is the file empty?")
    return written


def claimed_name(owners: dict[str, str], uri: str, name: str, *, in_document: bool) -> str:
    """The name ``uri``'s table ``name`` takes, given ``owners`` (name -> source): its own,
    if free; a table found inside a document (report.pdf in two folders) takes the next
    free ``name_2``; a table file's table is refused (its name is the user's to pick)."""
    owner = owners.get(name, uri)
    if owner == uri:
        return name
    if not in_document:
        raise ConnectorError(
            f"{uri}: table name {name!r} is already taken by {owner}",
            help="pass --table NAME to give this file's table another name",
        )
    return _free_name(owners, name, uri)


def _free_name(owners: dict[str, str], base: str, uri: str) -> str:
    n = 2
    while owners.get(f"{base}_{n}", uri) != uri:
        n += 1
    return f"{base}_{n}"


def write_table(store: LakeStore, name: str, data: Any, *, source: str, content_hash: str) -> int:
    """Commit ``data`` as a new version of lake table ``name`` made by ``source`` (e.g.
    ``job:delays``), unless that source's live version already has ``content_hash``.
    Returns the snapshot holding the table."""
    from docframe.lake import catalog, commits, integrity
    from docframe.lake.lock import WriterLock

    if table_name(name) != name:
        raise DocframeError(
            f"invalid table name {name!r}",
            help=f"use lower-case letters, digits and _, e.g. {table_name(name)!r}",
        )
    table = to_arrow(data)
    with WriterLock(store.root):
        con = store.connect()
        try:
            catalog.upgrade(con)  # a catalog made before checksums: add them
            integrity.refuse_if_damaged(store.root, con)  # never commit on top of damage
            row = con.execute(
                "SELECT content_hash, status FROM sources WHERE source_uri = ?", (source,)
            ).fetchone()
            if row is not None and row["status"] == "ok" and row["content_hash"] == content_hash:
                return catalog.latest_snapshot(con)
            owners = {t.name: t.source_uri for t in store.snapshot().tables.values()}
            batches = iter(table.to_batches())  # the segment writer sizes the row groups
            written = write_table_segments(
                store.root, source, [TableData(name, table.schema, batches, origin=source)], owners
            )
            (version_id,) = commits.next_version_ids(con, 1)
            version = commits.SourceVersion(
                uri=source,
                size=sum(t.size for t in written),
                mtime=time.time(),
                content_hash=content_hash,
                connector=source.partition(":")[0] or "python",
                tables=[t.record() for t in written],
            )
            commits.failpoint("segments-written")
            return commits.commit(
                con,
                store.root,
                job="ingest",
                versions={version_id: version},
                segments=[t.segment([version_id]) for t in written],
            )
        finally:
            con.close()
