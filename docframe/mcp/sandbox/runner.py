"""The main-process side of the agent sandbox: :class:`Sandbox` sends statements to
worker processes and gives back their answers or one-line errors.

Search table functions in an agent's SQL run here, on the lake's indexes
(``docframe.query.table_functions``), under the same time limit as the statement
(:func:`within_time_limit`); their ``where`` predicates are evaluated in the sandbox
(:meth:`Sandbox.chunk_ids`), and only the matching chunk ids reach the index.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from docframe.errors import (
    QueryError,
    QueryTimeout,
    WorkerCrashed,
    WorkerMemoryError,
    WorkerTimeout,
)
from docframe.mcp.sandbox.limits import (
    MAX_SEARCH_K,
    WORKER_BASE_MB,
    Limits,
    SqlAnswer,
    megabytes,
    timeout_error,
)
from docframe.mcp.sandbox.statement import (
    check_predicate,
    check_search_text,
    check_statement,
    check_tree,
    split_explain,
)
from docframe.mcp.sandbox.worker import Request, probe_write, run_request

if TYPE_CHECKING:
    import numpy as np

    from docframe.api import Lake
    from docframe.lake.snapshot import Snapshot

T = TypeVar("T")
# what a worker imports before its first job (the fork server imports it once)
_PRELOAD = (
    "duckdb",
    "pyarrow",
    "pyarrow.dataset",
    "sqlglot",
    "docframe.landlock",
    "docframe.lake.relations",
    "docframe.mcp.sandbox.worker",
    "docframe.query.table_functions",
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
        self._memory_mb = WORKER_BASE_MB + 2 * megabytes(self.limits.memory_limit)
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
            check_tree(body)
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
                lambda: tf.run_calls(
                    lake.store, snapshot, calls, embedder=lake.query_encoder(snapshot)
                ),
            )
        limits = self._remaining(start)  # searches and statement share one time limit
        (answer,) = self._submit(snapshot, [(statement, None, None)], relations, limits=limits)
        answer.searches = [_search_info(call) for call in calls]
        answer.elapsed_ms = round(1000 * (time.monotonic() - start), 1)
        return answer

    def _remaining(self, start: float) -> Limits:
        left = self.limits.timeout_s - (time.monotonic() - start)
        if left <= 0:
            raise timeout_error(self.limits)
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
                probe_write,
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
        from docframe.isolation import run_isolated

        limits = limits or self.limits
        request = Request(
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
                    run_request,
                    request,
                    timeout_s=backstop,
                    memory_mb=self._memory_mb,
                    label=None,
                    preload=_PRELOAD,
                )
        except (WorkerTimeout, QueryTimeout):  # the message names the whole limit
            raise timeout_error(self.limits) from None
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


def _search_info(call: Any) -> dict[str, Any]:
    info = call.info
    return {
        "function": call.function,
        "text": call.text,
        "k": call.k,
        "where": call.where,
        "per_document": call.per_document,
        "returned": call.rows,
        "candidates": info.get("candidates"),
        "exhausted": bool(info.get("exhausted")),
        "reason": info.get("reason"),
    }
