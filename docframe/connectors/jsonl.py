"""JSON Lines document collections (BEIR format): ``{"_id", "title"?, "text", ...}`` per line.

``_id`` becomes the document's ``doc_key``, so evaluation qrels and citations
refer to the collection's own ids. Other fields are kept as metadata.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from docframe.connectors.base import Document, Element
from docframe.errors import ConnectorError


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            yield from enumerate(fh, start=1)
    except UnicodeDecodeError as exc:
        raise ConnectorError(f"{path}: not valid UTF-8 ({exc.reason})") from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ConnectorError(f"{path}: cannot read: {exc}") from None


class JsonlConnector:
    name = "jsonl"
    modality = "text"
    suffixes = (".jsonl", ".jsonl.gz", ".ndjson")

    def extract(self, path: Path) -> Iterator[Document]:
        seen: set[str] = set()
        for lineno, line in _lines(path):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConnectorError(
                    f"{where}: invalid JSON ({exc.msg} at column {exc.colno})",
                    help='each line must be one JSON object like {"_id": "d1", "text": "..."}',
                ) from None
            if not isinstance(record, dict) or "_id" not in record or "text" not in record:
                raise ConnectorError(
                    f"{where}: expected an object with '_id' and 'text'",
                    help="use the BEIR corpus format: _id, optional title, text",
                )
            key = str(record.pop("_id"))
            if key in seen:
                raise ConnectorError(f"{where}: duplicate _id {key!r}", help="ids must be unique")
            seen.add(key)
            text = str(record.pop("text") or "")
            title = record.pop("title", None) or None
            if not text.strip() and not title:
                continue
            yield Document(key, [Element(text or str(title))], title=title, metadata=record)
        if not seen:
            raise ConnectorError(f"{path}: no documents in this JSON Lines file")
