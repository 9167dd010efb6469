"""The read-only, limited SQL runner behind the agent tools.

An agent's SQL is untrusted input. Classifying statements is not enough (DuckDB
2.0 runs the DELETE in ``WITH d AS (DELETE ... RETURNING *) SELECT * FROM d``
although the statement parses as a SELECT), so the guard is the connection
itself, with the statement check only as a first layer that gives clear errors:

1. **Statement check**: DuckDB's own parser must find exactly one statement, of
   type SELECT (which covers WITH, VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE)
   or EXPLAIN of one; where sqlglot can parse it, no write node may appear
   anywhere in the tree. The statement that actually runs (after the search
   functions are rewritten) is checked again.
2. **A read-only database per pinned snapshot**: the snapshot's relations
   (``docframe.query.sql.connect``) are copied into a private DuckDB file, which
   is then opened ``read_only``: CREATE, INSERT, UPDATE, DELETE, DROP and ATTACH
   of a new database fail in the engine whatever the statement looks like.
3. **Locked configuration**: ``allowed_paths`` lists exactly the snapshot's
   Parquet files, then ``enable_external_access = false`` (no other file, no URL,
   no COPY/EXPORT, no extension install or load, no Python replacement scans),
   extension autoloading and autoinstalling off, a memory limit, no spilling to
   disk, and ``lock_configuration = true`` so no SET/PRAGMA/RESET can undo any
   of it. Temporary objects an agent creates live in its own cursor, which is
   closed after the call.
4. **Limits**: a watchdog thread calls ``interrupt()`` on the cursor at the time
   limit; rows stream from DuckDB in batches and stop at the row limit or when
   the JSON answer would pass the byte limit, and the answer says it was
   truncated and by which limit.
5. **Worker processes**: statements run in reused worker processes with an
   address-space limit, because DuckDB's ``memory_limit`` bounds its operators but
   not one huge value (``repeat(text, 10^7)``): a memory bomb fails its statement
   (or at worst kills a worker), never the server. A worker stuck past the time
   limit is killed.

Search table functions in the agent's SQL run on the lake's indexes
(``docframe.query.table_functions``); their ``where`` predicates run on the
search layer's own connection, so each is first checked here: no subqueries,
and a dry run inside the sandbox under the same limits.
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
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.errors import QueryError

if TYPE_CHECKING:
    import duckdb

    from docframe.lake.lake import Lake
    from docframe.lake.snapshot import Snapshot

ENV_PREFIX = "DOCFRAME_MCP_"
MAX_SEARCH_K = 1000  # k of one search call, in the search tool or a SQL search function
_ALLOWED_TYPES = ("SELECT", "EXPLAIN")
_READ_FORMS = "SELECT, WITH ... SELECT, VALUES, FROM ..., DESCRIBE, SUMMARIZE or EXPLAIN"


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
        ``_MEMORY_LIMIT``, then ``overrides`` that are not None (CLI flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or not raw.strip():
                continue
            kind = {"max_rows": int, "max_bytes": int, "timeout_s": float}.get(f.name, str)
            try:
                values[f.name] = kind(raw.strip())
            except ValueError:
                raise ValueError(
                    f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid {kind.__name__}"
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

    DuckDB's parser decides what the statement is; sqlglot, where it can parse the
    statement, must find no write anywhere in it (a DML statement nested in a CTE
    still classifies as SELECT)."""
    import duckdb

    from docframe.query.sql import _one_line

    if not query or not query.strip():
        raise QueryError("empty SQL statement", help="try: SELECT count(*) FROM chunks")
    try:
        statements = _parser().extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(
            f"SQL error: {_one_line(str(exc))}",
            help=f"the sql tool runs one read-only statement: {_READ_FORMS}",
        ) from None
    kinds = [s.type.name for s in statements]
    if len(kinds) != 1:
        raise SandboxViolation(
            f"refused: the sql tool runs exactly one statement, got {len(kinds)} "
            f"({', '.join(kinds) or 'none'})",
            help="send one statement per call, without a trailing second statement",
        )
    kind = kinds[0]
    if kind not in _ALLOWED_TYPES:
        raise SandboxViolation(
            f"refused: {kind} statements are not allowed; the lake is read-only to agents",
            help=f"use a read statement: {_READ_FORMS}",
        )
    if kind == "EXPLAIN":
        inner = _EXPLAIN.sub("", query, count=1)
        if inner != query:
            check_statement(inner)
    _check_tree(query)
    return kind


