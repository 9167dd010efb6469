"""PDFs through the real ingest path: chunks with page and bbox, tables as SQL tables."""

from __future__ import annotations

import json

import pytest

import docframe
from docframe.cli import app
from tests.conftest import SHARED_CORPUS


def make_pdf(path):
    """Two pages: a heading and prose on each, and a ruled table on page 2."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 80), "Harbour Operations Report", fontsize=20)
    page.insert_textbox(
        pymupdf.Rect(72, 110, 520, 300),
        "Container cranes at the north quay were serviced in March. Ship-to-shore "
        "productivity recovered to thirty moves per hour after the overhaul.",
        fontsize=11,
    )
    page = doc.new_page()
    page.insert_text((72, 80), "Tug Fleet", fontsize=20)
    page.insert_textbox(
        pymupdf.Rect(72, 100, 520, 160),
        "Each tug is listed below with its bollard pull and engine hours.",
        fontsize=11,
    )
    rows = [["Tug", "Bollard pull (t)", "Engine hours"], ["Orca", "65", "1,204"],
            ["Marlin", "80", "987"], ["Pelican", "52", "2,311"]]  # fmt: skip
    x0, y0, w, h = 72, 200, 150, 24
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(x0 + c * w, y0 + r * h, x0 + (c + 1) * w, y0 + (r + 1) * h)
            page.draw_rect(rect, color=(0, 0, 0), width=0.8)
            page.insert_text((rect.x0 + 4, rect.y1 - 7), cell, fontsize=10)
    doc.save(path)


def test_pdf_chunks_carry_page_and_bbox_and_tables_become_sql_tables(tmp_path):
    make_pdf(tmp_path / "harbour.pdf")
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(tmp_path / "harbour.pdf")
    assert report.ok, report.failures
    # where the wall time went: the PDF waited on (in a worker) and the model's time
    seconds = report.seconds
    assert seconds["total"] > seconds["embed"] > 0 and seconds["extract_wait"] > 0
    assert seconds["total"] >= seconds["embed"] + seconds["extract_wait"]
    assert report.timing().startswith(f"{seconds['total']:.1f} s (embedding ")
    chunks = lake.sql("SELECT page, bbox, text, metadata FROM chunks ORDER BY page, ordinal")
    rows = chunks.to_list()
    assert {r["page"] for r in rows} == {1, 2}
    assert all(r["bbox"] and len(r["bbox"]) == 4 for r in rows)
    assert any("thirty moves per hour" in r["text"] for r in rows if r["page"] == 1)

    hit = lake.search("how fast do the quay cranes move containers", k=1).to_list()[0]
    assert hit["page"] == 1 and hit["bbox"][2] > hit["bbox"][0]

    (found,) = lake.sql("SELECT * FROM pdf_tables").to_list()
    assert found["page"] == 2 and found["n_rows"] == 3 and found["n_columns"] == 3
    table = lake.sql(f'SELECT * FROM "{found["name"]}" ORDER BY 1').to_list()
    assert [list(r.values()) for r in table] == [
        ["Marlin", 80, 987],
        ["Orca", 65, 1204],  # "1,204" is a number
        ["Pelican", 52, 2311],
    ]
    # back from a table's rows to its document and the text on its page
    near = lake.sql(
        "SELECT d.title, c.text FROM pdf_tables t JOIN documents d USING (doc_id) "
        "JOIN chunks c ON c.doc_id = t.doc_id AND c.page = t.page ORDER BY c.ordinal"
    ).to_list()
    assert near and near[0]["title"] == "Harbour Operations Report"
    assert any("bollard pull" in r["text"].lower() for r in near)
    meta = json.loads(lake.sql("SELECT metadata FROM documents").to_list()[0]["metadata"])
    assert meta["page_count"] == 2 and meta["parser"] == "pymupdf"


def test_search_json_includes_page_and_bbox(tmp_path):
    from typer.testing import CliRunner

    make_pdf(tmp_path / "harbour.pdf")
    lake = str(tmp_path / "lake")
    runner = CliRunner()
    assert runner.invoke(app, ["--lake", lake, "ingest", str(tmp_path / "harbour.pdf"),
                               "--no-progress"]).exit_code == 0  # fmt: skip
    out = runner.invoke(app, ["--lake", lake, "search", "tug engine hours", "-f", "json"])
    hits = json.loads(out.stdout)
    assert hits[0]["page"] == 2 and len(hits[0]["bbox"]) == 4


def test_encrypted_pdf_needs_its_password(tmp_path):
    import pymupdf

    make_pdf(tmp_path / "plain.pdf")
    doc = pymupdf.open(tmp_path / "plain.pdf")
    doc.save(tmp_path / "locked.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256,
             user_pw="s3cret", owner_pw="owner")  # fmt: skip
    lake = docframe.open(tmp_path / "lake")
    (failure,) = lake.ingest(tmp_path / "locked.pdf").failures
    assert "encrypted: supply a password" in failure.error
    from docframe.connectors.pdf.options import PdfOptions

    assert lake.ingest(tmp_path / "locked.pdf", pdf_options=PdfOptions(password="s3cret")).ok
    assert lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"] > 0


NICS = SHARED_CORPUS / "pdfs" / "pdfplumber" / "nics-background-checks-2015-11.pdf"


@pytest.mark.skipif(not NICS.exists(), reason=f"shared corpus not found at {NICS}")
def test_real_table_from_the_fbi_nics_report(tmp_path):
    lake = docframe.open(tmp_path / "lake")
    assert lake.ingest(NICS).ok
    (found,) = lake.sql("SELECT name, page FROM pdf_tables").to_list()
    row = lake.sql(
        f'SELECT "Permit", "Handgun", "Long Gun", "Totals" FROM "{found["name"]}" '
        """WHERE "State / Territory" = 'Alabama'"""
    ).to_list()
    # the values printed in the PDF's Alabama row (November 2015)
    assert row == [{"Permit": 18870, "Handgun": 23022, "Long Gun": 22650, "Totals": 71137}]


def test_same_named_pdfs_in_two_folders_both_keep_their_tables(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        make_pdf(tmp_path / folder / "harbour.pdf")
    lake = docframe.open(tmp_path / "lake")
    assert lake.ingest(tmp_path).ok
    names = [r["name"] for r in lake.sql("SELECT name FROM pdf_tables ORDER BY name").to_list()]
    assert names == ["harbour_p2_t1", "harbour_p2_t1_2"]
    assert lake.ingest(tmp_path).count("unchanged") == 2


def test_scanned_page_chunks_carry_tesseracts_confidence(tmp_path):
    """OCR text keeps page and bbox, and Tesseract's mean word confidence in the chunk
    metadata (README: PDFs, scanned pages), so badly read text can be found."""
    import pymupdf

    from docframe.connectors.pdf import ocr

    if not ocr.available("eng"):
        pytest.skip(f"OCR unavailable: {ocr.missing_reason('eng')} (make ocr installs it)")
    drawn = pymupdf.open()
    page = drawn.new_page(width=612, height=792)
    for i, line in enumerate(["Harbour dues rose in March.", "Invoice 4711 was paid late."]):
        page.insert_text((72, 100 + 30 * i), line, fontsize=16, fontname="helv")
    scan = pymupdf.open()
    scan.new_page(width=612, height=792).insert_image(
        pymupdf.Rect(0, 0, 612, 792), pixmap=page.get_pixmap(dpi=200)
    )
    scan.save(tmp_path / "scan.pdf")
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(tmp_path / "scan.pdf")
    assert report.ok, report.failures
    rows = lake.sql(
        "SELECT page, bbox, text, metadata->>'confidence' AS confidence, "
        "metadata->>'ocr_words' AS words FROM chunks"
    ).to_list()
    assert rows and all(r["page"] == 1 and r["bbox"] for r in rows)
    assert "4711" in " ".join(r["text"] for r in rows)
    for r in rows:
        assert 80 < float(r["confidence"]) <= 100  # clean print reads confidently
        assert int(r["words"]) >= 10
