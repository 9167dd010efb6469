"""Excel workbooks (``.xlsx``, ``.xlsm``): one lake table per worksheet.

Read with python-calamine (Rust): about ten times faster than openpyxl's
read-only mode, and it reports each cell's real type, dates included (a
date-formatted cell is a ``date``, a date-time one a ``datetime``). The cost:
calamine loads one worksheet's cells at a time (never the whole workbook), so
peak memory is one sheet -- bounded by Excel's own limit of 1,048,576 rows --
while rows still leave as record batches of about ``options.batch_rows``.

* **Names**: a workbook with one worksheet is one table named like the file
  (``default_name(path, options)``); with several, each is
  ``default_name(path, options, inner=sheet)`` (``sales_q1``). Names that
  collide get ``_2``. Chart sheets are not tables; a worksheet without cells is
  skipped.
* **Header**: the first non-empty row. Empty or duplicate names are repaired
  like CSV's (``column_N``, ``name_2``); a column with neither a name nor values
  is dropped. Blank rows are skipped.
* **Types** from cell types: numbers are int64 when every one is whole (Excel
  stores only floats) and float64 otherwise; booleans bool; dates date32;
  date-times timestamp[us] (Excel has no time zones); times time64[us];
  durations duration[us]; text string. A column mixing kinds (numbers and text)
  is read as string, with a note. Empty cells and Excel error cells (``#N/A``,
  ``#DIV/0!``..., which calamine reports as empty) are null; in a non-text
  column the text tokens of :data:`~docframe.connectors.schema.NULL_TOKENS`
  are null too.
* **Declared types** (``--schema col=TYPE`` or ``--schema Sheet.col=TYPE``)
  convert each cell's text; a cell that does not fit is an error naming the
  sheet, the Excel row number and the column.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.connectors import schema as sch
from docframe.connectors.sources import mislabeled, read_head
from docframe.connectors.tables import TableData, TableOptions, default_name
from docframe.errors import ConnectorError

_NULL_TEXT = frozenset(sch.NULL_TOKENS)
_ARROW = {
    "null": pa.string(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "time": pa.time64("us"),
    "duration": pa.duration("us"),
    "string": pa.string(),
}
_KIND_WORDS = {
    "bool": "booleans",
    "int": "numbers",
    "float": "numbers",
    "date": "dates",
    "timestamp": "date-times",
    "time": "times",
    "duration": "durations",
    "string": "text",
}


class ExcelConnector:
    """``.xlsx``/``.xlsm`` workbooks through python-calamine (see the module docstring)."""

    name = "excel"
    kind = "table"
    suffixes = (".xlsx", ".xlsm")

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        wb = _open_workbook(path)
        try:
            sheets = _worksheets(wb)
            if not sheets:
                raise ConnectorError(
                    f"{path}: the workbook has no worksheets", help="add a worksheet with data"
                )
            if len(sheets) == 1:
                names = [default_name(path, options)]
            else:
                names = sch.unique_table_names(
                    [default_name(path, options, inner=s) for s in sheets]
                )
            declared = {s: {} for s in sheets}
            if options.schema:
                headers = {s: _Sheet(path, wb, s, options).header_names() for s in sheets}
                declared = sch.resolve_schema_multi(path, options.schema, headers)
            produced = 0
            for sheet_name, table in zip(sheets, names, strict=True):
                sheet = _Sheet(path, wb, sheet_name, options, declared[sheet_name])
                if not sheet.scan():
                    continue  # no cells: not a table
                produced += 1
                yield TableData(
                    name=table,
                    schema=sheet.schema,
                    batches=sheet.batches(),
                    origin=f"sheet {sheet_name}",
                    notes=sheet.notes,
                )
            if not produced:
                raise ConnectorError(
                    f"{path}: every worksheet is empty", help="add data, or remove the file"
                )
        finally:
            wb.close()


def _open_workbook(path: Path):
    head = read_head(path, 8)
    if not head:
        raise ConnectorError(f"{path}: empty file", help="save the workbook again, or remove it")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ConnectorError(
            f"{path}: not an .xlsx workbook: it is a legacy Excel 97-2003 (.xls) file or a "
            f"password-protected workbook",
            help="open it in Excel or LibreOffice and save it as .xlsx without a password",
        )
    if not head.startswith(b"PK\x03\x04"):
        raise mislabeled(path, read_head(path, 4096), "an Excel .xlsx workbook")
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path))
    except CalamineError as exc:
        raise ConnectorError(
            f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})",
            help="the file may be damaged or another ZIP-based format; re-save it from Excel",
        ) from None


def _worksheets(wb) -> list[str]:
    from python_calamine import SheetTypeEnum

    return [m.name for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]


def _cell_kind(value: Any) -> str:
    """``empty`` | ``nulltext`` | a key of ``_ARROW``."""
    if isinstance(value, str):
        if value == "":
            return "empty"
        return "nulltext" if value.strip() in _NULL_TEXT else "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if sch.INT64_MIN <= value <= sch.INT64_MAX else "float"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and sch.INT64_MIN <= value <= sch.INT64_MAX:
            return "int"
        return "float"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, timedelta):
        return "duration"
    return "string" if value is not None else "empty"


def _unify(a: str, b: str) -> str:
    """The shared widening rules; kinds with nothing in common make a text column."""
    return sch.widen(a, b) or "string"


def cell_text(value: Any) -> str | None:
    """A cell as text: whole numbers without ``.0``, dates in ISO 8601, booleans true/false."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


