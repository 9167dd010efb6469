"""Types for tabular inputs: one vocabulary, one set of rules, shared by every table connector.

*Type names* (``--schema col=TYPE``; case-insensitive, spaces ignored):

==========================================  =====================================
name                                        Arrow type
==========================================  =====================================
``int8 int16 int32 int64``                  signed integers
``uint8 uint16 uint32 uint64``              unsigned integers
``int integer bigint``                      int64
``float32``; ``float64 float double``       floating point
``decimal(p,s)`` (also ``numeric(p,s)``)    exact decimal (decimal128, decimal256 past p=38)
``bool boolean``                            boolean (true/false/1/0, any case)
``string text str varchar``                 UTF-8 string
``date``                                    date32 (ISO ``YYYY-MM-DD``)
``timestamp datetime``                      timestamp[us], no time zone
``timestamp[tz=ZONE]``                      timestamp[us, tz=ZONE] (IANA name, UTC or +HH:MM)
``binary blob``                             bytes
==========================================  =====================================

*Inference* (what a connector produces when no type is declared), the same for
every format: whole numbers are int64, other numbers float64, true/false are
bool, ISO dates date32, ISO date-times timestamp[us] -- timestamp[us, tz=UTC]
when they carry a zone offset (``Z``, ``+02:00``), times time64[us], all else
string. A column with no values at all is string. Decimals are never inferred
(a float is what the file's text says); declare ``decimal(p,s)`` to keep exact
digits.

*Nulls*: an empty field is null. In a column that is not text, the tokens in
:data:`NULL_TOKENS` (``NA``, ``N/A``, ``NULL``, ``NaN``...) are null too; in a
text column they stay as written, so the airport code ``NA`` is not lost.

*Declared types* convert each value's text (a value's JSON or Excel value is
first written as text), so one rule holds for every format: a value fits
``T`` if its text parses as ``T``. ``timestamp[tz=ZONE]`` takes values with
an offset as that instant and values without one as local time in ZONE.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from docframe.errors import ConnectorError

# tokens read as null in non-text columns (an empty field is null everywhere)
NULL_TOKENS = ("", "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "#N/A")
TRUE_TOKENS = ("true", "True", "TRUE", "1")
FALSE_TOKENS = ("false", "False", "FALSE", "0")
# How nested JSON objects become columns: "flatten" (``address.city``) or
# "struct" (one struct column). TableOptions has no field for it yet; the JSON
# connectors read ``options.nested`` when it exists and this default otherwise.
DEFAULT_NESTED = "flatten"
NESTED_CHOICES = ("flatten", "struct")

TYPE_NAMES = (
    "int8 int16 int32 int64 uint8 uint16 uint32 uint64 int float32 float64 float double "
    "decimal(p,s) bool string date timestamp timestamp[tz=ZONE] binary"
)

_SIMPLE: dict[str, Callable[[], pa.DataType]] = {
    "int8": pa.int8,
    "int16": pa.int16,
    "int32": pa.int32,
    "int64": pa.int64,
    "int": pa.int64,
    "integer": pa.int64,
    "bigint": pa.int64,
    "uint8": pa.uint8,
    "uint16": pa.uint16,
    "uint32": pa.uint32,
    "uint64": pa.uint64,
    "float32": pa.float32,
    "float64": pa.float64,
    "float": pa.float64,
    "double": pa.float64,
    "bool": pa.bool_,
    "boolean": pa.bool_,
    "string": pa.string,
    "str": pa.string,
    "text": pa.string,
    "varchar": pa.string,
    "date": pa.date32,
    "timestamp": lambda: pa.timestamp("us"),
    "datetime": lambda: pa.timestamp("us"),
    "binary": pa.binary,
    "blob": pa.binary,
}
_DECIMAL = re.compile(r"(?:decimal|numeric)\((\d+),(\d+)\)")
_TIMESTAMP_TZ = re.compile(r"(?:timestamp|datetime)\[tz=(.+)\]", re.IGNORECASE)
_FIXED_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")

# a time of day followed by a zone designator: "...10:00Z", "...10:00:00.5+02:00"
ZONE_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s?(?:Z|[+-]\d{2}(?::?\d{2})?)$"
ZONE_OFFSET_RE = re.compile(ZONE_OFFSET)
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# the ISO 8601 date-times Arrow parses at microsecond precision (group 1: the zone)
ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(Z|[+-]\d{2}(?::?\d{2})?)?"
)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # a whole number outside these is inferred float64


def widen(a: str, b: str) -> str | None:
    """The inferred kind that holds values of kinds ``a`` and ``b``; None when none does.

    Kinds are the names of the inference rules above (``null``, ``int``,
    ``float``, ``date``, ``timestamp``...). The connectors that infer from typed
    values (JSON, Excel) widen alike: null gives way to anything, int and float
    to float, date and timestamp to timestamp. What a column with no common kind
    becomes is theirs to say (Excel reads it as text; JSON refuses it).
    """
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    pair = {a, b}
    if pair == {"int", "float"}:
        return "float"
    if pair == {"date", "timestamp"}:
        return "timestamp"
    return None


# -- type names ----------------------------------------------------------------------


def parse_type(text: str, column: str | None = None) -> pa.DataType:
    """``"decimal(12, 2)"`` -> ``pa.decimal128(12, 2)``; unknown names raise ConnectorError."""
    raw = str(text)
    key = re.sub(r"\s+", "", raw)
    tz = _TIMESTAMP_TZ.fullmatch(key)
    if tz:
        zone = tz.group(1)
        _check_zone(zone, column, raw)
        return pa.timestamp("us", tz=zone)
    key = key.lower()
    if key in _SIMPLE:
        return _SIMPLE[key]()
    dec = _DECIMAL.fullmatch(key)
    if dec:
        precision, scale = int(dec.group(1)), int(dec.group(2))
        if not 1 <= precision <= 76 or scale > precision:
            raise ConnectorError(
                f"--schema {column or '?'}={raw}: decimal precision must be 1..76 "
                f"and scale at most the precision",
                help="e.g. decimal(12,2): 12 digits, 2 of them after the point",
            )
        if precision <= 38:
            return pa.decimal128(precision, scale)
        return pa.decimal256(precision, scale)
    raise ConnectorError(
        f"--schema {column or '?'}={raw}: unknown type {raw!r}",
        help=f"use one of: {TYPE_NAMES}",
    )


def _check_zone(zone: str, column: str | None, raw: str) -> None:
    if zone == "UTC" or _FIXED_OFFSET.fullmatch(zone):
        return
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConnectorError(
            f"--schema {column or '?'}={raw}: unknown time zone {zone!r}",
            help="use an IANA zone name such as Europe/Paris, UTC, or an offset like +02:00",
        ) from None


def type_name(t: pa.DataType) -> str:
    """The docframe name of an Arrow type (the inverse of :func:`parse_type`)."""
    if pa.types.is_timestamp(t):
        return f"timestamp[tz={t.tz}]" if t.tz else "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_float64(t):
        return "float64"
    if pa.types.is_float32(t):
        return "float32"
    if pa.types.is_time(t):
        return "time"
    return str(t)


def normalize(t: pa.DataType) -> pa.DataType:
    """An inferred type as the lake stores it: no null type, microsecond timestamps."""
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_time(t):
        return pa.time64("us")
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    return t


# -- schema overrides ----------------------------------------------------------------


def resolve_schema(
    path: Path, schema: Mapping[str, str] | None, columns: list[str]
) -> dict[str, pa.DataType]:
    """``--schema`` for a one-table source: column -> Arrow type; unknown columns raise."""
    if not schema:
        return {}
    unknown = [col for col in schema if col not in columns]
    if unknown:
        raise _unknown_columns(path, unknown, {"": columns})
    return {col: parse_type(text, col) for col, text in schema.items()}


def apply_override(schema: pa.Schema, overrides: Mapping[str, str] | None, path: Path) -> pa.Schema:
    """``schema`` with the ``--schema`` types put in; unknown columns raise.

    For sources whose values are already typed (Parquet): convert each batch to
    the result with :func:`cast_batch`, which applies this module's text rules
    to string columns and names the row, column and value that does not fit.
    """
    declared = resolve_schema(path, overrides, schema.names)
    return pa.schema(
        [pa.field(f.name, declared.get(f.name, f.type), f.nullable, f.metadata) for f in schema]
    )


def cast_batch(
    batch: pa.RecordBatch, target: pa.Schema, path: Path, rows_before: int = 0
) -> pa.RecordBatch:
    """``batch`` converted to ``target`` (from :func:`apply_override`), column by column.

    String columns follow :func:`cast_strings` (null tokens, time zones), others
    Arrow's safe cast. A value that does not fit raises the one-line
    :func:`value_error`, its row counted from ``rows_before`` (rows already read).
    """
    arrays = []
    for f in target:
        column = batch.column(f.name)
        if column.type == f.type:
            arrays.append(column)
            continue
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            convert = functools.partial(cast_strings, target=f.type)
        else:
            convert = functools.partial(pa.Array.cast, target_type=f.type)
        try:
            arrays.append(convert(column))
        except CONVERT_ERRORS:
            index = first_bad(column, convert) or 0
            raise value_error(
                path,
                f"row {rows_before + index + 1}",
                f.name,
                column[index].as_py(),
                f.type,
                declared=True,
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def resolve_schema_multi(
    path: Path, schema: Mapping[str, str] | None, tables: Mapping[str, list[str]]
) -> dict[str, dict[str, pa.DataType]]:
    """``--schema`` for a many-table source (sheets, SQLite tables): table -> column -> type.

    A key ``col`` applies to every table with that column; ``table.col`` to one
    table (``table`` as the source names it). A key matching nothing raises.
    """
    out: dict[str, dict[str, pa.DataType]] = {table: {} for table in tables}
    if not schema:
        return out
    unknown = []
    for key, text in schema.items():
        matched = False
        for table, columns in tables.items():
            col = key if key in columns else None
            prefix = f"{table}."
            if col is None and key.startswith(prefix) and key[len(prefix) :] in columns:
                col = key[len(prefix) :]
            if col is not None:
                out[table][col] = parse_type(text, key)
                matched = True
        if not matched:
            unknown.append(key)
    if unknown:
        raise _unknown_columns(path, unknown, tables)
    return out


def _unknown_columns(path: Path, unknown: list[str], tables: Mapping[str, list[str]]):
    import difflib

    every = [c for cols in tables.values() for c in cols]
    listing = "; ".join(
        f"{table}: {', '.join(cols)}" if table else ", ".join(cols)
        for table, cols in tables.items()
    )
    if len(listing) > 400:
        listing = listing[:400] + "..."
    close = difflib.get_close_matches(unknown[0], every, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ConnectorError(
        f"{path}: --schema names unknown column(s) {', '.join(map(repr, unknown))}; "
        f"the columns are: {listing}",
        help=f"{hint}column names are case-sensitive and spelled as in the source",
    )


# -- column names --------------------------------------------------------------------


def unique_names(names: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Repair empty and duplicate column names; return the names and a note per repair.

    An empty name becomes ``column_N`` (its 1-based position); a repeated name
    (compared case-insensitively, as SQL does) gets ``_2``, ``_3``...
    """
    out: list[str] = []
    renamed: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names, start=1):
        base = "" if raw is None else str(raw).strip()
        name = base or f"column_{i}"
        stem, k = name, 2
        while name.casefold() in seen:
            name = f"{stem}_{k}"
            k += 1
        if name != base:
            why = "empty name" if not base else "duplicate name"
            renamed.append(f"column {i} ({why} {base!r}) -> {name!r}")
        seen.add(name.casefold())
        out.append(name)
    notes = [f"renamed {len(renamed)} column(s): " + "; ".join(renamed)] if renamed else []
    return out, notes


