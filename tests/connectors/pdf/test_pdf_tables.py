"""Tables on PDF pages -> typed Arrow tables: generated PDFs and real ones from the corpus."""

from __future__ import annotations

import datetime as dt
import pickle
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from docframe.connectors.pdf import tables as pdf_tables
from docframe.connectors.pdf.cell_types import parse_number, type_column
from docframe.connectors.pdf.lattice import read_lattice
from docframe.connectors.pdf.regions import MAX_OPEN_RULES, candidate_regions
from docframe.connectors.pdf.rules import cluster, rule_runs
from docframe.connectors.pdf.table_finder import finder_tables
from docframe.connectors.pdf.table_rows import read_table
from docframe.connectors.pdf.tables import find_tables, find_tables_with_text, table_text
from docframe.connectors.pdf.text_reader import TEXT_FLAGS
from tests.conftest import SHARED_CORPUS

pymupdf = pytest.importorskip("pymupdf")

PDFS = SHARED_CORPUS / "pdfs"
NICS = PDFS / "pdfplumber" / "nics-background-checks-2015-11.pdf"


def corpus_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared PDF corpus not found ({path}); it is present on CI machines only")
    return path


def rows_of(table) -> list[dict]:
    batches = list(table.batches)
    return [row for batch in batches for row in batch.to_pylist()]


# -- generated PDFs ----------------------------------------------------------------------


def draw_grid(page, xs, ys, cells, *, skip_v=(), skip_h=()):
    """Rule a grid (xs, ys: line positions) and write cells[(row, col)] = text.

    ``skip_v``: (band, x) vertical segments left out (merged across); ``skip_h``:
    (y, col) horizontal segments left out (merged down).
    """
    for y in ys:
        for j in range(len(xs) - 1):
            if (y, j) not in skip_h:
                page.draw_line((xs[j], y), (xs[j + 1], y), width=0.6)
    for band in range(len(ys) - 1):
        for x in xs:
            if (band, x) not in skip_v:
                page.draw_line((x, ys[band]), (x, ys[band + 1]), width=0.6)
    for (r, c), text in cells.items():
        page.insert_text((xs[c] + 4, ys[r] + 14), text, fontsize=10)


def simple_table_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((50, 60), "Quarterly figures, all regions.", fontsize=11)
    xs = [50, 150, 230, 330, 400, 500]
    ys = [100, 120, 140, 160, 180]
    rows = [
        ["Region", "Units", "Revenue", "Change", "Date"],
        ["North", "1,234", "$5,000.50", "12.5%", "2024-01-15"],
        ["South", "(56)", "$750.25", "-3%", "2024-02-01"],
        ["East", "98 452", "-", "0%", "2024-03-31"],
    ]
    draw_grid(page, xs, ys, {(r, c): t for r, row in enumerate(rows) for c, t in enumerate(row)})
    page.insert_text((50, 230), "Text after the table is not part of it.", fontsize=11)
    doc.save(path)
    return path


def test_drawn_table_names_types_location_and_text(tmp_path):
    path = simple_table_pdf(tmp_path / "Sales Report.pdf")
    page = pymupdf.open(path)[0]
    found = find_tables_with_text(page, "sales-key", path, 1)
    assert len(found) == 1
    table, text = found[0]
    assert table.name == "sales_report_p1_t1"
    assert table.origin == "page 1"
    assert table.schema.names == ["Region", "Units", "Revenue", "Change", "Date"]
    assert [f.type for f in table.schema] == [
        pa.string(),
        pa.int64(),
        pa.float64(),
        pa.float64(),
        pa.date32(),
    ]
    loc = table.location
    assert loc["doc_key"] == "sales-key" and loc["page"] == 1
    assert loc["n_rows"] == 3 and loc["n_columns"] == 5
    assert loc["bbox"] == pytest.approx([50, 100, 500, 180], abs=1.5)
    assert rows_of(table) == [
        {
            "Region": "North",
            "Units": 1234,
            "Revenue": 5000.5,
            "Change": 12.5,
            "Date": dt.date(2024, 1, 15),
        },
        {
            "Region": "South",
            "Units": -56,
            "Revenue": 750.25,
            "Change": -3.0,
            "Date": dt.date(2024, 2, 1),
        },
        {
            "Region": "East",
            "Units": 98452,
            "Revenue": None,
            "Change": 0.0,
            "Date": dt.date(2024, 3, 31),
        },
    ]
    assert any("currency sign $ removed" in n for n in table.notes)
    assert any("percentages" in n and "'Change'" in n for n in table.notes)
    lines = text.splitlines()
    assert lines[0] == "| Region | Units | Revenue | Change | Date |"
    assert lines[2].startswith("| North | 1234 | 5000.5 | 12.5 | 2024-01-15 |")
    assert "after the table" not in text


