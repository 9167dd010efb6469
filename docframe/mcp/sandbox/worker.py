"""The worker side of the agent sandbox: statements run in a process that cannot write.

A request (:class:`Request`: the pinned snapshot, the statements, the limits and any
search results) arrives pickled from :class:`docframe.mcp.sandbox.Sandbox` through
``docframe.isolation.run_isolated`` and runs in :func:`run_request`. Before its first
statement a worker gives up the right to write files or open TCP connections for good
(Landlock). Each statement runs on a fresh cursor of the snapshot's database: an
in-memory DuckDB database that can open no file (the second layer), whose relations
read the snapshot's Parquet files as Arrow datasets registered here, never as paths.
A watchdog interrupts a statement at the time limit, and rows stream until the row or
byte limit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docframe.errors import DamagedSegmentError, QueryError, SandboxViolation
from docframe.lake.cache import SnapshotCache
from docframe.mcp.sandbox.limits import (
    WORKER_BASE_MB,
    Limits,
    SqlAnswer,
    cell,
    json_size,
    megabytes,
    timeout_error,
)
from docframe.mcp.sandbox.statement import split_explain

if TYPE_CHECKING:
    import duckdb

    from docframe.lake.snapshot import Snapshot

_HELP = (
    "relations: chunks, documents, sources, snapshots, tables, pdf_tables and the lake's "
    "tables (list_tables); search with search('question', k => 10)"
)


@dataclass
class Request:
    """What one round trip to a worker carries."""

    limits: Limits
    snapshot: Snapshot  # the pinned snapshot: its files, versions, sources and tables
    relations: dict[str, Any]  # search results (Arrow tables) to register, by name
    statements: list[tuple[str, Any, int | None]]  # (sql, params, max_rows)
    ids_only: bool = False  # one statement whose first column comes back whole, as Arrow


_BASE_VM_MB: list[float] = []  # in a worker: its address space after its first job
_LANDLOCK: list[str | None] = []  # in a worker: None once writes are denied, else why not
# in a worker: the Parquet files as Arrow datasets, by file list (listing them reads
# each file's footer once)
_DATASETS: SnapshotCache[Any] = SnapshotCache(256)


def _enter_worker() -> None:
    """A worker's first SQL job: give up file writes and TCP for good (Landlock)."""
    if not _LANDLOCK:
        from docframe.landlock import deny_writes

        _LANDLOCK.append(deny_writes())


def probe_write(path: str) -> str | None:
    """In a worker: None if it could open ``path`` for writing, else the error."""
    _enter_worker()
    try:
        with open(path, "ab"):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror}"


def run_request(request: Request) -> list[Any]:
    """In a worker: the request's statements on a fresh cursor of the snapshot's locked
    in-memory database (temporary objects die with the cursor)."""
    _enter_worker()
    grown = megabytes(request.limits.memory_limit)
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
            _BASE_VM_MB.append(min(vm, WORKER_BASE_MB))


def _vm_mb() -> float | None:
    """This process's address space in MiB (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            line = next(ln for ln in status if ln.startswith("VmSize:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _dataset(files: tuple[str, ...]) -> Any:
    """The Parquet files as one Arrow dataset, kept for the worker's next requests."""
    import pyarrow.dataset as ds

    return _DATASETS.get_or_make(files, lambda: ds.dataset(list(files), format="parquet"))


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

    def enter(self, cur: duckdb.DuckDBPyConnection, request: Request) -> None:
        from docframe.lake.relations import define_sources, scan_name

        define_sources(cur, request.snapshot)
        for name in _named_relations(request.statements, self.files):
            cur.register(scan_name(self.files[name]), _dataset(self.files[name]))
        for name, table in request.relations.items():
            cur.register(name, table)

    def leave(self, key: Hashable) -> None:
        """Forget this database if a request attached another one to it (ATTACH is
        shared by every cursor; the statement check refuses it, this is the backstop)."""
        attached = self.con.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE NOT internal"
        ).fetchone()[0]
        if attached != 1:
            _DATABASES.discard(lambda k: k == key)  # closes it
            self.con.close()  # (already closed if the cache had let it go)

    def close(self) -> None:
        self.con.close()


# in a worker: the snapshots' databases, made once (defining every relation costs more
# than most statements)
_DATABASES: SnapshotCache[_SnapshotDatabase] = SnapshotCache(2, close=_SnapshotDatabase.close)


def _database(snapshot: Snapshot, memory_limit: str) -> tuple[Hashable, _SnapshotDatabase]:
    """The snapshot's database in this worker, keyed by what the pin holds (its files,
    versions and tables), not just its number."""
    tables = tuple((name, info.files) for name, info in sorted(snapshot.tables.items()))
    pin = hash((snapshot.chunk_files, snapshot.document_files, snapshot.live_versions, tables))
    key = SnapshotCache.key(snapshot, memory_limit, pin)
    return key, _DATABASES.get_or_make(key, lambda: _SnapshotDatabase(snapshot, memory_limit))


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


def _ids(con: duckdb.DuckDBPyConnection, statement: str, params: Any, request: Request) -> Any:
    """The first column of ``statement``, whole, as a numpy array (chunk ids)."""
    import duckdb

    timer, fired = _watchdog(con, request.limits)
    con.execute("BEGIN TRANSACTION READ ONLY")
    try:
        table = con.execute(statement, params).to_arrow_table()
    except duckdb.Error as exc:
        if fired.is_set() or isinstance(exc, duckdb.InterruptException):
            raise timeout_error(request.limits) from None
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
                row = {n: cell(v, t) for n, v, t in zip(names, values, types, strict=True)}
                size = json_size(row) + 1
                if used + size > limits.max_bytes:
                    truncated_by = "max_bytes"
                    break
                used += size
                rows.append(row)
            if truncated_by:
                break
    except duckdb.InterruptException:
        raise timeout_error(limits) from None
    except duckdb.Error as exc:
        if fired.is_set():
            raise timeout_error(limits) from None
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

    from docframe.lake.relations import diagnose, engine_error, one_line

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
    found = engine_error(exc)  # where DuckDB says the problem is, as fields
    highlight = found.highlight and scrub(found.highlight, root)
    return kind(
        ("refused: " if kind is SandboxViolation else "SQL error: ") + message,
        help=highlight or _HELP,
        line=found.line,
        column=found.column,
        highlight=highlight,
    )


def scrub(text: str, root: str) -> str:
    """``text`` with the lake's absolute location replaced by ``<lake>``: agents are not
    told where the lake's files are."""
    return text.replace(root.rstrip("/"), "<lake>") if root else text


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