_PARSERS = threading.local()


def _parser() -> duckdb.DuckDBPyConnection:
    """A per-thread DuckDB connection used only to parse (never to run) agent SQL."""
    import duckdb

    con = getattr(_PARSERS, "con", None)
    if con is None:
        con = _PARSERS.con = duckdb.connect(":memory:", config={"enable_external_access": False})
    return con


_EXPLAIN = re.compile(r"^\s*explain\s+(analy[sz]e\s+)?", re.IGNORECASE)
_WRITE_NODES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command",
    "Copy", "Set", "Pragma", "Use", "Attach", "Detach", "Install", "Load", "Export",
    "TruncateTable", "Transaction", "Commit", "Rollback", "Cache", "Uncache",
)  # fmt: skip


def _check_tree(query: str) -> None:
    """Refuse a statement whose sqlglot tree holds a write or command node anywhere."""
    import sqlglot
    from sqlglot import exp

    from docframe.query.table_functions import _dialect

    query = _EXPLAIN.sub("", query, count=1)
    try:
        trees = sqlglot.parse(query, read=_dialect())
    except sqlglot.errors.SqlglotError:
        return  # DuckDB-only syntax: DuckDB's parser and the read-only engine decide
    kinds = tuple(getattr(exp, name) for name in _WRITE_NODES if hasattr(exp, name))
    for tree in trees:
        if tree is None or type(tree) is exp.Command:
            continue  # sqlglot did not understand it (its fallback); DuckDB classified it
        found = tree if isinstance(tree, kinds) else tree.find(*kinds)
        if found is not None:
            raise SandboxViolation(
                f"refused: the statement contains {found.key.upper()} "
                "(a write or command inside a read statement)",
                help=f"the lake is read-only to agents; use a read statement: {_READ_FORMS}",
            )


def check_predicate(where: str) -> None:
    """A search ``where`` predicate may use chunk columns and scalar functions only:
    it runs outside the sandbox (on the search layer's connection), so no subquery,
    table function or file can hide in it."""
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


# -- the sandbox: main-process side --------------------------------------------------


