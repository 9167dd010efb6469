"""The shared type vocabulary and conversion rules of the table connectors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from docframe.connectors import schema as sch
from docframe.errors import ConnectorError

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int8", pa.int8()),
        ("int16", pa.int16()),
        ("int32", pa.int32()),
        ("int64", pa.int64()),
        ("uint8", pa.uint8()),
        ("uint64", pa.uint64()),
        ("int", pa.int64()),
        ("BIGINT", pa.int64()),
        ("float32", pa.float32()),
        ("float64", pa.float64()),
        ("float", pa.float64()),
        ("double", pa.float64()),
        ("bool", pa.bool_()),
        ("boolean", pa.bool_()),
        ("string", pa.string()),
        ("text", pa.string()),
        ("date", pa.date32()),
        ("timestamp", pa.timestamp("us")),
        ("timestamp[tz=Europe/Paris]", pa.timestamp("us", tz="Europe/Paris")),
        ("timestamp[tz=UTC]", pa.timestamp("us", tz="UTC")),
        ("timestamp[tz=+02:00]", pa.timestamp("us", tz="+02:00")),
        ("decimal(12,2)", pa.decimal128(12, 2)),
        ("Decimal( 12 , 2 )", pa.decimal128(12, 2)),
        ("numeric(50,10)", pa.decimal256(50, 10)),
        ("binary", pa.binary()),
    ],
)
def test_type_names_parse_to_arrow_types(text, expected):
    assert sch.parse_type(text) == expected


@pytest.mark.parametrize(
    "text", ["integer64", "decimal(2,5)", "decimal(0,0)", "timestamp[tz=Mars/Olympus]", ""]
)
def test_unknown_or_impossible_type_names_are_one_line_errors(text):
    with pytest.raises(ConnectorError) as info:
        sch.parse_type(text, "price")
    err = info.value
    assert "price" in err.message and "\n" not in str(err)
    assert err.help


def test_type_name_round_trips_through_parse_type():
    for text in ["int64", "float64", "bool", "string", "date", "timestamp", "decimal(9,3)"]:
        assert sch.type_name(sch.parse_type(text)) == text
    tz = sch.parse_type("timestamp[tz=Asia/Tokyo]")
    assert sch.type_name(tz) == "timestamp[tz=Asia/Tokyo]"


def test_normalize_gives_lake_types():
    assert sch.normalize(pa.null()) == pa.string()
    assert sch.normalize(pa.timestamp("s", tz="UTC")) == pa.timestamp("us", tz="UTC")
    assert sch.normalize(pa.timestamp("ns")) == pa.timestamp("us")
    assert sch.normalize(pa.time32("s")) == pa.time64("us")
    assert sch.normalize(pa.int64()) == pa.int64()


def test_unique_names_repairs_empty_and_duplicate_names_case_insensitively():
    names, notes = sch.unique_names(["id", "", "Name", "name", "id", None, "column_2"])
    assert names == ["id", "column_2", "Name", "name_2", "id_2", "column_6", "column_2_2"]
    assert len(notes) == 1 and "renamed 5 column(s)" in notes[0]
    assert sch.unique_names(["a", "b"]) == (["a", "b"], [])


def test_unknown_schema_column_lists_the_real_columns_and_a_close_match():
    with pytest.raises(ConnectorError) as info:
        sch.resolve_schema(Path("t.csv"), {"amont": "float"}, ["id", "amount"])
    err = info.value
    assert "'amont'" in err.message and "id, amount" in err.message
    assert "did you mean 'amount'" in err.help


def test_schema_for_many_tables_takes_plain_and_qualified_keys():
    tables = {"orders": ["id", "amount"], "items": ["id", "sku"]}
    out = sch.resolve_schema_multi(Path("x.db"), {"id": "string", "items.sku": "int"}, tables)
    assert out == {
        "orders": {"id": pa.string()},
        "items": {"id": pa.string(), "sku": pa.int64()},
    }
    with pytest.raises(ConnectorError, match="orders: id, amount; items: id, sku"):
        sch.resolve_schema_multi(Path("x.db"), {"orders.sku": "int"}, tables)


def test_apply_override_and_cast_batch_for_typed_sources():
    source = pa.schema([("id", pa.int64()), ("price", pa.string()), ("n", pa.int64())])
    target = sch.apply_override(source, {"price": "decimal(8,2)", "n": "int8"}, Path("p.parquet"))
    assert target == pa.schema(
        [("id", pa.int64()), ("price", pa.decimal128(8, 2)), ("n", pa.int8())]
    )
    batch = pa.RecordBatch.from_pydict(
        {"id": [1, 2], "price": ["9.99", "NA"], "n": [1, 2]}, schema=source
    )
    out = sch.cast_batch(batch, target, Path("p.parquet"))
    assert out.to_pylist() == [
        {"id": 1, "price": Decimal("9.99"), "n": 1},
        {"id": 2, "price": None, "n": 2},
    ]
    bad = pa.RecordBatch.from_pydict({"id": [1, 2], "price": ["1", "2"], "n": [5, 300]}, source)
    with pytest.raises(ConnectorError) as info:
        sch.cast_batch(bad, target, Path("p.parquet"), rows_before=1000)
    assert "p.parquet: row 1002, column 'n': value 300 is not a valid int8" in info.value.message
    with pytest.raises(ConnectorError, match="unknown column"):
        sch.apply_override(source, {"cost": "int"}, Path("p.parquet"))


def test_cast_strings_null_tokens_only_in_typed_columns():
    arr = pa.array(["1", " 2 ", "NA", "", None, "null"])
    assert sch.cast_strings(arr, pa.int64()).to_pylist() == [1, 2, None, None, None, None]
    # text keeps the tokens as written; "" becomes null only when asked
    assert sch.cast_strings(arr, pa.string()).to_pylist() == ["1", " 2 ", "NA", "", None, "null"]
    as_text = sch.cast_strings(arr, pa.string(), text_nulls=True).to_pylist()
    assert as_text == ["1", " 2 ", "NA", None, None, "null"]


def test_cast_strings_booleans_and_a_non_boolean():
    out = sch.cast_strings(pa.array(["true", "FALSE", "1", "0", "True", ""]), pa.bool_())
    assert out.to_pylist() == [True, False, True, False, True, None]
    with pytest.raises(ValueError):
        sch.cast_strings(pa.array(["yes"]), pa.bool_())


def test_cast_strings_decimals_are_exact_or_refused():
    out = sch.cast_strings(pa.array(["12.3", "0.05", "-7"]), pa.decimal128(6, 2))
    assert out.to_pylist() == [Decimal("12.30"), Decimal("0.05"), Decimal("-7.00")]
    with pytest.raises(sch.CONVERT_ERRORS):
        sch.cast_strings(pa.array(["1.005"]), pa.decimal128(6, 2))  # would lose a digit


def test_timestamp_with_zone_keeps_instants_and_localizes_naive_values():
    target = sch.parse_type("timestamp[tz=Europe/Paris]")
    out = sch.cast_strings(
        pa.array(["2024-01-15 10:00:00", "2024-01-15T10:00:00Z", "2024-07-01T08:30+02:00", None]),
        target,
    )
    assert out.type == target
    got = [v.astimezone(UTC).replace(tzinfo=None) if v else None for v in out.to_pylist()]
    assert got == [
        dt.datetime(2024, 1, 15, 9, 0),  # 10:00 in Paris in winter (UTC+1)
        dt.datetime(2024, 1, 15, 10, 0),  # already UTC
        dt.datetime(2024, 7, 1, 6, 30),  # offset honoured
        None,
    ]


def test_naive_timestamp_refuses_a_zoned_value_and_suggests_a_zone():
    with pytest.raises(sch.CONVERT_ERRORS):
        sch.cast_strings(pa.array(["2024-01-15T10:00:00+02:00"]), pa.timestamp("us"))
    assert sch.suggest_type("2024-01-15T10:00:00+02:00", pa.timestamp("us")) == "timestamp[tz=UTC]"
    assert sch.suggest_type("1.5", pa.int64()) == "float64"
    utc = pa.timestamp("us", tz="UTC")
    assert sch.suggest_type("2024-01-15 10:00", utc) == "timestamp[tz=UTC]"
    assert sch.suggest_type("abc", pa.int64()) == "string"


def test_first_bad_finds_the_first_failing_value():
    values = pa.array([str(i) for i in range(1000)] + ["x"] + ["7", "y"])
    assert sch.first_bad(values, lambda a: sch.cast_strings(a, pa.int64())) == 1000
    assert sch.first_bad(pa.array(["1", "2"]), lambda a: sch.cast_strings(a, pa.int64())) is None
    assert sch.first_bad(pa.array(["z"]), lambda a: sch.cast_strings(a, pa.int64())) == 0


def test_value_error_is_one_line_with_a_schema_hint():
    err = sch.value_error(
        Path("f.csv"), "line 9", "qty", "abc", pa.int64(), declared=False, inferred_from="x"
    )
    assert str(err).count("\n") == 0
    assert "f.csv: line 9, column 'qty': value 'abc' is not a valid int64" in err.message
    assert err.help == "declare the column's type: --schema qty=string"
    spaced = sch.value_error(Path("f.csv"), "line 2", "unit price", "x", pa.int64(), declared=True)
    assert "--schema 'unit price=string'" in spaced.help
