"""Connectors, found by file type. Third parties register more through the
``docframe.connectors`` entry-point group (a class with name/modality/suffixes/extract)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from docframe.connectors.base import Connector, Document, Element
from docframe.connectors.csv import CsvConnector
from docframe.connectors.excel import ExcelConnector
from docframe.connectors.html import HtmlConnector
from docframe.connectors.json_tables import JsonlTableConnector, JsonTableConnector
from docframe.connectors.jsonl import JsonlConnector
from docframe.connectors.media import AudioConnector, VideoConnector
from docframe.connectors.parquet import ParquetConnector
from docframe.connectors.pdf import PdfConnector
from docframe.connectors.sqlite import SqliteConnector
from docframe.connectors.text import MarkdownConnector, TextConnector
from docframe.connectors.unsupported import unsupported
from docframe.errors import warn

__all__ = ["Connector", "Document", "Element", "connector_for", "registry"]

_BUILTIN: tuple[type, ...] = (
    TextConnector,
    MarkdownConnector,
    HtmlConnector,
    JsonlTableConnector,  # before JsonlConnector: it declines BEIR document collections
    JsonlConnector,
    ParquetConnector,
    PdfConnector,
    CsvConnector,
    JsonTableConnector,
    ExcelConnector,
    SqliteConnector,
    VideoConnector,  # before the audio connector: it declines files with no picture
    AudioConnector,
)
_registry: dict[str, list[Any]] | None = None


def registry() -> dict[str, list[Any]]:
    """suffix -> connectors in priority order: built-ins, then plugins.

    Several connectors may share a suffix (``.jsonl`` holds documents or table
    records); the first whose optional ``accepts(path)`` agrees reads the file.
    A broken plugin warns and is skipped; it never stops ingestion.
    """
    global _registry
    if _registry is None:
        found: dict[str, list[Any]] = {}
        classes = list(_BUILTIN)
        for ep in entry_points(group="docframe.connectors"):
            try:
                classes.append(ep.load())
            except Exception as exc:  # noqa: BLE001 - a plugin must not break ingestion
                warn(
                    f"docframe connector plugin {ep.name!r} failed to load: {exc}",
                    help=f"its file types stay unsupported until the package providing "
                    f"{ep.value!r} is fixed or uninstalled",
                )
        for cls in classes:
            connector = cls()
            for suffix in connector.suffixes:
                found.setdefault(suffix.lower(), []).append(connector)
        _registry = found
    return _registry


def connector_for(path: Path) -> Any:
    """The connector for ``path``: a document connector or a table connector (``kind``)."""
    name = path.name.lower()
    reg = registry()
    # longest suffix first, so ".jsonl.gz" wins over ".gz"
    for suffix in sorted(reg, key=len, reverse=True):
        if name.endswith(suffix):
            candidates = reg[suffix]
            for connector in candidates:
                accepts = getattr(connector, "accepts", None)
                if accepts is None or accepts(path):
                    return connector
            return candidates[-1]
    raise unsupported(path)  # its type, and what would read it
