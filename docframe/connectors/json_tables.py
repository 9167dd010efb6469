"""JSON and JSON Lines records as lake tables.

* ``.json`` (``.json.gz``): an array of records (``[{...}, {...}]``), or an object
  holding exactly one list of records (``{"meta": ..., "data": [{...}, ...]}``;
  the table comes from ``data``, the other keys are ignored). A ``.json`` file
  that is really JSON Lines (one object per line) is read as such, with a note.
* ``.jsonl``, ``.ndjson`` (``.jsonl.gz``): one record per line; blank lines are
  ignored. :meth:`JsonlTableConnector.looks_like_documents` tells a BEIR
  document collection (``_id`` and ``text``) from a table.

**Streaming, two passes.** Neither form is loaded whole: arrays are parsed
record by record with an incremental decoder. A first pass over the records
infers one schema for the whole file -- every field that appears anywhere,
types widened across all records (int and float -> float64; a field absent or
null in some records is null there) -- so the schema is stable before the
first batch goes out. The second pass builds record batches of about
``options.batch_rows`` rows. Memory holds one batch, never the file.

**Types** follow :mod:`docframe.connectors.schema`: JSON numbers are int64 or
float64 (integers beyond int64 are float64, as in CSV), booleans bool, and
top-level strings that are all ISO dates or date-times become date32 /
timestamp[us] / timestamp[us, tz=UTC] (strings inside lists and structs stay
strings). Values that cannot share a column (a number and a string, a bool and
a number, an object and a scalar) are an error naming the field and both lines;
``--schema field=string`` accepts them all (non-string values are kept as their
JSON text). A field with only nulls is a string column.

**Nested objects**: with ``nested="flatten"`` (the default, see
:data:`~docframe.connectors.schema.DEFAULT_NESTED`) objects become dotted
columns (``address.city``); with ``nested="struct"`` they stay one struct
column. Lists stay lists (``list<...>``; objects inside them are structs).
Declaring a type for an object field (``--schema address=string``) keeps it
whole, as JSON text.

**Bad records**: invalid JSON, or a record that is not an object, is an error
naming the line; with ``on_bad_rows="skip"`` such records are skipped and
listed in the notes (in a ``.json`` array only non-object records can be
skipped: after invalid JSON there is no safe place to resume).
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from docframe.connectors import jsonread
from docframe.connectors import schema as sch
from docframe.connectors.tables import TableData, TableOptions, default_name
from docframe.errors import ConnectorError

READ_CHUNK = 1 << 20
HEAD_BYTES = 1 << 16
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_WS = re.compile(r"[ \t\r\n]*")


class JsonTableConnector:
    """``.json``: an array of records, or an object holding one list of records."""

    name = "json"
    kind = "table"
    suffixes = (".json", ".json.gz")

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        yield _JsonTable(path, options, lines=None).table()


class JsonlTableConnector:
    """JSON Lines used as a table: one record per line."""

    name = "jsonl-table"
    kind = "table"
    suffixes = (".jsonl", ".ndjson", ".jsonl.gz")

    @staticmethod
    def looks_like_documents(path: Path) -> bool:
        """True when the first non-blank record has both ``_id`` and ``text`` (BEIR corpus)."""
        try:
            head = sch.read_head(path, HEAD_BYTES)
            if b"\x00" in head and sch.bom_encoding(head) not in ("utf-16", "utf-32"):
                return False  # binary: the table connector says so
            with _text(path, None) as fh:
                for _, line in jsonread.lines(fh):
                    if line is None:
                        return False
                    if line.strip():
                        record = jsonread.loads(line)
                        return isinstance(record, dict) and "_id" in record and "text" in record
        except (OSError, EOFError, UnicodeDecodeError, ValueError, ConnectorError):
            return False
        return False

    def accepts(self, path: Path) -> bool:
        """For the registry: this connector reads the file unless it is a BEIR collection."""
        return not self.looks_like_documents(path)

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        yield _JsonTable(path, options, lines=True).table()


# -- reading records -------------------------------------------------------------------


def _text(path: Path, encoding: str | None) -> TextIO:
    """The file as text: ``encoding``, else what its byte-order mark says, else UTF-8."""
    head = sch.read_head(path, 4)
    enc = encoding or sch.bom_encoding(head) or "utf-8"
    try:
        enc = codecs.lookup(enc).name
    except LookupError:
        raise ConnectorError(
            f"{path}: unknown encoding {enc!r}", help="use a Python codec name such as utf-8"
        ) from None
    if enc == "utf-8":
        enc = "utf-8-sig"
    raw = sch.open_source(path)
    return io.TextIOWrapper(raw, encoding=enc, errors="strict", newline="")


class _Bad(Exception):
    """A record that can be skipped (with ``on_bad_rows="skip"``)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Scanner:
    """An incremental reader of one large JSON document: values one at a time."""

    def __init__(self, fh: TextIO, path: Path) -> None:
        self.fh = fh
        self.path = path
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.counted = 0  # buf[:counted] has been counted into ``line``
        self.line = 1
        self.decoder = json.JSONDecoder()

    def line_at(self, pos: int) -> int:
        if pos > self.counted:
            self.line += self.buf.count("\n", self.counted, pos)
            self.counted = pos
        return self.line

    def _fill(self) -> None:
        self.line_at(self.pos)
        want = max(READ_CHUNK, len(self.buf) - self.pos)  # grow geometrically for big values
        chunk = self.fh.read(want)
        if not chunk:
            self.eof = True
            return
        self.buf = self.buf[self.pos :] + chunk
        self.counted -= self.pos
        self.pos = 0

    def peek(self) -> str:
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos] if self.pos < len(self.buf) else ""
            self._fill()

    def take(self, expected: str, context: str) -> str:
        char = self.peek()
        if char not in expected:
            found = repr(char) if char else "the end of the file"
            want = " or ".join(repr(c) for c in expected)
            raise ConnectorError(
                f"{self.path}: line {self.line_at(self.pos)}: expected {want} {context}, "
                f"found {found}",
                help="the file is not valid JSON; check it with `python -m json.tool`",
            )
        self.pos += 1
        return char

    def value(self) -> tuple[int, Any]:
        self.peek()
        line = self.line_at(self.pos)
        while True:
            try:
                obj, end = jsonread.decode(self.decoder, self.buf, self.pos)
            except jsonread.JsonTooDeep as exc:  # no safe place to resume: not skippable
                raise ConnectorError(
                    f"{self.path}: line {line}: {exc}", help=jsonread.DEPTH_HELP
                ) from None
            except json.JSONDecodeError as exc:
                # the value may simply go on past the buffer: read more and retry
                near_end = exc.pos >= len(self.buf) - 32 or exc.msg.startswith("Unterminated")
                if near_end and not self.eof:
                    self._fill()
                    continue
                raise ConnectorError(
                    f"{self.path}: line {self.line_at(exc.pos)}: invalid JSON ({exc.msg})",
                    help="fix the JSON; check it with `python -m json.tool`",
                ) from None
            if end == len(self.buf) and not self.eof:  # a number may go on in the next chunk
                self._fill()
                continue
            self.pos = end
            return line, obj

    def at_end(self) -> bool:
        return self.peek() == ""


