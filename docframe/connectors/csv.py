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
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.connectors import schema as sch
from docframe.connectors.tables import TableData, TableOptions, default_name
from docframe.errors import ConnectorError

SAMPLE_BYTES = 1 << 20  # read for sniffing the dialect and header
SNIFF_LINES = 50
DELIMITERS = ",\t;|"
INFER_BYTES = 4 << 20  # types are inferred from a first block at least this big
MIN_BLOCK = 1 << 16
MAX_BLOCK = 256 << 20
SCAN_CHUNK = 1 << 20
MAX_LISTED = 20  # skipped lines listed in a note

_CONVERSION = re.compile(
    r"In CSV column #(\d+): Row #(\d+): CSV conversion error to (.+?): invalid value '(.*)'$",
    re.DOTALL,
)
_COLUMN_ROW = re.compile(r"In CSV column #(\d+): Row #(\d+): (.*)$", re.DOTALL)
_ROW = re.compile(r"Row #(\d+)")


class CsvConnector:
    """CSV and TSV (see the module docstring for detection, types and repairs)."""

    name = "csv"
    kind = "table"
    suffixes = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz")

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        yield _CsvReader(path, options).table()


@dataclass
class _BadRow:
    number: int  # pyarrow's row number: records from the file start, header included
    expected: int
    actual: int
    text: str


