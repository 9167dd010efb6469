"""PDF text extraction on PDFs generated here with PyMuPDF (runs anywhere).

Covers headings and provenance, column and row reading order, encryption,
windowed reading of a long file, pages that need OCR, metadata (JavaScript,
attachments, dates), the pypdf fallback and corrupt input.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from docframe.connectors.pdf import PdfConnector, PdfOptions
from docframe.connectors.pdf.extract import extract_document, worker
from docframe.connectors.pdf.failures import SUPPLY_PASSWORD
from docframe.connectors.pdf.metadata import pdf_date, usable_title
from docframe.connectors.pdf.reading_order import reading_order
from docframe.errors import ConnectorError
from tests.conftest import SHARED_CORPUS

pymupdf = pytest.importorskip("pymupdf")

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua."
)
OFF = PdfOptions(ocr="off", tables=False, timeout_s=60)


def read(path: Path, options: PdfOptions = OFF):
    docs = list(PdfConnector().configured(options).extract(path))
    assert len(docs) == 1
    return docs[0]


def heading_pdf(path: Path, title: str | None = None) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()  # A4-ish letter: 612 x 792
    page.insert_text((72, 90), "Annual Report on Volcanoes", fontsize=22, fontname="hebo")
    y = 130
    for i in range(3):
        rect = pymupdf.Rect(72, y, 540, y + 60)
        page.insert_textbox(rect, f"Paragraph {i + 1}. {LOREM}", fontsize=11)
        y += 80
    page.insert_text((72, y + 10), "Methods", fontsize=11, fontname="hebo")
    page.insert_textbox(pymupdf.Rect(72, y + 25, 540, y + 85), f"Method text. {LOREM}", fontsize=11)
    if title:
        doc.set_metadata(
            {"title": title, "author": "A. Author", "creationDate": "D:20200806095125Z"}
        )
    doc.save(path)
    return path


def test_connector_contract():
    connector = PdfConnector()
    assert (connector.name, connector.modality, connector.kind) == ("pdf", "pdf", "documents")
    assert connector.suffixes == (".pdf",)
    assert connector.options == PdfOptions()
    options = PdfOptions(password="x", page_window=4)
    configured = connector.configured(options)
    assert configured is not connector and configured.options == options
    assert connector.options == PdfOptions()


def test_importing_the_connector_loads_no_parser():
    code = (
        "import sys, docframe.connectors.pdf; "
        "bad = {'fitz', 'pymupdf', 'pypdf'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_heading_paragraphs_page_and_bbox(tmp_path: Path):
    doc = read(heading_pdf(tmp_path / "report.pdf"))
    assert doc.doc_key == "report.pdf"
    assert doc.parser == "pymupdf"
    assert doc.title == "Annual Report on Volcanoes"  # no metadata title: the first heading
    kinds = [(e.metadata["kind"], e.text.split("\n")[0][:20]) for e in doc.elements]
    assert kinds[0] == ("heading", "Annual Report on Vol")
    assert [k for k, _ in kinds[1:4]] == ["text", "text", "text"]
    assert ("heading", "Methods") in kinds  # bold at body size
    assert kinds[-1][0] == "text"
    for i, element in enumerate(doc.elements):
        assert element.page == 1
        x0, y0, x1, y1 = element.bbox
        assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 <= 792
        assert element.metadata["block"] == i
    assert doc.elements[0].metadata["font_size"] == pytest.approx(22, abs=0.5)
    assert doc.elements[1].metadata["font_size"] == pytest.approx(11, abs=0.5)
    # reading order is top to bottom here
    tops = [e.bbox[1] for e in doc.elements]
    assert tops == sorted(tops)
    meta = doc.metadata
    assert meta["page_count"] == 1 and meta["parser"] == "pymupdf"
    assert meta["encrypted"] is False and meta["has_javascript"] is False
    assert meta["attachments"] == [] and meta["needs_ocr_pages"] == [] and meta["ocr_pages"] == []
    for key in ("title", "author", "subject", "creation_date", "mod_date", "producer"):
        assert key in meta


def test_metadata_title_and_dates(tmp_path: Path):
    doc = read(heading_pdf(tmp_path / "titled.pdf", title="Volcano Report 2020"))
    assert doc.title == "Volcano Report 2020"
    assert doc.metadata["author"] == "A. Author"
    assert doc.metadata["creation_date"] == "2020-08-06T09:51:25Z"
    assert pdf_date("D:20090113120000-05'00'") == "2009-01-13T12:00:00-05:00"
    assert pdf_date("D:2020") == "2020-01-01T00:00:00"
    assert pdf_date("yesterday") == "yesterday"
    assert pdf_date("") is None
    assert usable_title("Microsoft Word - minutes.doc") is None
    assert usable_title("10811.exe") is None
    assert usable_title("Untitled") is None
    assert usable_title("Federal Register") == "Federal Register"


def two_column_pdf(path: Path) -> Path:
    """A title across the page, then two columns whose paragraph gaps line up."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((150, 70), "Two Columns About Lava", fontsize=20, fontname="hebo")
    for col, x0 in (("L", 50), ("R", 320)):
        y = 110
        for i in range(3):
            rect = pymupdf.Rect(x0, y, x0 + 240, y + 150)
            page.insert_textbox(rect, f"{col}{i + 1} start. {LOREM} {LOREM} {col}{i + 1} end.")
            y += 180  # the same gaps in both columns: a horizontal white band across
    page.insert_text((300, 770), "1", fontsize=9)
    doc.save(path)
    return path