def test_two_row_header_with_a_merged_group_cell(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    xs = [50, 150, 230, 310]
    ys = [100, 120, 140, 160, 180]
    cells = {
        (0, 0): "Item",
        (0, 1): "Sales",
        (1, 1): "Q1",
        (1, 2): "Q2",
        (2, 0): "Apples",
        (2, 1): "10",
        (2, 2): "12",
        (3, 0): "Pears",
        (3, 1): "7",
        (3, 2): "9",
    }
    # "Sales" spans Q1 and Q2 (no rule at x=230 in the top band); "Item" spans two bands
    draw_grid(page, xs, ys, cells, skip_v={(0, 230)}, skip_h={(120, 0)})
    path = tmp_path / "fruit.pdf"
    doc.save(path)
    page = pymupdf.open(path)[0]
    (table,) = find_tables(page, "fruit", path, 1)
    assert table.schema.names == ["Item", "Sales Q1", "Sales Q2"]
    assert rows_of(table) == [
        {"Item": "Apples", "Sales Q1": 10, "Sales Q2": 12},
        {"Item": "Pears", "Sales Q1": 7, "Sales Q2": 9},
    ]


def test_empty_and_duplicate_header_names_are_repaired(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    rows = [["Name", "", "Name"], ["a", "1", "x"], ["b", "2", "y"]]
    draw_grid(
        page,
        [50, 150, 250, 350],
        [100, 120, 140, 160],
        {(r, c): t for r, row in enumerate(rows) for c, t in enumerate(row) if t},
    )
    path = tmp_path / "dup.pdf"
    doc.save(path)
    (table,) = find_tables(pymupdf.open(path)[0], "dup", path, 1)
    assert table.schema.names == ["Name", "column_2", "Name_2"]
    assert any(n.startswith("renamed 2 column(s)") for n in table.notes)


def test_pages_without_a_grid_yield_nothing_and_skip_the_finder(tmp_path, monkeypatch):
    doc = pymupdf.open()
    prose = doc.new_page()
    prose.insert_textbox(pymupdf.Rect(50, 50, 550, 400), "Just a paragraph of text. " * 40)
    boxed = doc.new_page()  # a framed paragraph is one cell, not a table
    boxed.draw_rect(pymupdf.Rect(45, 45, 555, 405), width=0.8)
    boxed.insert_textbox(pymupdf.Rect(50, 50, 550, 400), "A boxed note. " * 40)
    path = tmp_path / "prose.pdf"
    doc.save(path)
    doc = pymupdf.open(path)
    calls = []
    real = pymupdf.Page.find_tables
    monkeypatch.setattr(
        pymupdf.Page, "find_tables", lambda self, **kw: calls.append(kw) or real(self, **kw)
    )
    assert find_tables(doc[0], "p", path, 1) == []
    assert calls == []  # no ruling lines: the finder never ran
    assert find_tables(doc[1], "p", path, 2) == []


def test_tables_pickle_and_text_leaves_the_rows_readable(tmp_path):
    path = simple_table_pdf(tmp_path / "s.pdf")
    (table,) = find_tables(pymupdf.open(path)[0], "s", path, 1)
    copy = pickle.loads(pickle.dumps(table))
    assert rows_of(copy)[0]["Units"] == 1234
    text = table_text(table)
    assert "| South | -56 |" in text
    assert len(rows_of(table)) == 3  # table_text put the batches back


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_page_reads_upright_and_reports_get_text_coordinates(tmp_path, rotation):
    """Content drawn turned, /Rotate set so it displays upright (a landscape table)."""
    src = pymupdf.open(simple_table_pdf(tmp_path / "s.pdf"))
    doc = pymupdf.open()
    size = (792, 612) if rotation in (90, 270) else (612, 792)
    page = doc.new_page(width=size[0], height=size[1])
    page.show_pdf_page(page.rect, src, 0, rotate=rotation)
    page.set_rotation(rotation)
    path = tmp_path / "r.pdf"
    doc.save(path)
    page = pymupdf.open(path)[0]
    (table,) = find_tables(page, "r", path, 1)
    assert table.schema.names == ["Region", "Units", "Revenue", "Change", "Date"]
    rows = rows_of(table)
    assert rows[0]["Units"] == 1234
    # the bbox is in page.get_text()'s space: it holds the words it shows
    bbox = pymupdf.Rect(table.location["bbox"]) + (-1, -1, 1, 1)
    words = {w[4]: pymupdf.Rect(w[:4]) for w in page.get_text("words")}
    assert bbox.contains(words["Region"]) and bbox.contains(words["2024-03-31"])
    assert not bbox.contains(words["Quarterly"])
    # as the connector calls it, with the page's text page: the same table
    textpage = page.get_textpage(flags=TEXT_FLAGS)
    (shared,) = find_tables(page, "r", path, 1, textpage=textpage)
    assert rows_of(shared) == rows and shared.location == table.location


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234", (1234, "", False)),
        ("98 452", (98452, "", False)),
        ("(1,234.50)", (-1234.5, "", False)),
        ("\u22125", (-5, "", False)),
        ("$-5", (-5, "$", False)),
        ("12.5%", (12.5, "", True)),
        ("0", (0, "", False)),
        ("0.25", (0.25, "", False)),
        ("01", None),  # a code, not a number
        ("1,5", None),  # decimal comma or list: ambiguous
        ("12,34,567", None),
        ("1.2.3", None),
        ("abc", None),
    ],
)
def test_number_parsing(text, expected):
    assert parse_number(text) == expected