@dataclass
class _Sheet:
    path: Path
    wb: Any
    name: str
    options: TableOptions
    declared: dict[str, pa.DataType] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    header_row: int = 0  # 0-based index into iter_rows (Excel row = index + 1)
    columns: list[int] = field(default_factory=list)  # kept column positions
    names: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    schema: pa.Schema | None = None
    loaded: Any = None  # the calamine sheet, kept from the scan to the end of the batches

    def _rows(self) -> Iterator[list]:
        from python_calamine import CalamineError

        try:
            if self.loaded is None:
                self.loaded = self.wb.get_sheet_by_name(self.name)
            yield from self.loaded.iter_rows()
        except CalamineError as exc:
            raise ConnectorError(
                f"{self.path}: sheet {self.name!r}: cannot read ({type(exc).__name__}: {exc})",
                help="the workbook may be damaged; re-save it from Excel",
            ) from None

    def header_names(self) -> list[str]:
        """The repaired header of the sheet (for resolving ``--schema`` before reading)."""
        try:
            for row in self._rows():
                if any(cell_text(v) is not None for v in row):
                    return sch.unique_names(cell_text(v) for v in row)[0]
            return []
        finally:
            self.loaded = None

    def scan(self) -> bool:
        """Pass 1: header and the kind of each column. False for a sheet without cells."""
        header: list | None = None
        kinds: list[str] = []
        words: list[set[str]] = []  # kinds seen, in words, for the mixed-column note
        null_text: list[bool] = []  # saw "NA"-like text: null in a typed column, else text
        seen: list[bool] = []
        for index, row in enumerate(self._rows()):
            if header is None:
                if any(cell_text(v) is not None for v in row):
                    header, self.header_row = row, index
                    width = len(row)
                    kinds, words = ["null"] * width, [set() for _ in range(width)]
                    null_text, seen = [False] * width, [False] * width
                continue
            for i, value in enumerate(row[: len(kinds)]):
                kind = _cell_kind(value)
                if kind == "empty":
                    continue
                seen[i] = True
                if kind == "nulltext":
                    null_text[i] = True
                else:
                    words[i].add(_KIND_WORDS[kind])
                    if kinds[i] != kind:
                        kinds[i] = _unify(kinds[i], kind)
        if header is None:
            return False
        raw = [cell_text(v) for v in header]
        self.columns = [i for i, name in enumerate(raw) if name is not None or seen[i]]
        self.names, renamed = sch.unique_names(raw[i] for i in self.columns)
        self.notes.extend(renamed)
        for i, name in zip(self.columns, self.names, strict=True):
            kind = "string" if kinds[i] == "null" and null_text[i] else kinds[i]
            self.kinds[name] = kind
            if kind == "string" and len(words[i]) > 1:
                mixed = " and ".join(sorted(words[i]))
                self.notes.append(f"column {name!r}: mixed {mixed}; read as string")
        self.schema = pa.schema(
            [(n, self.declared.get(n) or _ARROW[self.kinds[n]]) for n in self.names]
        )
        return True

    def batches(self) -> Iterator[pa.RecordBatch]:
        size = self.options.batch_rows
        width = len(self.columns)
        buffer: list[list] = [[] for _ in range(width)]
        rows: list[int] = []
        emitted = False
        for index, row in enumerate(self._rows()):
            if index <= self.header_row:
                continue
            cells = [row[i] if i < len(row) else "" for i in self.columns]
            if all(cell_text(v) is None for v in cells):
                continue  # blank row
            for j, value in enumerate(cells):
                buffer[j].append(value)
            rows.append(index + 1)
            if len(rows) >= size:
                yield self._batch(buffer, rows)
                emitted = True
                buffer, rows = [[] for _ in range(width)], []
        self.loaded = None  # done: let the sheet's cells go
        if rows or not emitted:
            yield self._batch(buffer, rows)

    def _batch(self, buffer: list[list], rows: list[int]) -> pa.RecordBatch:
        arrays = [self._array(name, buffer[j], rows) for j, name in enumerate(self.names)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _array(self, name: str, values: list, rows: list[int]) -> pa.Array:
        target = self.schema.field(name).type
        if name in self.declared:
            texts = pa.array([cell_text(v) for v in values], pa.string())
            return sch.cast_texts(
                texts, target, path=self.path,
                where=lambda i: f"sheet {self.name!r}, row {rows[i]}",
                column=name, values=values, declared=True,
            )  # fmt: skip
        kind = self.kinds[name]
        return pa.array([_convert(v, kind) for v in values], type=target)


def _convert(value: Any, kind: str) -> Any:
    """A cell as a Python value of the column's kind (None for empty, error and null cells)."""
    if value is None or value == "":
        return None
    if kind == "string":
        return cell_text(value)
    if isinstance(value, str):  # "NA"-like text in a typed column
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "timestamp" and not isinstance(value, datetime):
        return datetime.combine(value, time())
    return value
