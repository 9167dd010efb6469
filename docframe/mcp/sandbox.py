"""The read-only, limited SQL runner behind the agent tools.

An agent's SQL is untrusted input. The guarantee that it cannot change the lake
comes from three layers, each enough on its own to stop the statements found so far:

1. **Statement check** (:func:`check_statement`): DuckDB's parser must find exactly
   one statement, of type SELECT (which covers WITH, VALUES, FROM-first, DESCRIBE,
   SUMMARIZE) or EXPLAIN [ANALYZE] of one; sqlglot must parse the same text (after
   an EXPLAIN found by *tokens*, so comments and odd whitespace cannot hide what
   follows) into one read statement: an unparsed ``Command`` anywhere, a write or
   command node anywhere (a DELETE nested in a CTE still classifies as SELECT), or
   a function that reads files or reveals the host (``read_csv``,
   ``current_setting``, ``duckdb_databases``...) is refused. The statement that
   actually runs (after the search functions are rewritten) is checked again.
2. **An engine with nothing to write to**: each statement runs in a fresh in-memory
   DuckDB database made for that request. The snapshot's Parquet files reach it as
   Arrow datasets registered by the worker (``docframe.query.sql.connect(scan=...)``),
   never as paths: ``allowed_paths`` is empty and ``enable_external_access`` is off,
   so no file or URL can be opened, read or written (COPY, EXPORT, ATTACH, extension
   INSTALL/LOAD), autoloading is off, no spilling to disk, and
   ``lock_configuration`` keeps any SET/PRAGMA/RESET from undoing it. No path of the
   lake is in the engine, so none can be revealed. Whatever a statement creates
   dies with its request's database.
3. **A worker the kernel forbids to write**: statements run in reused worker
   processes (``docframe.isolation.run_isolated``) that, before their
   first statement, give up the right to create, write, truncate, rename or delete
   any file, and to open TCP connections, with Linux Landlock
   (``docframe.landlock``; root included). Where the kernel has no Landlock, layers
   1 and 2 remain, and ``docframe doctor`` says so.

And limits: a watchdog calls ``interrupt()`` at the time limit; rows stream in
batches and stop at the row limit or when the JSON answer would pass the byte limit
(the answer says which); a worker has an address-space limit, because DuckDB's
``memory_limit`` bounds its operators but not one huge value (``repeat(text,
10^7)``): a memory bomb fails its statement (or at worst kills a worker), never the
server. A worker stuck past the time limit is killed.

Search table functions in the agent's SQL run on the lake's indexes
(``docframe.query.table_functions``) under the same time limit, with the question
capped at :data:`MAX_SEARCH_TEXT` characters; their ``where`` predicates are
evaluated here, in the sandbox (:meth:`Sandbox.chunk_ids`), and only the matching
chunk ids reach the index.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import decimal
import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from docframe.errors import DamagedSegmentError, QueryError

if TYPE_CHECKING:
    import duckdb
    import numpy as np

    from docframe.api import Lake
    from docframe.lake.snapshot import Snapshot

MAX_SEARCH_K = 1000  # k of one search call, in the search tool or a SQL search function
MAX_SEARCH_TEXT = 4000  # characters of a search question (the model reads ~256 tokens)
_READ_FORMS = "SELECT, WITH ... SELECT, VALUES, FROM ..., DESCRIBE, SUMMARIZE or EXPLAIN"
T = TypeVar("T")


class SandboxViolation(QueryError):
    """A statement the sandbox refuses to run (a write, a file, a setting...)."""


class QueryTimeout(QueryError):
    """A statement stopped at the time limit."""


@dataclass(frozen=True)
class Limits:
    """What one agent call may use. Defaults suit a chat turn: enough rows to reason
    over, few enough that one answer cannot flood the model's context."""

    max_rows: int = 1000
    max_bytes: int = 1_000_000  # of the JSON rows in one answer
    timeout_s: float = 10.0  # per statement (search calls included)
    memory_limit: str = "1GB"  # DuckDB's memory_limit for the sandbox database

    def __post_init__(self) -> None:
        for name in ("max_rows", "max_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.timeout_s, (int, float)) or not self.timeout_s > 0:
            raise ValueError(
                f"timeout_s must be a positive number of seconds, got {self.timeout_s!r}"
            )
        if not isinstance(self.memory_limit, str) or not _SIZE.fullmatch(self.memory_limit):
            raise ValueError(
                f"memory_limit must be a size such as '1GB', got {self.memory_limit!r}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Limits:
        """Defaults, then ``DOCFRAME_MCP_MAX_ROWS`` / ``_MAX_BYTES`` / ``_TIMEOUT_S`` /
        ``_MEMORY_LIMIT`` (``docframe.config.mcp_limit_values``), then ``overrides`` that
        are not None (CLI flags)."""
        from docframe import config

        values: dict[str, Any] = {}
        for name, raw in config.mcp_limit_values(env).items():
            kind = {"max_rows": int, "max_bytes": int, "timeout_s": float}.get(name, str)
            try:
                values[name] = kind(raw.strip())
            except ValueError:
                raise ValueError(
                    f"{config.MCP_LIMITS[name]}={raw!r} is not a valid {kind.__name__}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class SqlAnswer:
    """One statement's result, ready to serialise as JSON."""

    columns: list[dict[str, str]]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool
    truncated_by: str | None  # "max_rows" | "max_bytes" | None
    snapshot: int
    elapsed_ms: float
    searches: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- values -------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A DuckDB/Arrow value as plain JSON: dates as ISO text, decimals as numbers,
    NaN/infinity as null, bytes as ``base64:...``, maps as lists of pairs."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)


def _cell(value: Any, duck_type: str) -> Any:
    if duck_type == "JSON" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return json_value(value)


def _size(obj: Any) -> int:
    return len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


# -- the statement check (first layer) ----------------------------------------------


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
    _check_tree(body)
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


def _check_tree(query: str) -> None:
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
        raise SandboxViolation(f"refused: where {where!r} must be one predicate")
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


def within_time_limit(limits: Limits, func: Callable[[], T], what: str = "the search") -> T:
    """``func()``'s result, or :class:`QueryTimeout` once ``limits.timeout_s`` has passed.

    Search runs in this process (the indexes and the model live here), where nothing
    can interrupt faiss or BM25 midway: past the limit the caller gets its answer and
    the work (bounded by k and :data:`MAX_SEARCH_TEXT`) finishes in the background."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="docframe-search", daemon=True)
    thread.start()
    thread.join(limits.timeout_s)
    if thread.is_alive():
        raise QueryTimeout(
            f"stopped: {what} ran past the {limits.timeout_s:g} s time limit",
            help="use fewer words, a smaller k or a narrower where/filters",
        )
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- the sandbox: main-process side --------------------------------------------------


class Sandbox:
    """Runs SQL for agents in worker processes, each statement in a fresh, locked,
    in-memory DuckDB database that reads the pinned snapshot through Arrow datasets.

    A worker process also has an address-space limit (``RLIMIT_AS``, 2 GB + twice
    memory_limit): DuckDB's ``memory_limit`` bounds its operators, not one huge value
    such as ``repeat(text, 10^9)``, and a statement that exhausts memory must take down
    a worker, never the server. Workers come from
    ``docframe.isolation.run_isolated`` (forkserver, reused, killed on a
    timeout or crash) and give up file writes with Landlock before their first
    statement; at most ``workers`` statements run at once.
    """

    def __init__(self, limits: Limits | None = None, *, workers: int = 4) -> None:
        self.limits = limits or Limits()
        self._slots = threading.BoundedSemaphore(workers)
        # a worker starts near 1.6 GB of address space (pyarrow's and DuckDB's
        # allocators reserve it); on top, room for DuckDB's memory_limit twice over
        self._memory_mb = _WORKER_BASE_MB + 2 * _megabytes(self.limits.memory_limit)
        atexit.register(self.close)

    def close(self) -> None:
        """Nothing to clean up: the workers keep no files (kept for callers' symmetry)."""

    # -- running -------------------------------------------------------------------
    def run(self, lake: Lake, snapshot: Snapshot, query: str) -> SqlAnswer:
        """Run one agent statement (search functions included) under the limits.

        The model and the indexes are loaded before the clock starts, so the time limit
        measures the searches and the statement, not one-off loads."""
        from docframe.query import table_functions as tf

        start = time.monotonic()
        prefix, body = split_explain(query)
        tree, calls = tf.find_calls(body)
        statement = query
        if calls:  # DuckDB cannot parse ``where => ...``: check the rewritten statement
            _check_tree(body)
            for call in calls:
                if call.k > MAX_SEARCH_K:
                    raise QueryError(
                        f"{call.function}(): k = {call.k} is above the limit of {MAX_SEARCH_K}",
                        help=f"use k => {MAX_SEARCH_K} or less",
                    )
                check_search_text(call.text, f"{call.function}()")
                if call.where is not None:
                    check_predicate(call.where)
            statement = prefix + tf.rewrite(tree, calls)
        check_statement(statement)  # what runs is what was checked
        relations: dict[str, Any] = {}
        if calls:
            lake.prepare_search(snapshot, {call.mode for call in calls})  # loads: not timed
            start = time.monotonic()
            for call in calls:  # the predicates run here, in the sandbox
                if call.where is not None:
                    call.allowed_ids = self.chunk_ids(snapshot, call.where)
            relations = within_time_limit(
                self._remaining(start),
                lambda: tf.run_calls(lake.store, snapshot, calls, embedder=lake.embedder),
            )
        limits = self._remaining(start)  # searches and statement share one time limit
        (answer,) = self._submit(snapshot, [(statement, None, None)], relations, limits=limits)
        answer.searches = [_search_info(call) for call in calls]
        answer.elapsed_ms = round(1000 * (time.monotonic() - start), 1)
        return answer

    def _remaining(self, start: float) -> Limits:
        left = self.limits.timeout_s - (time.monotonic() - start)
        if left <= 0:
            raise _timeout(self.limits)
        return replace(self.limits, timeout_s=left)

    def query(
        self, snapshot: Snapshot, statement: str, params: Any = None, *, max_rows: int | None = None
    ) -> SqlAnswer:
        """Run a statement the caller wrote (no statement check) in the sandbox."""
        return self._submit(snapshot, [(statement, params, max_rows)])[0]

    def query_many(
        self, snapshot: Snapshot, statements: Sequence[tuple[str, Any]]
    ) -> list[SqlAnswer]:
        """Several caller-written statements in one worker round trip."""
        return self._submit(snapshot, [(sql, params, None) for sql, params in statements])

    def chunk_ids(self, snapshot: Snapshot, where: str) -> np.ndarray:
        """The ids of the chunks matching a search predicate, evaluated in the sandbox
        under the limits (the search layer then filters its indexes by these ids)."""
        check_predicate(where)
        statement = f"SELECT chunk_id FROM chunks WHERE ({where})"
        check_statement(statement)
        try:
            (ids,) = self._submit(snapshot, [(statement, None, None)], ids_only=True)
        except QueryError as exc:
            raise type(exc)(f"where {where!r}: {exc.message}", help=exc.help) from None
        return ids

    def probe_write(self, path: str) -> str | None:
        """What a sandbox worker gets when it opens ``path`` for writing: None if it
        could, else the error (``docframe doctor`` and the tests ask)."""
        from docframe.isolation import run_isolated

        with self._slots:
            return run_isolated(
                _probe_write,
                path,
                timeout_s=30.0,
                memory_mb=self._memory_mb,
                label=None,
                preload=_PRELOAD,
            )

    def _submit(
        self,
        snapshot: Snapshot,
        statements: list[tuple[str, Any, int | None]],
        relations: Mapping[str, Any] | None = None,
        *,
        limits: Limits | None = None,
        ids_only: bool = False,
    ) -> list[Any]:
        from docframe.errors import WorkerCrashed, WorkerMemoryError, WorkerTimeout
        from docframe.isolation import run_isolated

        limits = limits or self.limits
        request = _Request(
            limits=limits,
            snapshot=snapshot,
            relations=dict(relations or {}),
            statements=statements,
            ids_only=ids_only,
        )
        # the worker interrupts DuckDB at the limit; this is the backstop for a worker
        # stuck in one huge value (checked between vectors) or lost
        backstop = limits.timeout_s * len(statements) + 5.0
        try:
            with self._slots:
                answers = run_isolated(
                    _run_request,
                    request,
                    timeout_s=backstop,
                    memory_mb=self._memory_mb,
                    label=None,
                    preload=_PRELOAD,
                )
        except (WorkerTimeout, QueryTimeout):  # the message names the whole limit
            raise _timeout(self.limits) from None
        except WorkerMemoryError:
            raise QueryError(
                f"stopped: the statement needed more memory than the sandbox allows "
                f"(memory_limit {limits.memory_limit})",
                help="aggregate or filter earlier; avoid building huge values "
                "(repeat, string_agg over everything)",
            ) from None
        except WorkerCrashed as exc:
            raise QueryError(
                f"stopped: the SQL worker crashed ({exc.message})",
                help="the statement was not run to the end; simplify it",
            ) from None
        for answer in answers:
            if isinstance(answer, SqlAnswer):
                answer.snapshot = snapshot.snapshot_id
        return answers


@dataclass
class _Request:
    limits: Limits
    snapshot: Snapshot  # the pinned snapshot: its files, versions, sources and tables
    relations: dict[str, Any]  # search results (Arrow tables) to register, by name
    statements: list[tuple[str, Any, int | None]]  # (sql, params, max_rows)
    ids_only: bool = False  # one statement whose first column comes back whole, as Arrow


_WORKER_BASE_MB = 2048
_PRELOAD = (
    "duckdb",
    "pyarrow",
    "pyarrow.dataset",
    "sqlglot",
    "docframe.landlock",
    "docframe.mcp.sandbox",
    "docframe.query.sql",
)
_HELP = (
    "relations: chunks, documents, sources, snapshots, tables, pdf_tables and the lake's "
    "tables (list_tables); search with search('question', k => 10)"
)


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?\s*", re.IGNORECASE)


def _megabytes(size: str) -> int:
    """DuckDB-style size text (``1GB``, ``512MiB``, ``2 GB``) in MiB."""
    match = _SIZE.fullmatch(size)
    if not match:
        raise ValueError(f"memory_limit {size!r} is not a size such as '1GB' or '512MB'")
    number, unit = float(match.group(1)), (match.group(2) or "B").upper()
    base = 1024 if "I" in unit else 1000
    power = "BKMGT".index(unit[0])
    return max(1, int(number * base**power / 2**20))


# -- the sandbox: worker side ------------------------------------------------------------

_BASE_VM_MB: list[float] = []  # in a worker: its address space after its first job
_LANDLOCK: list[str | None] = []  # in a worker: None once writes are denied, else why not
_DATASETS: OrderedDict[tuple[str, ...], Any] = OrderedDict()  # in a worker: by file list


def _enter_worker() -> None:
    """A worker's first SQL job: give up file writes and TCP for good (Landlock)."""
    if not _LANDLOCK:
        from docframe.landlock import deny_writes

        _LANDLOCK.append(deny_writes())


def _probe_write(path: str) -> str | None:
    _enter_worker()
    try:
        with open(path, "ab"):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror}"


def _run_request(request: _Request) -> list[Any]:
    """In a worker: the request's statements on a fresh cursor of the snapshot's locked
    in-memory database (temporary objects die with the cursor)."""
    _enter_worker()
    grown = _megabytes(request.limits.memory_limit)
    vm = _vm_mb()
    if vm is not None and _BASE_VM_MB and vm - _BASE_VM_MB[0] > grown:
        # allocators keep what a big statement took, and the address-space limit
        # counts it: this worker would fail what comes next. run_isolated runs a job
        # whose worker exited after earlier jobs once more, in a fresh worker.
        os._exit(0)
    key, database = _database(request.snapshot, request.limits.memory_limit)
    cur = database.con.cursor()
    try:
        database.enter(cur, request)
        if request.ids_only:
            ((sql, params, _),) = request.statements
            return [_ids(cur, sql, params, request)]
        return [
            _execute(cur, sql, params, request.limits, max_rows, request.snapshot)
            for sql, params, max_rows in request.statements
        ]
    finally:
        cur.close()
        database.leave(key)
        if not _BASE_VM_MB and (vm := _vm_mb()) is not None:
            # the first query reserves ~1 GB of address space once (allocator arenas)
            _BASE_VM_MB.append(min(vm, _WORKER_BASE_MB))


def _vm_mb() -> float | None:
    """This process's address space in MiB (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            line = next(ln for ln in status if ln.startswith("VmSize:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _dataset(files: tuple[str, ...]) -> Any:
    """The Parquet files as one Arrow dataset, kept for the worker's next requests
    (listing them reads each file's footer once)."""
    import pyarrow.dataset as ds

    if files in _DATASETS:
        _DATASETS.move_to_end(files)
        return _DATASETS[files]
    dataset = _DATASETS[files] = ds.dataset(list(files), format="parquet")
    while len(_DATASETS) > 256:
        _DATASETS.popitem(last=False)
    return dataset


class _SnapshotDatabase:
    """In a worker: one pinned snapshot's relations in a locked in-memory DuckDB
    database that can open no file, kept for the worker's next requests.

    Each request runs on its own cursor, which sees the database's views and tables
    but none of the Arrow datasets registered on the parent (registrations are per
    connection): :meth:`enter` registers on the cursor the datasets of the relations
    the request names, plus ``sources`` and the request's search results."""

    def __init__(self, snapshot: Snapshot, memory_limit: str) -> None:
        from docframe.lake.relations import connect

        config = {
            "enable_external_access": False,  # no file, URL, COPY, ATTACH, extension
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_persistent_secrets": False,
            "memory_limit": memory_limit,
            "temp_directory": "",  # nothing spills to disk
            "threads": 2,
        }
        scanned: set[tuple[str, ...]] = set()  # a damaged relation gets a stand-in instead

        def scan(files: tuple[str, ...]) -> Any:
            dataset = _dataset(files)
            scanned.add(files)
            return dataset

        self.con = connect(snapshot, with_sources=False, scan=scan, config=config)
        try:
            self.con.execute("SET lock_configuration = true")
        except Exception:
            self.con.close()
            raise
        files = {"chunks": snapshot.chunk_files, "documents": snapshot.document_files}
        files.update({name: info.files for name, info in snapshot.tables.items()})
        self.files = {name: f for name, f in files.items() if f in scanned}

    def enter(self, cur: duckdb.DuckDBPyConnection, request: _Request) -> None:
        from docframe.lake.relations import define_sources, scan_name

        define_sources(cur, request.snapshot)
        for name in _named_relations(request.statements, self.files):
            cur.register(scan_name(self.files[name]), _dataset(self.files[name]))
        for name, table in request.relations.items():
            cur.register(name, table)

    def leave(self, key: tuple) -> None:
        """Forget this database if a request attached another one to it (ATTACH is
        shared by every cursor; the statement check refuses it, this is the backstop)."""
        attached = self.con.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE NOT internal"
        ).fetchone()[0]
        if attached != 1:
            _DATABASES.pop(key, None)
            self.con.close()


_DATABASES: OrderedDict[tuple, _SnapshotDatabase] = OrderedDict()  # in a worker


def _database(snapshot: Snapshot, memory_limit: str) -> tuple[tuple, _SnapshotDatabase]:
    """The snapshot's database in this worker, made once (defining every relation costs
    more than most statements): keyed by what the pin holds, not just its number."""
    key = (
        str(snapshot.root),
        snapshot.snapshot_id,
        memory_limit,
        hash((snapshot.chunk_files, snapshot.document_files, snapshot.live_versions,
              tuple((n, t.files) for n, t in sorted(snapshot.tables.items())))),
    )  # fmt: skip
    if key in _DATABASES:
        _DATABASES.move_to_end(key)
        return key, _DATABASES[key]
    database = _DATABASES[key] = _SnapshotDatabase(snapshot, memory_limit)
    while len(_DATABASES) > 2:
        _DATABASES.popitem(last=False)[1].con.close()
    return key, database


def _named_relations(
    statements: Sequence[tuple[str, Any, int | None]], relations: Mapping[str, Any]
) -> list[str]:
    """The relations (of ``relations``) the statements name; all of them when a
    statement cannot be parsed (so nothing it reads is missing)."""
    import sqlglot
    from sqlglot import exp

    from docframe.query.table_functions import _dialect

    named: set[str] = set()
    for sql, _, _ in statements:
        try:
            trees = sqlglot.parse(split_explain(sql)[1], read=_dialect())
        except (sqlglot.errors.SqlglotError, QueryError):
            return list(relations)
        for tree in trees:
            if tree is None:
                continue
            for table in tree.find_all(exp.Table):
                named.add(table.name)
                named.add(table.name.lower())
    return [name for name in relations if name in named]


def _watchdog(con: duckdb.DuckDBPyConnection, limits: Limits) -> tuple[threading.Timer, Any]:
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(limits.timeout_s, stop)
    timer.daemon = True
    timer.start()
    return timer, fired


def _ids(con: duckdb.DuckDBPyConnection, statement: str, params: Any, request: _Request) -> Any:
    """The first column of ``statement``, whole, as a numpy array (chunk ids)."""
    import duckdb

    timer, fired = _watchdog(con, request.limits)
    con.execute("BEGIN TRANSACTION READ ONLY")
    try:
        table = con.execute(statement, params).to_arrow_table()
    except duckdb.Error as exc:
        if fired.is_set() or isinstance(exc, duckdb.InterruptException):
            raise _timeout(request.limits) from None
        raise _query_error(exc, request.limits, request.snapshot, statement) from None
    finally:
        timer.cancel()
        _rollback(con)
    return table.column(0).to_numpy(zero_copy_only=False)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    import duckdb

    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # the statement ended the transaction itself


def _execute(
    con: duckdb.DuckDBPyConnection,
    statement: str,
    params: Any,
    limits: Limits,
    max_rows: int | None,
    snapshot: Snapshot,
) -> SqlAnswer:
    """One statement: interrupted at the time limit, rows streamed until the row or
    byte limit."""
    import duckdb

    max_rows = limits.max_rows if max_rows is None else max_rows
    timer, fired = _watchdog(con, limits)
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    types: list[str] = []
    truncated_by = None
    # the relations are tables and views of this database: a read-only transaction
    # keeps any statement from changing them (what it makes in TEMP dies with the request)
    con.execute("BEGIN TRANSACTION READ ONLY")
    try:
        result = con.execute(statement, params)
        description = result.description or []
        names = _unique([d[0] for d in description])
        types = [str(d[1]) for d in description]
        used = 2  # the brackets of the JSON array
        for batch in result.to_arrow_reader(1024):
            columns = [column.to_pylist() for column in batch.columns]
            for values in zip(*columns, strict=True):
                if len(rows) >= max_rows:
                    truncated_by = "max_rows"
                    break
                row = {n: _cell(v, t) for n, v, t in zip(names, values, types, strict=True)}
                size = _size(row) + 1
                if used + size > limits.max_bytes:
                    truncated_by = "max_bytes"
                    break
                used += size
                rows.append(row)
            if truncated_by:
                break
    except duckdb.InterruptException:
        raise _timeout(limits) from None
    except duckdb.Error as exc:
        if fired.is_set():
            raise _timeout(limits) from None
        raise _query_error(exc, limits, snapshot, statement) from None
    finally:
        timer.cancel()
        _rollback(con)
    notes = []
    if truncated_by == "max_rows":
        notes.append(f"stopped at the row limit ({max_rows}); add LIMIT/OFFSET or aggregate")
    elif truncated_by == "max_bytes":
        notes.append(
            f"stopped at the byte limit ({limits.max_bytes} bytes of JSON); select fewer "
            "or shorter columns (e.g. left(text, 300)) or add LIMIT"
        )
    return SqlAnswer(
        columns=[{"name": n, "type": t} for n, t in zip(names, types, strict=True)],
        rows=rows,
        row_count=len(rows),
        truncated=truncated_by is not None,
        truncated_by=truncated_by,
        snapshot=-1,
        elapsed_ms=0.0,
        notes=notes,
    )


def _query_error(
    exc: Exception, limits: Limits, snapshot: Snapshot, statement: str
) -> QueryError | DamagedSegmentError:
    """DuckDB's error as one line, without the lake's location; a damaged segment's
    error is the lake's own one line (what the file held, how to repair)."""
    import duckdb

    from docframe.lake.relations import caret, diagnose, one_line

    root = str(snapshot.root)
    damage = diagnose(snapshot, statement, exc) if isinstance(exc, duckdb.Error) else None
    if damage is not None:
        return type(damage)(scrub(damage.message, root), help=damage.help)
    message = scrub(one_line(str(exc)), root)
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryError(
            f"stopped: {message}",
            help=f"the sandbox allows memory_limit {limits.memory_limit} per statement: "
            "aggregate or filter earlier; avoid huge values (repeat, string_agg of everything)",
        )
    kind = SandboxViolation if _is_sandbox_refusal(message) else QueryError
    return kind(
        ("refused: " if kind is SandboxViolation else "SQL error: ") + message,
        help=scrub(caret(str(exc)) or _HELP, root),
    )


def scrub(text: str, root: str) -> str:
    """``text`` with the lake's absolute location replaced by ``<lake>``: agents are not
    told where the lake's files are."""
    return text.replace(root.rstrip("/"), "<lake>") if root else text


def _timeout(limits: Limits) -> QueryTimeout:
    return QueryTimeout(
        f"stopped: the statement ran past the {limits.timeout_s:g} s time limit",
        help="filter earlier, aggregate, or add LIMIT; avoid cross joins of large relations",
    )


def _is_sandbox_refusal(message: str) -> bool:
    lowered = message.lower()
    return any(
        marker in lowered
        for marker in (
            "permission error",
            "read-only mode",
            "configuration has been locked",
            "disabled by configuration",
            "disabled through configuration",
        )
    )


def _search_info(call: Any) -> dict[str, Any]:
    info = call.info
    return {
        "function": call.function,
        "text": call.text,
        "k": call.k,
        "where": call.where,
        "returned": call.rows,
        "candidates": info.get("candidates"),
        "exhausted": bool(info.get("exhausted")),
        "reason": info.get("reason"),
    }


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (``name``, ``name_2``...) so rows can be JSON objects."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            name = candidate
        seen.setdefault(name, 1)
        out.append(name)
    return out


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _sql_lit(text: str) -> str:
    return "'" + _sql_str(text) + "'"