def test_column_typing_rules():
    arr, note = type_column("n", ["1", "-", "", "3"])
    assert arr.type == pa.int64() and arr.to_pylist() == [1, None, None, 3] and note is None
    arr, _ = type_column("code", ["01", "02", "10"])
    assert arr.type == pa.string()
    arr, _ = type_column("d", ["2024-01-15", "", "2023-12-31"])
    assert arr.type == pa.date32()
    arr, _ = type_column("d", ["2024-13-01"])
    assert arr.type == pa.string()
    arr, _ = type_column("mix", ["12%", "3"])  # % on some values only
    assert arr.type == pa.string()
    arr, _ = type_column("cur", ["$1", "€2"])  # two currencies
    assert arr.type == pa.string()
    arr, _ = type_column("empty", ["", ""])
    assert arr.type == pa.string() and arr.null_count == 2


# -- the corpus ------------------------------------------------------------------------


def test_fbi_nics_table_cell_values():
    """The FBI NICS November 2015 table: values checked against the PDF's own text."""
    path = corpus_file(NICS)
    page = pymupdf.open(path)[0]
    (table,) = find_tables(page, "nics", path, 1)
    assert table.name == "nics_background_checks_2015_11_p1_t1"
    assert table.location["n_rows"] == 56 and table.location["n_columns"] == 25
    assert table.location["bbox"] == pytest.approx([33.1, 23.9, 975.3, 569.3], abs=1)
    assert "caption: NICS Firearm Background Checks November - 2015" in table.notes
    names = table.schema.names
    assert names[:7] == [
        "State / Territory",
        "Permit",
        "Handgun",
        "Long Gun",
        "Other",
        "Multiple",
        "Admin",
    ]
    assert names[7:10] == ["Pre-Pawn Handgun", "Pre-Pawn Long Gun", "Pre-Pawn Other"]
    assert names[16:18] == ["Rentals Handgun", "Rentals Long Gun"]
    assert names[-1] == "Totals"
    assert all(f.type == pa.int64() for f in table.schema if f.name != "State / Territory")
    rows = {r["State / Territory"]: r for r in rows_of(table)}
    assert len(rows) == 56 and "Wyoming" in rows and "District of Columbia" in rows

    def values(state):
        return [rows[state][n] for n in names[1:]]

    # read off page.get_text(); the two Rentals columns are blank in the PDF
    assert values("Alabama") == [
        18870, 23022, 22650, 859, 1178, 0, 14, 15, 0, 2179, 2307, 11, 0, 0, 0,
        None, None, 13, 14, 0, 3, 2, 0, 71137,
    ]  # fmt: skip
    assert values("Texas") == [
        21550, 56941, 51670, 2532, 3048, 0, 29, 20, 0, 5748, 5331, 21, 1, 2, 1,
        None, None, 42, 36, 4, 1, 5, 0, 146982,
    ]  # fmt: skip
    # California prints thousands with a space: "98 452"
    assert rows["California"]["Permit"] == 98452 and rows["California"]["Totals"] == 180116
    assert rows["Kentucky"]["Permit"] == 264140
    assert rows["Totals"]["Totals"] == 2236457
    # the PDF's own arithmetic holds for every row and column: nothing shifted
    for state, row in rows.items():
        assert sum(row[n] or 0 for n in names[1:-1]) == row["Totals"], state
    for n in names[1:]:
        column = sum(r[n] or 0 for s, r in rows.items() if s != "Totals")
        assert column == (rows["Totals"][n] or 0), n


