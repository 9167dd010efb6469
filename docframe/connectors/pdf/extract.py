"""PDF text extraction with provenance: PyMuPDF first, pypdf as the fallback.

``extract_document`` (called in the ingesting process) runs ``worker`` in an
isolated child process (``docframe.isolation``), so a hostile file ends in a
recorded error instead of a hang or a crash. In the child:

1. PyMuPDF opens the file (as PDF whatever its name); encryption is resolved
   with the password given for the file (owner-password-only files open with the
   empty password); a file with no pages is corrupt.
2. Pages are read in windows of ``page_window`` pages: only the extracted
   elements accumulate; pages are dropped as soon as they are read, and MuPDF's
   resource store is emptied between windows when the process grows large.
3. Each page's text blocks (MuPDF's structured text: line text, bbox, font
   name/weight/size; images not decoded; see ``text_reader``) become elements
   with page, bbox and font facts, in reading order: columns are found by
   recursive XY-cuts (``reading_order``), so a two-column page reads left column
   then right column, and line-numbered transcripts read row by row. A page
   MuPDF fails on is filled in by pypdf (text only) and listed in ``page_errors``.
4. Headings are blocks clearly larger than the document's body font size, or
   short bold blocks; decided per document after all pages are read
   (``headings``).
5. Pages without a text layer but with images (or vector drawings) are OCR'd
   when the OCR module reports Tesseract available, otherwise listed in
   ``needs_ocr_pages`` and said in the document's ``note`` (``needs_ocr``). Tables
   are found per page by ``tables.find_tables``; with tables on, a table reader
   that cannot be imported is an error, not a document quietly without its tables.

If PyMuPDF cannot open or parse the file, pypdf reads it (text only, page
provenance, no bbox) and ``parser`` says so; if both fail, the error names both
reasons (``failures``). Encryption errors are final: the other parser would fail
the same way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from docframe.connectors.base import Document, Element
from docframe.connectors.pdf import metadata as md
from docframe.connectors.pdf import needs_ocr
from docframe.connectors.pdf.failures import CORRUPT_HELP, is_memory_error, one_line_reason, unlock
from docframe.connectors.pdf.headings import elements_with_headings
from docframe.connectors.pdf.options import PdfOptions
from docframe.connectors.pdf.text_reader import TEXT_FLAGS, TextBlock, page_blocks
from docframe.errors import ConnectorError, IsolationError, MissingDependencyError, WorkerCrashed

# modules imported once by the fork server, so each worker starts with them loaded
# (with the helpers they import: text_reader, reading_order, headings; the table
# reader's regions, lattice, open_tables, table_rows, cell_types...);
# pyarrow imports pandas lazily on the first table (~0.75 s): pay it once per worker
PRELOAD = (
    "pymupdf",
    "pypdf",
    "pyarrow",
    "pandas",
    "docframe.connectors.pdf.extract",
    "docframe.connectors.pdf.tables",
)


def extract_document(path: Path, options: PdfOptions, *, job: Any = None) -> Document:
    """Read one PDF in an isolated worker: a Document, or a one-line ConnectorError.

    ``job`` replaces :func:`worker` (tests inject a crashing one).
    """
    from docframe.isolation import run_isolated

    job = job or worker
    label = str(path)
    target = str(Path(path).absolute())
    password = options.password_for(label)
    start = time.monotonic()

    def attempt(parsers: tuple[str, ...], earlier: tuple[str, ...], timeout_s: float) -> Document:
        return run_isolated(
            job, target, label, path.name, password, options, parsers, earlier,
            timeout_s=timeout_s, memory_mb=options.memory_mb, label=label, preload=PRELOAD,
        )  # fmt: skip

    try:
        return attempt(("pymupdf", "pypdf"), (), options.timeout_s)
    except WorkerCrashed as crash:
        # MuPDF died in C code: pypdf (pure Python) gets the rest of the time budget
        reason = crash.message.removeprefix(f"{label}: ")
    remaining = options.timeout_s - (time.monotonic() - start)
    if remaining < 1.0:
        raise ConnectorError(f"{label}: corrupt: pymupdf: {reason}", help=CORRUPT_HELP)
    try:
        return attempt(("pypdf",), (f"pymupdf: {reason}",), remaining)
    except IsolationError as exc:  # pypdf ran out of time or memory, or crashed too
        second = exc.message.removeprefix(f"{label}: ")
        raise ConnectorError(
            f"{label}: corrupt: pymupdf: {reason}; pypdf: {second}", help=CORRUPT_HELP
        ) from None


def worker(
    path: str,
    label: str,
    doc_key: str,
    password: str | None,
    options: PdfOptions,
    parsers: tuple[str, ...],
    prior: tuple[str, ...],
) -> Document:
    """Runs in the isolated child: the first parser that reads the file wins."""
    reasons = list(prior)
    if "pymupdf" in parsers:
        try:
            return extract_with_pymupdf(path, label, doc_key, password, options)
        except (ConnectorError, MissingDependencyError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure means: try pypdf
            if is_memory_error(exc):
                raise MemoryError(str(exc)) from None
            reasons.append(f"pymupdf: {one_line_reason(exc)}")
    if "pypdf" in parsers:
        from docframe.connectors.pdf.pypdf_text import extract_with_pypdf

        try:
            doc = extract_with_pypdf(path, label, doc_key, password, options)
        except (ConnectorError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001
            if is_memory_error(exc):
                raise MemoryError(str(exc)) from None
            reasons.append(f"pypdf: {one_line_reason(exc)}")
        else:
            if reasons:
                doc.metadata["fallback_reason"] = "; ".join(reasons)
            return doc
    raise ConnectorError(f"{label}: corrupt: {'; '.join(reasons)}", help=CORRUPT_HELP)


class _NoPages(Exception):
    def __str__(self) -> str:
        return "no pages"


def _quiet_mupdf(pymupdf: Any) -> None:
    try:
        pymupdf.TOOLS.mupdf_display_errors(False)
        pymupdf.TOOLS.mupdf_display_warnings(False)
    except Exception:  # noqa: BLE001 - cosmetic
        pass


def open_pymupdf(path: str, label: str, password: str | None) -> tuple[Any, bool]:
    """Open with PyMuPDF and resolve encryption: (document, was_encrypted)."""
    import pymupdf

    _quiet_mupdf(pymupdf)
    doc = pymupdf.open(path, filetype="pdf")
    try:
        encrypted = bool(doc.needs_pass or doc.is_encrypted)
        if doc.needs_pass:  # the empty user password did not open it
            unlock(label, password, doc.authenticate)
        if not encrypted:
            try:
                encrypted = bool((doc.metadata or {}).get("encryption"))
            except Exception:  # noqa: BLE001
                pass
        return doc, encrypted
    except BaseException:
        doc.close()
        raise


def extract_with_pymupdf(
    path: str, label: str, doc_key: str, password: str | None, options: PdfOptions
) -> Document:
    import pymupdf

    doc, encrypted = open_pymupdf(path, label, password)
    try:
        count = doc.page_count
        if count <= 0:
            raise _NoPages()
        meta = md.base_metadata(md.pymupdf_info(doc), count, "pymupdf")
        meta["encrypted"] = encrypted
        meta["has_javascript"] = md.pymupdf_has_javascript(doc, Path(path))
        attachments = md.pymupdf_embedded_files(doc)

        ocr = _Ocr(options)
        if options.ocr == "force" and ocr.module() is None:
            raise ConnectorError(
                f"{label}: OCR was forced but is not available ({ocr.reason})",
                help="install tesseract-ocr and its language data (see docframe doctor)",
            )
        find_tables = _table_reader() if options.tables else None

        pages: list[list[TextBlock] | list[Element]] = []
        tables: list[Any] = []
        table_errors: list[str] = []
        failed: dict[int, str] = {}  # page number -> why MuPDF could not read it
        window = max(1, int(options.page_window))
        for first in range(0, count, window):
            for pno in range(first, min(count, first + window)):
                number = pno + 1
                try:
                    page = doc.load_page(pno)
                    # one text page serves the text blocks and the table finder's words
                    textpage = page.get_textpage(flags=TEXT_FLAGS)
                    pages.append(_page_content(page, textpage, number, options, ocr, meta))
                except (ConnectorError, MemoryError):
                    raise
                except Exception as exc:  # noqa: BLE001 - one bad page must not lose the rest
                    if is_memory_error(exc):
                        raise MemoryError(str(exc)) from None
                    failed[number] = one_line_reason(exc)
                    pages.append([])
                    continue
                if find_tables is not None:
                    try:
                        found = find_tables(page, doc_key, Path(path), number, textpage=textpage)
                        tables.extend(_picklable_table(t) for t in found or [])
                    except MemoryError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - tables must not lose the text
                        if is_memory_error(exc):
                            raise MemoryError(str(exc)) from None
                        table_errors.append(f"page {number}: {one_line_reason(exc)}")
                attachments.extend(md.pymupdf_page_attachments(page))
                del page, textpage
            # MuPDF's resource store (fonts, images, parsed objects) is bounded by
            # MuPDF itself; empty it between windows only when this process is big,
            # as refilling it costs time on the next window
            if _rss_mb() > max(256, (options.memory_mb or 4096) / 4):
                pymupdf.TOOLS.store_shrink(100)
        if failed and len(failed) == count:
            raise RuntimeError(f"no page could be read (page 1: {failed[1]})")
    finally:
        doc.close()
        pymupdf.TOOLS.store_shrink(100)  # this worker may read another file next

    if failed:  # pypdf fills in the pages MuPDF could not read (text only)
        from docframe.connectors.pdf.pypdf_text import pypdf_pages

        rescued = pypdf_pages(path, password, sorted(failed))
        for number, found in rescued.items():
            pages[number - 1] = found
        meta["pypdf_pages"] = sorted(rescued)
        meta["page_errors"] = [f"page {n}: {why}" for n, why in sorted(failed.items())]
    elements, first_heading = elements_with_headings(pages)
    meta["attachments"] = list(dict.fromkeys(attachments))
    if table_errors:
        meta["table_errors"] = table_errors
    if meta["needs_ocr_pages"]:
        meta["needs_ocr_reason"] = ocr.reason or "OCR failed on these pages (see ocr_errors)"
        # said and counted by ingest; read again later where OCR was off or missing
        meta["note"] = needs_ocr.note(
            meta["needs_ocr_pages"], meta["needs_ocr_reason"], read_again=bool(ocr.reason)
        )
    if ocr.errors:
        meta["ocr_errors"] = ocr.errors
    title = md.usable_title(meta["title"]) or first_heading
    return Document(
        doc_key,
        elements,
        title=title,
        metadata=meta,
        tables=tables,
        parser="pymupdf",
    )


def _page_content(
    page: Any, textpage: Any, number: int, options: PdfOptions, ocr: _Ocr, meta: dict[str, Any]
) -> list[Any]:
    """A page's text blocks, or its OCR elements when it has no text layer (or OCR is forced)."""
    if options.ocr == "force":
        found = ocr.read(page, number)
        if found is not None:
            meta["ocr_pages"].append(number)
            return found
    blocks = page_blocks(page, number, textpage)
    if blocks or not _has_graphics(page):
        return blocks
    found = ocr.read(page, number) if options.ocr != "force" else None
    if found is None:
        meta["needs_ocr_pages"].append(number)
        return []
    meta["ocr_pages"].append(number)
    return found


