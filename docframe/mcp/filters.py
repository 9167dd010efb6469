"""The search tool's ``filters`` as one SQL predicate on ``chunks``.

Every value becomes a quoted literal, and the predicate still goes through the
sandbox's predicate check (``docframe.mcp.sandbox.check_predicate``) before it runs:
a filter cannot carry SQL of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from docframe.errors import ToolArgumentError


def filters_to_where(filters: Mapping[str, Any]) -> str | None:
    """The search filters as one SQL predicate on ``chunks``, every value a quoted literal."""
    clauses = []
    if "modality" in filters:
        clauses.append(f"modality = {_lit(filters['modality'])}")
    if "source" in filters:
        source = str(filters["source"])
        if any(ch in source for ch in "*?["):
            clauses.append(f"source_uri GLOB {_lit(source)}")
        else:
            clauses.append(
                f"(source_uri = {_lit(source)} OR doc_key = {_lit(source)} "
                f"OR suffix(source_uri, {_lit('/' + source)}))"
            )
    if "doc_id" in filters:
        clauses.append(f"doc_id = {_lit(filters['doc_id'])}")
    if "page_from" in filters:
        clauses.append(f"page >= {int(filters['page_from'])}")
    if "page_to" in filters:
        clauses.append(f"page <= {int(filters['page_to'])}")
    if (
        "page_from" in filters
        and "page_to" in filters
        and filters["page_from"] > filters["page_to"]
    ):
        raise ToolArgumentError(
            f"search: page_from {filters['page_from']} is after page_to {filters['page_to']}",
            help="give page_from <= page_to",
        )
    if "time_from_s" in filters:
        clauses.append(f"end_s >= {float(filters['time_from_s'])!r}")
    if "time_to_s" in filters:
        clauses.append(f"start_s <= {float(filters['time_to_s'])!r}")
    for key, value in (filters.get("metadata") or {}).items():
        if not key or any(ch in key for ch in "\"\\'") or not key.isprintable():
            raise ToolArgumentError(
                f"search: metadata key {key!r} is not allowed",
                help="metadata keys are plain names without quotes or backslashes",
            )
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        path = _lit("$." + json.dumps(key, ensure_ascii=False))
        clauses.append(f"json_extract_string(metadata, {path}) = {_lit(text)}")
    return " AND ".join(clauses) if clauses else None


def _lit(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"
