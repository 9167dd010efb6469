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

Walking the records lives in :mod:`~docframe.connectors.json_scan`, kinds and
flattening in :mod:`~docframe.connectors.json_types`; this module builds the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.connectors import jsonread
from docframe.connectors import schema as sch
from docframe.connectors.encodings import bom_encoding, open_text
from docframe.connectors.json_scan import HEAD_BYTES, Records, json_lines_in_json
from docframe.connectors.json_types import (
    Conflict,
    arrow_type,
    as_text,
    describe,
    flatten,
    kind_name,
    unify,
    value_kind,
)
from docframe.connectors.sources import mislabeled, read_head, sniff_format
from docframe.connectors.tables import TableData, TableOptions, default_name
from docframe.errors import ConnectorError


class JsonTableConnector:
    """``.json``: an array of records, or an object holding one list of records."""

    name = "json"
    kind = "table"
    suffixes = (".json", ".json.gz", ".json.zst")

    def read_tables(self, path: Path, options: TableOptions) -> Iterator[TableData]:
        yield _JsonTable(path, options, lines=None).table()


class JsonlTableConnector:
    """JSON Lines used as a table: one record per line."""

    name = "jsonl-table"
    kind = "table"
    suffixes = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")

    @staticmethod
    def looks_like_documents(path: Path) -> bool:
        """True when the first non-blank record has both ``_id`` and ``text`` (BEIR corpus)."""
        try:
            head = read_head(path, HEAD_BYTES)
            if b"\x00" in head and bom_encoding(head) not in ("utf-16", "utf-32"):
                return False  # binary: the table connector says so
            with open_text(path, None) as fh:
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


# -- the table -------------------------------------------------------------------------


@dataclass
class _JsonTable:
    path: Path
    options: TableOptions
    lines: bool | None  # None: a .json file, maybe really JSON Lines
    notes: list[str] = field(default_factory=list)

    def table(self) -> TableData:
        head = read_head(self.path, HEAD_BYTES)
        enc = bom_encoding(head)
        if not head.strip(b" \t\r\n") or (enc and not head[len(enc) :].strip()):
            raise ConnectorError(f"{self.path}: empty file", help="add records, or remove it")
        found = sniff_format(head)
        utf16 = enc in ("utf-16", "utf-32")
        expected = "a JSON Lines file" if self.lines else "a JSON file"
        if not utf16 and (found is None or found[1] not in (".json", ".csv")):
            raise mislabeled(self.path, head, expected)
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
            self.lines = json_lines_in_json(self.path, self.options.encoding)
            if self.lines:
                self.notes.append("read as JSON Lines: the file holds one object per line")
        self.records = Records(self.path, self.options, self.lines)
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
        flatten(record, self.declared_text, out, "", objects, line)
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
                kind = value_kind(value, True)
                old = kinds.get(name)
                if old is None or old == "null":
                    kinds[name] = kind
                    since[name] = line
                    continue
                if old == kind or kind == "null":
                    continue
                try:
                    kinds[name] = unify(old, kind)
                except Conflict:
                    if isinstance(old, tuple) and isinstance(kind, tuple):
                        what = "holds values of other types inside it than earlier records"
                    else:
                        what = f"is {kind_name(value)}, but the field holds {describe(old)}"
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
                    f"{describe(kinds[name])} elsewhere",
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
        self.types = {n: self.declared.get(n) or arrow_type(self.kinds[n]) for n in self.names}

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
            texts = pa.array([as_text(v, target) for v in values], pa.string())
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