@dataclass
class _CsvReader:
    path: Path
    options: TableOptions
    notes: list[str] = field(default_factory=list)
    encoding: str = "utf-8"  # a Python codec name
    delimiter: str = ","
    quotechar: str = '"'
    header: bool = True
    skip_rows: int = 0
    names: list[str] = field(default_factory=list)
    types: dict[str, pa.DataType] = field(default_factory=dict)  # the final schema
    declared: dict[str, pa.DataType] = field(default_factory=dict)
    inferred_rows: int = 0
    bad_rows: list[_BadRow] = field(default_factory=list)
    block_size: int = MIN_BLOCK

    # -- detection ------------------------------------------------------------------

    def table(self) -> TableData:
        head = sch.read_head(self.path, SAMPLE_BYTES)
        if not head.strip(b" \t\r\n\x00") or sch.bom_encoding(head) and len(head) <= 4:
            raise ConnectorError(
                f"{self.path}: empty file", help="add a header and rows, or remove the file"
            )
        self._check_text(head)
        self.encoding = self._encoding(head)
        text = head.decode(self.encoding, errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        if not text.strip():
            raise ConnectorError(
                f"{self.path}: empty file", help="add a header and rows, or remove the file"
            )
        lines = text.splitlines(keepends=True)
        if len(head) == SAMPLE_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut
        self._dialect(lines)
        self._estimate_block(head, lines)
        self._infer()
        schema = pa.schema([(n, self.types[n]) for n in self.names])
        return TableData(
            name=default_name(self.path, self.options),
            schema=schema,
            batches=self._batches(schema),
            origin="",
            notes=self.notes,
        )

    def _check_text(self, head: bytes) -> None:
        if sch.bom_encoding(head) in ("utf-16", "utf-32"):
            return  # UTF-16/32 text is full of NUL bytes
        found = sch.sniff_format(head)
        if b"\x00" in head[:8192] or found is None or found[1] not in (".csv", ".json"):
            raise sch.mislabeled(self.path, head, "a CSV/TSV text file")

    def _encoding(self, head: bytes) -> str:
        if self.options.encoding:
            try:
                name = codecs.lookup(self.options.encoding).name
            except LookupError:
                raise ConnectorError(
                    f"{self.path}: unknown encoding {self.options.encoding!r}",
                    help="use a Python codec name such as utf-8, cp1252, latin-1, utf-16",
                ) from None
            return "utf-8-sig" if name == "utf-8" else name
        enc = sch.bom_encoding(head)
        if enc:
            if enc != "utf-8-sig":
                self.notes.append(f"encoding: {enc.upper()} (from its byte-order mark)")
            return enc
        bad = self._first_non_utf8()
        if bad is None:
            return "utf-8"
        offset, byte, region = bad
        enc, how = guess_encoding(head[:65536] + b"\n" + region)
        if enc is None:
            raise ConnectorError(
                f"{self.path}: not UTF-8 (byte 0x{byte:02x} at offset {offset}) "
                f"and its encoding could not be determined",
                help="pass the file's encoding, e.g. --encoding cp1251, or re-encode it as UTF-8",
            )
        self.notes.append(
            f"encoding: not UTF-8 (first non-UTF-8 byte at offset {offset}); "
            f"read as {enc} ({how}); pass --encoding to override"
        )
        return enc

    def _first_non_utf8(self) -> tuple[int, int, bytes] | None:
        """(offset, byte, surrounding bytes) of the first non-UTF-8 byte; None for UTF-8."""
        offset = 0  # where ``data`` starts in the file
        carry = b""  # a character cut at the end of the previous chunk
        with sch.open_source(self.path) as fh:
            while chunk := fh.read(SCAN_CHUNK):
                data = carry + chunk
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    at = exc.start
                    if exc.reason == "unexpected end of data":
                        carry, offset = data[at:], offset + at
                        continue
                    return offset + at, data[at], data[max(at - 32768, 0) : at + 32768]
                carry, offset = b"", offset + len(data)
        if carry:
            return offset, carry[0], carry
        return None

    def _dialect(self, lines: list[str]) -> None:
        sample = lines[: SNIFF_LINES * 4]
        first = next((ln for ln in sample if ln.strip()), "")
        suffix_tab = self.path.name.lower().split(".")[-1] in ("tsv", "tab") or (
            self.path.name.lower().endswith((".tsv.gz", ".tab.gz"))
        )
        if self.options.delimiter:
            self.delimiter = _delimiter_option(self.options.delimiter)
        elif suffix_tab and "\t" in first:
            self.delimiter = "\t"
        else:
            self.delimiter = _sniff_delimiter(sample, first, "\t" if suffix_tab else ",")
        self.quotechar = _sniff_quote(sample, self.delimiter)
        reader = csv.reader(
            io.StringIO("".join(sample)), delimiter=self.delimiter, quotechar=self.quotechar
        )
        rows: list[list[str]] = []
        leading_blank = 0
        try:
            for row in itertools.islice(reader, SNIFF_LINES * 4):
                if not row:
                    leading_blank += not rows
                    continue
                rows.append(row)
                if len(rows) >= SNIFF_LINES:
                    break
        except csv.Error:
            pass
        if not rows:
            raise ConnectorError(f"{self.path}: empty file", help="add rows, or remove the file")
        self.header = self.options.header if self.options.header is not None else _has_header(rows)
        width = len(rows[0])
        if self.header:
            raw = rows[0]
            self.skip_rows = leading_blank + 1
        else:
            raw = [f"column_{i}" for i in range(1, width + 1)]
            self.skip_rows = leading_blank
        self.names, renamed = sch.unique_names(raw)
        self.notes.extend(renamed)

    def _estimate_block(self, head: bytes, lines: list[str]) -> None:
        per_row = max(len(head) / max(len(lines), 1), 1.0)
        want = int(per_row * self.options.batch_rows)
        self.block_size = min(max(want, MIN_BLOCK), MAX_BLOCK)

    # -- the pyarrow readers --------------------------------------------------------

    @contextmanager
    def _reading(
        self, block_size: int, column_types: dict[str, pa.DataType], handler: Any
    ) -> Iterator[Any]:
        """A streaming pyarrow CSV reader over the file; parse and decode errors come out
        as one-line ConnectorErrors, and the file is closed however the reading ends."""
        import pyarrow.csv as pacsv

        with sch.open_source(self.path) as fh:
            try:
                yield pacsv.open_csv(
                    fh,
                    read_options=pacsv.ReadOptions(
                        use_threads=False,  # serial: row numbers in errors and bad-row callbacks
                        block_size=block_size,
                        skip_rows=self.skip_rows,
                        column_names=self.names,
                        encoding=_arrow_encoding(self.encoding),
                    ),
                    parse_options=pacsv.ParseOptions(
                        delimiter=self.delimiter,
                        quote_char=self.quotechar,
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
                raise self._explain(exc) from None
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from None

    def _infer(self) -> None:
        self.declared = sch.resolve_schema(self.path, self.options.schema, self.names)
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
        undecodable = [n for n in self.names if pa.types.is_binary(inferred.field(n).type)]
        if undecodable:  # pyarrow keeps bytes that are not valid UTF-8 as binary
            line = self._first_bad_utf8_line() if self.encoding.startswith("utf-8") else None
            raise self._encoding_error(f"line {line}" if line else "a row", undecodable[0])
        for name in self.names:
            self.types[name] = self.declared.get(name) or sch.normalize(inferred.field(name).type)

    def _bad_row_handler(self, probe: bool = False):
        skip = self.options.on_bad_rows == "skip"

        def handle(row) -> str:
            if not probe or not skip:
                number = row.number if row.number is not None else -1
                self.bad_rows.append(
                    _BadRow(number, row.expected_columns, row.actual_columns, row.text)
                )
            return "skip" if skip else "error"

        return handle

    def _batches(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        import pyarrow.compute as pc

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
                    arrays = [columns.get(n, batch.column(n)) for n in self.names]
                    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
                rows_read += batch.num_rows
                yield from _slices(batch, self.options.batch_rows)
            if rows_read == 0:
                yield _empty_batch(schema)
        if self.bad_rows:
            lines = self._lines_of([b.number for b in self.bad_rows])
            shown = [str(lines.get(b.number) or f"row {b.number}") for b in self.bad_rows]
            more = len(shown) - MAX_LISTED
            listed = ", ".join(shown[:MAX_LISTED]) + (f", ... ({more} more)" if more > 0 else "")
            lines_word = "lines" if len(shown) > 1 else "line"
            self.notes.append(
                f"skipped {len(self.bad_rows)} malformed row(s) "
                f"(expected {len(self.names)} columns): {lines_word} {listed}"
            )

    def _convert_late(self, batch: pa.RecordBatch, name: str, target, rows_before: int):
        """A declared timestamp[tz=...] column: offsets kept, local times in the zone."""
        col = batch.column(name)
        try:
            return sch.cast_strings(col, target)
        except sch.CONVERT_ERRORS:
            index = sch.first_bad(col, lambda a: sch.cast_strings(a, target))
            value = col[index].as_py()
            line = self._line_of_value(self.names.index(name), value)
            where = f"line {line}" if line else f"data row {rows_before + index + 1}"
            raise sch.value_error(self.path, where, name, value, target, declared=True) from None

    # -- errors ---------------------------------------------------------------------

    def _explain(self, exc: pa.ArrowInvalid) -> ConnectorError:
        msg = str(exc)
        if self.bad_rows and "Expected" in msg and "columns" in msg:
            bad = self.bad_rows[-1]
            line = self._lines_of([bad.number]).get(bad.number)
            where = f"line {line}" if line else f"row {bad.number}"
            return ConnectorError(
                f"{self.path}: {where}: expected {bad.expected} columns, found {bad.actual}: "
                f"{sch.show(bad.text)}",
                help="fix the row, or pass --on-bad-rows skip to skip malformed rows "
                "(they are listed in the table's notes)",
            )
        conv = _CONVERSION.match(msg)
        if conv:
            col, row = int(conv.group(1)), int(conv.group(2))
            value = conv.group(4)
            name = self.names[col] if col < len(self.names) else f"#{col + 1}"
            target = self.types.get(name, pa.string())
            line = self._line_of_value(col, value)
            if line is None:
                line = self._lines_of([row]).get(row)
            where = f"line {line}" if line else f"row {row}"
            if "\ufffd" in value:
                return self._encoding_error(where, name)
            return sch.value_error(
                self.path,
                where,
                name,
                value,
                target,
                declared=name in self.declared,
                inferred_from=f"the first {self.inferred_rows:,} rows",
            )
        other = _COLUMN_ROW.match(msg)
        if other:
            col, row, reason = int(other.group(1)), int(other.group(2)), other.group(3)
            name = self.names[col] if col < len(self.names) else f"#{col + 1}"
            if "invalid UTF8" in reason:
                line = self._first_bad_utf8_line()
                return self._encoding_error(f"line {line}" if line else f"row {row}", name)
            found = self._record(row)
            where = f"line {found[0]}" if found else f"row {row}"
            target = self.types.get(name, pa.string())
            if found and col < len(found[1]):
                return sch.value_error(
                    self.path,
                    where,
                    name,
                    found[1][col],
                    target,
                    declared=name in self.declared,
                    inferred_from=f"the first {self.inferred_rows:,} rows",
                )
            return ConnectorError(
                f"{self.path}: {where}, column {name!r}: {reason}",
                help=f"declare the column's type: {sch.schema_flag(name, 'string')}",
            )
        row = _ROW.search(msg)
        where = f" near row {row.group(1)}" if row else ""
        return ConnectorError(
            f"{self.path}: cannot parse as CSV{where}: {msg.splitlines()[0]}",
            help="check the quoting (an unclosed quote swallows the lines after it) "
            "and the delimiter (--delimiter)",
        )

    def _encoding_error(self, where: str, column: str) -> ConnectorError:
        return ConnectorError(
            f"{self.path}: {where}, column {column!r}: bytes that are not valid "
            f"{self.encoding.removesuffix('-sig')}",
            help="pass the file's real encoding, e.g. --encoding cp1252, or re-encode it as UTF-8",
        )

    def _decode_error(self, exc: UnicodeDecodeError) -> ConnectorError:
        return ConnectorError(
            f"{self.path}: not valid {self.encoding} ({exc.reason})",
            help="pass the file's real encoding with --encoding, or re-encode it as UTF-8",
        )

    def _first_bad_utf8_line(self) -> int | None:
        with sch.open_source(self.path) as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
        return None

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """(first physical line, fields) of every non-blank record, as pyarrow counts them."""
        python_enc = "utf-8-sig" if self.encoding == "utf-8" else self.encoding
        with sch.open_source(self.path) as raw:
            text = io.TextIOWrapper(raw, encoding=python_enc, errors="replace", newline="")
            reader = csv.reader(text, delimiter=self.delimiter, quotechar=self.quotechar)
            before = 0
            try:
                for row in reader:
                    if row:
                        yield before + 1, row
                    before = reader.line_num
            except csv.Error:
                return

    def _record(self, number: int) -> tuple[int, list[str]] | None:
        """Line and fields of pyarrow's row ``number`` (1-based, header included)."""
        return next(itertools.islice(self._records(), number - 1, None), None)

    def _lines_of(self, numbers: list[int]) -> dict[int, int]:
        wanted = {n for n in numbers if n > 0}
        out: dict[int, int] = {}
        if not wanted:
            return out
        top = max(wanted)
        for count, (line, _row) in enumerate(self._records(), start=1):
            if count in wanted:
                out[count] = line
            if count >= top:
                break
        return out

    def _line_of_value(self, col: int, value: Any) -> int | None:
        """First data line whose field ``col`` is ``value`` (the value pyarrow rejected)."""
        records = self._records()
        if self.header:
            next(records, None)
        for line, row in records:
            if len(row) == len(self.names) and row[col] == value:
                return line
        return None


# -- helpers ---------------------------------------------------------------------------


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


def _delimiter_option(value: str) -> str:
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    delim = named.get(value.lower(), value)
    if len(delim) != 1 or delim in "\r\n\"'":
        raise ConnectorError(
            f"--delimiter {value!r}: a delimiter is one character (not a quote or newline)",
            help="e.g. --delimiter ';' or --delimiter tab",
        )
    return delim


def _sniff_delimiter(lines: list[str], first: str, default: str) -> str:
    try:
        found = csv.Sniffer().sniff("".join(lines[:SNIFF_LINES]), delimiters=DELIMITERS)
        if found.delimiter in first:
            return found.delimiter
    except csv.Error:
        pass
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else default


def _sniff_quote(lines: list[str], delimiter: str) -> str:
    """``'`` only when single-quoted fields clearly appear; otherwise ``"``."""
    text = "".join(lines[:SNIFF_LINES])
    d = re.escape(delimiter)
    single = len(re.findall(rf"(?:^|{d})'[^'\n]*'(?={d}|$)", text, re.MULTILINE))
    double = len(re.findall(rf'(?:^|{d})"', text, re.MULTILINE))
    return "'" if single > 0 and double == 0 else '"'


def _kind(cell: str) -> str:
    value = cell.strip()
    if not value or value in sch.NULL_TOKENS:
        return "empty"
    if re.fullmatch(r"[+-]?\d+", value):
        return "int"
    if sch._NUMBER.fullmatch(value):
        return "float"
    if sch.ISO_DATE.match(value):
        return "date"
    if value in sch.TRUE_TOKENS or value in sch.FALSE_TOKENS:
        return "bool"
    return "text"


def _has_header(rows: list[list[str]]) -> bool:
    """The first row is a header unless it fits the rows below it as data.

    A first row without numbers or dates is a header (column names are words).
    Otherwise it is data when every cell fits the kind of its column below
    (an integer fits a column of decimals; anything fits a text column), as
    DuckDB decides. So ``country,2019,2020`` over ``France,1.5,2.5`` reads as
    data: pass ``header=True`` for year-like column names.
    """
    first = rows[0]
    kinds = [_kind(c) for c in first]
    if not any(k in ("int", "float", "date") for k in kinds):
        return True
    body = [r for r in rows[1:] if len(r) == len(first)]
    if not body:
        return False
    for i, kind in enumerate(kinds):
        below = {_kind(r[i]) for r in body} - {"empty"}
        if kind == "empty" or not below or "text" in below:
            continue
        if below <= {"int"}:
            fits = kind == "int"
        elif below <= {"int", "float"}:
            fits = kind in ("int", "float")
        else:
            fits = len(below) == 1 and kind in below
        if not fits:
            return True
    return False


_WESTERN_MAX_SHARE = 0.5


def guess_encoding(sample: bytes) -> tuple[str | None, str]:
    """The encoding of non-UTF-8 bytes: cp1252 when they read as Western European words.

    In Western text the accented letters are a minority inside their words
    ("Orléans", "Müller"); Cyrillic or Greek bytes read as cp1252 give words
    made entirely of accented letters ("Ìîñêâà"). Those, and bytes cp1252
    cannot decode, go to charset-normalizer. Returns (encoding or None, how).
    """
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        letters = accented = 0
        for word in re.findall(r"[^\W\d_]+", text):
            extra = sum(ord(c) > 127 for c in word)
            if extra:
                letters += len(word)
                accented += extra
        if letters and accented / letters <= _WESTERN_MAX_SHARE:
            return "cp1252", "its non-ASCII text reads as Western European"
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: without it only cp1252 is recognised
        return None, ""
    best = from_bytes(sample).best()
    if best is None:
        return None, ""
    return codecs.lookup(best.encoding).name, "guessed by charset-normalizer"
