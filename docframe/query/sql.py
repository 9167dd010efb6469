"""SQL over one pinned snapshot, run by DuckDB, with search as table functions.

The relations (``chunks``, ``documents``, ``sources``, ``snapshots``, ``tables``,
``pdf_tables`` and every lake table) are defined in ``docframe.lake.relations`` and
kept per snapshot by ``docframe.lake.reader``; each statement runs on a fresh cursor.
Search functions in the statement (``search``, ``keyword_search``,
``hybrid_search``: ``docframe.query.table_functions``) run on the indexes first and
reach DuckDB as relations.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from docframe.errors import QueryError
from docframe.lake.reader import reader
from docframe.lake.relations import RELATIONS, diagnose, engine_error
from docframe.lake.snapshot import Snapshot
from docframe.query.result import Result

if TYPE_CHECKING:
    from docframe.index.base import Encoder
    from docframe.lake.store import LakeStore


def run_sql(
    snapshot: Snapshot,
    query: str,
    params: Any = None,
    *,
    store: LakeStore | None = None,
    embedder: Encoder | None = None,
) -> Result:
    """Run one statement over the snapshot; search table functions need the ``store``
    (its indexes) and, for dense and hybrid search, the ``embedder``.

    ``EXPLAIN [ANALYZE]`` of a statement with search calls reports each call
    (index, parameters, filter selectivity, exhaustion, time) before DuckDB's plan;
    without search calls, DuckDB answers it as usual.
    """
    from docframe.query import table_functions as tf

    if not query.strip():
        raise QueryError("empty SQL statement", help="try: SELECT count(*) FROM chunks")
    explain = _EXPLAIN.match(query)
    body = query[explain.end() :] if explain else query
    tree, calls = tf.find_calls(body)
    if calls and store is None:
        raise QueryError("search table functions need a lake", help="use Lake.sql(...)")
    # ``sources`` is the only relation defined per statement (taken from the pin)
    pin = snapshot if "sources" in query.lower() else None
    with reader(snapshot).cursor(sources=pin) as con:
        try:
            start = time.perf_counter()
            if calls:
                body = tf.rewrite(tree, calls)
                for name, table in tf.run_calls(store, snapshot, calls, embedder=embedder).items():
                    con.register(name, table)
            searched = time.perf_counter() - start
            if explain and calls:
                analyze = bool(explain.group(1))
                return _explain(con, body, calls, analyze=analyze, searched=searched)
            statement = f"{explain.group(0)}{body}" if explain else body
            return Result(con.execute(statement, params).to_arrow_table())
        except duckdb.Error as exc:
            damage = diagnose(snapshot, body, exc)
            if damage is not None:
                raise damage from None
            error = engine_error(exc)
            error.help = error.help or (
                f"relations: {', '.join(RELATIONS)} and the lake's tables (docframe tables)"
            )
            raise error from None


_EXPLAIN = re.compile(r"\s*explain\s+(analy[sz]e\s+)?", re.IGNORECASE)


def _explain(
    con: duckdb.DuckDBPyConnection, body: str, calls: list, *, analyze: bool, searched: float
) -> Result:
    """One row per search call, then DuckDB's plan of the rewritten statement."""
    rows = []
    for i, call in enumerate(calls, 1):
        info = call.info
        grouped = ", per_document => true" if call.per_document else ""
        parts = [f"{call.function}({call.text!r}, k => {call.k}{grouped})", f"mode {call.mode}"]
        for key in ("index", "keyword_index"):
            if key in info:
                parts.append(info[key])
        if call.mode == "hybrid":
            parts.append(f"zscore weights dense={call.weights[0]} keyword={call.weights[1]}")
        total = info.get("chunks", 0)
        if call.where is not None:
            matched = info.get("matched", 0)
            share = f"{matched / total:.2%}" if total else "n/a"
            parts.append(f"where {call.where!r}: {matched} of {total} chunks match ({share})")
        unit = "documents' best chunks" if call.per_document else "hits"
        parts.append(f"{call.rows} {unit} as {call.relation}")
        parts.append(
            f"exhausted: {info.get('reason')}" if info.get("exhausted") else "not exhausted"
        )
        if analyze:
            parts.append(f"{1000 * call.seconds:.1f} ms")
        rows.append({"stage": f"search {i}", "detail": "; ".join(parts)})
    start = time.perf_counter()
    plan = con.execute(("EXPLAIN ANALYZE " if analyze else "EXPLAIN ") + body).fetchall()
    duck = time.perf_counter() - start
    rows.append({"stage": "statement", "detail": body})
    rows.append({"stage": "duckdb plan", "detail": "\n".join(str(r[-1]) for r in plan)})
    if analyze:
        rows.append(
            {
                "stage": "timings",
                "detail": f"search {1000 * searched:.1f} ms; duckdb {1000 * duck:.1f} ms",
            }
        )
    return Result(pa.Table.from_pylist(rows))
