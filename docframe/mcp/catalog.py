"""The catalog tools: ``list_tables`` and ``describe_table`` over one pinned snapshot.

They tell a model what it can query before it writes SQL. Every statement they run
goes through the sandbox like an agent's own, and a damaged relation is listed with
its error instead of hiding the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from docframe.errors import DamagedSegmentError, QueryError, did_you_mean
from docframe.lake.names import RELATIONS, quote_ident
from docframe.mcp.sandbox.limits import json_size, json_value
from docframe.mcp.schemas import CONTENT_NOTICE
from docframe.query.catalog import (
    MODALITIES_SQL,
    RELATION_DOCS,
    count_sql,
    describe_sql,
    relation_names,
)

if TYPE_CHECKING:
    from docframe.lake.snapshot import Snapshot
    from docframe.mcp.sandbox import Sandbox


def list_tables(sandbox: Sandbox, snap: Snapshot) -> dict[str, Any]:
    """Every relation with its row count, columns and types (chunks: per modality)."""
    tables = sorted(snap.tables.values(), key=lambda t: t.name)
    statements = [(MODALITIES_SQL, None)]
    for name in RELATIONS:
        statements += [(count_sql(name), None), (describe_sql(name), None)]
    statements += [(describe_sql(info.name), None) for info in tables]
    try:
        answers = iter(sandbox.query_many(snap, statements))
    except DamagedSegmentError:  # a damaged relation: list the rest, say which one
        answers = iter([_answer_or_error(sandbox, snap, s) for s in statements])
    modalities = next(answers)
    relations = []
    for name in RELATIONS:
        count = next(answers)
        entry = {
            "name": name,
            "kind": "docframe relation",
            "description": RELATION_DOCS.get(name, ""),
            "rows": None if isinstance(count, Exception) else count.rows[0]["n"],
            "columns": _columns(next(answers)),
        }
        if isinstance(count, Exception):
            entry["error"] = count.message
        elif name == "chunks" and not isinstance(modalities, Exception):
            entry["modalities"] = _modalities(modalities)
        relations.append(entry)
    for info in tables:
        relations.append(
            {
                "name": info.name,
                "kind": "pdf table" if info.location else "table",
                "source_uri": info.source_uri,
                "rows": info.n_rows,
                "columns": _columns(next(answers)),
            }
        )
    result: dict[str, Any] = {"snapshot": snap.snapshot_id, "relations": relations}
    budget = sandbox.limits.max_bytes
    if json_size(result) > budget:  # many lake tables: names and counts first
        for entry in relations[len(RELATIONS) :]:
            entry.pop("columns", None)
        result["truncated"] = True
        result["note"] = "lake table columns left out (byte limit): use describe_table"
        while json_size(result) > budget and len(relations) > len(RELATIONS):
            relations.pop()
            result["note"] = "some lake tables left out (byte limit): query the tables relation"
    return result


def describe_table(
    sandbox: Sandbox, snap: Snapshot, name: str, sample_rows: int = 3
) -> dict[str, Any]:
    """One relation: columns, row count, provenance and a few sample rows."""
    known = relation_names(snap)
    if name not in known:
        raise QueryError(
            f"no relation {name!r} in snapshot {snap.snapshot_id}" + did_you_mean(name, known),
            help="list_tables lists every relation",
        )
    select = "* EXCLUDE (embedding)" if name == "chunks" else "*"
    columns, count, sample, modalities = sandbox.query_many(
        snap,
        [
            (describe_sql(name), None),
            (count_sql(name), None),
            (f"SELECT {select} FROM {quote_ident(name)} LIMIT {int(sample_rows)}", None),
            (MODALITIES_SQL, None),
        ],
    )
    result: dict[str, Any] = {"snapshot": snap.snapshot_id, "name": name}
    if name in RELATIONS:
        result["kind"] = "docframe relation"
        result["description"] = RELATION_DOCS.get(name, "")
        result["rows"] = count.rows[0]["n"]
    else:
        info = snap.tables[name]
        result.update(
            kind="pdf table" if info.location else "table",
            source_uri=info.source_uri,
            origin=info.origin,
            rows=info.n_rows,
            added_in_snapshot=info.snapshot_id,
            notes=info.notes,
        )
        if info.location:
            result["location"] = json_value(info.location)
    if name == "chunks":
        result["modalities"] = _modalities(modalities)
    result["columns"] = _columns(columns)
    result["sample_rows"] = [{k: _shorten(v) for k, v in r.items()} for r in sample.rows]
    result["content_notice"] = CONTENT_NOTICE
    return result


def _answer_or_error(sandbox: Sandbox, snap: Snapshot, statement: tuple[str, Any]) -> Any:
    try:
        return sandbox.query_many(snap, [statement])[0]
    except DamagedSegmentError as exc:
        return exc


def _columns(answer: Any) -> list[dict[str, str]]:
    if isinstance(answer, Exception):
        return []
    return [{"name": r["column_name"], "type": r["column_type"]} for r in answer.rows]


def _modalities(answer: Any) -> dict[str, int]:
    return {r["modality"]: r["n"] for r in answer.rows}


def _shorten(value: Any, width: int = 300) -> Any:
    if isinstance(value, str) and len(value) > width:
        return value[: width - 1] + "…"
    if isinstance(value, list) and len(value) > 16:
        return f"[{len(value)} values]"
    return value