def _kind_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else "an object"


@dataclass
class _Records:
    """Where the records are and how to walk them (both passes walk the same way)."""

    path: Path
    options: TableOptions
    lines: bool  # JSON Lines
    key: str | None = None  # the wrapping object's key holding the records
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        skip = self.options.on_bad_rows == "skip"
        self.skipped = []
        source = self._lines() if self.lines else self._document()
        for item in source:
            if isinstance(item, _Bad):
                if not skip:
                    raise ConnectorError(
                        f"{self.path}: line {item.line}: {item.message}",
                        help="fix the record, or pass --on-bad-rows skip to skip bad records "
                        "(they are listed in the table's notes)",
                    )
                self.skipped.append((item.line, item.message))
                continue
            yield item

    def _lines(self) -> Iterator[tuple[int, dict] | _Bad]:
        try:
            with _text(self.path, self.options.encoding) as fh:
                for number, line in jsonread.lines(fh):
                    if line is None:
                        yield _Bad(number, jsonread.too_long())
                        continue
                    if not line.strip():
                        continue
                    try:
                        record = jsonread.loads(line)
                    except json.JSONDecodeError as exc:
                        yield _Bad(number, jsonread.invalid(exc))
                        continue
                    except jsonread.JsonTooDeep as exc:
                        yield _Bad(number, str(exc))
                        continue
                    if not isinstance(record, dict):
                        yield _Bad(number, f"expected a JSON object, found {_kind_name(record)}")
                        continue
                    yield number, record
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, exc, self.options.encoding) from None
        except (OSError, EOFError) as exc:
            raise _read_error(self.path, exc) from None

    def _document(self) -> Iterator[tuple[int, dict] | _Bad]:
        try:
            with _text(self.path, self.options.encoding) as fh:
                scan = _Scanner(fh, self.path)
                first = scan.peek()
                if first == "[":
                    yield from self._array(scan, "in the top-level array")
                elif first == "{":
                    yield from self._wrapped(scan)
                else:
                    raise ConnectorError(
                        f"{self.path}: line {scan.line_at(scan.pos)}: expected an array of "
                        f"records or an object holding one, found "
                        f"{repr(first) if first else 'nothing'}",
                        help='write [{"col": 1}, ...] or {"data": [{"col": 1}, ...]}',
                    )
                if not scan.at_end():
                    raise ConnectorError(
                        f"{self.path}: line {scan.line_at(scan.pos)}: more JSON after the end "
                        f"of the top-level value",
                        help="a file holding one record per line should be named .jsonl",
                    )
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, exc, self.options.encoding) from None
        except (OSError, EOFError) as exc:
            raise _read_error(self.path, exc) from None

    def _array(self, scan: _Scanner, context: str) -> Iterator[tuple[int, dict] | _Bad]:
        scan.take("[", context)
        if scan.peek() == "]":
            scan.pos += 1
            return
        while True:
            line, record = scan.value()
            if isinstance(record, dict):
                yield line, record
            else:
                yield _Bad(line, f"expected a JSON object, found {_kind_name(record)}")
            if scan.take(",]", f"after the record at line {line}") == "]":
                return

    def _wrapped(self, scan: _Scanner) -> Iterator[tuple[int, dict] | _Bad]:
        scan.take("{", "")
        found: list[str] = []
        if scan.peek() == "}":
            scan.pos += 1
        else:
            while True:
                line, key = scan.value()
                if not isinstance(key, str):
                    raise ConnectorError(
                        f"{self.path}: line {line}: expected a key (a string), found {key!r}",
                        help="the file is not valid JSON; check it with `python -m json.tool`",
                    )
                scan.take(":", f"after the key {key!r}")
                if scan.peek() == "[" and self._list_of_objects(scan):
                    found.append(key)
                    if len(found) > 1:
                        raise ConnectorError(
                            f"{self.path}: the top-level object holds several lists of records "
                            f"({', '.join(map(repr, found))}); expected one",
                            help="split the file, one list of records per file",
                        )
                    self.key = key
                    yield from self._array(scan, f"in {key!r}")
                else:
                    scan.value()  # not records: skipped
                if scan.take(",}", "in the top-level object") == "}":
                    break
        if not found:
            raise ConnectorError(
                f"{self.path}: the top-level object holds no list of records",
                help='expected [{"col": 1}, ...] or {"data": [{"col": 1}, ...]}',
            )

    @staticmethod
    def _list_of_objects(scan: _Scanner) -> bool:
        """Whether the list at the scanner's position starts with an object (not consumed)."""
        start = scan.pos
        scan.pos += 1
        char = scan.peek()
        scan.pos = start
        return char == "{"


