"""Which text blocks are headings, decided per document once all its pages are read.

A heading is a short block set clearly larger than the document's body text (the
font size most characters have), or a short bold block where bold is rare in the
document: both need the whole document, so pages are read first and kinds decided
here. The largest heading on the first page with headings titles a document whose
metadata has no usable title.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from docframe.connectors.base import Element
from docframe.connectors.pdf.text_reader import TextBlock


def elements_with_headings(pages: list[Any]) -> tuple[list[Element], str | None]:
    """Elements of all pages with heading kinds decided on the document's body size."""
    sizes: Counter[float] = Counter()
    bold_chars = total = 0
    for blocks in pages:
        for b in blocks:
            if isinstance(b, TextBlock):
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
            if not isinstance(b, TextBlock):
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


def _is_heading(b: TextBlock, body: float, bold_is_special: bool) -> bool:
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
