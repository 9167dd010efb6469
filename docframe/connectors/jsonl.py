"""JSON Lines document collections (BEIR format): ``{"_id", "title"?, "text", ...}`` per line.

``_id`` becomes the document's ``doc_key``, so evaluation qrels and citations
refer to the collection's own ids. Other fields are kept as metadata.

**Bad lines** (invalid JSON, not an object with ``_id`` and ``text``, a
repeated ``_id``, nested too deep, over-long) are an error naming the line, as
for tables. With ``on_bad_rows="skip"`` (``--on-bad-rows skip``) they are
skipped, the good documents are kept, and the skipped line numbers go to
:attr:`JsonlConnector.notes` (the ingest shows them with the file's outcome):
one damaged line in a million-document collection should not lose the rest.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.connectors import jsonread
from docframe.connectors.base import TEXT_SNIFF_BYTES, Document, Element
from docframe.connectors.sources import open_source
from docframe.errors import ConnectorError

if TYPE_CHECKING:
    from docframe.connectors.tables import TableOptions

_FORMAT_HELP = 'each line must be one JSON object like {"_id": "d1", "text": "..."}'


def _lines(path: Path) -> Iterator[tuple[int, str | None]]:
    try:
        with open_source(path) as raw:
            if b"\x00" in raw.read(TEXT_SNIFF_BYTES):  # a disk image, a sparse file
                raise ConnectorError(
                    f"{path}: binary content (NUL bytes) in a JSON Lines file",
                    help="this is not a text file; remove it or give it its real extension",
                )
        with io.TextIOWrapper(open_source(path), encoding="utf-8-sig") as fh:
            yield from jsonread.lines(fh)
    except UnicodeDecodeError as exc:
        raise ConnectorError(
            f"{path}: not valid UTF-8 ({exc.reason})", help="save it as UTF-8 JSON Lines"
        ) from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ConnectorError(
            f"{path}: cannot read: {exc}", help="check the file; a .gz file must be complete gzip"
        ) from None


class _BadLine(Exception):
    def __init__(self, message: str, help: str) -> None:
        super().__init__(message)
        self.message, self.help = message, help


def _record(line: str | None, seen: dict[str, int], lineno: int) -> dict[str, Any]:
    """The line's object with ``_id`` and ``text``, or _BadLine saying what is wrong."""
    if line is None:
        raise _BadLine(jsonread.too_long(), "split the document, or remove the line")
    try:
        record = jsonread.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadLine(jsonread.invalid(exc), _FORMAT_HELP) from None
    except jsonread.JsonTooDeep as exc:
        raise _BadLine(str(exc), jsonread.DEPTH_HELP) from None
    if not isinstance(record, dict) or "_id" not in record or "text" not in record:
        raise _BadLine(
            "expected an object with '_id' and 'text'",
            "use the BEIR corpus format: _id, optional title, text",
        )
    key = str(record["_id"])
    if key in seen:
        raise _BadLine(f"duplicate _id {key!r} (first on line {seen[key]})", "ids must be unique")
    seen[key] = lineno
    return record


class JsonlConnector:
    name = "jsonl"
    modality = "text"
    suffixes = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")

    def __init__(self, on_bad_rows: str = "error") -> None:
        self.on_bad_rows = on_bad_rows
        self.notes: list[str] = []  # filled by extract: the bad lines it skipped

    def with_table_options(self, options: TableOptions) -> JsonlConnector:
        """A copy that treats bad lines as ``options.on_bad_rows`` says (ingest calls this)."""
        return type(self)(options.on_bad_rows)

    def extract(self, path: Path) -> Iterator[Document]:
        self.notes = []
        seen: dict[str, int] = {}
        skipped: list[tuple[int, str]] = []
        for lineno, line in _lines(path):
            if line is not None and not line.strip():
                continue
            try:
                record = _record(line, seen, lineno)
            except _BadLine as bad:
                if self.on_bad_rows != "skip":
                    raise ConnectorError(
                        f"{path}:{lineno}: {bad.message}",
                        help=f"{bad.help}; or pass --on-bad-rows skip to skip bad lines",
                    ) from None
                skipped.append((lineno, bad.message))
                continue
            key = str(record.pop("_id"))
            text = str(record.pop("text") or "")
            title = record.pop("title", None) or None
            if not text.strip() and not title:
                continue
            yield Document(key, [Element(text or str(title))], title=title, metadata=record)
        if skipped:
            self.notes.append(jsonread.skipped_note(skipped))
        if not seen:
            raise ConnectorError(
                f"{path}: no documents in this JSON Lines file"
                + (f" ({len(skipped)} bad line(s) skipped)" if skipped else ""),
                help='each line is a document: {"_id": "...", "text": "..."}',
            )
