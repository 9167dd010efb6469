"""OCR of scanned PDF pages with the Tesseract command-line program.

Why the ``tesseract`` binary and not PyMuPDF's ``page.get_textpage_ocr()`` or
pytesseract: the binary is what Debian's ``tesseract-ocr`` package installs and
finds its language data by itself (PyMuPDF's built-in Tesseract needs
``TESSDATA_PREFIX`` pointing at the data folder); it runs in its own process,
so a crash or a runaway page is ended by a timeout instead of taking the
worker down; and its TSV output carries every word's box, confidence and
block/paragraph/line numbers, which is what :class:`Element` needs. pytesseract
would only wrap the same call.

A page is rendered to an 8-bit grey image (a third of RGB's memory) at ``dpi``
(300 by default: Tesseract's sweet spot for body text), but never above
:data:`MAX_PIXELS`: a bigger page is rendered at the DPI that fits, and the
elements say which DPI was used (``metadata["dpi"]``, and ``"note"``). The
image goes to Tesseract through a pipe as PNM (no compression, no temp file).
Tesseract runs single-threaded (``OMP_THREAD_LIMIT=1`` unless set): pages are
parallel across worker processes already, and its OpenMP threads only
oversubscribe the CPU then.

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

import functools
import math
import os
import re
import shutil
import statistics
import subprocess
from typing import Any

from docframe.connectors.base import Element
from docframe.errors import ConnectorError

TESSERACT = "tesseract"
MAX_PIXELS = 40_000_000  # ~ a 300 dpi render of an A2 sheet; an 8-bit image of 40 MB
NOISE_WORDS = 3  # a paragraph this short ...
NOISE_CONFIDENCE = 60.0  # ... and this unsure is a picture read as letters
DEFAULT_TIMEOUT_S = 180.0
INSTALL_HELP = (
    "install Tesseract and its English data (Debian/Ubuntu: "
    "apt-get install tesseract-ocr tesseract-ocr-eng), or turn OCR off"
)


# -- what is installed -----------------------------------------------------------------


def tesseract_path() -> str | None:
    """The ``tesseract`` program on PATH, or None."""
    return shutil.which(TESSERACT)


@functools.lru_cache(maxsize=1)
def version() -> str | None:
    """Tesseract's version (``"5.3.0"``), or None when it is not installed."""
    exe = tesseract_path()
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"tesseract\s+v?(\S+)", done.stdout + done.stderr)
    return match.group(1) if match else None


@functools.lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The language data Tesseract finds (``("eng", "osd")``); empty when not installed."""
    exe = tesseract_path()
    if exe is None:
        return ()
    try:
        done = subprocess.run(
            [exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    lines = (done.stdout + "\n" + done.stderr).splitlines()
    return tuple(
        sorted({ln.strip() for ln in lines if ln.strip() and not ln.startswith("List of")})
    )


def available(lang: str = "eng") -> bool:
    """True when the tesseract program is on PATH with data for every language in ``lang``.

    ``lang`` is Tesseract's syntax: ``"eng"``, ``"eng+fra"``.
    """
    if tesseract_path() is None:
        return False
    have = set(languages())
    return all(part in have for part in lang.split("+") if part)


def missing_reason(lang: str = "eng") -> str | None:
    """Why OCR in ``lang`` cannot run (one line, for ``doctor`` and errors), or None."""
    if tesseract_path() is None:
        return "tesseract is not installed (not on PATH)"
    missing = [part for part in lang.split("+") if part and part not in languages()]
    if missing:
        return f"tesseract has no data for language(s) {', '.join(missing)}"
    return None


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
    words = _tesseract_words(image, lang, used_dpi, str(psm), timeout_s, page_number)
    del image
    # pixel -> points on the rendered (rotated) page -> get_text()'s unrotated space
    sx = page.rect.width / width
    sy = page.rect.height / height
    derotate = page.derotation_matrix if page.rotation else None
    meta_base: dict[str, Any] = {"kind": "ocr", "dpi": round(used_dpi, 2), "lang": lang}
    if note:
        meta_base["note"] = note
    elements = []
    for para in _paragraphs(words):
        x0 = min(w["left"] for w in para) * sx
        y0 = min(w["top"] for w in para) * sy
        x1 = max(w["left"] + w["width"] for w in para) * sx
        y1 = max(w["top"] + w["height"] for w in para) * sy
        rect = pymupdf.Rect(x0, y0, x1, y1)
        if derotate is not None:
            rect = rect * derotate
        lines: dict[int, list[str]] = {}
        for w in para:
            lines.setdefault(w["line"], []).append(w["text"])
        text = "\n".join(" ".join(ws) for ws in lines.values())
        confidence = statistics.fmean(w["conf"] for w in para)
        if not any(ch.isalnum() for ch in text):
            continue  # specks and rules read as punctuation
        if len(para) <= NOISE_WORDS and confidence < NOISE_CONFIDENCE:
            continue  # part of a picture read as letters
        meta = dict(meta_base)
        meta["confidence"] = round(confidence, 1)
        meta["words"] = len(para)
        bbox = tuple(round(v, 2) for v in (rect.x0, rect.y0, rect.x1, rect.y1))
        elements.append(Element(text=text, page=page_number, bbox=bbox, metadata=meta))
    return elements


def _tesseract_words(
    image: bytes, lang: str, dpi: float, psm: str, timeout_s: float, page_number: int
) -> list[dict[str, Any]]:
    exe = tesseract_path()
    if exe is None:
        raise ConnectorError(
            f"page {page_number}: cannot OCR: tesseract is not installed", help=INSTALL_HELP
        )
    cmd = [exe, "stdin", "stdout", "-l", lang, "--dpi", str(round(dpi)), "--psm", psm, "tsv"]
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        done = subprocess.run(
            cmd, input=image, capture_output=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise ConnectorError(
            f"page {page_number}: OCR timeout: tesseract ran past {timeout_s:g} s",
            help="raise the PDF timeout, or turn OCR off for this file",
        ) from None
    except OSError as exc:
        raise ConnectorError(
            f"page {page_number}: cannot run tesseract: {exc}", help=INSTALL_HELP
        ) from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = err[-1] if err else f"exit status {done.returncode}"
        raise ConnectorError(
            f"page {page_number}: OCR failed: tesseract: {last}",
            help="check the language data (tesseract --list-langs) and the page image",
        )
    return parse_tsv(done.stdout.decode("utf-8", "replace"))


def parse_tsv(tsv: str) -> list[dict[str, Any]]:
    """The words (level 5) of Tesseract's TSV output, with their boxes in pixels."""
    words = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t", 11)
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            conf = float(cols[10])
            block, par, line = int(cols[2]), int(cols[3]), int(cols[4])
            left, top, width, height = (int(c) for c in cols[6:10])
        except ValueError:
            continue
        if conf < 0:
            continue
        words.append(
            {
                "block": block,
                "par": par,
                "line": line,
                "left": left,
                "top": top,
                "width": width,
                "height": height,
                "conf": conf,
                "text": text,
            }
        )
    return words


def _paragraphs(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for w in words:
        groups.setdefault((w["block"], w["par"]), []).append(w)
    return list(groups.values())