def test_nics_table_text_is_searchable():
    path = corpus_file(NICS)
    ((table, text),) = find_tables_with_text(pymupdf.open(path)[0], "nics", path, 1)
    assert text.startswith("NICS Firearm Background Checks November - 2015\n| State / Territory |")
    assert "| Alabama | 18870 | 23022 |" in text


def test_code_tables_keep_leading_zeros_and_key_value_tables():
    path = corpus_file(PDFS / "openpreserve-format-corpus" / "195981.pdf")
    doc = pymupdf.open(path)
    p17 = find_tables(doc[16], "va", path, 17)
    assert [t.name for t in p17] == ["t_195981_p17_t1", "t_195981_p17_t2"]
    ages = p17[1]
    assert ages.schema.names == ["INTERNAL VALUE", "EXTERNAL VALUE"]
    assert ages.schema.field("INTERNAL VALUE").type == pa.int64()
    assert rows_of(ages)[:2] == [
        {"INTERNAL VALUE": 1, "EXTERNAL VALUE": "<25"},
        {"INTERNAL VALUE": 2, "EXTERNAL VALUE": "25-34"},
    ]
    codes = find_tables(doc[17], "va", path, 18)[1]
    assert codes.schema.field("INTERNAL VALUE").type == pa.string()  # "01", "02": codes
    assert rows_of(codes)[0] == {
        "INTERNAL VALUE": "01",
        "EXTERNAL VALUE": "COMPENSATION AND PENSION",
    }


def test_table_without_outer_side_rules_keeps_its_first_and_last_columns():
    path = corpus_file(PDFS / "pdfplumber" / "federal-register-2020-17221.pdf")
    (table,) = find_tables(pymupdf.open(path)[5], "fr", path, 6)
    assert table.schema.names == [
        "Action",
        "Labor cost",
        "Parts cost",
        "Cost per product",
        "Cost on U.S. operators",
    ]
    (row,) = rows_of(table)
    assert row["Action"].startswith("Stabilizer wiring change")


def test_plots_and_diagrams_are_not_tables():
    path = corpus_file(PDFS / "py-pdf-sample-files" / "GeoTopo-komprimiert.pdf")
    doc = pymupdf.open(path)
    for number in (10, 12, 35, 38, 56, 81, 82, 86):  # pages with ruled figures
        assert find_tables(doc[number - 1], "geo", path, number) == [], number