def unique_table_names(names: Iterable[str]) -> list[str]:
    """Lake table names made unique in order: ``sales``, ``sales_2``..."""
    out: list[str] = []
    for name in names:
        stem, k, candidate = name, 2, name
        while candidate in out:
            candidate = f"{stem}_{k}"
            k += 1
        out.append(candidate)
    return out


# -- converting text to a declared type ----------------------------------------------


def cast_strings(arr: pa.Array, target: pa.DataType, *, text_nulls: bool = False) -> pa.Array:
    """Convert a string array to ``target`` by the module's rules; Arrow errors propagate.

    For a non-text target, whitespace is trimmed and :data:`NULL_TOKENS` are
    null. For a text target the values are kept, "" -> null if ``text_nulls``.
    """
    import pyarrow.compute as pc

    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        if text_nulls:
            arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
        return arr.cast(target)
    trimmed = pc.utf8_trim_whitespace(arr)
    none = pa.scalar(None, pa.string())
    vals = pc.if_else(pc.is_in(trimmed, value_set=pa.array(NULL_TOKENS)), none, trimmed)
    if pa.types.is_boolean(target):
        low = pc.utf8_lower(vals)
        is_true = pc.is_in(low, value_set=pa.array(["true", "1"]))
        is_false = pc.is_in(low, value_set=pa.array(["false", "0"]))
        bad = pc.and_(pc.is_valid(vals), pc.invert(pc.or_(is_true, is_false)))
        if pc.any(bad).as_py():
            raise ValueError("not a boolean")
        return pc.if_else(pc.is_null(vals), pa.scalar(None, pa.bool_()), is_true)
    if pa.types.is_timestamp(target) and target.tz:
        has_zone = pc.match_substring_regex(vals, ZONE_OFFSET)
        aware = pc.if_else(has_zone, vals, none).cast(pa.timestamp(target.unit, "UTC"))
        naive = pc.if_else(has_zone, none, vals).cast(pa.timestamp(target.unit))
        local = pc.assume_timezone(
            naive, timezone=target.tz, ambiguous="raise", nonexistent="raise"
        )
        return pc.if_else(has_zone, aware.cast(target), local.cast(target))
    return vals.cast(target)