def _rss_mb() -> float:
    """Resident memory of this process (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def _has_graphics(page: Any) -> bool:
    """Images or vector drawings on a page without text: a scan, or text drawn as curves."""
    try:
        if page.get_images(full=False):
            return True
        return bool(page.get_cdrawings())
    except Exception:  # noqa: BLE001
        return False


class _Ocr:
    """OCR for pages without a text layer, looked up the first time a page needs it."""

    def __init__(self, options: PdfOptions) -> None:
        self.options = options
        self.reason = "OCR is off" if options.ocr == "off" else ""
        self.errors: list[str] = []
        self._module: Any = None
        self._looked = options.ocr == "off"

    def module(self) -> Any:
        if not self._looked:
            self._looked = True
            try:
                from docframe.connectors.pdf import ocr
            except ImportError:
                self.reason = "the OCR module is not installed"
                return None
            try:
                if ocr.available(self.options.ocr_lang):
                    self._module = ocr
                else:
                    missing = getattr(ocr, "missing_reason", lambda _lang: None)
                    self.reason = missing(self.options.ocr_lang) or "Tesseract is not available"
            except Exception as exc:  # noqa: BLE001 - a broken OCR set-up means: no OCR
                self.reason = f"OCR set-up failed: {one_line_reason(exc)}"
        return self._module

    def read(self, page: Any, number: int) -> list[Element] | None:
        """The page's OCR elements; None when OCR is unavailable or failed on it."""
        ocr = self.module()
        if ocr is None:
            return None
        try:
            found = list(ocr.ocr_page(page, number, self.options.ocr_lang) or [])
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one unreadable scan must not lose the rest
            if is_memory_error(exc):
                raise MemoryError(str(exc)) from None
            self.errors.append(f"page {number}: {one_line_reason(exc)}")
            return None
        for i, element in enumerate(found):
            element.page = element.page or number
            element.metadata.setdefault("block", i)
            element.metadata["kind"] = "ocr"
            element.metadata.setdefault("font_size", None)
        return found


def _table_reader() -> Any:
    """``tables.find_tables``, or a MissingDependencyError naming what cannot be imported.

    Tables are on by default: a broken install must say so, not produce documents
    that quietly lack their tables.
    """
    try:
        from docframe.connectors.pdf.tables import find_tables
    except ImportError as exc:
        missing = exc.name or str(exc)
        package = missing.split(".")[0]
        install = "reinstall docframe" if package == "docframe" else f"pip install {package}"
        raise MissingDependencyError(
            f"the PDF table reader needs {missing!r}, which cannot be imported",
            help=f"{install}, or read PDFs without tables (--no-pdf-tables)",
        ) from exc
    return find_tables


def _picklable_table(table: Any) -> Any:
    """TableData crosses a process boundary: its batch iterator becomes a list iterator."""
    table.batches = iter(list(table.batches))
    return table
