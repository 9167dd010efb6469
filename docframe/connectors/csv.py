"""CSV and TSV files (``.csv``, ``.tsv``, ``.tab``, gzipped too) as lake tables.

Rows are parsed and typed by pyarrow's streaming CSV reader and come out as
record batches of about ``options.batch_rows`` rows; the file is read through a
plain file object, block by block, so memory does not grow with the file.

**Detection** (each overridable through :class:`TableOptions`):

* *encoding* (``options.encoding``): a byte-order mark decides (UTF-8, UTF-16,
  UTF-32). Otherwise the whole file is checked to be UTF-8, in a fast streaming
  pass. If it is not, it is read as cp1252 (Windows Western European, a superset
  of Latin-1's printable characters) when the non-UTF-8 text reads as Western
  European words; else as charset-normalizer guesses (Cyrillic, CJK...); else
  the read stops with an error asking for ``--encoding``. A non-UTF-8 encoding
  is recorded in the table's notes. With ``--encoding`` given, bytes that do
  not decode are an error naming the line.
* *delimiter* (``options.delimiter``; ``"\\t"`` and ``"tab"`` mean a tab):
  ``csv.Sniffer`` over the first lines, choosing among ``, TAB ; |``; a
  ``.tsv``/``.tab`` file whose first line has a tab uses tab. When nothing is
  found: the candidate most frequent in the first line, else the suffix default.
* *quoting*: ``"``, or ``'`` when the first lines have single-quoted fields and
  no double-quoted ones; a doubled quote is a literal quote; quoted fields may
  span lines.
* *header* (``options.header``): the first row is a header unless it holds a
  number or an ISO date and every one of its cells fits the kind of the column
  below it (so year-like names, ``country,2019``, need ``header=True``).
  Without a header the columns are ``column_1``, ``column_2``...

**Types**: inferred by pyarrow from the first block (at least 4 MiB, or the
whole file when smaller), then fixed for the rest of the file, with the rules of
:mod:`docframe.connectors.schema`. ``options.schema`` overrides any column.

**Bad input and repairs**:

* 0-byte or blank file: error ``empty file``.
* header only: a table with 0 rows whose columns are strings (or their declared
  types), streamed as one empty batch.
* empty or duplicate column names: renamed ``column_N`` / ``name_2`` (noted).
* ragged rows: with ``on_bad_rows="error"`` an error naming the line and the
  expected and found column counts; with ``"skip"`` they are skipped and noted
  (``skipped 3 malformed rows: lines 4, 9, 12``). The note is appended once the
  batches are exhausted.
* a value that does not fit its column's type (a later block disagreeing with
  the inferred type, a bad date, a value outside a declared type): error naming
  the line, column and value, with the ``--schema`` that would accept it.

Line numbers are physical lines (1-based), found by re-reading the file up to
the bad row when an error or skip happens, so they stay right when quoted
fields hold newlines.

The parts live beside this module: the encoding in
:mod:`~docframe.connectors.encodings`, the dialect and header in
:mod:`~docframe.connectors.csv_dialect`, locating and explaining bad rows in
:mod:`~docframe.connectors.csv_rows`; this module streams the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.connectors import schema as sch
from docframe.connectors.csv_dialect import CsvDialect, sniff_dialect
from docframe.connectors.csv_rows import BadRow, Explainer, line_of_value, skipped_note
from docframe.connectors.encodings import bom_encoding, detect_encoding, first_bad_utf8_line
from docframe.connectors.sources import mislabeled, open_source, read_head, sniff_format
from docframe.connectors.tables import TableData, TableOptions, default_name
from docframe.errors import ConnectorError

SAMPLE_BYTES = 1 << 20  # read for sniffing the dialect and header
INFER_BYTES = 4 << 20  # types are inferred from a first block at least this big
MIN_BLOCK = 1 << 16
MAX_BLOCK = 256 << 20


class CsvConnector:
    """CSV and TSV (see the module docstring for detection, types and repairs)."""

    name = "csv"
    kind = "table"
    suffixes = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz", ".tab.gz", ".csv.zst", ".tsv.zst",
                ".tab.zst")  # fmt: skip

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        yield _CsvReader(path, options).table()


@dataclass
class _CsvReader:
    path: Path
    options: TableOptions
    notes: list[str] = field(default_factory=list)
    dialect: CsvDialect | None = None
    types: dict[str, pa.DataType] = field(default_factory=dict)  # the final schema
    declared: dict[str, pa.DataType] = field(default_factory=dict)
    inferred_rows: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    block_size: int = MIN_BLOCK

    # -- detection ------------------------------------------------------------------

    def table(self) -> TableData:
        head = read_head(self.path, SAMPLE_BYTES)
        if not head.strip(b" \t\r\n\x00") or bom_encoding(head) and len(head) <= 4:
            raise ConnectorError(
                f"{self.path}: empty file", help="add a header and rows, or remove the file"
            )
        self._check_text(head)
        encoding, note = detect_encoding(self.path, head, self.options.encoding)
        if note:
            self.notes.append(note)
        text = head.decode(encoding, errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        if not text.strip():
            raise ConnectorError(
                f"{self.path}: empty file", help="add a header and rows, or remove the file"
            )
        lines = text.splitlines(keepends=True)
        if len(head) == SAMPLE_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut
        self.dialect = sniff_dialect(self.path, encoding, lines, self.options)
        self.notes.extend(self.dialect.notes)
        self._estimate_block(head, lines)
        self._infer()
        names = self.dialect.names
        schema = pa.schema([(n, self.types[n]) for n in names])
        return TableData(
            name=default_name(self.path, self.options),
            schema=schema,
            batches=self._batches(schema),
            origin="",
            notes=self.notes,
        )

    def _check_text(self, head: bytes) -> None:
        if bom_encoding(head) in ("utf-16", "utf-32"):
            return  # UTF-16/32 text is full of NUL bytes
        found = sniff_format(head)
        if b"\x00" in head[:8192] or found is None or found[1] not in (".csv", ".json"):
            raise mislabeled(self.path, head, "a CSV/TSV text file")

    def _estimate_block(self, head: bytes, lines: list[str]) -> None:
        per_row = max(len(head) / max(len(lines), 1), 1.0)
        want = int(per_row * self.options.batch_rows)
        self.block_size = min(max(want, MIN_BLOCK), MAX_BLOCK)

    # -- the pyarrow readers --------------------------------------------------------

    def _explainer(self) -> Explainer:
        return Explainer(self.dialect, self.types, self.declared, self.inferred_rows)

    @contextmanager
    def _reading(
        self, block_size: int, column_types: dict[str, pa.DataType], handler: Any
    ) -> Iterator[Any]:
        """A streaming pyarrow CSV reader over the file; parse and decode errors come out
        as one-line ConnectorErrors, and the file is closed however the reading ends."""
        import pyarrow.csv as pacsv

        d = self.dialect
        with open_source(self.path) as fh:
            try:
                yield pacsv.open_csv(
                    fh,
                    read_options=pacsv.ReadOptions(
                        use_threads=False,  # serial: row numbers in errors and bad-row callbacks
                        block_size=block_size,
                        skip_rows=d.skip_rows,
                        column_names=d.names,
                        encoding=_arrow_encoding(d.encoding),
                    ),
                    parse_options=pacsv.ParseOptions(
                        delimiter=d.delimiter,
                        quote_char=d.quotechar,
                        double_quote=True,
                        newlines_in_values=True,
                        ignore_empty_lines=True,
                        invalid_row_handler=handler,
                    ),
                    convert_options=pacsv.ConvertOptions(
                        column_types=column_types,
                        null_values=list(sch.NULL_TOKENS),
                        true_values=list(sch.TRUE_TOKENS),
                        false_values=list(sch.FALSE_TOKENS),
                        strings_can_be_null=False,  # text keeps "NA"; "" -> null afterwards
                        check_utf8=True,
                    ),
                )
            except pa.ArrowInvalid as exc:
                raise self._explainer().explain(exc, self.bad_rows) from None
            except UnicodeDecodeError as exc:
                raise self._explainer().decode_error(exc) from None

    def _infer(self) -> None:
        names = self.dialect.names
        self.declared = sch.resolve_schema(self.path, self.options.schema, names)
        as_text = {name: pa.string() for name in self.declared}
        probe = self._bad_row_handler(probe=True)
        with self._reading(max(self.block_size, INFER_BYTES), as_text, probe) as reader:
            inferred = reader.schema
            try:
                self.inferred_rows = reader.read_next_batch().num_rows
            except StopIteration:
                self.inferred_rows = 0
                self.notes.append("header only: 0 rows")
        self.bad_rows.clear()
        undecodable = [n for n in names if pa.types.is_binary(inferred.field(n).type)]
        if undecodable:  # pyarrow keeps bytes that are not valid UTF-8 as binary
            utf8 = self.dialect.encoding.startswith("utf-8")
            line = first_bad_utf8_line(self.path) if utf8 else None
            where = f"line {line}" if line else "a row"
            raise self._explainer().encoding_error(where, undecodable[0])
        for name in names:
            self.types[name] = self.declared.get(name) or sch.normalize(inferred.field(name).type)

    def _bad_row_handler(self, probe: bool = False):
        skip = self.options.on_bad_rows == "skip"

        def handle(row) -> str:
            if not probe or not skip:
                number = row.number if row.number is not None else -1
                self.bad_rows.append(
                    BadRow(number, row.expected_columns, row.actual_columns, row.text)
                )
            return "skip" if skip else "error"

        return handle

    def _batches(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        import pyarrow.compute as pc

        names = self.dialect.names
        late = {n: t for n, t in self.declared.items() if pa.types.is_timestamp(t) and t.tz}
        column_types = {n: pa.string() if n in late else t for n, t in self.types.items()}
        text_cols = [n for n, t in self.types.items() if pa.types.is_string(t)]
        rows_read = 0
        with self._reading(self.block_size, column_types, self._bad_row_handler()) as reader:
            for batch in reader:
                columns = {}
                for name in text_cols:
                    col = batch.column(name)
                    columns[name] = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
                for name, target in late.items():
                    columns[name] = self._convert_late(batch, name, target, rows_read)
                if columns:
                    arrays = [columns.get(n, batch.column(n)) for n in names]
                    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
                rows_read += batch.num_rows
                yield from _slices(batch, self.options.batch_rows)
            if rows_read == 0:
                yield _empty_batch(schema)
        if self.bad_rows:
            self.notes.append(skipped_note(self.dialect, self.bad_rows))

    def _convert_late(self, batch: pa.RecordBatch, name: str, target, rows_before: int):
        """A declared timestamp[tz=...] column: offsets kept, local times in the zone."""
        col = batch.column(name)
        try:
            return sch.cast_strings(col, target)
        except sch.CONVERT_ERRORS:
            index = sch.first_bad(col, lambda a: sch.cast_strings(a, target))
            value = col[index].as_py()
            line = line_of_value(self.dialect, self.dialect.names.index(name), value)
            where = f"line {line}" if line else f"data row {rows_before + index + 1}"
            raise sch.value_error(self.path, where, name, value, target, declared=True) from None


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


def _slices(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of about ``rows``: a block much larger than that is cut into equal parts."""
    n = batch.num_rows
    if n <= rows * 5 // 4:
        yield batch
        return
    parts = -(-n // rows)
    step = -(-n // parts)
    for start in range(0, n, step):
        yield batch.slice(start, step)


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