def _decode_error(path: Path, exc: UnicodeDecodeError, encoding: str | None) -> ConnectorError:
    return ConnectorError(
        f"{path}: not valid {encoding or 'UTF-8'} ({exc.reason})",
        help="JSON is UTF-8; re-encode the file, or pass its encoding with --encoding",
    )


def _read_error(path: Path, exc: BaseException) -> ConnectorError:
    return ConnectorError(
        f"{path}: cannot read: {exc}", help="check the file; a .gz file must be complete gzip"
    )


def _json_lines_in_json(path: Path, encoding: str | None) -> bool:
    """A ``.json`` file that is really JSON Lines: an object alone on its first line, more after."""
    found: list[str] = []
    try:
        with _text(path, encoding) as fh:
            while len(found) < 2:
                line = fh.readline(HEAD_BYTES)
                if not line:
                    break
                if line.strip():
                    found.append(line)
    except (OSError, EOFError, UnicodeDecodeError, LookupError):
        return False
    if len(found) < 2 or not found[0].endswith("\n"):  # one line, or a very long first line
        return False
    try:
        first = jsonread.loads(found[0])
    except ValueError:
        return False
    return isinstance(first, dict) and found[1].lstrip().startswith("{")


# -- inference -------------------------------------------------------------------------

# A type is a scalar kind name, ("list", item) or ("struct", {name: type}).
_SCALARS = ("null", "bool", "int", "float", "string", "date", "timestamp", "timestamptz")
_TEXTUAL = {"string", "date", "timestamp", "timestamptz"}


class _Conflict(Exception):
    pass


