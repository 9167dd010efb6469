"""One SQL value as JSON, as text and as a table cell: the one home of how docframe
writes a DuckDB/Arrow value, for ``docframe sql`` and the other commands, the SQL shell
and the agent tools alike.

JSON comes in two styles because its readers differ. ``"sql"`` (the default) keeps a
value's SQL text, as DuckDB's own JSON writer does: what people and scripts reading
query output expect. ``"iso"`` is the interchange form agents get: ISO 8601 date-times,
durations in seconds, BLOBs as ``base64:...``, integral decimals as integers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

JsonStyle = Literal["sql", "iso"]


def json_value(value: Any, *, style: JsonStyle = "sql") -> Any:
    """One value as JSON: numbers stay numbers (DECIMAL too, as DuckDB's JSON does),
    NaN and infinities become null, nested lists and structs recursively.

    ``"sql"`` style: dates and times their SQL text, BLOBs DuckDB's ``\\xAB`` text.
    ``"iso"`` style: see the module's docstring.
    """
    import decimal

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        if style == "iso" and value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, dict) or (style == "iso" and isinstance(value, Mapping)):
        return {str(k): json_value(v, style=style) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v, style=style) for v in value]
    if style == "iso":
        return _iso_value(value)
    if isinstance(value, bytes):
        return blob_text(value)
    return str(value)  # dates, times, UUIDs, intervals: their SQL text


def _iso_value(value: Any) -> Any:
    import base64
    import datetime as dt

    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def text_value(value: Any) -> str:
    """One value as CSV text, as DuckDB's CSV writer has it (NULL empty, ``true``, ``nan``,
    BLOBs as ``\\xAB``), except lists and structs, which are JSON: parseable anywhere."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest exact form; nan and inf as DuckDB writes them
    if isinstance(value, bytes):
        return blob_text(value)
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(json_value(value), ensure_ascii=False)
    return str(value)


def cell_text(value: Any, *, float_format: str = ".10g", width: int | None = None) -> str:
    """A table cell: one line; finite floats in ``float_format``; vectors longer than 8
    summarised; BLOBs cut at 64 bytes; cut to ``width`` characters with … when given."""
    if isinstance(value, float) and math.isfinite(value):
        text = format(value, float_format)
    elif isinstance(value, list) and len(value) > 8:
        text = f"[{len(value)} values]"
    elif isinstance(value, bytes):
        text = blob_text(value[:64]) + ("…" if len(value) > 64 else "")
    else:
        text = text_value(value).replace("\r", " ").replace("\n", " ")
    if width is not None and len(text) > width:
        return text[: width - 1] + "…"
    return text


def blob_text(value: bytes) -> str:
    """Bytes as DuckDB prints a BLOB: printable ASCII as is, the rest (and ``\\``) as ``\\xAB``."""
    return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02X}" for b in value)
