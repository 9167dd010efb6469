"""Query and search results: Arrow inside, materialised explicitly by the caller."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class Result:
    """Rows from ``Lake.search`` or ``Lake.sql``.

    Arrow is the exchange format; ``to_pandas()``, ``to_arrow()`` and
    ``to_list()`` make the copy the caller wants, when it wants it.
    """

    def __init__(self, table: pa.Table, *, info: dict[str, Any] | None = None) -> None:
        self._table = table
        # how the rows came about: for a search, mode, k, candidates, exhausted (and why)
        self.info: dict[str, Any] = info or {}

    def to_arrow(self) -> pa.Table:
        return self._table

    def to_pandas(self) -> Any:
        return self._table.to_pandas()

    def to_cudf(self) -> Any:
        """A cuDF DataFrame on the GPU; without RAPIDS, an error naming the GPU extra."""
        from docframe.backend import gpu_module

        return gpu_module("cudf", "Result.to_cudf()").DataFrame.from_arrow(self._table)

    def to_list(self) -> list[dict[str, Any]]:
        return self._table.to_pylist()

    @property
    def columns(self) -> list[str]:
        return self._table.column_names

    def __len__(self) -> int:
        return self._table.num_rows

    def __repr__(self) -> str:
        return f"Result({self._table.num_rows} rows: {', '.join(self.columns)})"

    def _repr_html_(self) -> str:  # Jupyter
        return self.to_pandas()._repr_html_()