def test_prose_pdfs_have_no_tables():
    for rel in ("pdfplumber/scotus-transcript-p1.pdf", "py-pdf-sample-files/multicolumn.pdf"):
        path = corpus_file(PDFS / rel)
        for page in pymupdf.open(path):
            if rel.endswith("multicolumn.pdf") and page.number == 2:
                continue  # its one table (next test); the two-column prose pages have none
            assert find_tables(page, "t", path, page.number + 1) == []


def test_open_table_of_a_latex_paper():
    """Table 1 of multicolumn.pdf: booktabs, three single-stroke horizontal rules, no
    vertical ones; columns from the white gutters, typed from the values."""
    path = corpus_file(PDFS / "py-pdf-sample-files" / "multicolumn.pdf")
    page = pymupdf.open(path)[2]
    (table,) = find_tables(page, "mc", path, 3)
    assert table.schema.names == [
        "Country",
        "Population (millions)",
        "Area (km2)",
        "Capital",
        "Official Language",  # the PDF draws an "ffi" ligature: expanded
    ]
    assert table.schema.field("Population (millions)").type == pa.float64()
    assert table.schema.field("Area (km2)").type == pa.int64()
    rows = rows_of(table)
    assert [r["Country"] for r in rows] == [
        "Austria", "Belgium", "Czech Republic", "Denmark", "Finland",
    ]  # fmt: skip
    assert rows[1] == {
        "Country": "Belgium",
        "Population (millions)": 11.5,
        "Area (km2)": 30689,
        "Capital": "Brussels",
        "Official Language": "Dutch, French, German",
    }
    assert rows[4]["Area (km2)"] == 338424


def test_open_table_from_a_word_processor_with_wrapped_cells():
    """392154.pdf (an NRC report, 90 pages, partly damaged): tables drawn with three
    horizontal rules whose pieces meet at the column borders, owners listed under a
    plant, a long owner name wrapped onto a second line."""
    path = corpus_file(PDFS / "openpreserve-format-corpus" / "392154.pdf")
    page = pymupdf.open(path)[16]
    (table,) = find_tables(page, "nrc", path, 17)
    assert table.schema.names == [
        "Plant Name", "Location", "Operating Status", "Ownership", "Ownership Percentage",
    ]  # fmt: skip
    rows = rows_of(table)
    assert rows[1] == {
        "Plant Name": "Arnold (Duane) Energy Center",
        "Location": "Iowa",
        "Operating Status": "FPL",
        "Ownership": "IES Utilities, Inc.",
        "Ownership Percentage": 70.0,
    }
    assert rows[2]["Plant Name"] is None and rows[2]["Ownership Percentage"] == 20.0
    wrapped = next(r for r in rows if r["Ownership Percentage"] == 18.33)
    assert wrapped["Ownership"] == "North Carolina Eastern Municipal Power Agency"
    # each plant's shares add up to 100: no value slipped into another row
    total = 0.0
    for r in rows:
        if r["Plant Name"] and total:
            assert abs(total - 100.0) < 0.01, r
            total = 0.0
        total += r["Ownership Percentage"]


