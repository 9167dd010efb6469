"""Reading every table of a file through a table connector, for the connector tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError


def read_all(connector: Any, path: Path, options: TableOptions) -> dict[str, tuple]:
    """table name -> (TableData, its batches, the batches as one Arrow table)."""
    out = {}
    for table in connector.read_tables(path, options):
        batches = list(table.batches)
        out[table.name] = (table, batches, pa.Table.from_batches(batches, schema=table.schema))
    return out


def one_line_error(read: Any, *args: Any, **kwargs: Any) -> ConnectorError:
    """The ConnectorError ``read(...)`` raises; it must be one line with a help hint."""
    with pytest.raises(ConnectorError) as info:
        read(*args, **kwargs)
    assert "\n" not in str(info.value), "errors are one line"
    assert info.value.help
    return info.value
