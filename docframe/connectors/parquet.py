"""Parquet tables: one file, or a partitioned folder (Hive ``key=value`` directories).

Parquet already carries its schema, so rows are streamed batch by batch as
they are, partition keys become columns, and a schema override casts them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from docframe.connectors.tables import TableData, TableOptions, default_name
from docframe.errors import ConnectorError

_PARTITION_DIR = re.compile(r"^[^=/]+=[^/]*$")


def is_partitioned_dataset(path: Path) -> bool:
    """A folder written by Spark/pyarrow/Dask: ``key=value`` subfolders or ``*.parquet`` name."""
    if not path.is_dir():
        return False
    if path.suffix.lower() == ".parquet":
        return True
    return any(child.is_dir() and _PARTITION_DIR.match(child.name) for child in path.iterdir())


class ParquetConnector:
    name = "parquet"
    kind = "table"
    suffixes = (".parquet", ".pq")

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        import pyarrow as pa
        import pyarrow.dataset as ds

        try:
            if path.is_dir():
                dataset = ds.dataset(path, format="parquet", partitioning="hive")
            else:
                dataset = ds.dataset(path, format="parquet")
            schema = dataset.schema
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConnectorError(
                f"{path}: not a readable Parquet {'dataset' if path.is_dir() else 'file'}: {exc}",
                help="check the file is Parquet (not renamed CSV/JSON) and not truncated",
            ) from None
        from docframe.connectors.schema import apply_override, cast_batch

        target = apply_override(schema, options.schema, path) if options.schema else schema

        def batches() -> Iterator[pa.RecordBatch]:
            rows = 0
            try:
                for batch in dataset.to_batches(batch_size=options.batch_rows):
                    yield batch if target is schema else cast_batch(batch, target, path, rows)
                    rows += batch.num_rows
            except (pa.ArrowInvalid, OSError) as exc:  # a damaged page past the footer
                raise ConnectorError(
                    f"{path}: {exc}".splitlines()[0], help="the file is damaged; write it again"
                ) from None

        yield TableData(default_name(path, options), target, batches(), origin="")
