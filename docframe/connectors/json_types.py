"""JSON values as Arrow columns: kinds, widening across records, flattening, text.

Inference walks every record once (the first pass of
:mod:`docframe.connectors.json_tables`) and keeps one *kind* per field,
widened record by record. A kind is a scalar name (``null bool int float string
date timestamp timestamptz``), ``("list", item)`` or ``("struct", {name: kind})``.
Scalars widen by the shared rules of :func:`docframe.connectors.schema.widen`;
JSON adds that date-like strings and plain strings widen to string. Kinds that
cannot share a column raise :class:`Conflict`, which the caller words with the
field and both lines.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from docframe.connectors import schema as sch
from docframe.connectors.schema import INT64_MAX, INT64_MIN


def kind_name(value: Any) -> str:
    """What a JSON value is, for a message: ``a boolean``, ``a number``, ``an object``..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else "an object"


_TEXTUAL = {"string", "date", "timestamp", "timestamptz"}


class Conflict(Exception):
    """Two kinds that cannot share a column (a number and a string, a list and an object)."""


def value_kind(value: Any, dates: bool) -> Any:
    """The kind of a JSON value; strings are probed for dates only when ``dates``
    (top-level fields: strings inside lists and structs stay strings)."""
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
            item = unify(item, value_kind(element, False))
        return ("list", item)
    if isinstance(value, dict):
        return ("struct", {k: value_kind(v, False) for k, v in value.items()})
    return "string"


def _text_kind(value: str) -> str:
    """``date``, ``timestamp`` or ``timestamptz`` for an ISO string Arrow parses; else string."""
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


def unify(a: Any, b: Any) -> Any:
    """The kind that holds values of kinds ``a`` and ``b``; :class:`Conflict` when none does."""
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if isinstance(a, str) and isinstance(b, str):
        common = sch.widen(a, b)
        if common is not None:
            return common
        if {a, b} <= _TEXTUAL:
            return "string"
        raise Conflict
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "list":
            return ("list", unify(a[1], b[1]))
        merged = dict(a[1])
        for key, kind in b[1].items():
            merged[key] = unify(merged[key], kind) if key in merged else kind
        return ("struct", merged)
    raise Conflict


def describe(kind: Any) -> str:
    """A kind in words, for a message: ``an integer``, ``a date string``, ``a list``..."""
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


def arrow_type(kind: Any) -> pa.DataType:
    """The Arrow type of a kind; a field that was only ever null is a string column."""
    if isinstance(kind, tuple):
        if kind[0] == "list":
            return pa.list_(arrow_type(kind[1]))
        return pa.struct([(k, arrow_type(v)) for k, v in kind[1].items()])
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


def flatten(record: dict, declared: dict, out: dict, prefix: str, objects: dict, line: int) -> None:
    """Put ``record``'s fields into ``out`` with nested objects as dotted names
    (``address.city``), except objects whose name is in ``declared`` (kept whole).

    ``objects`` collects each flattened object field with the first line it was
    seen on, so a field that is an object in one record and a value in another
    can be reported.
    """
    for key, value in record.items():
        name = prefix + key
        if isinstance(value, dict) and name not in declared:
            objects.setdefault(name, line)
            flatten(value, declared, out, name + ".", objects, line)
        else:
            out[name] = value


def as_text(value: Any, target: pa.DataType) -> str | None:
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
