"""Reading text off an image with the Tesseract command-line program.

One home for what every OCR user needs, whatever the image came from: a scanned
PDF page (``connectors.pdf.ocr`` renders it) or a sampled video frame
(``connectors.media.frames``). Each caller makes its own picture; this module
only knows images, words and paragraphs.

Why the ``tesseract`` binary and not pytesseract or PyMuPDF's built-in OCR: the
binary is what Debian's ``tesseract-ocr`` package installs and finds its
language data by itself; it runs in its own process, so a runaway image is ended
by a timeout instead of taking the worker down; and its TSV output carries every
word's box, confidence and block/paragraph/line numbers. pytesseract would only
wrap the same call.

Images go to Tesseract through a pipe as PNM (a header and the raw pixels: no
compression, no temporary file, no Pillow). Tesseract runs single-threaded
(``OMP_THREAD_LIMIT=1`` unless set): the work is parallel across worker
processes already, and its OpenMP threads only oversubscribe the CPU then.

Pictures come back as a few low-confidence "words" (``ee``, ``ff /``):
:func:`is_noise` says which paragraphs to drop (at most :data:`NOISE_WORDS`
words whose mean confidence is under :data:`NOISE_CONFIDENCE`, or no letter or
digit at all).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from typing import Any

from docframe.errors import ConnectorError

TESSERACT = "tesseract"
NOISE_WORDS = 3  # a paragraph this short ...
NOISE_CONFIDENCE = 60.0  # ... and this unsure is a picture read as letters
DEFAULT_TIMEOUT_S = 180.0
INSTALL_HELP = (
    "install Tesseract and its English data (Debian/Ubuntu: "
    "apt-get install tesseract-ocr tesseract-ocr-eng), or turn OCR off"
)

Word = dict[str, Any]  # block, par, line, left, top, width, height, conf, text


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


# -- images ----------------------------------------------------------------------------


def pgm(gray: Any) -> bytes:
    """An 8-bit grey image (a 2-D numpy array) as PGM bytes, Tesseract's cheapest input."""
    import numpy as np

    pixels = np.ascontiguousarray(gray, dtype=np.uint8)
    height, width = pixels.shape
    return b"P5\n%d %d\n255\n" % (width, height) + pixels.tobytes()


# -- running Tesseract -----------------------------------------------------------------


def tesseract_words(
    image: bytes,
    lang: str,
    dpi: float,
    psm: str,
    timeout_s: float,
    where: str,
    *,
    timeout_help: str = "raise the timeout, or turn OCR off for this file",
) -> list[Word]:
    """The words Tesseract reads on ``image`` (PNM bytes), with their boxes in pixels.

    ``where`` names the image in errors (``"page 3"``, ``"frame at 12.5 s"``).
    Raises ConnectorError when Tesseract is missing, fails or runs past ``timeout_s``.
    """
    exe = tesseract_path()
    if exe is None:
        raise ConnectorError(f"{where}: cannot OCR: tesseract is not installed", help=INSTALL_HELP)
    cmd = [exe, "stdin", "stdout", "-l", lang, "--dpi", str(round(dpi)), "--psm", psm, "tsv"]
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        done = subprocess.run(
            cmd, input=image, capture_output=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise ConnectorError(
            f"{where}: OCR timeout: tesseract ran past {timeout_s:g} s", help=timeout_help
        ) from None
    except OSError as exc:
        raise ConnectorError(f"{where}: cannot run tesseract: {exc}", help=INSTALL_HELP) from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = err[-1] if err else f"exit status {done.returncode}"
        raise ConnectorError(
            f"{where}: OCR failed: tesseract: {last}",
            help="check the language data (tesseract --list-langs) and the image",
        )
    return parse_tsv(done.stdout.decode("utf-8", "replace"))


def parse_tsv(tsv: str) -> list[Word]:
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


# -- words into paragraphs -------------------------------------------------------------


def paragraphs(words: list[Word]) -> list[list[Word]]:
    """Words grouped by Tesseract's (block, paragraph), in its reading order."""
    groups: dict[tuple[int, int], list[Word]] = {}
    for w in words:
        groups.setdefault((w["block"], w["par"]), []).append(w)
    return list(groups.values())


def paragraph_text(para: list[Word]) -> str:
    """A paragraph's words, a line per Tesseract line (words joined by spaces)."""
    lines: dict[int, list[str]] = {}
    for w in para:
        lines.setdefault(w["line"], []).append(w["text"])
    return "\n".join(" ".join(ws) for ws in lines.values())


def is_noise(text: str, words: int, confidence: float) -> bool:
    """True for a paragraph that is a picture read as letters, not text.

    Specks and rules read as punctuation (no letter or digit), and a few words
    read with low confidence (a texture, a face, a logo).
    """
    if not any(ch.isalnum() for ch in text):
        return True
    return words <= NOISE_WORDS and confidence < NOISE_CONFIDENCE