def test_two_columns_read_column_by_column(tmp_path: Path):
    doc = read(two_column_pdf(tmp_path / "columns.pdf"))
    starts = [e.text.split()[0] for e in doc.elements]
    assert starts == ["Two", "L1", "L2", "L3", "R1", "R2", "R3", "1"]
    assert doc.elements[0].metadata["kind"] == "heading"
    assert all(e.bbox[2] < 300 for e in doc.elements[1:4])
    assert all(e.bbox[0] > 300 for e in doc.elements[4:7])


def test_line_numbered_transcript_reads_row_by_row(tmp_path: Path):
    pdf = pymupdf.open()
    page = pdf.new_page()
    for n in range(1, 11):
        y = 60 + n * 26
        page.insert_text((60, y), str(n), fontsize=12)
        page.insert_text((100 + (n % 3) * 30, y), f"spoken line {n}", fontsize=12)
    pdf.save(tmp_path / "transcript.pdf")
    doc = read(tmp_path / "transcript.pdf")
    words = " ".join(e.text for e in doc.elements).split()
    expected = []
    for n in range(1, 11):
        expected += [str(n), "spoken", "line", str(n)]
    assert words == expected


def test_json_reader_matches_pymupdf_dict_with_orjson_and_without(tmp_path: Path, monkeypatch):
    """MuPDF's JSON (parsed by orjson, or by the standard json) reads the same blocks,
    line texts, font sizes and bold counts as PyMuPDF's span-level dict."""
    from docframe.connectors.pdf import text_reader

    path = heading_pdf(tmp_path / "h.pdf")
    textpage = pymupdf.open(path)[0].get_textpage(flags=text_reader.TEXT_FLAGS)
    reference = text_reader._blocks_from_dict(textpage)
    assert any(bold for *_, bold, _chars in reference)  # the Helvetica-Bold heading
    assert len({size for _b, _l, sizes, *_ in reference for size in sizes}) == 2  # 22 and 11

    def same(got):
        assert len(got) == len(reference)
        for (box, lines, sizes, bold, chars), (rbox, rlines, rsizes, rbold, rchars) in zip(
            got, reference, strict=True
        ):
            assert box == pytest.approx(rbox, abs=0.015)  # JSON truncates to 1/100 pt
            assert (lines, bold, chars) == (rlines, rbold, rchars)
            assert {round(k, 2): v for k, v in sizes.items()} == {
                round(k, 2): v for k, v in rsizes.items()
            }

    pytest.importorskip("orjson")
    same(text_reader._finish(text_reader._lines_from_json(textpage)))
    monkeypatch.setitem(sys.modules, "orjson", None)  # as if orjson were not installed
    loads = text_reader._json_loads()
    assert loads.__module__ == "json"
    monkeypatch.setattr(text_reader, "_loads", loads)
    same(text_reader._finish(text_reader._lines_from_json(textpage)))