def test_words_from_the_connectors_text_page_read_the_same_tables(tmp_path, monkeypatch):
    """The connector passes the page's text page; no second (clipped) text page is made,
    and every table, cell and location is what a clipped text page would give."""
    # the flags get_text("words") reads with, but ligatures expanded
    assert TEXT_FLAGS == pymupdf.TEXTFLAGS_WORDS & ~pymupdf.TEXT_PRESERVE_LIGATURES
    files = [(simple_table_pdf(tmp_path / "s.pdf"), None)]
    for rel in (
        "pdfplumber/nics-background-checks-2015-11.pdf",
        "openpreserve-format-corpus/195981.pdf",
    ):
        if (PDFS / rel).exists():
            files.append((PDFS / rel, 30))
    made: list[int] = []
    real = pymupdf.Page.get_textpage

    def counting(self, *args, **kwargs):
        made.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pymupdf.Page, "get_textpage", counting)
    compared = 0
    for path, pages in files:
        doc = pymupdf.open(path)
        for page in list(doc)[:pages]:
            clipped = find_tables(page, "k", path, page.number + 1)
            textpage = real(page, flags=TEXT_FLAGS)
            made.clear()
            shared = find_tables(page, "k", path, page.number + 1, textpage=textpage)
            assert made == [], (path.name, page.number + 1)
            assert [t.name for t in shared] == [t.name for t in clipped]
            for a, b in zip(shared, clipped, strict=True):
                assert a.schema == b.schema and a.location == b.location
                assert rows_of(a) == rows_of(b), (a.name, path.name)
            compared += len(shared)
    assert compared >= 1


def test_thousands_of_separate_boxes_are_cheap_and_not_tables(tmp_path):
    """Vector halftone or a chart of dots: 5,000+ disjoint squares, no grid among them."""
    doc = pymupdf.open()
    page = doc.new_page()
    shape = page.new_shape()
    for x in range(10, 600, 9):
        for y in range(10, 780, 9):
            shape.draw_rect(pymupdf.Rect(x, y, x + 4, y + 4))
    shape.finish(fill=(0, 0, 0))
    shape.commit()
    path = tmp_path / "dots.pdf"
    doc.save(path)
    page = pymupdf.open(path)[0]
    start = time.perf_counter()
    assert find_tables(page, "dots", path, 1) == []
    assert time.perf_counter() - start < 5  # ~0.3 s; quadratic clustering took minutes


