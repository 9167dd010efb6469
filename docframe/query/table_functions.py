"""Search as SQL table functions: ``search``, ``keyword_search`` and ``hybrid_search``.

A statement such as::

    SELECT d.title, c.page, s.score
    FROM hybrid_search('penalties for late delivery', k => 20) s
    JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)
    WHERE c.modality = 'pdf' ORDER BY s.score DESC LIMIT 5

is parsed with sqlglot; every call of a search function where a table can stand
(FROM, JOIN, subqueries, CTEs) is executed on the lake's indexes
(``docframe.query.search.search``), its hits (``chunk_id``, ``score``, ``rank``)
are registered in DuckDB as an Arrow relation, and the call is replaced by that
relation's name (keeping its alias). DuckDB runs the rest. Statements with no
search call are never rewritten: they reach DuckDB as typed.

Arguments: the question (a string literal) first; then by name (``k => 10`` or
``k := 10``) or position: ``k`` (default 10), ``where`` (a predicate on ``chunks``
columns, pushed into the index as a filter), for ``hybrid_search`` ``weights``
(``[dense, keyword]``), and last ``per_document`` (``true``: the best chunk of each
of ``k`` distinct documents, as ``Lake.search(per_document=True)``; the relation keeps
its columns, and ``JOIN chunks USING (chunk_id)`` gives each hit's ``doc_id``). It is a
boolean named like the Python, CLI and agent-tool option, so one name serves them all;
``group_by => 'document'`` (by name only) says the same in SQL's own words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from docframe.errors import QueryError

if TYPE_CHECKING:
    from sqlglot import exp

    from docframe.index.base import Encoder
    from docframe.lake.snapshot import Snapshot
    from docframe.lake.store import LakeStore

FUNCTIONS = {"search": "dense", "keyword_search": "keyword", "hybrid_search": "hybrid"}
PARAMETERS = {
    "dense": ("k", "where", "per_document"),
    "keyword": ("k", "where", "per_document"),
    "hybrid": ("k", "where", "weights", "per_document"),
}
USAGE = {
    "search": "search('question', k => 10, where => 'page < 5', per_document => true)",
    "keyword_search": "keyword_search('E1234', k => 10)",
    "hybrid_search": "hybrid_search('question', k => 10, weights => [1, 0.5])",
}


@dataclass
class SearchCall:
    """One search function call found in a statement, and what running it gave."""

    function: str
    mode: str
    text: str
    k: int = 10
    where: str | None = None
    weights: tuple[float, float] = (1.0, 1.0)
    per_document: bool = False
    relation: str = ""  # the name it was replaced by
    node: Any = field(default=None, repr=False)
    allowed_ids: Any = field(default=None, repr=False)  # ``where`` already evaluated (sandbox)
    info: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    rows: int = 0


def find_calls(statement: str) -> tuple[Any, list[SearchCall]]:
    """(parsed statement, search calls in it); (None, []) when it has none.

    Statements that do not mention a search function are not parsed at all, so
    anything DuckDB accepts (including syntax sqlglot does not know) passes.
    """
    lowered = statement.lower()
    if not any(name in lowered for name in FUNCTIONS):
        return None, []
    import sqlglot
    from sqlglot import exp

    try:
        parsed = sqlglot.parse(statement, read=_dialect())
    except sqlglot.errors.ParseError:
        return None, []  # DuckDB will report the syntax error in its own words
    if len(parsed) != 1 or parsed[0] is None:
        return None, []
    tree = parsed[0]
    calls = []
    for table in tree.find_all(exp.Table):
        func = table.this
        if not isinstance(func, exp.Func):
            continue
        name = _function_name(func)
        if name not in FUNCTIONS:
            continue
        call = _parse_call(name, func)
        call.node = table
        calls.append(call)
    for func in tree.find_all(exp.Func):  # a search function used as a scalar
        if _function_name(func) in FUNCTIONS and not isinstance(func.parent, exp.Table):
            raise QueryError(
                f"{_function_name(func)}(...) is a table function: use it in FROM or JOIN",
                help=f"e.g. SELECT * FROM {USAGE[_function_name(func)]}",
            )
    return (tree, calls) if calls else (None, [])


def _dialect() -> Any:
    """DuckDB's sqlglot dialect without BigQuery's two-argument ``SEARCH``: ours is a
    table function, and with sqlglot's definition ``search('question')`` would not parse."""
    global _DIALECT
    if _DIALECT is None:
        from sqlglot.dialects.duckdb import DuckDB

        class DocframeDuckDB(DuckDB):
            class Parser(DuckDB.Parser):
                FUNCTIONS = {k: v for k, v in DuckDB.Parser.FUNCTIONS.items() if k != "SEARCH"}

        _DIALECT = DocframeDuckDB
    return _DIALECT


_DIALECT: Any = None


def _function_name(func: exp.Func) -> str:
    from sqlglot import exp

    if isinstance(func, exp.Anonymous):
        return str(func.name).lower()
    return func.sql_name().lower()


