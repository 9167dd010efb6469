"""Writing a DataFrame produced in Python (a job's output) into the lake as a table.

Whatever engine made the frame — pandas, cuDF, or Arrow directly — it enters the
lake as Arrow record batches through the same commit path as ingested files, so
versioning, snapshots and crash safety are identical.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from docframe.backend import frame_kind
from docframe.connectors.tables import TableData, table_name
from docframe.errors import DocframeError

if TYPE_CHECKING:
    from docframe.lake.lake import Lake


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


def write_table(lake: Lake, name: str, data: Any, *, source: str, content_hash: str) -> int:
    from docframe.pipelines.ingest import IngestJob

    if table_name(name) != name:
        raise DocframeError(
            f"invalid table name {name!r}",
            help=f"use lower-case letters, digits and _, e.g. {table_name(name)!r}",
        )
    table = to_arrow(data)
    job = IngestJob(lake, [], prune=False, progress=False)
    batches = iter(table.to_batches())  # the segment writer sizes the row groups
    return job.commit_tables(
        source, content_hash, [TableData(name, table.schema, batches, origin=source)]
    )
