"""Plain text and Markdown: one document per file, the file's text as one element."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from docframe.connectors.base import Document, Element, read_text

_MD_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class TextConnector:
    name = "text"
    modality = "text"
    suffixes = (".txt", ".text")

    def extract(self, path: Path) -> Iterator[Document]:
        text = read_text(path)
        first_line = text.strip().splitlines()[0].strip()
        yield Document(path.name, [Element(text)], title=first_line[:200])


class MarkdownConnector:
    """Markdown stays as written: headings and lists read well to the embedding model."""

    name = "markdown"
    modality = "text"
    suffixes = (".md", ".markdown")

    def extract(self, path: Path) -> Iterator[Document]:
        text = read_text(path)
        heading = _MD_HEADING.search(text)
        title = heading.group(1) if heading else text.strip().splitlines()[0].strip()[:200]
        yield Document(path.name, [Element(text)], title=title)