class Sandbox:
    """Runs SQL for agents in worker processes, on read-only locked copies of the
    snapshot's relations.

    Per pinned snapshot (the newest few are kept) the relations are defined once in
    a private DuckDB file; workers open it ``read_only`` with external access off and
    the configuration locked. A worker process also has an address-space limit
    (``RLIMIT_AS``, 2 GB + twice memory_limit): DuckDB's ``memory_limit`` bounds its
    operators, not one huge value such as ``repeat(text, 10^9)``, and a statement
    that exhausts memory must take down a worker, never the server. Workers come from
    ``docframe.connectors.pdf.sandbox.run_isolated`` (forkserver, reused, killed on
    a timeout or crash); at most ``workers`` statements run at once.
    """

    def __init__(
        self, limits: Limits | None = None, *, workers: int = 4, cache_size: int = 4
    ) -> None:
        self.limits = limits or Limits()
        self._cache_size = cache_size
        self._slots = threading.BoundedSemaphore(workers)
        self._guard = threading.Lock()
        self._databases: OrderedDict[tuple[str, int], _Database] = OrderedDict()
        self._building: dict[tuple[str, int], threading.Lock] = {}
        self._retired: list[_Database] = []
        _remove_orphans()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getpid()}-"))
        # a worker starts near 1.6 GB of address space (pyarrow's and DuckDB's
        # allocators reserve it); on top, room for DuckDB's memory_limit twice over
        self._memory_mb = _WORKER_BASE_MB + 2 * _megabytes(self.limits.memory_limit)
        atexit.register(self.close)

    # -- the databases ------------------------------------------------------------
    def _database(self, snapshot: Snapshot) -> _Database:
        key = (str(snapshot.root), snapshot.snapshot_id)
        with self._guard:
            if key in self._databases:
                self._databases.move_to_end(key)
                return self._databases[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one thread builds a snapshot's database; the others wait for it
            with self._guard:
                if key in self._databases:
                    return self._databases[key]
            db = self._build(snapshot)
            with self._guard:
                self._databases[key] = db
                self._building.pop(key, None)
                while len(self._databases) > self._cache_size:
                    self._retired.append(self._databases.popitem(last=False)[1])
                self._sweep()
            return db

    def _build(self, snapshot: Snapshot) -> _Database:
        """Copy the snapshot's relations (views over its Parquet files, small tables)
        into a DuckDB file that workers open read-only."""
        import hashlib

        from docframe.query.sql import connect

        tag = hashlib.sha1(str(snapshot.root).encode()).hexdigest()[:12]
        path = self._dir / f"{tag}-{snapshot.snapshot_id}-{time.monotonic_ns()}.duckdb"
        setup = connect(snapshot, with_sources=False)
        try:
            setup.execute(f"ATTACH '{_sql_str(str(path))}' AS sandbox_copy")
            setup.execute("COPY FROM DATABASE memory TO sandbox_copy")
            setup.execute("DETACH sandbox_copy")
        finally:
            setup.close()
        files = [*snapshot.chunk_files, *snapshot.document_files]
        for info in snapshot.tables.values():
            files.extend(info.files)
        return _Database(str(path), tuple(files))

    def _sweep(self) -> None:
        """Delete retired database files no statement is using (called under the guard)."""
        keep = []
        for db in self._retired:
            if db.users:
                keep.append(db)
            else:
                Path(db.path).unlink(missing_ok=True)
        self._retired = keep

    def close(self) -> None:
        with self._guard:
            self._retired.extend(self._databases.values())
            self._databases.clear()
            self._retired.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- running -------------------------------------------------------------------
    def run(self, lake: Lake, snapshot: Snapshot, query: str) -> SqlAnswer:
        """Run one agent statement (search functions included) under the limits."""
        from docframe.query import table_functions as tf

        start = time.monotonic()
        explain = _EXPLAIN.match(query)
        prefix = explain.group(0) if explain else ""
        tree, calls = tf.find_calls(query[len(prefix) :])
        statement = query
        relations: dict[str, Any] = {}
        if calls:  # DuckDB cannot parse ``where => ...``: check the rewritten statement
            _check_tree(query)
            for call in calls:
                if call.k > MAX_SEARCH_K:
                    raise QueryError(
                        f"{call.function}(): k = {call.k} is above the limit of {MAX_SEARCH_K}",
                        help=f"use k => {MAX_SEARCH_K} or less",
                    )
                if call.where is not None:
                    self.dry_run_predicate(snapshot, call.where)
            statement = prefix + tf.rewrite(tree, calls)
        check_statement(statement)  # what runs is what was checked
        if calls:
            relations = tf.run_calls(lake, snapshot, calls)
        # the time limit is the statement's: searches are bounded by k, and the first
        # one may load the embedding model
        (answer,) = self._submit(snapshot, [(statement, None, None)], relations)
        answer.searches = [_search_info(call) for call in calls]
        answer.elapsed_ms = round(1000 * (time.monotonic() - start), 1)
        return answer

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

    def dry_run_predicate(self, snapshot: Snapshot, where: str) -> None:
        """Check ``where`` and evaluate it once inside the sandbox, under the limits,
        before the search layer runs it on its own connection."""
        check_predicate(where)
        try:
            self.query(snapshot, f"SELECT count(*) AS n FROM chunks WHERE ({where})")
        except QueryError as exc:
            raise type(exc)(f"where {where!r}: {exc.message}", help=exc.help) from None

    def _submit(
        self,
        snapshot: Snapshot,
        statements: list[tuple[str, Any, int | None]],
        relations: Mapping[str, Any] | None = None,
    ) -> list[SqlAnswer]:
        from docframe.connectors.pdf.sandbox import (
            WorkerCrashed,
            WorkerMemoryError,
            WorkerTimeout,
            run_isolated,
        )

        db = self._database(snapshot)
        request = _Request(
            path=db.path,
            files=db.files,
            limits=self.limits,
            snapshot=snapshot,
            relations=dict(relations or {}),
            statements=statements,
        )
        # the worker interrupts DuckDB at the limit; this is the backstop for a worker
        # stuck in one huge value (checked between vectors) or lost
        backstop = self.limits.timeout_s * len(statements) + 5.0
        with self._guard:
            db.users += 1
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
        except WorkerTimeout:
            raise _timeout(self.limits) from None
        except WorkerMemoryError:
            raise QueryError(
                f"stopped: the statement needed more memory than the sandbox allows "
                f"(memory_limit {self.limits.memory_limit})",
                help="aggregate or filter earlier; avoid building huge values "
                "(repeat, string_agg over everything)",
            ) from None
        except WorkerCrashed as exc:
            raise QueryError(
                f"stopped: the SQL worker crashed ({exc.message})",
                help="the statement was not run to the end; simplify it",
            ) from None
        finally:
            with self._guard:
                db.users -= 1
                self._sweep()
        for answer in answers:
            answer.snapshot = snapshot.snapshot_id
        return answers


@dataclass
class _Database:
    path: str
    files: tuple[str, ...]  # the only files its statements may read
    users: int = 0  # statements in flight (a retired file is deleted at 0)


@dataclass
class _Request:
    path: str  # the sandbox database
    files: tuple[str, ...]  # the only files its statements may read
    limits: Limits
    snapshot: Snapshot  # for the per-pin ``sources`` relation
    relations: dict[str, Any]  # search results (Arrow tables) to register, by name
    statements: list[tuple[str, Any, int | None]]  # (sql, params, max_rows)


_DIR_PREFIX = "docframe-sandbox-"
_WORKER_BASE_MB = 2048


def _remove_orphans() -> None:
    """Delete sandbox folders left by processes that died without cleaning up (kill -9)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}*-*"):
        pid = folder.name[len(_DIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # alive, or someone else's


_PRELOAD = ("duckdb", "pyarrow", "sqlglot", "docframe.mcp.sandbox", "docframe.query.sql")
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

_OPEN: OrderedDict[str, Any] = OrderedDict()  # in a worker: its open sandbox databases
_BASE_VM_MB: list[float] = []  # in a worker: its address space after its first job


def _run_request(request: _Request) -> list[SqlAnswer]:
    """In a worker: the request's statements on a fresh cursor of the locked database."""
    from docframe.query.sql import define_sources

    grown = _megabytes(request.limits.memory_limit)
    vm = _vm_mb()
    if vm is not None and _BASE_VM_MB and vm - _BASE_VM_MB[0] > grown:
        # allocators keep what a big statement took, and the address-space limit
        # counts it: this worker would fail what comes next. run_isolated runs a job
        # whose worker exited after earlier jobs once more, in a fresh worker.
        os._exit(0)
    cur = _open(request.path, request.files, request.limits.memory_limit).cursor()
    try:
        define_sources(cur, request.snapshot)
        for name, table in request.relations.items():
            cur.register(name, table)
        return [
            _execute(cur, sql, params, request.limits, max_rows)
            for sql, params, max_rows in request.statements
        ]
    finally:
        cur.close()
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


def _open(path: str, files: tuple[str, ...], memory_limit: str) -> duckdb.DuckDBPyConnection:
    """The database, read-only, external access off except its own files, locked."""
    import duckdb

    if path in _OPEN:
        _OPEN.move_to_end(path)
        return _OPEN[path]
    con = duckdb.connect(
        path,
        read_only=True,
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "memory_limit": memory_limit,
            "temp_directory": "",  # nothing spills to disk
            "threads": 2,
        },
    )
    try:
        con.execute(f"SET allowed_paths = [{', '.join(_sql_lit(f) for f in files)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    _OPEN[path] = con
    while len(_OPEN) > 2:
        _OPEN.popitem(last=False)[1].close()
    return con


def _execute(
    cur: duckdb.DuckDBPyConnection,
    statement: str,
    params: Any,
    limits: Limits,
    max_rows: int | None,
) -> SqlAnswer:
    """One statement: interrupted at the time limit, rows streamed until the row or
    byte limit."""
    import duckdb

    from docframe.query.sql import _caret, _one_line

    max_rows = limits.max_rows if max_rows is None else max_rows
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        cur.interrupt()

    timer = threading.Timer(limits.timeout_s, stop)
    timer.daemon = True
    timer.start()
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    types: list[str] = []
    truncated_by = None
    try:
        result = cur.execute(statement, params)
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
        message = _one_line(str(exc))
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise QueryError(
                f"stopped: {message}",
                help=f"the sandbox allows memory_limit {limits.memory_limit} per statement: "
                "aggregate or filter earlier; avoid huge values (repeat, string_agg of everything)",
            ) from None
        kind = SandboxViolation if _is_sandbox_refusal(message) else QueryError
        raise kind(
            ("refused: " if kind is SandboxViolation else "SQL error: ") + message,
            help=_caret(str(exc)) or _HELP,
        ) from None
    finally:
        timer.cancel()
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