CONVERT_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError)


def first_bad(arr: pa.Array, convert: Callable[[pa.Array], Any]) -> int | None:
    """Index of the first value ``convert`` rejects (binary search: failures are prefix-closed)."""
    try:
        convert(arr)
        return None
    except CONVERT_ERRORS:
        pass
    lo, hi = 0, len(arr)  # arr[:hi] fails, arr[:lo] passes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(arr.slice(0, mid))
            lo = mid
        except CONVERT_ERRORS:
            hi = mid
    return lo


def suggest_type(value: Any, target: pa.DataType) -> str:
    """The type to propose in an error's help for a value that did not fit ``target``."""
    text = str(value).strip()
    if pa.types.is_timestamp(target) and not target.tz and ZONE_OFFSET_RE.search(text):
        return "timestamp[tz=UTC]"
    if pa.types.is_timestamp(target) and target.tz and ISO_DATETIME.fullmatch(text):
        return f"timestamp[tz={target.tz}]"  # declared: values without a zone are local time
    if pa.types.is_integer(target) and NUMBER.fullmatch(text):
        return "float64"
    return "string"


def schema_flag(column: str, type_text: str) -> str:
    """``--schema col=TYPE`` quoted for a shell."""
    return f"--schema {shlex.quote(f'{column}={type_text}')}"


