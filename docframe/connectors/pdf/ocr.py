"""OCR of scanned PDF pages with the Tesseract command-line program.

Running Tesseract on an image (which program, its languages, its TSV words and
paragraphs, the noise filter) lives in :mod:`docframe.connectors.ocr`, shared
with the video connector; this module renders a PDF page into an image and maps
the words back to page coordinates. Why the ``tesseract`` binary and not
PyMuPDF's ``page.get_textpage_ocr()``: PyMuPDF's built-in Tesseract needs
``TESSDATA_PREFIX`` pointing at the data folder, and runs inside the worker
instead of in a process a timeout can end.

A page is rendered to an 8-bit grey image (a third of RGB's memory) at ``dpi``
(300 by default: Tesseract's sweet spot for body text), but never above
:data:`MAX_PIXELS`: a bigger page is rendered at the DPI that fits, and the
elements say which DPI was used (``metadata["dpi"]``, and ``"note"``). The
image goes to Tesseract through a pipe as PNM (no compression, no temp file).

Turned scans: pages are segmented with orientation and script detection
(``--psm 1``), so sideways and upside-down scans read as well as upright ones
(the ``osd`` data ships with Debian's ``tesseract-ocr``; without it ``--psm
3`` is used, which turns an upside-down page into confident nonsense). It
costs 10-30 % more time a page than ``--psm 3`` (measured: 3.5 s against
3.2 s for a letter page at 300 dpi, one thread). Orientation detection needs a
page's worth of text: on a few lines its confidence stays under Tesseract's
margin and the page is read as it lies.

Pictures on a scanned page come back as a few low-confidence "words" (``ee``,
``ff /``); paragraphs of at most :data:`NOISE_WORDS` words whose mean confidence
is under :data:`NOISE_CONFIDENCE` are dropped.

Elements are Tesseract's paragraphs, lines joined by ``\\n``, in Tesseract's
reading order. Their ``bbox`` is in PDF points in the same space as PyMuPDF's
``page.get_text()`` (unrotated page, origin at the crop box's top left), so OCR
text and text-layer text share coordinates.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from docframe.connectors.base import Element
from docframe.connectors.ocr import (
    DEFAULT_TIMEOUT_S,
    INSTALL_HELP,
    NOISE_CONFIDENCE,
    NOISE_WORDS,
    TESSERACT,
    available,
    is_noise,
    languages,
    missing_reason,
    paragraph_text,
    paragraphs,
    parse_tsv,
    tesseract_path,
    tesseract_words,
    version,
)
from docframe.errors import ConnectorError

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "INSTALL_HELP",
    "MAX_PIXELS",
    "NOISE_CONFIDENCE",
    "NOISE_WORDS",
    "TESSERACT",
    "available",
    "languages",
    "missing_reason",
    "ocr_page",
    "parse_tsv",
    "render_dpi",
    "tesseract_path",
    "version",
]

MAX_PIXELS = 40_000_000  # ~ a 300 dpi render of an A2 sheet; an 8-bit image of 40 MB


# -- rendering budget ------------------------------------------------------------------


def render_dpi(page: Any, dpi: int = 300, max_pixels: int = MAX_PIXELS) -> tuple[float, str | None]:
    """The DPI to render ``page`` at so the image stays under ``max_pixels``, and why if lower."""
    width_in = abs(page.rect.width) / 72.0
    height_in = abs(page.rect.height) / 72.0
    pixels = width_in * height_in * dpi * dpi
    if pixels <= max_pixels:
        return float(dpi), None
    fit = math.floor(dpi * math.sqrt(max_pixels / pixels) * 100) / 100
    note = (
        f"page is {width_in:.1f} x {height_in:.1f} in: rendered at {fit:g} dpi, not {dpi}, "
        f"to stay under {max_pixels / 1e6:g} megapixels"
    )
    return fit, note


# -- OCR -------------------------------------------------------------------------------


def ocr_page(
    page: Any,
    page_number: int,
    lang: str = "eng",
    dpi: int = 300,
    *,
    max_pixels: int = MAX_PIXELS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    psm: int = 1,
) -> list[Element]:
    """The text Tesseract reads on a PyMuPDF ``page``, one Element per paragraph.

    Each element has ``page`` (``page_number``, 1-based), ``bbox`` in PDF
    points and ``metadata`` ``{"kind": "ocr", "confidence": mean word
    confidence 0-100, "words": n, "dpi": render dpi, "lang": lang}``, plus
    ``"note"`` when the DPI was lowered to fit :data:`MAX_PIXELS`. Raises
    ConnectorError when Tesseract is missing, fails or runs past ``timeout_s``.
    """
    import pymupdf

    reason = missing_reason(lang)
    if reason:
        raise ConnectorError(f"page {page_number}: cannot OCR: {reason}", help=INSTALL_HELP)
    used_dpi, note = render_dpi(page, dpi, max_pixels)
    zoom = used_dpi / 72.0
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY, alpha=False)
    width, height = pix.width, pix.height
    image = pix.tobytes("pnm")
    del pix
    if width == 0 or height == 0:
        return []
    if psm in (0, 1) and "osd" not in languages():
        psm = 3  # orientation detection needs osd.traineddata (Debian: tesseract-ocr-osd)
    words = tesseract_words(
        image,
        lang,
        used_dpi,
        str(psm),
        timeout_s,
        f"page {page_number}",
        timeout_help="raise the PDF timeout, or turn OCR off for this file",
    )
    del image
    # pixel -> points on the rendered (rotated) page -> get_text()'s unrotated space
    sx = page.rect.width / width
    sy = page.rect.height / height
    derotate = page.derotation_matrix if page.rotation else None
    meta_base: dict[str, Any] = {"kind": "ocr", "dpi": round(used_dpi, 2), "lang": lang}
    if note:
        meta_base["note"] = note
    elements = []
    for para in paragraphs(words):
        x0 = min(w["left"] for w in para) * sx
        y0 = min(w["top"] for w in para) * sy
        x1 = max(w["left"] + w["width"] for w in para) * sx
        y1 = max(w["top"] + w["height"] for w in para) * sy
        rect = pymupdf.Rect(x0, y0, x1, y1)
        if derotate is not None:
            rect = rect * derotate
        text = paragraph_text(para)
        confidence = statistics.fmean(w["conf"] for w in para)
        if is_noise(text, len(para), confidence):
            continue  # specks, rules, part of a picture read as letters
        meta = dict(meta_base)
        meta["confidence"] = round(confidence, 1)
        meta["words"] = len(para)
        bbox = tuple(round(v, 2) for v in (rect.x0, rect.y0, rect.x1, rect.y1))
        elements.append(Element(text=text, page=page_number, bbox=bbox, metadata=meta))
    return elements
