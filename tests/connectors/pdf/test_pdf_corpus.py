"""The PDF connector over every file of the shared real-world corpus.

``../shared/corpus/pdfs`` (next to the repository) holds third-party PDFs with
their categories, passwords and observed behaviour in ``index.json`` (see
``../shared/corpus/MANIFEST.md``). Each file is read here and its outcome
checked against its category: text files give located text, encrypted files
open with their password and fail cleanly without it, corrupt and fuzzed files
end in errors (never crashes or hangs), bombs end within the limits, and so on.
The module is skipped when the corpus is absent (e.g. outside CI).
"""

from __future__ import annotations

import difflib
import json
import re
import time
from pathlib import Path

import pytest

from docframe.connectors.pdf import PdfConnector, PdfOptions
from docframe.connectors.pdf.failures import SUPPLY_PASSWORD, WRONG_PASSWORD
from docframe.errors import ConnectorError, IsolationError

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "pdfs"
if not (CORPUS / "index.json").is_file():
    pytest.skip(
        f"shared PDF corpus not found at {CORPUS} (it sits next to the repository in CI)",
        allow_module_level=True,
    )
pymupdf = pytest.importorskip("pymupdf")

TIMEOUT_S = 20.0
MEMORY_MB = 1024
BASE = PdfOptions(ocr="off", tables=False, timeout_s=TIMEOUT_S, memory_mb=MEMORY_MB)
# scanned files OCR'd when Tesseract is available (the others are checked with OCR off:
# the OCR module has its own tests, and OCR of the whole set would take minutes)
OCR_SAMPLE = {"ocrmypdf/c02-22.pdf", "ocrmypdf/2400dpi.pdf"}

ENTRIES = {
    entry["file"].removeprefix("pdfs/"): entry
    for entry in json.loads((CORPUS / "index.json").read_text())["files"]
    if "ground-truth" not in entry["categories"]
}


def categories(name: str) -> set[str]:
    return set(ENTRIES[name]["categories"])


def extract(name: str, options: PdfOptions = BASE):
    """(document, None) or (None, ConnectorError); anything else fails the test."""
    start = time.monotonic()
    try:
        doc = next(PdfConnector().configured(options).extract(CORPUS / name))
        error = None
    except ConnectorError as exc:
        doc, error = None, exc
    elapsed = time.monotonic() - start
    assert elapsed < options.timeout_s * 2 + 10, f"{name} took {elapsed:.1f} s"
    if error is not None:
        assert error.message.startswith(f"{CORPUS / name}: "), error.message
        assert "\n" not in error.message
    return doc, error


def ocr_available() -> bool:
    try:
        from docframe.connectors.pdf import ocr
    except ImportError:
        return False
    return bool(ocr.available("eng"))


def check_located_text(name: str, doc) -> None:
    assert doc.doc_key == Path(name).name
    assert doc.parser in ("pymupdf", "pypdf")
    assert doc.elements, f"{name}: no text"
    pages = doc.metadata["page_count"]
    for element in doc.elements:
        assert element.text.strip()
        assert 1 <= element.page <= pages
        if doc.parser == "pymupdf":
            x0, y0, x1, y1 = element.bbox
            assert x0 <= x1 and y0 <= y1
        else:
            assert element.bbox is None


def test_the_corpus_is_all_here():
    for name in ENTRIES:
        assert (CORPUS / name).is_file(), name


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_outcome_matches_the_category(name: str):
    cats = categories(name)
    entry = ENTRIES[name]
    passwords = entry.get("passwords")
    doc, error = extract(name)

    if "encrypted" in cats:
        if passwords is None and "permissions" not in cats:  # the unpublished password
            assert error is not None and error.message.endswith(SUPPLY_PASSWORD)
            _, wrong = extract(name, _with(password="not-the-password"))
            assert wrong is not None and wrong.message.endswith(WRONG_PASSWORD)
            return
        if passwords is not None and passwords["user"]:
            assert error is not None and error.message.endswith(SUPPLY_PASSWORD)
            for password in {passwords["user"], passwords["owner"]}:
                doc, error = extract(name, _with(password=password))
                assert error is None, error
                assert doc.metadata["encrypted"] is True
                check_located_text(name, doc)
            return
        # owner-password-only files (empty user password) open without one
        assert error is None, error
        assert doc.metadata["encrypted"] is True
        check_located_text(name, doc)
        return

    if cats & {"corrupt", "fuzz", "fuzz-repro", "malformed"}:
        # an error naming the file, or a bounded success: never a crash or a hang
        if error is not None:
            assert re.search(r": (corrupt: |timeout after |memory limit )", error.message)
            if "corrupt: " in error.message:
                assert "pymupdf: " in error.message and "pypdf: " in error.message
        else:
            assert doc.parser in ("pymupdf", "pypdf")
            if doc.parser == "pypdf":
                assert doc.metadata["fallback_reason"].startswith("pymupdf: ")
        if "real-world" in cats:  # a damaged but readable government report
            assert error is None, error
            check_located_text(name, doc)
        return

    if "bomb" in cats:
        assert error is None, error  # with OCR off nothing is rendered
        assert doc.metadata["needs_ocr_pages"] == [1]
        return

    assert error is None, error
    if "scanned" in cats and "ocr-layer" not in cats:
        assert doc.metadata["needs_ocr_pages"], name
        assert doc.metadata["needs_ocr_reason"] == "OCR is off"
        if "mixed" not in cats:
            assert doc.elements == []
        return
    if "text-as-curves" in cats:
        assert doc.elements == [] and doc.metadata["needs_ocr_pages"] == [1]
        return
    if "forms" in cats or "non-latin" in cats or "attachment" in cats or "javascript" in cats:
        assert doc.elements
    else:
        check_located_text(name, doc)
    assert doc.metadata["has_javascript"] is ("javascript" in cats)
    if "attachment" in cats:
        assert doc.metadata["attachments"], name
    else:
        assert doc.metadata["attachments"] == []
    observed = entry.get("observed", {})
    pages = [o.get("pages") for o in observed.values() if o.get("result") == "ok"]
    if pages and pages[0]:
        assert doc.metadata["page_count"] in pages