def show(value: Any, limit: int = 60) -> str:
    """A value for an error message: repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cast_texts(
    texts: pa.Array,
    target: pa.DataType,
    *,
    path: Path,
    where: Callable[[int], str],
    column: str,
    values: list[Any],
    declared: bool,
) -> pa.Array:
    """Cast text values to ``target``, or raise the one-line error naming the first bad one.

    ``where(i)`` says where value ``i`` sits in the source ("line 12", "sheet S, row 4").
    """
    try:
        return cast_strings(texts, target)
    except CONVERT_ERRORS:
        index = first_bad(texts, lambda a: cast_strings(a, target))
        raise value_error(
            path, where(index), column, values[index], target, declared=declared
        ) from None


def value_error(
    path: Path,
    where: str,
    column: str,
    value: Any,
    target: pa.DataType,
    *,
    declared: bool,
    inferred_from: str = "",
) -> ConnectorError:
    """The one-line error for a value that does not fit its column's type."""
    tname = type_name(target)
    if declared:
        why = f" (declared --schema {column}={tname})"
        hint = f"fix the value, or declare another type: {schema_flag(column, 'string')}"
    else:
        why = f" (type inferred from {inferred_from})" if inferred_from else " (inferred type)"
        hint = f"declare the column's type: {schema_flag(column, suggest_type(value, target))}"
    return ConnectorError(
        f"{path}: {where}, column {column!r}: value {show(value)} is not a valid {tname}{why}",
        help=hint,
    )
