"""Lake tables as DataFrames of the job's engine: what a job's steps read.

Its own module because both the in-process runner (``run``) and the Dask runner
(``docframe.pipelines.dask_exec``) read tables this way, and the first hands work
to the second.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from docframe.backend import engine_for

if TYPE_CHECKING:
    from docframe.lake.snapshot import TableInfo


def read_table(module: ModuleType, info: TableInfo, columns: list[str] | None = None) -> Any:
    """A lake table as a pandas or cuDF DataFrame (``module.read_parquet`` over its files)."""
    if info.files:
        return module.read_parquet(list(info.files), columns=columns)
    import pyarrow as pa

    def arrow_type(name: str) -> pa.DataType:
        try:
            return pa.type_for_alias(name)
        except ValueError:
            return pa.string()

    empty = pa.schema([(c, arrow_type(t)) for c, t in info.columns]).empty_table()
    return engine_for(module.__name__).from_arrow(empty)
