"""Connectors, found by file type. Third parties register more through the
``docframe.connectors`` entry-point group (a class with name/modality/suffixes/extract).

The suffix decides (the longest registered one the name ends with); a ``.gz``/``.zst``
name the registry does not know is read as the file inside (``docframe.connectors.archives``);
a name that says nothing is recognised by its first bytes (``docframe.connectors.content``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from docframe.connectors.archives import (
    DecompressedConnector,
    ZipDocumentsConnector,
    ZipTablesConnector,
    decompressed_head,
)
from docframe.connectors.base import Connector, Document, Element
from docframe.connectors.content import HEAD_BYTES, Chosen, recognise
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
from docframe.connectors.unpack import COMPRESSED, NESTED, codec_of
from docframe.connectors.unsupported import unsupported
from docframe.errors import ConnectorError, UnsupportedInputError, warn

__all__ = ["Chosen", "Connector", "Document", "Element", "choose_connector", "connector_for",
           "registry"]  # fmt: skip

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
    ZipTablesConnector,  # before the document archive: it declines archives of documents
    ZipDocumentsConnector,
)
_ARCHIVES = (ZipTablesConnector, ZipDocumentsConnector)  # made with the chooser
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
            connector = cls(choose_connector) if cls in _ARCHIVES else cls()
            for suffix in connector.suffixes:
                found.setdefault(suffix.lower(), []).append(connector)
        _registry = found
    return _registry


def connector_for(path: Path) -> Any:
    """The connector for ``path``: a document connector or a table connector (``kind``)."""
    return choose_connector(path).connector


def choose_connector(path: Path, *, probe: bool = True) -> Chosen:
    """The connector for ``path``, and whether its content rather than its name chose it.

    By suffix first: a known suffix keeps its connector even when the content is another
    type (that connector refuses it and names the real type). Then a ``.gz``/``.zst``
    the registry does not list by its compound suffix: the connector of the inner name,
    or of the inner content. Then the content: a PDF or a recording under a name that
    says nothing (``report.bin``, ``70306.fuzz``, ``attachment``). ``probe=False``
    skips the connectors' ``accepts`` checks where they cannot change the kind (a
    film's probe needs a real file; a listing of an archive's members asks only that).
    """
    reg = registry()
    candidates = _by_suffix(path.name, reg)
    if candidates:
        return Chosen(_pick(candidates, path, probe))
    codec = codec_of(path)
    if codec is not None:
        return _decompressed(path, codec, reg)
    found = recognise(_head(path))
    if found is not None:
        what, suffix = found
        return Chosen(_pick(reg[suffix], path, probe), recognised=what)
    raise unsupported(path)  # its type, and what would read it


def _by_suffix(name: str, reg: dict[str, list[Any]]) -> list[Any]:
    name = name.lower()
    # longest suffix first, so ".jsonl.gz" wins over ".gz"
    for suffix in sorted(reg, key=len, reverse=True):
        if name.endswith(suffix):
            return reg[suffix]
    return []


def _pick(candidates: list[Any], path: Path, probe: bool) -> Any:
    """The first candidate whose optional ``accepts(path)`` agrees (the last otherwise)."""
    kinds = {getattr(c, "kind", "documents") for c in candidates}
    if not probe and len(kinds) == 1:
        return candidates[0]
    for connector in candidates:
        accepts = getattr(connector, "accepts", None)
        if accepts is None or accepts(path):
            return connector
    return candidates[-1]


def _decompressed(path: Path, codec: str, reg: dict[str, list[Any]]) -> Chosen:
    """A ``.gz``/``.zst`` file read as the one file inside it (a temporary copy)."""
    inner = path.name[: -len(path.suffix)]
    if inner.lower().endswith(NESTED):  # x.tar.gz, x.zip.zst: an archive, compressed
        raise UnsupportedInputError(
            f"{path}: a {codec}-compressed archive ({Path(inner).suffix}): docframe does not "
            "read archives inside compressed files",
            help="unpack it and ingest the folder",
        )
    candidates = _by_suffix(inner, reg)
    recognised = None
    if not candidates:
        head = decompressed_head(path)
        if not head:  # not really compressed that way, or empty: nothing says what it is
            raise unsupported(path)  # its type, and what would read it
        found = recognise(head)
        if found is None:
            tar = len(head) > 262 and head[257:262] == b"ustar"
            raise UnsupportedInputError(
                f"{path}: {codec}-compressed, and what it holds is "
                + ("a tar archive" if tar else "of no type docframe reads"),
                help="unpack it and ingest the folder" if tar else _supported(reg),
            )
        recognised, suffix = found
        candidates = reg[suffix]
    connector = DecompressedConnector(choose_connector, candidates[0])
    return Chosen(connector, recognised=recognised)


def _head(path: Path) -> bytes:
    """The first bytes of ``path`` (a member of an archive too); empty when unreadable."""
    from docframe.connectors.sources import open_source

    try:
        with open_source(path) as fh:
            return fh.read(HEAD_BYTES)
    except (OSError, EOFError, ValueError, ConnectorError):
        return b""


def _supported(reg: dict[str, list[Any]]) -> str:
    known = ", ".join(sorted(reg))
    packed = ", ".join(sorted(COMPRESSED))
    return (
        f"supported types: {known}; any of them compressed ({packed}); PDFs and "
        "recordings are also recognised by content"
    )