def _parse_call(name: str, func: exp.Func) -> SearchCall:
    from sqlglot import exp

    mode = FUNCTIONS[name]
    allowed = PARAMETERS[mode]
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for arg in func.iter_expressions():
        if isinstance(arg, (exp.Kwarg, exp.PropertyEQ)):
            key = str(arg.this.name).lower()
            if key not in allowed and key != "group_by":
                raise QueryError(
                    f"{name}(): unknown argument {key!r}",
                    help=f"arguments: question, {', '.join(allowed)}, group_by; e.g. {USAGE[name]}",
                )
            named[key] = arg.expression
        else:
            if named:
                raise QueryError(
                    f"{name}(): positional argument after named ones",
                    help=f"e.g. {USAGE[name]}",
                )
            positional.append(arg)
    if not positional:
        raise QueryError(f"{name}() needs the question text", help=f"e.g. {USAGE[name]}")
    if len(positional) > 1 + len(allowed):
        raise QueryError(f"{name}(): too many arguments", help=f"e.g. {USAGE[name]}")
    for key, value in zip(allowed, positional[1:], strict=False):
        if key in named:
            raise QueryError(f"{name}(): {key} given twice", help=f"e.g. {USAGE[name]}")
        named[key] = value
    text = _literal(name, "the question", positional[0], str)
    call = SearchCall(name, mode, text)
    if "k" in named:
        call.k = _literal(name, "k", named["k"], int)
        if call.k < 1:
            raise QueryError(
                f"{name}(): k must be at least 1, got {call.k}", help=f"e.g. {USAGE[name]}"
            )
    if "where" in named:
        call.where = _literal(name, "where", named["where"], str)
    if "weights" in named:
        node = named["weights"]
        values = list(node.expressions) if isinstance(node, (exp.Array, exp.Tuple)) else []
        if len(values) != 2:
            raise QueryError(
                f"{name}(): weights must be two numbers [dense, keyword]",
                help="e.g. weights => [1, 0.5]",
            )
        call.weights = tuple(_literal(name, "weights", v, float) for v in values)  # type: ignore[assignment]
    if "per_document" in named:
        call.per_document = _literal(name, "per_document", named["per_document"], bool)
    if "group_by" in named:
        unit = _literal(name, "group_by", named["group_by"], str)
        if unit not in ("document", "chunk") or "per_document" in named:
            raise QueryError(
                f"{name}(): group_by must be 'document' or 'chunk' (and not given with "
                f"per_document), got {unit!r}",
                help=f"e.g. {name}('question', k => 10, group_by => 'document')",
            )
        call.per_document = unit == "document"
    return call


def _literal(function: str, what: str, node: Any, kind: type) -> Any:
    """The Python value of a literal argument; anything else is a clear error."""
    from sqlglot import exp

    if kind is bool and isinstance(node, exp.Boolean):
        return bool(node.this)
    negative = isinstance(node, exp.Neg)
    inner = node.this if negative else node
    if isinstance(inner, exp.Literal):
        if kind is str and inner.is_string:
            return inner.this
        if kind in (int, float) and not inner.is_string:
            try:
                value = kind(inner.this)
            except ValueError:
                value = None
            if value is not None:
                return -value if negative else value
    expected = {
        str: "a string literal",
        int: "an integer",
        float: "a number",
        bool: "true or false",
    }[kind]
    raise QueryError(
        f"{function}(): {what} must be {expected}, got {node.sql('duckdb')}",
        help=f"e.g. {USAGE[function]}",
    )


def rewrite(tree: Any, calls: list[SearchCall]) -> str:
    """The statement with each call replaced by its relation ``_search_<i>`` (alias kept)."""
    from sqlglot import exp

    for i, call in enumerate(calls):
        call.relation = f"_search_{i}"
        alias = call.node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(call.function))
        replacement = exp.Table(this=exp.to_identifier(call.relation), alias=alias.copy())
        call.node.replace(replacement)
        call.node = replacement
    return tree.sql(dialect=_dialect())


def run_calls(
    store: LakeStore, snapshot: Snapshot, calls: list[SearchCall], *, embedder: Encoder | None
) -> dict[str, pa.Table]:
    """Execute each (rewritten) call on the indexes; relation name -> (chunk_id, score, rank)."""
    from docframe.query.search import search

    relations: dict[str, pa.Table] = {}
    for call in calls:
        start = time.perf_counter()
        try:
            result = search(
                store,
                snapshot,
                call.text,
                call.k,
                embedder=embedder,
                mode=call.mode,
                where=call.where,
                weights=call.weights,
                provenance=False,
                allowed_ids=call.allowed_ids,
                per_document=call.per_document,
            )
        except QueryError as exc:
            raise QueryError(f"{call.function}(): {exc.message}", help=exc.help) from None
        call.seconds = time.perf_counter() - start
        call.info = result.info
        table = result.to_arrow().select(["chunk_id", "score", "rank"])
        call.rows = table.num_rows
        relations[call.relation] = table
    return relations
