"""PDF text extraction with provenance: PyMuPDF first, pypdf as the fallback.

``extract_document`` (called in the ingesting process) runs ``worker`` in an
isolated child process (see ``sandbox``), so a hostile file ends in a recorded
error instead of a hang or a crash. In the child:

1. PyMuPDF opens the file (as PDF whatever its name); encryption is resolved
   with the password given for the file (owner-password-only files open with the
   empty password); a file with no pages is corrupt.
2. Pages are read in windows of ``page_window`` pages: only the extracted
   elements accumulate; pages are dropped as soon as they are read, and MuPDF's
   resource store is emptied between windows when the process grows large.
3. Each page's text blocks (MuPDF's structured text: line text, bbox, font
   name/weight/size; images not decoded) become elements with page, bbox and
   font facts, in reading order: columns are found by recursive XY-cuts (see
   ``reading_order``), so a two-column page reads left column then right
   column, and line-numbered transcripts read row by row. A page MuPDF fails on
   is filled in by pypdf (text only) and listed in ``page_errors``.
4. Headings are blocks clearly larger than the document's body font size, or
   short bold blocks; decided per document after all pages are read.
5. Pages without a text layer but with images (or vector drawings) are OCR'd
   when the OCR module reports Tesseract available, otherwise listed in
   ``needs_ocr_pages``. Tables are found per page by ``pdf.tables.find_tables``.

If PyMuPDF cannot open or parse the file, pypdf reads it (text only, page
provenance, no bbox) and ``parser`` says so; if both fail, the error names both
reasons. Encryption errors are final: the other parser would fail the same way.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docframe.connectors.base import Document, Element
from docframe.connectors.pdf import metadata as md
from docframe.connectors.pdf.options import PdfOptions
from docframe.errors import ConnectorError, IsolationError, WorkerCrashed

SUPPLY_PASSWORD = "encrypted: supply a password (--pdf-password or a --pdf-passwords file)"
WRONG_PASSWORD = "encrypted: wrong password"
CORRUPT_HELP = "the file is damaged; re-export it or try repairing it (e.g. qpdf --repair)"

# MuPDF text flags for every text page docframe reads (the blocks, and the table
# reader's words): whitespace as in the file, text outside the media box dropped,
# unknown glyphs kept as CIDs, images NOT decoded; ligatures expanded (U+FB01 -> "fi"),
# so keyword search and SQL match words spelled plainly (TEXTFLAGS_WORDS keeps them)
TEXT_FLAGS = 2 | 64 | 128
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|cmbx|cmb\d", re.I)
_bold_fonts: dict[str, bool] = {}  # font name -> looks bold (cache)
_MEMORY_HINTS = ("malloc", "out of memory", "cannot allocate", "memory limit")


# ------------------------------------------------------------------ parent side


# modules imported once by the fork server, so each worker starts with them loaded
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


# ------------------------------------------------------------------ child side


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
        except (ConnectorError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure means: try pypdf
            if _is_memory(exc):
                raise MemoryError(str(exc)) from None
            reasons.append(f"pymupdf: {_reason(exc)}")
    if "pypdf" in parsers:
        from docframe.connectors.pdf.pypdf_text import extract_with_pypdf

        try:
            doc = extract_with_pypdf(path, label, doc_key, password, options)
        except (ConnectorError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001
            if _is_memory(exc):
                raise MemoryError(str(exc)) from None
            reasons.append(f"pypdf: {_reason(exc)}")
        else:
            if reasons:
                doc.metadata["fallback_reason"] = "; ".join(reasons)
            return doc
    raise ConnectorError(f"{label}: corrupt: {'; '.join(reasons)}", help=CORRUPT_HELP)


class _NoPages(Exception):
    def __str__(self) -> str:
        return "no pages"


def _is_memory(exc: BaseException) -> bool:
    if type(exc).__name__ == "FzErrorMemory":
        return True
    text = str(exc).lower()
    return any(hint in text for hint in _MEMORY_HINTS)


def _reason(exc: BaseException) -> str:
    """A one-line reason from a parser exception (MuPDF's "code=7: " prefix dropped)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"^code=\d+:\s*", "", text)
    text = re.sub(r"Failed to open file '.*' as type \w+\.?", "cannot open the file as PDF", text)
    if isinstance(exc, RecursionError):
        text = "structure nested too deeply"
    return text[:200]


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
            if not password:
                raise ConnectorError(f"{label}: {SUPPLY_PASSWORD}")
            if not doc.authenticate(password):
                raise ConnectorError(
                    f"{label}: {WRONG_PASSWORD}",
                    help="check the password given for this file (--pdf-password/--pdf-passwords)",
                )
        if not encrypted:
            try:
                encrypted = bool((doc.metadata or {}).get("encryption"))
            except Exception:  # noqa: BLE001
                pass
        return doc, encrypted
    except BaseException:
        doc.close()
        raise


@dataclass(slots=True)
class _Block:
    page: int
    bbox: tuple[float, float, float, float]
    text: str
    size: float
    bold: float  # share of characters in a bold font
    lines: int
    chars: int


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
        find_tables = _find_tables() if options.tables else None

        pages: list[list[_Block] | list[Element]] = []
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
                    if _is_memory(exc):
                        raise MemoryError(str(exc)) from None
                    failed[number] = _reason(exc)
                    pages.append([])
                    continue
                if find_tables is not None:
                    try:
                        found = find_tables(page, doc_key, Path(path), number, textpage=textpage)
                        tables.extend(_picklable_table(t) for t in found or [])
                    except MemoryError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - tables must not lose the text
                        if _is_memory(exc):
                            raise MemoryError(str(exc)) from None
                        table_errors.append(f"page {number}: {_reason(exc)}")
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
    elements, first_heading = _elements(pages)
    meta["attachments"] = list(dict.fromkeys(attachments))
    if table_errors:
        meta["table_errors"] = table_errors
    if meta["needs_ocr_pages"]:
        meta["needs_ocr_reason"] = ocr.reason or "OCR failed on these pages (see ocr_errors)"
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


def page_blocks(page: Any, number: int, textpage: Any = None) -> list[_Block]:
    """The page's text blocks, in reading order, with their dominant font facts.

    Line-level facts (text, bbox, first character's font name/weight/size) come
    from docframe's C reader of MuPDF's text page (``_stext.c``) when it was built,
    else from MuPDF's own JSON rendering of the same facts (7x slower; still a
    third of PyMuPDF's span-level ``get_text("dict")``, which remains the last
    fallback). ``textpage``: one made with ``TEXT_FLAGS`` already (else made here).
    """
    if textpage is None:
        textpage = page.get_textpage(flags=TEXT_FLAGS)
    try:
        reader = c_reader()
        if reader is not None:
            raw = _finish(reader(textpage.this.m_internal_value()))
        else:
            raw = _finish(_lines_from_json(textpage))
    except (ValueError, KeyError, TypeError, AttributeError):
        raw = _blocks_from_dict(textpage)
    blocks: list[_Block] = []
    for bbox, lines, sizes, bold, chars in raw:
        if not chars or not lines:
            continue
        blocks.append(
            _Block(
                page=number,
                bbox=bbox,
                text=_join_lines(lines),
                size=round(max(sizes, key=sizes.__getitem__), 1),
                bold=bold / chars,
                lines=len(lines),
                chars=chars,
            )
        )
    order = reading_order([b.bbox for b in blocks])
    return [blocks[i] for i in order]


_RawBlock = tuple[tuple[float, float, float, float], list[str], dict[float, int], int, int]
_JSON_SCALE = 100.0  # MuPDF writes integers: coordinates and sizes in 1/100 pt


def _json_loads() -> Any:
    """orjson parses MuPDF's JSON (about 20 kB a page) in half json's time."""
    try:
        import orjson

        return orjson.loads
    except ImportError:  # a trimmed install: the standard library does the same
        import json

        return json.loads


def c_reader() -> Any:
    """``_stext.text_blocks`` when built against the running MuPDF's headers, else None."""
    return _c_lookup()[0]


def text_reader_status() -> str:
    """Which reader ``page_blocks`` uses, for ``docframe doctor``."""
    reader, status = _c_lookup()
    return status if reader is not None else f"JSON (C reader {status})"


@functools.cache
def _c_lookup() -> tuple[Any, str]:
    """(the C reader or None, why), once per process.

    The C module is compiled at install time when a C compiler is present
    (setup.py); a different MuPDF than it was built for would have other struct
    layouts, so then the JSON path is used.
    """
    try:
        import pymupdf

        from docframe.connectors.pdf import _stext
    except ImportError as exc:
        return None, f"not built ({exc}); reinstall with a C compiler present"
    if _stext.FZ_VERSION != pymupdf.mupdf.FZ_VERSION:
        return None, (
            f"built for MuPDF {_stext.FZ_VERSION}, running {pymupdf.mupdf.FZ_VERSION}: "
            "not used; reinstall docframe to rebuild it"
        )
    return _stext.text_blocks, f"C, built for MuPDF {_stext.FZ_VERSION}"


def _lines_from_json(textpage: Any) -> list[tuple]:
    """What ``_stext.text_blocks`` returns, computed from MuPDF's JSON rendering of the
    text page: the path when the C reader was not built, and its reference in tests."""
    global _loads
    import pymupdf

    mupdf = pymupdf.mupdf
    buffer = mupdf.fz_new_buffer(8192)
    out = mupdf.FzOutput(buffer)
    mupdf.fz_print_stext_page_as_json(out, textpage.this, _JSON_SCALE)
    out.fz_close_output()
    if _loads is None:  # looked up on first use: the C reader usually makes it unneeded
        _loads = _json_loads()
    blocks = []
    for block in _loads(mupdf.fz_buffer_extract(buffer))["blocks"]:
        if block.get("type") != "text":
            continue
        lines: list[str] = []
        sizes: dict[int, int] = {}
        names: dict[str, int] = {}
        bold = chars = 0
        for line in block["lines"]:
            text = line["text"].strip()
            if not text:
                continue
            lines.append(text)
            n = len(text) - text.count(" ")
            font = line["font"]
            sizes[font["size"]] = sizes.get(font["size"], 0) + n
            chars += n
            if font["weight"] == "bold":
                bold += n
            else:
                names[font["name"]] = names.get(font["name"], 0) + n
        box = block["bbox"]
        blocks.append((box["x"], box["y"], box["w"], box["h"], lines, sizes, bold, names, chars))
    return blocks


def _finish(blocks: list[tuple]) -> list[_RawBlock]:
    """``text_blocks`` tuples as raw blocks: points, sizes in points, and bold also
    counting fonts whose name says so (MuPDF's bold flag misses many)."""
    scale = _JSON_SCALE
    is_bold = _font_is_bold
    out: list[_RawBlock] = []
    for x, y, w, h, lines, sizes, bold, names, chars in blocks:
        for name, n in names.items():
            if is_bold(name):
                bold += n
        # exact hundredths of a point, as the 2-decimal rounding of the dict path gives
        box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
        out.append((box, lines, {k / scale: v for k, v in sizes.items()}, bold, chars))
    return out


_loads: Any = None  # orjson.loads, else json.loads (see _json_loads)


def _blocks_from_dict(textpage: Any) -> list[_RawBlock]:
    is_bold = _font_is_bold
    blocks: list[_RawBlock] = []
    for block in textpage.extractDICT()["blocks"]:
        if block.get("type", 0) != 0:
            continue
        sizes: dict[float, int] = {}
        bold = chars = 0
        lines: list[str] = []
        for line in block["lines"]:
            parts = []
            for span in line["spans"]:
                text = span["text"]
                parts.append(text)
                n = len(text) - text.count(" ")
                if n:
                    size = span["size"]
                    sizes[size] = sizes.get(size, 0) + n
                    chars += n
                    if span["flags"] & 16 or is_bold(span["font"]):
                        bold += n
            joined = "".join(parts).strip()
            if joined:
                lines.append(joined)
        box = tuple(round(v, 2) for v in block["bbox"])
        blocks.append((box, lines, sizes, bold, chars))
    return blocks


def _font_is_bold(name: str) -> bool:
    found = _bold_fonts.get(name)
    if found is None:
        found = _bold_fonts[name] = bool(_BOLD_FONT.search(name))
    return found


def _join_lines(lines: list[str]) -> str:
    """Lines of a block joined by newlines; words hyphenated across lines rejoined."""
    parts = [lines[0]]
    for line in lines[1:]:
        last = parts[-1]
        if len(last) >= 2 and last[-1] == "-" and last[-2].isalpha() and line[:1].islower():
            parts[-1] = last[:-1] + line
        else:
            parts.append(line)
    return "\n".join(parts)


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
                self.reason = f"OCR set-up failed: {_reason(exc)}"
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
            if _is_memory(exc):
                raise MemoryError(str(exc)) from None
            self.errors.append(f"page {number}: {_reason(exc)}")
            return None
        for i, element in enumerate(found):
            element.page = element.page or number
            element.metadata.setdefault("block", i)
            element.metadata["kind"] = "ocr"
            element.metadata.setdefault("font_size", None)
        return found


def _find_tables() -> Any:
    try:
        from docframe.connectors.pdf.tables import find_tables
    except ImportError:
        return None
    return find_tables


def _picklable_table(table: Any) -> Any:
    """TableData crosses a process boundary: its batch iterator becomes a list iterator."""
    table.batches = iter(list(table.batches))
    return table


def _elements(pages: list[Any]) -> tuple[list[Element], str | None]:
    """Elements of all pages with heading kinds decided on the document's body size."""
    sizes: Counter[float] = Counter()
    bold_chars = total = 0
    for blocks in pages:
        for b in blocks:
            if isinstance(b, _Block):
                sizes[round(b.size * 2) / 2] += b.chars
                bold_chars += round(b.bold * b.chars)
                total += b.chars
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    bold_is_special = total > 0 and bold_chars / total < 0.4

    elements: list[Element] = []
    title: tuple[float, str] | None = None
    title_page: int | None = None
    for blocks in pages:
        for i, b in enumerate(blocks):
            if not isinstance(b, _Block):
                elements.append(b)  # OCR elements come finished
                continue
            kind = "heading" if _is_heading(b, body, bold_is_special) else "text"
            elements.append(
                Element(
                    b.text,
                    page=b.page,
                    bbox=b.bbox,
                    metadata={"block": i, "kind": kind, "font_size": b.size},
                )
            )
            if kind == "heading" and (title_page is None or title_page == b.page):
                title_page = b.page
                if title is None or b.size > title[0]:
                    title = (b.size, " ".join(b.text.split()))
    return elements, (title[1] if title else None)


def _is_heading(b: _Block, body: float, bold_is_special: bool) -> bool:
    """Short blocks set clearly larger than the body text, or short bold lines."""
    if b.lines > 3 or b.chars > 200:
        return False
    larger = body > 0 and b.size >= body * 1.15 and b.size - body >= 1.0
    bold = (
        bold_is_special
        and b.bold >= 0.8
        and b.lines <= 2
        and b.chars <= 150
        and b.size >= body - 0.5
        and not b.text.rstrip().endswith((".", ","))
    )
    return (larger or bold) and sum(c.isalpha() for c in b.text) >= 3


# ------------------------------------------------------------------ reading order

Box = tuple[float, float, float, float]
_MIN_GUTTER = 3.0  # points of white space between columns
_MIN_COLUMN = 0.15  # share of the page's text width a column must have


def reading_order(boxes: list[Box]) -> list[int]:
    """Indices of ``boxes`` (x0, y0, x1, y1; y down) in reading order.

    Recursive XY-cut: a region that splits along a vertical white gutter, with
    at least 15% of the text width on each side, reads left part then right
    part (columns). Otherwise it is sliced at horizontal white gaps; adjacent
    slices that share a gutter are kept together (so paragraph gaps that happen
    to line up across columns do not interleave them), and each band is ordered
    the same way. What cannot be cut reads row by row, left to right.
    Narrow strips (line numbers, bullets, table cells) never make a column.
    """
    if len(boxes) <= 1:
        return list(range(len(boxes)))
    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    min_col = max(width * _MIN_COLUMN, 1.0)
    return _order(list(range(len(boxes))), boxes, min_col, 0)


def _order(idx: list[int], boxes: list[Box], min_col: float, depth: int) -> list[int]:
    if len(idx) <= 1 or depth > 64:
        return _rows(idx, boxes)
    cut = _x_cut(idx, boxes, min_col)
    if cut is not None:
        left = [i for i in idx if (boxes[i][0] + boxes[i][2]) / 2 < cut]
        right = [i for i in idx if (boxes[i][0] + boxes[i][2]) / 2 >= cut]
        return _order(left, boxes, min_col, depth + 1) + _order(right, boxes, min_col, depth + 1)
    slices = _y_slices(idx, boxes)
    if len(slices) <= 1:
        return _rows(idx, boxes)
    # a block covering the middle of the region leaves no room for a gutter with a
    # column on each side: its slice can never join a band (the common single-column
    # case, decided without trying a cut)
    low = min(boxes[i][0] for i in idx) + min_col
    high = max(boxes[i][2] for i in idx) - min_col
    bands: list[tuple[list[int], bool]] = []
    last_blocked = True
    for piece in slices:
        blocked = any(boxes[i][0] <= low and boxes[i][2] >= high for i in piece)
        merged = None if blocked or last_blocked else _x_cut(bands[-1][0] + piece, boxes, min_col)
        if merged is not None:
            bands[-1] = (bands[-1][0] + piece, False)
        else:
            bands.append((piece, blocked))
        last_blocked = blocked
    if len(bands) == 1:  # cannot happen (the whole region has no cut); be safe
        return _rows(idx, boxes)
    out: list[int] = []
    for band, blocked in bands:
        # a blocked slice has no gutter and no inner white band: it reads row by row
        out.extend(_rows(band, boxes) if blocked else _order(band, boxes, min_col, depth + 1))
    return out


def _x_cut(idx: list[int], boxes: list[Box], min_col: float) -> float | None:
    """The leftmost vertical gutter with a column's width of text on both sides."""
    spans = sorted([(boxes[i][0], boxes[i][2]) for i in idx])
    left_edge = spans[0][0]
    right_edge = max([s[1] for s in spans])
    if right_edge - left_edge < 2 * min_col + _MIN_GUTTER:
        return None  # too narrow for two columns and a gutter
    reach = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= _MIN_GUTTER:
            if reach - left_edge >= min_col and right_edge - x0 >= min_col:
                return (reach + x0) / 2
        reach = max(reach, x1)
    return None


def _y_slices(idx: list[int], boxes: list[Box]) -> list[list[int]]:
    """Groups separated by horizontal white space, top to bottom."""
    ordered = sorted(idx, key=lambda i: boxes[i][1])
    slices: list[list[int]] = []
    bottom = 0.0
    for i in ordered:
        y0, y1 = boxes[i][1], boxes[i][3]
        if slices and y0 < bottom - 0.5:
            slices[-1].append(i)
            bottom = max(bottom, y1)
        else:
            slices.append([i])
            bottom = y1
    return slices


def _rows(idx: list[int], boxes: list[Box]) -> list[int]:
    """Row by row (blocks overlapping vertically by half the smaller height), left to right."""
    if len(idx) <= 1:  # most bands of a single-column page
        return list(idx)
    ordered = sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
    rows: list[list[int]] = []
    top = bottom = 0.0
    for i in ordered:
        y0, y1 = boxes[i][1], boxes[i][3]
        if rows:
            overlap = min(bottom, y1) - max(top, y0)
            if overlap >= 0.5 * min(bottom - top, y1 - y0):
                rows[-1].append(i)
                bottom = max(bottom, y1)
                continue
        rows.append([i])
        top, bottom = y0, y1
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]
