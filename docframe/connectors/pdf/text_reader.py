"""A PDF page's text blocks with their font facts: the C reader, or MuPDF's JSON.

Three readers of one MuPDF text page give the same facts (each line's text and
bbox, its first character's font name/weight/size): docframe's C reader
(``_stext.c``, compiled at install when a C compiler is present, and used only
for the MuPDF it was built for); MuPDF's own JSON rendering of the page (7x
slower; parsed by orjson, or by the standard library's json where orjson is not
installed: half the speed, same result); and PyMuPDF's span-level
``get_text("dict")``, the last fallback. :func:`page_blocks` turns them into
:class:`TextBlock` objects in reading order; ``docframe doctor`` shows which
reader is in use (:func:`text_reader_status`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from docframe.connectors.pdf.reading_order import reading_order

# MuPDF text flags for every text page docframe reads (the blocks, and the table
# reader's words): whitespace as in the file, text outside the media box dropped,
# unknown glyphs kept as CIDs, images NOT decoded; ligatures expanded (U+FB01 -> "fi"),
# so keyword search and SQL match words spelled plainly (TEXTFLAGS_WORDS keeps them)
TEXT_FLAGS = 2 | 64 | 128
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|cmbx|cmb\d", re.I)
_bold_fonts: dict[str, bool] = {}  # font name -> looks bold (cache)

_RawBlock = tuple[tuple[float, float, float, float], list[str], dict[float, int], int, int]
_JSON_SCALE = 100.0  # MuPDF writes integers: coordinates and sizes in 1/100 pt
_loads: Any = None  # orjson.loads, else json.loads (see _json_loads)


@dataclass(slots=True)
class TextBlock:
    page: int
    bbox: tuple[float, float, float, float]
    text: str
    size: float
    bold: float  # share of characters in a bold font
    lines: int
    chars: int


def page_blocks(page: Any, number: int, textpage: Any = None) -> list[TextBlock]:
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
    blocks: list[TextBlock] = []
    for bbox, lines, sizes, bold, chars in raw:
        if not chars or not lines:
            continue
        blocks.append(
            TextBlock(
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


def _json_loads() -> Any:
    """orjson parses MuPDF's JSON (about 20 kB a page) in half json's time."""
    try:
        import orjson

        return orjson.loads
    except ImportError:  # a trimmed install: the standard library does the same
        import json

        return json.loads


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
