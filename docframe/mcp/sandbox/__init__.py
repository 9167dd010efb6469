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
   Arrow datasets registered by the worker (``docframe.lake.relations.connect(scan=...)``),
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

The package, by seam: ``limits`` (what a call may use, the answer, JSON values),
``statement`` (the first layer's checks), ``runner`` (:class:`Sandbox`, in the main
process) and ``worker`` (what runs in a worker process: the second and third layers).
"""

from __future__ import annotations

from docframe.errors import QueryTimeout, SandboxViolation
from docframe.mcp.sandbox.limits import (
    MAX_SEARCH_K,
    MAX_SEARCH_TEXT,
    Limits,
    SqlAnswer,
    json_value,
)
from docframe.mcp.sandbox.runner import Sandbox, within_time_limit
from docframe.mcp.sandbox.statement import (
    check_predicate,
    check_search_text,
    check_statement,
    split_explain,
)
from docframe.mcp.sandbox.worker import scrub

__all__ = [
    "MAX_SEARCH_K",
    "MAX_SEARCH_TEXT",
    "Limits",
    "QueryTimeout",
    "Sandbox",
    "SandboxViolation",
    "SqlAnswer",
    "check_predicate",
    "check_search_text",
    "check_statement",
    "json_value",
    "scrub",
    "split_explain",
    "within_time_limit",
]
