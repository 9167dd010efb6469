"""Where a chunk came from, as the tools return it: provenance fields and a citation.

Every hit and every chunk the tools return carries its location (page and bbox for
PDFs, seconds for audio and video, a character range for text) and a one-line
citation built from it, so a model can quote its sources exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from docframe.mcp.sandbox.limits import json_value


def format_seconds(seconds: float, *, up: bool = False) -> str:
    """``MM:SS`` (``H:MM:SS`` from an hour), rounded down for a start, up for an end,
    so the cited span covers the passage."""
    whole = math.ceil(seconds) if up else math.floor(seconds)
    hours, rest = divmod(max(whole, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def citation(row: Mapping[str, Any]) -> str:
    """Where a chunk is, in one line a model can quote: ``report.pdf, p. 3, bbox [...]``,
    ``talk.mp3 01:02–01:15``, ``notes.txt, chars 120–480``; a document inside a
    collection file is named ``file [doc_key]``."""
    uri = str(row.get("source_uri") or "")
    name = uri.rstrip("/").rsplit("/", 1)[-1] or uri
    doc_key = row.get("doc_key")
    label = name if not doc_key or doc_key == name else f"{name} [{doc_key}]"
    start, end = _num(row.get("start_s")), _num(row.get("end_s"))
    if start is not None:
        span = format_seconds(start) + (
            "–" + format_seconds(end, up=True) if end is not None else ""
        )
        return f"{label} {span}"
    parts = [label]
    page = _num(row.get("page"))
    if page is not None:
        parts.append(f"p. {int(page)}")
        bbox = row.get("bbox")
        if bbox:
            parts.append("bbox [" + ", ".join(f"{round(float(v), 1):g}" for v in bbox) + "]")
        return ", ".join(parts)
    char_start, char_end = _num(row.get("char_start")), _num(row.get("char_end"))
    if char_start is not None and char_end is not None:
        parts.append(f"chars {int(char_start)}–{int(char_end)}")
    return ", ".join(parts)


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


_LOCATION = ("page", "bbox", "start_s", "end_s", "char_start", "char_end")


def chunk_view(row: Mapping[str, Any], *, with_document: bool = True) -> dict[str, Any]:
    """A chunk row as the tools return it: provenance first, then the text (neighbours
    in get_context leave out the document fields their answer already holds)."""
    out: dict[str, Any] = {}
    keys = ("chunk_id", "doc_id", "doc_key", "title", "source_uri", "modality", "ordinal")
    for key in keys if with_document else ("chunk_id", "ordinal"):
        if key in row:
            out[key] = json_value(row[key])
    for key in _LOCATION:
        value = json_value(row.get(key))
        if key == "bbox" and value:
            value = [round(v, 2) for v in value]
        if key in ("page", "char_start", "char_end") and value is not None:
            value = int(value)
        out[key] = value
    if "metadata" in row:
        meta = row["metadata"]
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except ValueError:
                pass
        out["metadata"] = json_value(meta)
        if isinstance(meta, Mapping) and meta.get("thumbnail"):
            # a video frame the passage was on screen in: a path inside the lake folder
            out["thumbnail"] = meta["thumbnail"]
    out["citation"] = citation(row)
    out["text"] = row.get("text")
    return out