def test_known_corrupt_files_fail_with_both_reasons():
    for name in ("ocrmypdf/invalid.pdf", "qpdf/bad1.pdf"):
        _, error = extract(name)
        assert error is not None
        assert re.search(r": corrupt: pymupdf: .+; pypdf: .+", error.message), error.message


@pytest.mark.parametrize("name", ["ocrmypdf/hugemono.pdf", "ocrmypdf/enormous.pdf"])
def test_bombs_end_within_the_limits_with_ocr_on(name: str):
    options = _with(ocr="auto")
    start = time.monotonic()
    doc, error = extract(name, options)
    assert time.monotonic() - start < TIMEOUT_S + 10
    if error is not None:
        assert isinstance(error, IsolationError), error
    else:
        pages = doc.metadata["ocr_pages"] + doc.metadata["needs_ocr_pages"]
        assert pages == [1]


@pytest.mark.skipif(not ocr_available(), reason="Tesseract with English data is not installed")
@pytest.mark.parametrize("name", sorted(OCR_SAMPLE))
def test_scanned_pages_yield_text_with_ocr(name: str):
    doc, error = extract(name, _with(ocr="auto"))
    assert error is None, error
    assert doc.metadata["ocr_pages"] == [1] and doc.metadata["needs_ocr_pages"] == []
    assert sum(len(e.text) for e in doc.elements) > 300
    for element in doc.elements:
        assert element.page == 1 and element.bbox is not None
        assert element.metadata["kind"] == "ocr"


def test_multi_column_text_reads_in_column_order():
    name = "py-pdf-sample-files/multicolumn.pdf"
    doc, error = extract(name)
    assert error is None, error
    with pymupdf.open(CORPUS / name) as pdf:
        page = pdf[0]
        words = page.get_text("words")
        mid = page.rect.width / 2
    # the visual columns: below the title block, words left of the gutter, then right
    body_top = min(e.bbox[1] for e in doc.elements if e.page == 1 and e.bbox[2] < mid)
    top = [w for w in words if w[3] <= body_top]
    body = [w for w in words if w[1] >= body_top and w[1] < 690]  # the page number: below
    left = [w for w in body if (w[0] + w[2]) / 2 < mid]
    right = [w for w in body if (w[0] + w[2]) / 2 >= mid]
    expected = [w[4] for w in sorted(top, key=lambda w: (round(w[1]), w[0]))]
    for column in (left, right):
        expected += [w[4] for w in sorted(column, key=lambda w: (round(w[3]), w[0]))]
    got = " ".join(e.text for e in doc.elements if e.page == 1).split()
    got = [w for w in got if w != "1"]  # the page number sits in the gutter at the foot
    expected = _dehyphenate(expected)  # the connector rejoins words split at line ends
    ratio = difflib.SequenceMatcher(None, got, expected, autojunk=False).ratio()
    assert ratio > 0.95, ratio
    # and positionally: every left-column block comes before every right-column one
    firsts = [i for i, e in enumerate(doc.elements) if e.page == 1 and e.bbox[1] >= body_top]
    sides = [doc.elements[i].bbox[2] <= mid for i in firsts if doc.elements[i].text != "1"]
    assert sides == sorted(sides, reverse=True)


def test_scotus_transcript_matches_its_ground_truth():
    doc, error = extract("pdfplumber/scotus-transcript-p1.pdf")
    assert error is None, error
    expected = (CORPUS / "pdfplumber" / "scotus-transcript-p1.txt").read_text()
    got = " ".join(" ".join(e.text for e in doc.elements).split())
    want = " ".join(expected.split())
    ratio = difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()
    assert ratio > 0.95, ratio


def test_long_government_documents_keep_every_page():
    for name in (
        "openpreserve-format-corpus/195981.pdf",
        "py-pdf-sample-files/GeoTopo-komprimiert.pdf",
    ):
        doc, error = extract(name, _with(page_window=8))
        assert error is None, error
        pages = {e.page for e in doc.elements}
        assert len(pages) > 0.9 * doc.metadata["page_count"]
        assert doc.title and doc.title != Path(name).stem


def test_table_pdf_hands_its_tables_over():
    pytest.importorskip("docframe.connectors.pdf.tables")
    doc, error = extract("pdfplumber/nics-background-checks-2015-11.pdf", _with(tables=True))
    assert error is None, error
    assert doc.tables, "no table found on the NICS statistics page"
    for table in doc.tables:
        batches = list(table.batches)  # crossed the process boundary as a list iterator
        assert sum(b.num_rows for b in batches) > 0


def _dehyphenate(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if out and out[-1].endswith("-") and out[-1][-2:-1].isalpha() and word[:1].islower():
            out[-1] = out[-1][:-1] + word
        else:
            out.append(word)
    return out


def _with(**changes) -> PdfOptions:
    from dataclasses import replace

    return replace(BASE, **changes)
