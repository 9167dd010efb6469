"""Connectors, found by file type. Third parties register more through the
``docframe.connectors`` entry-point group (a class with name/modality/suffixes/extract)."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from pathlib import Path

from docframe.connectors.base import Connector, Document, Element
from docframe.connectors.html import HtmlConnector
from docframe.connectors.jsonl import JsonlConnector
from docframe.connectors.text import MarkdownConnector, TextConnector
from docframe.errors import UnsupportedInputError

__all__ = ["Connector", "Document", "Element", "connector_for", "registry"]

_BUILTIN: tuple[type, ...] = (TextConnector, MarkdownConnector, HtmlConnector, JsonlConnector)
_registry: dict[str, Connector] | None = None


def registry() -> dict[str, Connector]:
    """suffix -> connector, built-ins first, then plugins (a broken plugin warns, never breaks)."""
    global _registry
    if _registry is None:
        found: dict[str, Connector] = {}
        classes = list(_BUILTIN)
        for ep in entry_points(group="docframe.connectors"):
            try:
                classes.append(ep.load())
            except Exception as exc:  # noqa: BLE001 - a plugin must not break ingestion
                warnings.warn(
                    f"docframe connector plugin {ep.name!r} failed to load: {exc}", stacklevel=2
                )
        for cls in classes:
            connector = cls()
            for suffix in connector.suffixes:
                found[suffix.lower()] = connector
        _registry = found
    return _registry


def connector_for(path: Path) -> Connector:
    name = path.name.lower()
    reg = registry()
    # longest suffix first, so ".jsonl.gz" wins over ".gz"
    for suffix in sorted(reg, key=len, reverse=True):
        if name.endswith(suffix):
            return reg[suffix]
    known = ", ".join(sorted(reg))
    raise UnsupportedInputError(
        f"{path}: no connector for file type {path.suffix or '(none)'!r}",
        help=f"supported types: {known}",
    )
