"""The fallback parser: pypdf (pure Python, BSD) for files PyMuPDF cannot read.

Text only: one element per paragraph (blank-line separated) with its page
number; no bbox, no font facts, no tables, no OCR (pages without text but with
images are listed in ``needs_ocr_pages``). Runs inside the isolated worker.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from docframe.connectors.base import Document, Element
from docframe.connectors.pdf import metadata as md
from docframe.connectors.pdf import needs_ocr
from docframe.connectors.pdf.failures import unlock
from docframe.connectors.pdf.options import PdfOptions

_PARAGRAPHS = re.compile(r"\n\s*\n")


def extract_with_pypdf(
    path: str, label: str, doc_key: str, password: str | None, options: PdfOptions
) -> Document:
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its repair notes go to stderr
    from pypdf import PdfReader

    reader = PdfReader(path, strict=False)
    encrypted = bool(reader.is_encrypted)
    if encrypted and not reader.decrypt(""):  # owner-password-only files open with ""
        unlock(label, password, reader.decrypt)
    count = len(reader.pages)
    if count <= 0:
        raise ValueError("no pages")
    meta = md.base_metadata(md.pypdf_info(reader), count, "pypdf")
    meta["encrypted"] = encrypted
    meta["has_javascript"] = md.pypdf_has_javascript(reader, path)
    attachments = md.pypdf_attachments(reader)

    elements: list[Element] = []
    page_errors: list[str] = []
    for index in range(count):
        number = index + 1
        try:
            page = reader.pages[index]
            text = page.extract_text() or ""
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the pages that do read
            page_errors.append(f"page {number}: {' '.join(str(exc).split())[:160]}")
            continue
        paragraphs = _paragraphs(text)
        for i, paragraph in enumerate(paragraphs):
            elements.append(
                Element(
                    paragraph,
                    page=number,
                    bbox=None,
                    metadata={"block": i, "kind": "text", "font_size": None},
                )
            )
        if not paragraphs and _has_images(page):
            meta["needs_ocr_pages"].append(number)
        attachments.extend(md.pypdf_page_attachments(page))
    if page_errors and len(page_errors) == count:
        raise ValueError(f"no page could be read ({page_errors[0]})")
    if page_errors:
        meta["page_errors"] = page_errors
    if meta["needs_ocr_pages"]:
        meta["needs_ocr_reason"] = "read by the pypdf fallback, which does not OCR"
        # pypdf would not OCR them next time either: no "read again"
        meta["note"] = needs_ocr.note(
            meta["needs_ocr_pages"], meta["needs_ocr_reason"], read_again=False
        )
    meta["attachments"] = list(dict.fromkeys(attachments))
    return Document(
        doc_key,
        elements,
        title=md.usable_title(meta["title"]),
        metadata=meta,
        parser="pypdf",
    )


def pypdf_pages(path: str, password: str | None, numbers: list[int]) -> dict[int, list[Element]]:
    """Text of some pages (1-based ``numbers``) that the main parser could not read.

    Pages pypdf cannot read either are left out. Never raises: this is a rescue.
    """
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    found: dict[int, list[Element]] = {}
    try:
        from pypdf import PdfReader

        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            reader.decrypt(password or "")
        count = len(reader.pages)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001
        return found
    for number in numbers:
        if not 1 <= number <= count:
            continue
        try:
            text = reader.pages[number - 1].extract_text() or ""
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001
            continue
        paragraphs = _paragraphs(text)
        found[number] = [
            Element(
                paragraph,
                page=number,
                bbox=None,
                metadata={"block": i, "kind": "text", "font_size": None, "parser": "pypdf"},
            )
            for i, paragraph in enumerate(paragraphs)
        ]
    return found


# ligature glyphs (U+FB00-FB06) as letters, as MuPDF's text is read (extract.TEXT_FLAGS)
_LIGATURES = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
     "\ufb05": "st", "\ufb06": "st"}
)  # fmt: skip


def _paragraphs(text: str) -> list[str]:
    text = text.translate(_LIGATURES)
    return [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]


def _has_images(page: Any) -> bool:
    """Image XObjects in the page's resources (looked up, never decoded)."""
    try:
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if resources is not None else None
        xobjects = xobjects.get_object() if xobjects is not None else None
        for ref in (xobjects or {}).values():
            obj = ref.get_object()
            if obj.get("/Subtype") in ("/Image", "/Form"):
                return True
    except Exception:  # noqa: BLE001
        return False
    return False