def _kind(value: Any, dates: bool) -> Any:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if INT64_MIN <= value <= INT64_MAX else "float"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return _text_kind(value) if dates else "string"
    if isinstance(value, list):
        item: Any = "null"
        for element in value:
            item = _unify(item, _kind(element, False))
        return ("list", item)
    if isinstance(value, dict):
        return ("struct", {k: _kind(v, False) for k, v in value.items()})
    return "string"


def _text_kind(value: str) -> str:
    if len(value) == 10 and sch.ISO_DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return "date"
        except ValueError:
            return "string"
    match = sch.ISO_DATETIME.fullmatch(value) if 13 <= len(value) <= 40 else None
    if match:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return "string"
        return "timestamptz" if match.group(1) else "timestamp"
    return "string"


def _unify(a: Any, b: Any) -> Any:
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if isinstance(a, str) and isinstance(b, str):
        pair = {a, b}
        if pair == {"int", "float"}:
            return "float"
        if pair == {"date", "timestamp"}:
            return "timestamp"
        if pair <= _TEXTUAL:
            return "string"
        raise _Conflict
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "list":
            return ("list", _unify(a[1], b[1]))
        merged = dict(a[1])
        for key, kind in b[1].items():
            merged[key] = _unify(merged[key], kind) if key in merged else kind
        return ("struct", merged)
    raise _Conflict


def _describe(kind: Any) -> str:
    if isinstance(kind, tuple):
        return "a list" if kind[0] == "list" else "an object"
    return {
        "bool": "a boolean",
        "int": "an integer",
        "float": "a number",
        "string": "a string",
        "date": "a date string",
        "timestamp": "a date-time string",
        "timestamptz": "a date-time string with a zone",
    }.get(kind, kind)