def c_reader_or_skip():
    from docframe.connectors.pdf import text_reader

    reader = text_reader.c_reader()
    if reader is None:
        if shutil.which("cc") or shutil.which("gcc"):
            pytest.fail(
                f"a C compiler is here but the C text reader is not used: "
                f"{text_reader.text_reader_status()} (make install builds it)"
            )
        pytest.skip(f"no C compiler, so no C text reader: {text_reader.text_reader_status()}")
    return reader


def test_c_reader_reads_exactly_what_the_json_says(tmp_path: Path):
    """The C reader of MuPDF's text page (``_stext.c``) against the same facts computed
    from MuPDF's own JSON of the page: every block, coordinate, line and character
    count by font size and name, on generated PDFs and,
    where the shared corpus is present, every page of its text PDFs (Arabic, Japanese,
    multi-column, tables, a 117-page thesis)."""
    from docframe.connectors.pdf import text_reader

    reader = c_reader_or_skip()
    files = [heading_pdf(tmp_path / "h.pdf"), two_column_pdf(tmp_path / "two.pdf")]
    corpus = SHARED_CORPUS / "pdfs"
    if corpus.exists():
        files += sorted(corpus.glob("py-pdf-sample-files/*.pdf"))
        files += sorted(corpus.glob("pdfplumber/*.pdf")) + sorted(corpus.glob("*/195981.pdf"))
    pages = 0
    for path in files:
        try:
            doc = pymupdf.open(path)
        except Exception:  # noqa: BLE001 - the corpus's broken files are other tests' business
            continue
        if doc.needs_pass:
            continue
        for page in doc:
            textpage = page.get_textpage(flags=text_reader.TEXT_FLAGS)
            try:
                expected = text_reader._lines_from_json(textpage)
            except (ValueError, KeyError):
                continue  # the JSON path gives up on this page (the dict path reads it)
            got = reader(textpage.this.m_internal_value())
            assert got == expected, (path.name, page.number + 1)
            pages += 1
    assert pages >= (200 if corpus.exists() else 2)  # every generated page; most corpus ones


def test_c_reader_is_not_used_for_another_mupdf(monkeypatch):
    from docframe.connectors.pdf import _stext, text_reader

    c_reader_or_skip()
    monkeypatch.setattr(_stext, "FZ_VERSION", "0.0.1")
    text_reader._c_lookup.cache_clear()
    assert text_reader.c_reader() is None
    assert "built for MuPDF 0.0.1" in text_reader.text_reader_status()
    monkeypatch.undo()
    text_reader._c_lookup.cache_clear()
    assert text_reader.c_reader() is not None


def test_ligatures_are_expanded_so_plain_words_match():
    """LaTeX output draws fi/ff/ffi as one glyph (U+FB01...); chunks and search need the
    letters. On the corpus's thesis, 330 of 3,766 blocks held one before."""
    path = SHARED_CORPUS / "pdfs" / "py-pdf-sample-files" / "crazyones-pdfa.pdf"
    if not path.exists():
        pytest.skip(f"shared PDF corpus not found ({path}); it is present on CI machines only")
    from docframe.connectors.pdf.pypdf_text import extract_with_pypdf

    for doc in (read(path), extract_with_pypdf(str(path), str(path), path.name, None, OFF)):
        text = "\n".join(e.text for e in doc.elements)
        assert "misfits" in text and "differently" in text, doc.parser
        assert not any("\ufb00" <= ch <= "\ufb06" for ch in text), doc.parser


def test_reading_order_on_boxes():
    # two columns under a centred title that straddles the gutter
    boxes = [
        (250, 50, 350, 60),  # title
        (50, 100, 280, 300),  # left top
        (320, 100, 550, 200),  # right top
        (50, 310, 280, 500),  # left bottom
        (320, 210, 550, 500),  # right bottom
        (295, 700, 305, 710),  # page number in the gutter
    ]
    assert reading_order(boxes) == [0, 1, 3, 2, 4, 5]
    # a single column with a narrow side strip (line numbers) reads row by row
    rows = [(40, 100 + 20 * i, 50, 110 + 20 * i) for i in range(5)]
    text = [(80, 100 + 20 * i, 500, 110 + 20 * i) for i in range(5)]
    order = reading_order(rows + text)
    assert order == [i for pair in zip(range(5), range(5, 10), strict=True) for i in pair]
    assert reading_order([]) == []
    assert reading_order([(0, 0, 1, 1)]) == [0]


