"""HTML: the text a reader sees, without scripts, styles or markup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from docframe.connectors.base import Document, Element, read_text
from docframe.errors import ConnectorError

_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
# site navigation is visible but is the same on every page: it only adds noise to search
_BOILERPLATE = ("nav",)
_BLANKS = re.compile(r"\n\s*\n\s*")


class HtmlConnector:
    name = "html"
    modality = "text"
    suffixes = (".html", ".htm", ".xhtml")

    def extract(self, path: Path) -> Iterator[Document]:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(read_text(path), "html.parser")
        title = soup.title.get_text(" ", strip=True) if soup.title else None
        for tag in soup(_INVISIBLE + _BOILERPLATE):
            tag.decompose()
        for tag in soup.find_all(attrs={"role": "navigation"}):
            tag.decompose()
        for tag in soup.find_all(style=re.compile(r"display\s*:\s*none", re.I)):
            tag.decompose()
        for tag in soup.find_all(attrs={"hidden": True}):
            tag.decompose()
        lines = (line.strip() for line in soup.get_text("\n").splitlines())
        text = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
        if not text:
            raise ConnectorError(f"{path}: HTML page has no visible text", help="nothing to index")
        yield Document(path.name, [Element(text)], title=title or path.stem)