def _arrow(kind: Any) -> pa.DataType:
    if isinstance(kind, tuple):
        if kind[0] == "list":
            return pa.list_(_arrow(kind[1]))
        return pa.struct([(k, _arrow(v)) for k, v in kind[1].items()])
    return {
        "null": pa.string(),
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "string": pa.string(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }[kind]


def _flatten(record: dict, declared: dict, out: dict, prefix: str, objects: dict, line: int):
    for key, value in record.items():
        name = prefix + key
        if isinstance(value, dict) and name not in declared:
            objects.setdefault(name, line)
            _flatten(value, declared, out, name + ".", objects, line)
        else:
            out[name] = value


# -- the table -------------------------------------------------------------------------


@dataclass
class _JsonTable:
    path: Path
    options: TableOptions
    lines: bool | None  # None: a .json file, maybe really JSON Lines
    notes: list[str] = field(default_factory=list)

    def table(self) -> TableData:
        head = sch.read_head(self.path, HEAD_BYTES)
        enc = sch.bom_encoding(head)
        if not head.strip(b" \t\r\n") or (enc and not head[len(enc) :].strip()):
            raise ConnectorError(f"{self.path}: empty file", help="add records, or remove it")
        found = sch.sniff_format(head)
        utf16 = enc in ("utf-16", "utf-32")
        expected = "a JSON Lines file" if self.lines else "a JSON file"
        if not utf16 and (found is None or found[1] not in (".json", ".csv")):
            raise sch.mislabeled(self.path, head, expected)
        nul = -1 if utf16 else head.find(b"\x00")
        if nul >= 0:  # text, then NUL bytes: a damaged or sparse file
            raise ConnectorError(
                f"{self.path}: not {expected}: binary content (a NUL byte at offset {nul})",
                help="check the file; it may be damaged or of another type",
            )
        nested = getattr(self.options, "nested", None) or sch.DEFAULT_NESTED
        if nested not in sch.NESTED_CHOICES:
            raise ConnectorError(
                f"nested={nested!r} is not one of {', '.join(sch.NESTED_CHOICES)}",
                help="flatten: objects become dotted columns; struct: one struct column",
            )
        self.flat = nested == "flatten"
        if self.lines is None:
            self.lines = _json_lines_in_json(self.path, self.options.encoding)
            if self.lines:
                self.notes.append("read as JSON Lines: the file holds one object per line")
        self.records = _Records(self.path, self.options, self.lines)
        self.declared_text = dict(self.options.schema or {})
        self._infer()
        schema = pa.schema([(name, self.types[name]) for name in self.names])
        origin = f"records under key {self.records.key!r}" if self.records.key else ""
        return TableData(
            name=default_name(self.path, self.options),
            schema=schema,
            batches=self._batches(schema),
            origin=origin,
            notes=self.notes,
        )

    def _columns(self, record: dict, line: int, objects: dict) -> dict:
        if not self.flat:
            return record
        out: dict = {}
        _flatten(record, self.declared_text, out, "", objects, line)
        return out

    def _infer(self) -> None:
        kinds: dict[str, Any] = {}
        since: dict[str, int] = {}  # the line that set the column's current kind
        objects: dict[str, int] = {}  # flattened object fields -> first line
        count = 0
        for line, record in self.records:
            count += 1
            for name, value in self._columns(record, line, objects).items():
                if name in self.declared_text:
                    kinds.setdefault(name, "string")
                    continue
                kind = _kind(value, True)
                old = kinds.get(name)
                if old is None or old == "null":
                    kinds[name] = kind
                    since[name] = line
                    continue
                if old == kind or kind == "null":
                    continue
                try:
                    kinds[name] = _unify(old, kind)
                except _Conflict:
                    if isinstance(old, tuple) and isinstance(kind, tuple):
                        what = "holds values of other types inside it than earlier records"
                    else:
                        what = f"is {_kind_name(value)}, but the field holds {_describe(old)}"
                    raise ConnectorError(
                        f"{self.path}: line {line}, field {name!r}: {sch.show(value)} {what} "
                        f"(from line {since[name]})",
                        help=f"declare the field's type to accept both: "
                        f"{sch.schema_flag(name, 'string')}",
                    ) from None
        self._note_skipped()
        if count == 0:
            raise ConnectorError(
                f"{self.path}: no records", help="add records (JSON objects), or remove the file"
            )
        for name, line in objects.items():
            if kinds.get(name, "null") != "null":
                raise ConnectorError(
                    f"{self.path}: field {name!r} is an object at line {line} and "
                    f"{_describe(kinds[name])} elsewhere",
                    help=f"keep it whole as JSON text: {sch.schema_flag(name, 'string')}, "
                    "or fix the records",
                )
            kinds.pop(name, None)  # null where other records have an object: not a column
        names = list(kinds)
        declared = sch.resolve_schema(self.path, self.options.schema, names)
        self.names, renamed = sch.unique_names(names)
        self.notes.extend(renamed)
        self.source_names = dict(zip(self.names, names, strict=True))
        self.declared = {
            new: declared[old] for new, old in self.source_names.items() if old in declared
        }
        self.kinds = {new: kinds[old] for new, old in self.source_names.items()}
        self.types = {n: self.declared.get(n) or _arrow(self.kinds[n]) for n in self.names}

    def _note_skipped(self) -> None:
        if self.records.skipped:
            self.notes.append(jsonread.skipped_note(self.records.skipped))

    def _batches(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        size = self.options.batch_rows
        rows: list[dict] = []
        lines: list[int] = []
        objects: dict[str, int] = {}
        emitted = False
        for line, record in self.records:
            rows.append(self._columns(record, line, objects))
            lines.append(line)
            if len(rows) >= size:
                yield self._batch(rows, lines, schema)
                emitted = True
                rows, lines = [], []
        if rows or not emitted:
            yield self._batch(rows, lines, schema)

    def _batch(self, rows: list[dict], lines: list[int], schema: pa.Schema) -> pa.RecordBatch:
        arrays = []
        for name in self.names:
            key = self.source_names[name]
            values = [row.get(key) for row in rows]
            arrays.append(self._array(name, values, lines))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _array(self, name: str, values: list, lines: list[int]) -> pa.Array:
        target = self.types[name]
        declared = name in self.declared
        kind = self.kinds[name]
        if declared or kind in ("date", "timestamp", "timestamptz"):
            texts = pa.array([_as_text(v, target) for v in values], pa.string())
            return sch.cast_texts(
                texts, target, path=self.path, where=lambda i: f"line {lines[i]}",
                column=name, values=values, declared=declared,
            )  # fmt: skip
        if kind == "float":  # integers too big for int64 included
            values = [float(v) if type(v) is int else v for v in values]
        try:
            return pa.array(values, type=target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise ConnectorError(
                f"{self.path}: field {name!r}: cannot build a {sch.type_name(target)} column: "
                f"{str(exc).splitlines()[0]}",
                help=f"declare the field's type: {sch.schema_flag(name, 'string')}",
            ) from None


def _as_text(value: Any, target: pa.DataType) -> str | None:
    """A JSON value as the text a declared type converts from."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    whole = isinstance(value, float) and value.is_integer()
    if whole and (pa.types.is_integer(target) or pa.types.is_decimal(target)):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)
