"""OCR of pages without a text layer, with the tesseract program: generated and real scans."""

from __future__ import annotations

import difflib
import re
import shutil

import pytest

from docframe.connectors.pdf import ocr
from docframe.errors import ConnectorError
from tests.conftest import SHARED_CORPUS

pymupdf = pytest.importorskip("pymupdf")

OCRMYPDF = SHARED_CORPUS / "pdfs" / "ocrmypdf"
needs_tesseract = pytest.mark.skipif(
    not ocr.available("eng"),
    reason=f"OCR unavailable: {ocr.missing_reason('eng')} "
    "(apt-get install tesseract-ocr tesseract-ocr-eng)",
)


def corpus_file(name: str):
    path = OCRMYPDF / name
    if not path.exists():
        pytest.skip(f"shared PDF corpus not found ({path}); it is present on CI machines only")
    return path


def norm(text: str) -> str:
    """Lower-case words only, so line breaks and quote styles do not count."""
    return " ".join(re.findall(r"\w+", text.lower()))


def image_only_page(tmp_path, lines, *, rotation=0, dpi=200):
    """A PDF page whose only content is a picture of ``lines`` (no text layer)."""
    src = pymupdf.open()
    page = src.new_page(width=612, height=792)
    y = 100
    for line in lines:
        page.insert_text((72, y), line, fontsize=16, fontname="helv")
        y += 30
    pix = page.get_pixmap(dpi=dpi)
    doc = pymupdf.open()
    scan = doc.new_page(width=612, height=792)
    scan.insert_image(scan.rect, pixmap=pix)
    if rotation:
        scan.set_rotation(rotation)
    path = tmp_path / f"scan{rotation}.pdf"
    doc.save(path)
    return pymupdf.open(path)[0]


LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "Volcanic eruptions follow seismic swarms.",
    "Invoice number 4711 was paid in March.",
]


def test_reports_version_and_languages():
    if shutil.which("tesseract") is None:
        assert ocr.version() is None and not ocr.available()
        assert "not installed" in ocr.missing_reason()
        return
    assert re.match(r"\d+\.\d+", ocr.version() or "")
    assert "eng" in ocr.languages() or not ocr.available("eng")
    assert not ocr.available("xx_no_such_language")
    assert "xx_no_such_language" in ocr.missing_reason("eng+xx_no_such_language")


@needs_tesseract
def test_image_only_page_words_and_positions(tmp_path):
    page = image_only_page(tmp_path, LINES)
    assert page.get_text().strip() == ""  # really no text layer
    elements = ocr.ocr_page(page, 3)
    text = "\n".join(e.text for e in elements)
    for line in LINES:
        assert norm(line) in norm(text), (line, text)
    for e in elements:
        assert e.page == 3
        assert e.metadata["kind"] == "ocr" and e.metadata["dpi"] == 300
        assert 0 <= e.metadata["confidence"] <= 100
        x0, y0, x1, y1 = e.bbox
        assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 <= 792
    # the words sit where they were drawn: from x = 72, first baseline at y = 100
    # (16 pt Helvetica: capitals reach 11.5 pt above it), lines 30 pt apart
    first = next(e for e in elements if "quick" in e.text)
    assert first.bbox[0] == pytest.approx(72, abs=3)
    assert first.bbox[1] == pytest.approx(100 - 11.5, abs=3)
    last = next(e for e in elements if "Invoice" in e.text)
    assert last.bbox[3] == pytest.approx(160 + 3.5, abs=3)  # "p" descends below y = 160
    assert first.metadata["confidence"] > 80


@needs_tesseract
@pytest.mark.parametrize("rotation", [90, 180])
def test_rotated_page_reads_and_maps_back_to_get_text_space(tmp_path, rotation):
    # nine lines: Tesseract's orientation detection needs a page's worth of
    # letters (on three lines its confidence in "180" is under its own margin)
    upright = ocr.ocr_page(image_only_page(tmp_path, LINES * 3), 1)
    turned_page = image_only_page(tmp_path, LINES * 3, rotation=rotation)
    turned = ocr.ocr_page(turned_page, 1)
    assert norm(LINES[1]) in norm(" ".join(e.text for e in turned))
    # /Rotate shows the picture sideways or upside down; OCR reads it anyway, and
    # reports boxes in the unrotated space page.get_text() uses: where the
    # words are in the page's own coordinates (a turned copy of upright's boxes).
    a = next(e for e in upright if "Volcanic" in e.text).bbox
    b = next(e for e in turned if "Volcanic" in e.text).bbox
    expected = pymupdf.Rect(a)  # the image fills the page, so content coordinates agree
    assert list(b) == pytest.approx(list(expected), abs=6)


