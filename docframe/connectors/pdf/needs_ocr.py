"""Pages a PDF holds only as pictures, left unread: said, counted, and read later.

A scanned PDF read without OCR (Tesseract missing, or ``--ocr off``) is a document
with no text: without a word it would end ``3 ingested; 0 new chunk(s)``. The reader
records the pages (``needs_ocr_pages``) and why (``needs_ocr_reason``); :func:`note`
turns them into the document's note, which ingest prints, keeps in the source's
``error`` column while its status is ``ok``, and counts (``2 need OCR``).

Installing Tesseract does not change a file, so the next ingest would find it
unchanged. A note that ends with :data:`READ_AGAIN` marks a file whose pages waited
for OCR that can be had (it was off, or not installed): ingest reads it again once OCR
can run. Pages pypdf read (it does not OCR) or where Tesseract itself failed would fail
the same way again, so their notes do not say it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

NEEDS_OCR = "needs OCR: "  # every such note starts so: what ingest counts
READ_AGAIN = "they are read again once OCR can run"
INSTALL_HELP = (
    "install Tesseract (make ocr; Debian/Ubuntu: apt-get install tesseract-ocr "
    "tesseract-ocr-eng) and ingest again without --ocr off"
)
INSTALLED_HELP = (
    "Tesseract is installed: ingest again without --ocr off; docframe doctor shows the "
    "languages it has (--ocr-lang)"
)


def help_text() -> str:
    """What to do about pages that need OCR, on this machine: install Tesseract, or
    (it is here) ingest again with OCR on."""
    from docframe.connectors.ocr import tesseract_path

    return INSTALL_HELP if tesseract_path() is None else INSTALLED_HELP


def pages_text(pages: Sequence[int]) -> str:
    """``page 3``, ``pages 1-4, 7``: page numbers as a reader writes them."""
    runs: list[list[int]] = []
    for page in sorted(set(pages)):
        if runs and page == runs[-1][-1] + 1:
            runs[-1].append(page)
        else:
            runs.append([page])
    parts = [f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs]
    return ("page " if len(pages) == 1 else "pages ") + ", ".join(parts)


def note(pages: Sequence[int], reason: str, *, read_again: bool) -> str:
    """``needs OCR: pages 1-2 have no text layer and were not read (OCR is off); they are
    read again once OCR can run``; ``read_again`` where OCR was off or missing."""
    verb = "has no text layer and was" if len(pages) == 1 else "have no text layer and were"
    text = f"{NEEDS_OCR}{pages_text(pages)} {verb} not read ({reason})"
    return f"{text}; {READ_AGAIN}" if read_again else text


def needs_ocr(notes: Iterable[str]) -> bool:
    """True when one of a file's notes says pages need OCR."""
    return any(n.startswith(NEEDS_OCR) for n in notes)
