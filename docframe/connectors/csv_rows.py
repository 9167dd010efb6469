"""Bad CSV rows: where they are in the file, and the one-line errors and notes about them.

pyarrow's streaming reader reports a problem by *record number* (header
included, blank lines not counted) and in its own words. A user needs the
*physical line* of the file -- which differs as soon as a quoted field holds a
newline -- and a message naming the column, the value and the ``--schema`` or
``--on-bad-rows`` that would accept it. Finding the line means re-reading the
file with the ``csv`` module in the same dialect, so it happens only once
something has gone wrong, never on the fast path.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from docframe.connectors import schema as sch
from docframe.connectors.csv_dialect import CsvDialect
from docframe.connectors.encodings import first_bad_utf8_line
from docframe.connectors.sources import open_source
from docframe.connectors.tables import listed_lines
from docframe.errors import ConnectorError

_CONVERSION = re.compile(
    r"In CSV column #(\d+): Row #(\d+): CSV conversion error to (.+?): invalid value '(.*)'$",
    re.DOTALL,
)
_COLUMN_ROW = re.compile(r"In CSV column #(\d+): Row #(\d+): (.*)$", re.DOTALL)
_ROW = re.compile(r"Row #(\d+)")


@dataclass
class BadRow:
    """A row with the wrong number of fields, as pyarrow's invalid-row handler saw it."""

    number: int  # pyarrow's row number: records from the file start, header included
    expected: int
    actual: int
    text: str


def records(d: CsvDialect) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of every non-blank record, as pyarrow counts them."""
    python_enc = "utf-8-sig" if d.encoding == "utf-8" else d.encoding
    with open_source(d.path) as raw:
        text = io.TextIOWrapper(raw, encoding=python_enc, errors="replace", newline="")
        reader = csv.reader(text, delimiter=d.delimiter, quotechar=d.quotechar)
        before = 0
        try:
            for row in reader:
                if row:
                    yield before + 1, row
                before = reader.line_num
        except csv.Error:
            return


def record(d: CsvDialect, number: int) -> tuple[int, list[str]] | None:
    """Line and fields of pyarrow's row ``number`` (1-based, header included)."""
    return next(itertools.islice(records(d), number - 1, None), None)


def lines_of(d: CsvDialect, numbers: list[int]) -> dict[int, int]:
    """pyarrow row number -> physical line, for the positive ``numbers``."""
    wanted = {n for n in numbers if n > 0}
    out: dict[int, int] = {}
    if not wanted:
        return out
    top = max(wanted)
    for count, (line, _row) in enumerate(records(d), start=1):
        if count in wanted:
            out[count] = line
        if count >= top:
            break
    return out


def line_of_value(d: CsvDialect, col: int, value: Any) -> int | None:
    """First data line whose field ``col`` is ``value`` (the value pyarrow rejected)."""
    rows = records(d)
    if d.header:
        next(rows, None)
    for line, row in rows:
        if len(row) == len(d.names) and row[col] == value:
            return line
    return None


def skipped_note(d: CsvDialect, bad_rows: list[BadRow]) -> str:
    """The table's note on the malformed rows ``--on-bad-rows skip`` skipped."""
    lines = lines_of(d, [b.number for b in bad_rows])
    shown = [str(lines.get(b.number) or f"row {b.number}") for b in bad_rows]
    return (
        f"skipped {len(bad_rows)} malformed row(s) "
        f"(expected {len(d.names)} columns): {listed_lines(shown)}"
    )


@dataclass
class Explainer:
    """Turns pyarrow's CSV errors into one-line ConnectorErrors naming line, column, value."""

    dialect: CsvDialect
    types: dict[str, pa.DataType]  # the columns' final types
    declared: dict[str, pa.DataType]  # those given with --schema
    inferred_rows: int  # how many rows the types were inferred from

    def explain(self, exc: pa.ArrowInvalid, bad_rows: list[BadRow]) -> ConnectorError:
        d = self.dialect
        msg = str(exc)
        if bad_rows and "Expected" in msg and "columns" in msg:
            bad = bad_rows[-1]
            line = lines_of(d, [bad.number]).get(bad.number)
            where = f"line {line}" if line else f"row {bad.number}"
            return ConnectorError(
                f"{d.path}: {where}: expected {bad.expected} columns, found {bad.actual}: "
                f"{sch.show(bad.text)}",
                help="fix the row, or pass --on-bad-rows skip to skip malformed rows "
                "(they are listed in the table's notes)",
            )
        conv = _CONVERSION.match(msg)
        if conv:
            col, row = int(conv.group(1)), int(conv.group(2))
            value = conv.group(4)
            name = self._name(col)
            line = line_of_value(d, col, value)
            if line is None:
                line = lines_of(d, [row]).get(row)
            where = f"line {line}" if line else f"row {row}"
            if "\ufffd" in value:
                return self.encoding_error(where, name)
            return self._value_error(where, name, value)
        other = _COLUMN_ROW.match(msg)
        if other:
            col, row, reason = int(other.group(1)), int(other.group(2)), other.group(3)
            name = self._name(col)
            if "invalid UTF8" in reason:
                line = first_bad_utf8_line(d.path)
                return self.encoding_error(f"line {line}" if line else f"row {row}", name)
            found = record(d, row)
            where = f"line {found[0]}" if found else f"row {row}"
            if found and col < len(found[1]):
                return self._value_error(where, name, found[1][col])
            return ConnectorError(
                f"{d.path}: {where}, column {name!r}: {reason}",
                help=f"declare the column's type: {sch.schema_flag(name, 'string')}",
            )
        row_match = _ROW.search(msg)
        where = f" near row {row_match.group(1)}" if row_match else ""
        return ConnectorError(
            f"{d.path}: cannot parse as CSV{where}: {msg.splitlines()[0]}",
            help="check the quoting (an unclosed quote swallows the lines after it) "
            "and the delimiter (--delimiter)",
        )

    def _name(self, col: int) -> str:
        names = self.dialect.names
        return names[col] if col < len(names) else f"#{col + 1}"

    def _value_error(self, where: str, name: str, value: Any) -> ConnectorError:
        return sch.value_error(
            self.dialect.path,
            where,
            name,
            value,
            self.types.get(name, pa.string()),
            declared=name in self.declared,
            inferred_from=f"the first {self.inferred_rows:,} rows",
        )

    def encoding_error(self, where: str, column: str) -> ConnectorError:
        d = self.dialect
        return ConnectorError(
            f"{d.path}: {where}, column {column!r}: bytes that are not valid "
            f"{d.encoding.removesuffix('-sig')}",
            help="pass the file's real encoding, e.g. --encoding cp1252, or re-encode it as UTF-8",
        )

    def decode_error(self, exc: UnicodeDecodeError) -> ConnectorError:
        return ConnectorError(
            f"{self.dialect.path}: not valid {self.dialect.encoding} ({exc.reason})",
            help="pass the file's real encoding with --encoding, or re-encode it as UTF-8",
        )