def encrypted_pdf(path: Path, user: str, owner: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Secret eruption schedule", fontsize=12)
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user, owner_pw=owner)
    return path


def test_encrypted_pdf_needs_the_right_password(tmp_path: Path):
    path = encrypted_pdf(tmp_path / "locked.pdf", user="open-sesame", owner="owner-pw")
    with pytest.raises(ConnectorError) as info:
        read(path)
    assert info.value.message == f"{path}: {SUPPLY_PASSWORD}"
    assert "encrypted: supply a password (--pdf-password or a --pdf-passwords file)" in str(
        info.value
    )
    with pytest.raises(ConnectorError) as info:
        read(path, PdfOptions(password="guess", ocr="off", tables=False))
    assert info.value.message == f"{path}: encrypted: wrong password"
    doc = read(path, PdfOptions(password="open-sesame", ocr="off", tables=False))
    assert doc.metadata["encrypted"] is True
    assert "Secret eruption schedule" in doc.elements[0].text
    # per-file passwords, by file name, win over the general one
    doc = read(
        path,
        PdfOptions(password="guess", passwords={"locked.pdf": "open-sesame"}, ocr="off"),
    )
    assert doc.elements


def test_owner_password_only_opens_without_a_password(tmp_path: Path):
    path = encrypted_pdf(tmp_path / "restricted.pdf", user="", owner="owner-pw")
    doc = read(path)
    assert doc.metadata["encrypted"] is True
    assert "Secret eruption schedule" in doc.elements[0].text


def test_long_file_is_read_in_windows(tmp_path: Path):
    doc = pymupdf.open()
    for n in range(1, 301):
        doc.new_page(width=300, height=300).insert_text((40, 60), f"Page {n} of the long file")
    doc.save(tmp_path / "long.pdf")
    small = read(tmp_path / "long.pdf", PdfOptions(page_window=16, ocr="off", tables=False))
    assert small.metadata["page_count"] == 300
    assert [e.page for e in small.elements] == list(range(1, 301))
    assert all(e.text == f"Page {e.page} of the long file" for e in small.elements)
    whole = read(tmp_path / "long.pdf", PdfOptions(page_window=1000, ocr="off", tables=False))
    assert [(e.text, e.page, e.bbox) for e in whole.elements] == [
        (e.text, e.page, e.bbox) for e in small.elements
    ]


def image_only_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    pix = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 64, 64), False)
    pix.clear_with(200)
    page.insert_image(pymupdf.Rect(72, 72, 400, 400), pixmap=pix)
    doc.new_page().insert_text((72, 72), "A page with text")
    doc.save(path)
    return path


def test_page_without_text_layer_is_recorded_as_needing_ocr(tmp_path: Path):
    doc = read(image_only_pdf(tmp_path / "scan.pdf"))
    assert doc.metadata["needs_ocr_pages"] == [1]
    assert doc.metadata["needs_ocr_reason"] == "OCR is off"
    assert doc.metadata["ocr_pages"] == []
    assert [e.page for e in doc.elements] == [2]


