"""The first layer of the agent sandbox: what a statement is, checked before it runs.

DuckDB's parser must find exactly one statement, of type SELECT (which covers WITH,
VALUES, FROM-first, DESCRIBE, SUMMARIZE) or EXPLAIN [ANALYZE] of one; sqlglot must
parse the same text (after an EXPLAIN found by *tokens*, so comments and odd
whitespace cannot hide what follows) into one read statement: an unparsed
``Command`` anywhere, a write or command node anywhere (a DELETE nested in a CTE
still classifies as SELECT), or a function that reads files or reveals the host
(``read_csv``, ``current_setting``, ``duckdb_databases``...) is refused. A search
``where`` predicate and a search question get their own, smaller checks.

Pure checks, no lake: the main process runs them before a statement reaches a
worker, and the worker reuses :func:`split_explain` to see which relations a
statement names.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from docframe.errors import QueryError, SandboxViolation
from docframe.mcp.sandbox.limits import MAX_SEARCH_TEXT

if TYPE_CHECKING:
    import duckdb

_READ_FORMS = "SELECT, WITH ... SELECT, VALUES, FROM ..., DESCRIBE, SUMMARIZE or EXPLAIN"


def check_statement(query: str) -> str:
    """The statement's kind (``SELECT`` or ``EXPLAIN``), or :class:`SandboxViolation`.

    Two parsers must agree: DuckDB's decides what the statement is, and sqlglot must
    parse the same text into exactly one read statement with no write, command,
    file-reading or host-revealing part anywhere in it. Anything either cannot parse
    is refused, not waved through."""
    import duckdb

    from docframe.lake.relations import one_line

    prefix, body = split_explain(query)
    try:
        statements = _parser().extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(
            f"SQL error: {one_line(str(exc))}",
            help=f"the sql tool runs one read-only statement: {_READ_FORMS}",
        ) from None
    kinds = [s.type.name for s in statements]
    if body.lstrip().split(None, 1)[0].upper() in ("PIVOT", "UNPIVOT"):  # DuckDB: CREATE + SELECT
        raise SandboxViolation(
            "refused: PIVOT is not available to agents (DuckDB runs it as two statements)",
            help="aggregate with FILTER instead, e.g. count(*) FILTER (modality = 'pdf')",
        )
    if len(kinds) != 1:
        raise SandboxViolation(
            f"refused: the sql tool runs exactly one statement, got {len(kinds)} "
            f"({', '.join(kinds) or 'none'})",
            help="send one statement per call, without a trailing second statement",
        )
    expected = "EXPLAIN" if prefix else "SELECT"
    if kinds[0] != expected:
        raise SandboxViolation(
            f"refused: {kinds[0]} statements are not allowed; the lake is read-only to agents",
            help=f"use a read statement: {_READ_FORMS}",
        )
    if prefix:  # what EXPLAIN (ANALYZE runs it) explains must pass on its own
        check_statement(body)
        return "EXPLAIN"
    check_tree(body)
    return "SELECT"


def split_explain(query: str) -> tuple[str, str]:
    """``(prefix, body)``: a leading ``EXPLAIN [ANALYZE]`` (with any comments around
    it) and the statement it explains; ``("", query)`` without one.

    Found by sqlglot's tokenizer, not a pattern: comments and whitespace between the
    keywords (``EXPLAIN/**/ANALYZE``, ``EXPLAIN--x⏎ANALYZE``) are not tokens."""
    import sqlglot

    if not query or not query.strip():
        raise QueryError("empty SQL statement", help="try: SELECT count(*) FROM chunks")
    try:
        tokens = _tokenizer()().tokenize(query)
    except sqlglot.errors.SqlglotError as exc:
        raise SandboxViolation(
            f"refused: the statement could not be read ({str(exc).splitlines()[0]})",
            help=f"the sql tool runs one read-only statement: {_READ_FORMS}",
        ) from None
    if not tokens:
        raise QueryError("empty SQL statement (only comments)", help="try: SELECT 1")
    if tokens[0].text.upper() != "EXPLAIN":
        return "", query
    i = 2 if len(tokens) > 1 and tokens[1].text.upper() in ("ANALYZE", "ANALYSE") else 1
    if len(tokens) <= i:
        raise SandboxViolation("refused: EXPLAIN of nothing", help="e.g. EXPLAIN SELECT 1")
    return query[: tokens[i].start], query[tokens[i].start :]


_TOKENIZER: list[type] = []


def _tokenizer() -> type:
    """sqlglot's DuckDB tokenizer, except that no keyword swallows the rest of the text
    as one token (by default ``EXPLAIN`` does: its statement would be one opaque string)."""
    if not _TOKENIZER:
        from docframe.query.table_functions import _dialect

        class Tokenizer(_dialect().Tokenizer):
            COMMANDS: set = set()

        _TOKENIZER.append(Tokenizer)
    return _TOKENIZER[0]


_PARSERS = threading.local()


def _parser() -> duckdb.DuckDBPyConnection:
    """A per-thread DuckDB connection used only to parse (never to run) agent SQL."""
    import duckdb

    con = getattr(_PARSERS, "con", None)
    if con is None:
        con = _PARSERS.con = duckdb.connect(":memory:", config={"enable_external_access": False})
    return con


_WRITE_NODES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command",
    "Copy", "Set", "Pragma", "Use", "Attach", "Detach", "Install", "Load", "Export",
    "TruncateTable", "Transaction", "Commit", "Rollback", "Cache", "Uncache",
)  # fmt: skip
_READ_ROOTS = ("Select", "Union", "Intersect", "Except", "Values", "Describe", "Summarize")
# functions that read files or URLs: the engine refuses them too; named here for a clear error
_FILE_FUNCTIONS = frozenset({
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json",
    "read_json_auto", "read_json_objects", "read_ndjson", "read_ndjson_auto",
    "read_ndjson_objects", "read_text", "read_blob", "glob", "parquet_metadata",
    "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata", "parquet_bloom_probe",
    "sniff_csv", "read_xlsx", "read_duckdb", "iceberg_scan", "delta_scan", "query_table",
})  # fmt: skip
# functions that describe the host and the engine's setup (paths, settings) rather than the lake
_HOST_FUNCTIONS = frozenset({
    "current_setting", "duckdb_settings", "duckdb_databases", "pragma_database_list",
    "duckdb_extensions", "duckdb_secrets", "which_secret", "duckdb_temporary_files",
    "duckdb_log", "duckdb_logs", "duckdb_external_file_cache", "getenv", "pragma_user_agent",
    "pragma_platform", "duckdb_secret_types",
})  # fmt: skip


def _refuse_tree(found: str) -> SandboxViolation:
    return SandboxViolation(
        f"refused: the statement contains {found}",
        help=f"the lake is read-only to agents; use a read statement: {_READ_FORMS}",
    )


def check_tree(query: str) -> None:
    """Refuse ``query`` unless sqlglot parses it into one read statement with no write,
    command, file or host function anywhere (sqlglot's ``Command`` fallback, for text
    it does not understand, is refused too)."""
    import sqlglot
    from sqlglot import exp

    from docframe.query.table_functions import _dialect, _function_name

    try:
        trees = [t for t in sqlglot.parse(query, read=_dialect()) if t is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise SandboxViolation(
            f"refused: the statement could not be checked ({str(exc).splitlines()[0][:200]})",
            help=f"the sql tool runs statements it can parse as one read: {_READ_FORMS}",
        ) from None
    if len(trees) != 1:
        raise SandboxViolation(
            f"refused: the sql tool runs exactly one statement, got {len(trees)}",
            help="send one statement per call",
        )
    (tree,) = trees
    if isinstance(tree, exp.Show):
        raise SandboxViolation(
            "refused: SHOW is not available to agents",
            help="list_tables lists every relation; DESCRIBE SELECT * FROM name shows columns",
        )
    if type(tree).__name__ not in _READ_ROOTS:
        what = "a command it cannot check" if isinstance(tree, exp.Command) else tree.key.upper()
        raise _refuse_tree(f"{what}, not a read statement")
    kinds = tuple(getattr(exp, name) for name in _WRITE_NODES if hasattr(exp, name))
    found = tree.find(*kinds)
    if found is not None:
        what = "a command it cannot check" if isinstance(found, exp.Command) else found.key.upper()
        raise _refuse_tree(f"{what} (a write or command inside a read statement)")
    for func in tree.find_all(exp.Func):
        name = _function_name(func)
        if name in _FILE_FUNCTIONS:
            raise SandboxViolation(
                f"refused: {func.sql(dialect=_dialect())[:200]} reads files or URLs; "
                "the sql tool reads only the lake's relations",
                help="list_tables shows what you can query",
            )
        if name in _HOST_FUNCTIONS:
            raise SandboxViolation(
                f"refused: {name}() describes the server, not the lake",
                help="list_tables and describe_table describe the lake",
            )
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and table.name.lower() in _HOST_FUNCTIONS:
            raise SandboxViolation(
                f"refused: {table.name} describes the server, not the lake",
                help="list_tables and describe_table describe the lake",
            )


def check_predicate(where: str) -> None:
    """A search ``where`` predicate may use chunk columns and scalar functions only:
    no subquery, table function or file can hide in it."""
    import sqlglot
    from sqlglot import exp

    from docframe.query.table_functions import _dialect

    if not where or not where.strip():
        raise QueryError("empty where predicate", help="e.g. where => 'page <= 3'")
    try:
        parsed = sqlglot.parse(f"SELECT 1 FROM chunks WHERE ({where})", read=_dialect())
    except sqlglot.errors.SqlglotError:
        raise QueryError(
            f"where {where!r} is not a SQL predicate",
            help="e.g. where => \"modality = 'pdf' AND page <= 3\"",
        ) from None
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Select):
        raise SandboxViolation(
            f"refused: where {where!r} must be one predicate",
            help="e.g. where => \"modality = 'pdf' AND page <= 3\"",
        )
    predicate = parsed[0].args.get("where")
    if predicate is None or predicate.find(exp.Select, exp.Subquery, exp.Table, exp.Exists):
        raise SandboxViolation(
            f"refused: where {where!r} may use chunk columns and scalar functions only "
            "(no subqueries or table functions)",
            help="join other relations in the statement around the search call instead",
        )


def check_search_text(text: str, function: str = "search") -> None:
    """A search question must be a question: at most :data:`MAX_SEARCH_TEXT` characters
    (a 10 MB "question" would otherwise keep BM25 and the tokenizer busy, unbounded)."""
    if len(text) > MAX_SEARCH_TEXT:
        raise QueryError(
            f"{function}: the search text has {len(text):,} characters; "
            f"the limit is {MAX_SEARCH_TEXT:,}",
            help="search with the question or a few keywords, not a document",
        )