@needs_tesseract
def test_render_budget_lowers_the_dpi(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page(width=3000, height=3000)  # 41.7 in square: 156 Mpx at 300 dpi
    page.insert_text((100, 300), "Budget check on a huge page", fontsize=150)
    dpi, note = ocr.render_dpi(page, 300)
    assert dpi < 300 and (3000 / 72 * dpi) ** 2 <= ocr.MAX_PIXELS
    assert "megapixels" in note
    elements = ocr.ocr_page(page, 1)
    assert "budget check" in norm(" ".join(e.text for e in elements))
    assert elements[0].metadata["dpi"] == pytest.approx(dpi)
    assert "not 300" in elements[0].metadata["note"]
    assert ocr.render_dpi(doc.new_page(), 300) == (300.0, None)  # a letter page fits


@needs_tesseract
def test_blank_page_gives_no_elements(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.draw_rect(pymupdf.Rect(100, 100, 300, 300), color=(0, 0, 0), width=2)
    assert ocr.ocr_page(page, 1) == []


def test_missing_language_is_a_connector_error():
    doc = pymupdf.open()
    page = doc.new_page()
    with pytest.raises(ConnectorError, match="cannot OCR"):
        ocr.ocr_page(page, 1, lang="xx_no_such_language")


def test_parse_tsv_keeps_words_only():
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n"
        "4\t1\t1\t1\t1\t0\t10\t10\t50\t12\t-1\t\n"
        "5\t1\t1\t1\t1\t1\t10\t10\t20\t12\t96.5\tHello\n"
        "5\t1\t1\t1\t1\t2\t35\t10\t25\t12\t91\tworld\n"
        "5\t1\t1\t1\t1\t3\t65\t10\t5\t12\t95\t \n"
    )
    words = ocr.parse_tsv(tsv)
    assert [w["text"] for w in words] == ["Hello", "world"]
    assert words[0]["conf"] == 96.5 and words[1]["left"] == 35


@needs_tesseract
def test_linn_scan_matches_its_ground_truth():
    """OCRmyPDF's linn.pdf (a 1980s product sheet, scanned) against its linn.txt.

    Measured with Tesseract 5.3.0 at 300 dpi: 0.994 character similarity
    (difflib ratio over lower-cased words joined by spaces), 0.979 over word
    lists. 0.95 leaves room for other Tesseract versions and models while
    still failing a wrong DPI (0.60 at 72 dpi) or reading order scrambled by
    column handling.
    """
    page = pymupdf.open(corpus_file("linn.pdf"))[0]
    truth = corpus_file("linn.txt").read_text(encoding="utf-8")
    elements = ocr.ocr_page(page, 1)
    got = norm("\n".join(e.text for e in elements))
    ratio = difflib.SequenceMatcher(None, got, norm(truth), autojunk=False).ratio()
    assert ratio >= 0.95, ratio
    title = elements[0]
    assert title.text.startswith("The LinnSequencer")
    assert title.bbox[1] < 100  # the title is at the top of the sheet


@needs_tesseract
def test_huckleberry_finn_page_words_and_caption_position():
    """c02-22.pdf: Huckleberry Finn p. 22, text beside an engraving (read by eye)."""
    page = pymupdf.open(corpus_file("c02-22.pdf"))[0]
    assert page.get_text().strip() == ""
    elements = ocr.ocr_page(page, 22)
    text = norm("\n".join(e.text for e in elements))
    for phrase in (
        "went tip toeing along a path amongst",
        "the branches wouldn t scrape our heads",
        "miss watson s big",
        "we could see him pretty clear",
        "seemed like i d die if i couldn t scratch",
        "funeral or trying to go to sleep",
    ):
        assert phrase in text, phrase
    caption = next(e for e in elements if "TIP-TOED ALONG" in e.text)
    w, h = page.rect.width, page.rect.height
    x0, y0, x1, y1 = caption.bbox
    assert x1 < w / 2 and y0 > 0.8 * h  # under the picture, bottom left
    # the engraving itself is not read as words (low-confidence scraps are dropped)
    assert all(e.metadata["confidence"] >= 60 or e.metadata["words"] > 3 for e in elements)
    assert all(e.page == 22 for e in elements)
