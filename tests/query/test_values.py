"""docframe.query.values: the one home of value → JSON and value → text, pinned on the
values DuckDB and Arrow hand back (the CLI, the shell and the agent tools print these)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest

from docframe.query.values import blob_text, cell_text, json_value, text_value

DAY = dt.date(2024, 1, 2)
STAMP = dt.datetime(2024, 1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    ("value", "sql", "iso"),
    [
        (None, None, None),
        (True, True, True),
        (7, 7, 7),
        ("é", "é", "é"),
        (0.5, 0.5, 0.5),
        (float("nan"), None, None),
        (float("-inf"), None, None),
        (decimal.Decimal("12.50"), 12.5, 12.5),
        (decimal.Decimal("12.00"), 12.0, 12),
        (decimal.Decimal("NaN"), None, None),
        (DAY, "2024-01-02", "2024-01-02"),
        (STAMP, "2024-01-02 03:04:05", "2024-01-02T03:04:05"),
        (dt.time(3, 4), "03:04:00", "03:04:00"),
        (dt.timedelta(days=1, seconds=30), "1 day, 0:00:30", 86430.0),
        (b"\xaa\\z", "\\xAA\\x5Cz", "base64:qlx6"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001", str(uuid.UUID(int=1))),
        ({"a": [1, float("nan")], 2: STAMP}, {"a": [1, None], "2": "2024-01-02 03:04:05"},
         {"a": [1, None], "2": "2024-01-02T03:04:05"}),
        ((1, "x"), [1, "x"], [1, "x"]),
    ],
)  # fmt: skip
def test_json_value_in_both_styles(value, sql, iso):
    assert json_value(value) == sql
    assert json_value(value, style="iso") == iso
    json.dumps(json_value(value), allow_nan=False)  # always valid JSON


def test_text_value_is_duckdbs_csv_text_with_json_for_nested():
    assert [text_value(v) for v in (None, True, False, 0.1 + 0.2, float("nan"), 12)] == [
        "",
        "true",
        "false",
        "0.30000000000000004",
        "nan",
        "12",
    ]
    assert text_value([1, "é"]) == '[1, "é"]'
    assert text_value({"a": STAMP}) == '{"a": "2024-01-02 03:04:05"}'
    assert text_value(b"\x00a") == blob_text(b"\x00a") == "\\x00a"


def test_cell_text_is_one_short_line():
    assert cell_text(1 / 3) == "0.3333333333"
    assert cell_text(1 / 3, float_format=".4f") == "0.3333"
    assert cell_text(list(range(9))) == "[9 values]"
    assert cell_text([1, 2]) == "[1, 2]"
    assert cell_text("two\r\nlines") == "two  lines"
    assert cell_text(b"x" * 70) == "x" * 64 + "…"
    assert cell_text("abcdef", width=4) == "abc…" and cell_text("abcd", width=4) == "abcd"
    assert cell_text(None) == ""