def test_a_grid_of_cell_rectangles_is_one_table(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    for i in range(40):
        for j in range(8):
            cell = pymupdf.Rect(40 + j * 65, 40 + i * 18, 40 + (j + 1) * 65, 40 + (i + 1) * 18)
            page.draw_rect(cell, width=0.5)
            page.insert_text((cell.x0 + 3, cell.y0 + 13), f"h{j}" if i == 0 else str(i * j))
    path = tmp_path / "grid.pdf"
    doc.save(path)
    (table,) = find_tables(pymupdf.open(path)[0], "grid", path, 1)
    assert table.schema.names == [f"h{j}" for j in range(8)]
    assert table.location["n_rows"] == 39
    rows = rows_of(table)
    assert rows[38] == {f"h{j}": 39 * j for j in range(8)}


# -- the lattice (docframe's own grid reader) against PyMuPDF's finder -------------------


def test_lattice_reads_what_the_finder_reads(tmp_path):
    """Both readers on the same ruled regions give the same names, rows and cells."""
    path = simple_table_pdf(tmp_path / "sales.pdf")
    doc = pymupdf.open()
    page = doc.new_page()
    xs, ys = [50, 150, 230, 310], [100, 120, 140, 160, 180]
    cells = {(0, 0): "Item", (0, 1): "Sales", (1, 1): "Q1", (1, 2): "Q2"}
    cells |= {(2, 0): "Apples", (2, 1): "10", (2, 2): "12", (3, 0): "Pears", (3, 1): "7"}
    draw_grid(page, xs, ys, cells, skip_v={(0, 230)}, skip_h={(120, 0)})
    merged = tmp_path / "merged.pdf"
    doc.save(merged)
    for pdf in (path, merged):
        page = pymupdf.open(pdf)[0]
        (region,) = candidate_regions(page)
        (finder_found, finder_words) = finder_tables(page, region, None)[0]
        lattice = read_lattice(region)
        ours = read_table(lattice, region.words)
        theirs = read_table(finder_found, finder_words)
        assert (ours.names, ours.rows) == (theirs.names, theirs.rows)
        assert ours.bbox == pytest.approx(tuple(theirs.bbox), abs=0.5)


def test_a_frame_inside_a_cell_does_not_split_the_cell(tmp_path):
    """A link or highlight box drawn inside a cell is not a cell of the table."""
    doc = pymupdf.open()
    page = doc.new_page()
    xs, ys = [50, 250, 450], [100, 130, 200, 230]
    draw_grid(page, xs, ys, {(0, 0): "Source", (0, 1): "Notes", (2, 0): "Mail", (2, 1): "weekly"})
    page.insert_text((54, 150), "Archive site", fontsize=10)
    page.draw_rect(pymupdf.Rect(52, 138, 150, 154), width=0.5)  # a frame around a link
    page.insert_text((254, 150), "first line of the note", fontsize=10)
    page.insert_text((254, 190), "last line, below the frame", fontsize=10)
    path = tmp_path / "framed.pdf"
    doc.save(path)
    page = pymupdf.open(path)[0]
    (table,) = find_tables(page, "framed", path, 1)
    assert table.schema.names == ["Source", "Notes"]
    assert rows_of(table) == [
        {"Source": "Archive site", "Notes": "first line of the note last line, below the frame"},
        {"Source": "Mail", "Notes": "weekly"},
    ]


def test_a_header_above_an_all_number_grid_goes_to_the_finder(tmp_path, monkeypatch):
    """The lattice reads inside the rules only; PyMuPDF's finder also looks above them."""
    doc = pymupdf.open()
    page = doc.new_page()
    xs, ys = [50, 150, 250], [100, 120, 140, 160]
    page.insert_text((54, 95), "Year", fontsize=10)
    page.insert_text((154, 95), "Count", fontsize=10)
    years = {(0, 0): "2023", (0, 1): "10", (1, 0): "2024", (1, 1): "12"}
    draw_grid(page, xs, ys, years | {(2, 0): "2025", (2, 1): "15"})
    path = tmp_path / "numbers.pdf"
    doc.save(path)
    page = pymupdf.open(path)[0]
    calls = []
    real = pdf_tables.finder_tables
    monkeypatch.setattr(pdf_tables, "finder_tables", lambda *a: calls.append(a) or real(*a))
    found = find_tables(page, "numbers", path, 1)
    assert len(calls) == 1
    assert [rows_of(t) for t in found] == [
        [{"Year": 2023, "Count": 10}, {"Year": 2024, "Count": 12}, {"Year": 2025, "Count": 15}]
    ]


def test_rule_runs_join_the_pieces_of_one_rule_only():
    h = [
        (200, 50, 300, 50, "h"),  # 0: second piece of the rule at y=50 (gap 2 <= JOIN_TOL)
        (10, 80, 100, 80, "h"),  # 1: another rule
        (100, 50, 198, 50, "h"),  # 2: first piece at y=50
        (310, 50, 400, 50, "h"),  # 3: gap 10: a separate run
        (10, 50.5, 90, 50.5, "h"),  # 4: half a point lower: not the same rule
    ]
    v = [(100, 0, 100, 40, "v"), (100, 41, 100, 90, "v"), (101, 0, 101, 40, "v")]
    runs = rule_runs(h + v)
    assert runs == [
        [h[0], h[2]],  # ordered by their first edge, members in input order
        [h[1]],
        [h[3]],
        [h[4]],
        [v[0], v[1]],
        [v[2]],
    ]
    clusters = cluster(runs)
    assert sum(len(c[4]) for c in clusters) == len(h + v)  # every edge in one cluster


def open_table_pdf(path: Path, *, pieces: bool = False, prose: bool = False) -> Path:
    """Three horizontal rules, no vertical ones: a booktabs table, or with ``pieces``
    a word-processor one (each header cell's border drawn on its own), or with
    ``prose`` two columns of running text between the rules."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    xs = [72, 200, 330, 460, 540]
    if prose:
        text = "Words of running text that fill a column line after line. " * 8
        page.insert_textbox(pymupdf.Rect(72, 110, 296, 300), text, fontsize=10)
        page.insert_textbox(pymupdf.Rect(316, 110, 540, 300), text, fontsize=10)
        rules = [(100, None), (310, None)]
    else:
        header = ["Species", "Habitat", "Count", "Mass (kg)"]
        body = [
            ["Red fox", "Woodland", "1,204", "6.2"],
            ["Badger", "Grassland", "318", "11.9"],
            ["Otter", "Riverbank", "75", "8.4"],
            ["Pine marten", "Forest", "42", "1.6"],
        ]
        for j, name in enumerate(header):
            page.insert_text((xs[j] + 2, 116), name, fontsize=10)
        for i, row in enumerate(body):
            for j, value in enumerate(row):
                page.insert_text((xs[j] + 2, 142 + 18 * i), value, fontsize=10)
        rules = [(100, xs), (124, xs), (214, None)]
    for y, cuts in rules:
        if pieces and cuts:
            for a, b in zip(cuts, cuts[1:], strict=False):  # touching pieces, a column each
                page.draw_line((a, y), (b, y), width=0.8)
        else:
            page.draw_line((xs[0], y), (xs[-1], y), width=0.8)
    doc.save(path)
    return path


@pytest.mark.parametrize("pieces", [False, True])
def test_open_tables_read_from_horizontal_rules(tmp_path, pieces):
    path = open_table_pdf(tmp_path / "open.pdf", pieces=pieces)
    (table,) = find_tables(pymupdf.open(path)[0], "o", path, 1)
    assert table.schema.names == ["Species", "Habitat", "Count", "Mass (kg)"]
    assert table.schema.field("Count").type == pa.int64()
    rows = rows_of(table)
    assert rows[0] == {
        "Species": "Red fox", "Habitat": "Woodland", "Count": 1204, "Mass (kg)": 6.2,
    }  # fmt: skip
    assert [r["Species"] for r in rows] == ["Red fox", "Badger", "Otter", "Pine marten"]


def test_two_columns_of_prose_between_rules_are_not_a_table(tmp_path):
    path = open_table_pdf(tmp_path / "prose.pdf", prose=True)
    page = pymupdf.open(path)[0]
    assert [r.rules for r in candidate_regions(page)] == [[100.0, 310.0]]
    assert find_tables(page, "p", path, 1) == []  # a gutter, but no column of numbers


def test_ruled_paper_is_not_an_open_table(tmp_path):
    """Hundreds of full-width rules (ruled paper, a form) are not paired up: that would
    cost rules squared on a hostile page."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    shape = page.new_shape()
    for i in range(MAX_RULES := MAX_OPEN_RULES + 20):
        y = 20 + i * (750 / MAX_RULES)
        shape.draw_line((40, y), (570, y))
    shape.finish(width=0.3)
    shape.commit()
    page.insert_text((50, 40), "Notes 12 34 56", fontsize=8)
    path = tmp_path / "ruled.pdf"
    doc.save(path)
    page = pymupdf.open(path)[0]
    assert all(r.rules is None for r in candidate_regions(page))
    assert find_tables(page, "r", path, 1) == []


def test_a_table_reader_that_cannot_be_imported_is_an_error_not_no_tables(tmp_path, monkeypatch):
    """Tables are on by default: a broken install names what is missing, and the file
    does not quietly come back without its tables (nor go to pypdf, which has none)."""
    from docframe.connectors.pdf import PdfOptions
    from docframe.connectors.pdf.extract import worker
    from docframe.errors import MissingDependencyError

    path = simple_table_pdf(tmp_path / "sales.pdf")
    read = (str(path), str(path), path.name, None)
    parsers = (("pymupdf", "pypdf"), ())
    monkeypatch.setitem(sys.modules, "docframe.connectors.pdf.tables", None)  # cannot import
    with pytest.raises(MissingDependencyError) as info:
        worker(*read, PdfOptions(ocr="off"), *parsers)
    assert info.value.message == (
        "the PDF table reader needs 'docframe.connectors.pdf.tables', which cannot be imported"
    )
    assert info.value.help == "reinstall docframe, or read PDFs without tables (--no-pdf-tables)"
    doc = worker(*read, PdfOptions(ocr="off", tables=False), *parsers)  # tables off: no need
    assert doc.parser == "pymupdf" and doc.tables == [] and doc.elements