def test_javascript_and_attachments_are_recorded_not_run(tmp_path: Path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Active content inside")
    page.add_file_annot((100, 100), b"x,y\n1,2\n", "page-note.csv")
    doc.embfile_add("payload.bin", b"\x00\x01", filename="payload.bin")
    catalog = doc.pdf_catalog()
    doc.xref_set_key(catalog, "OpenAction", "<</S/JavaScript/JS(app.alert('boom'))>>")
    # object streams hide dictionaries from a plain byte scan
    doc.save(tmp_path / "active.pdf", use_objstms=1, garbage=3, deflate=1)
    result = read(tmp_path / "active.pdf")
    assert result.metadata["has_javascript"] is True
    assert sorted(result.metadata["attachments"]) == ["page-note.csv", "payload.bin"]
    clean = read(heading_pdf(tmp_path / "clean.pdf"))
    assert clean.metadata["has_javascript"] is False


def test_pypdf_reads_what_it_can_without_bboxes(tmp_path: Path):
    path = heading_pdf(tmp_path / "fallback.pdf", title="Fallback Title")
    doc = worker(str(path), str(path), path.name, None, OFF, ("pypdf",), ())
    assert doc.parser == "pypdf" and doc.metadata["parser"] == "pypdf"
    assert doc.title == "Fallback Title"
    assert doc.elements and all(e.page == 1 and e.bbox is None for e in doc.elements)
    assert "Annual Report on Volcanoes" in " ".join(e.text for e in doc.elements)


def test_a_page_pymupdf_cannot_read_is_filled_in_by_pypdf(tmp_path: Path, monkeypatch):
    from docframe.connectors.pdf import extract

    pdf = pymupdf.open()
    for n in (1, 2, 3):
        pdf.new_page().insert_text((72, 72), f"Content of page {n}")
    path = tmp_path / "one-bad-page.pdf"
    pdf.save(path)
    real = extract.page_blocks

    def flaky(page, number, textpage=None):
        if number == 2:
            raise RuntimeError("code=7: cannot find object in xref (142 0 R)")
        return real(page, number, textpage)

    monkeypatch.setattr(extract, "page_blocks", flaky)
    doc = extract.extract_with_pymupdf(str(path), str(path), path.name, None, OFF)
    assert doc.parser == "pymupdf"
    assert [(e.page, e.text) for e in doc.elements] == [
        (n, f"Content of page {n}") for n in (1, 2, 3)
    ]
    assert [e.bbox is None for e in doc.elements] == [False, True, False]
    assert doc.elements[1].metadata["parser"] == "pypdf"
    assert doc.metadata["pypdf_pages"] == [2]
    assert doc.metadata["page_errors"] == ["page 2: cannot find object in xref (142 0 R)"]

    # when no page reads, the whole file goes to pypdf
    monkeypatch.setattr(extract, "page_blocks", lambda page, number: flaky(page, 2))
    doc = worker(str(path), str(path), path.name, None, OFF, ("pymupdf", "pypdf"), ())
    assert doc.parser == "pypdf"
    assert doc.metadata["fallback_reason"].startswith("pymupdf: no page could be read")
    assert [e.page for e in doc.elements] == [1, 2, 3]


def crash_in_pymupdf(path, label, doc_key, password, options, parsers, prior):
    """An injected job: MuPDF 'segfaults', pypdf then runs as usual."""
    if "pymupdf" in parsers:
        os.kill(os.getpid(), signal.SIGSEGV)
    return worker(path, label, doc_key, password, options, parsers, prior)


def test_a_crash_in_pymupdf_falls_back_to_pypdf(tmp_path: Path):
    path = heading_pdf(tmp_path / "crashy.pdf")
    doc = extract_document(path, OFF, job=crash_in_pymupdf)
    assert doc.parser == "pypdf"
    assert doc.metadata["fallback_reason"] == f"pymupdf: parser crashed (signal {signal.SIGSEGV:d})"
    assert doc.elements


def test_corrupt_files_name_both_parsers(tmp_path: Path):
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.4\n%%EOF\n")
    with pytest.raises(ConnectorError) as info:
        read(garbage)
    message = info.value.message
    assert message.startswith(f"{garbage}: corrupt: pymupdf: ")
    assert "; pypdf: " in message and "\n" not in message

    empty = tmp_path / "no-pages.pdf"
    empty.write_bytes(
        b"%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type/Pages/Kids[]/Count 0>> endobj\n"
        b"trailer <</Root 1 0 R/Size 3>>\n%%EOF\n"
    )
    with pytest.raises(ConnectorError, match=r"corrupt: pymupdf: no pages; pypdf: "):
        read(empty)


def test_timeout_names_the_file(tmp_path: Path):
    path = heading_pdf(tmp_path / "slow.pdf")
    with pytest.raises(ConnectorError) as info:
        extract_document(path, PdfOptions(timeout_s=1, ocr="off"), job=sleep_forever)
    assert info.value.message == f"{path}: timeout after 1 s"


def sleep_forever(*_args):
    import time

    time.sleep(120)
