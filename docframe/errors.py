"""Every error docframe raises on purpose, rooted at one class.

    DocframeError
    ├── LakeError                 the lake directory or its catalog
    │   ├── NotALakeError         a directory that is not (and cannot become) a lake
    │   ├── LakeLockedError       another process is writing
    │   ├── LakeReadOnlyError     a writer on a read-only lake (mount or permissions)
    │   ├── DiskFullError         the lake's disk filled while writing (nothing committed)
    │   ├── ModelMismatchError    the lake was built with another embedding model
    │   └── DamagedSegmentError   a Parquet segment is missing, cut short or altered
    ├── EngineError               cpu/gpu selection
    │   └── GPUUnavailableError   --engine gpu without a GPU or without RAPIDS
    ├── ConnectorError            one input could not be read (recorded in `sources`)
    │   ├── IsolationError        an isolated worker's job did not finish (docframe.isolation)
    │   │   ├── WorkerTimeout     ... past its time limit
    │   │   ├── WorkerMemoryError ... past its memory limit
    │   │   └── WorkerCrashed     ... the worker died (a signal)
    │   └── UnsupportedInputError no connector for this file type
    ├── MissingDependencyError    an optional extra is not installed
    ├── QueryError                SQL or search failed (``line``, ``column``, ``highlight``)
    │   ├── SandboxViolation      an agent's statement the sandbox refuses (a write, a file...)
    │   └── QueryTimeout          an agent's statement or search stopped at the time limit
    ├── ToolArgumentError         an agent tool called with arguments its schema does not allow
    └── JobError                  a table job is invalid or failed (``step``, ``key``)

Each message names the offending input; a ``help`` text says what to do. Errors
travel between processes, so they pickle with their fields. What docframe works around
instead of failing is a :class:`DocframeWarning`, with the same ``help``.
"""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(name: object, choices: Iterable[object]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``name``, or ``""``:
    the one suggestion every "unknown name" error appends."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class DocframeError(Exception):
    """Root of docframe's errors. ``help`` is a one-line hint for the user."""

    def __init__(self, message: str, *, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.help = help

    def __str__(self) -> str:
        return f"{self.message} (help: {self.help})" if self.help else self.message

    def __reduce__(self):  # keep ``help`` across process boundaries
        return (_rebuild, (type(self), self.message, self.help))


def _rebuild(cls: type[DocframeError], message: str, help: str | None) -> DocframeError:
    return cls(message, help=help)


class LakeError(DocframeError):
    pass


class NotALakeError(LakeError):
    pass


class LakeLockedError(LakeError):
    pass


class LakeReadOnlyError(LakeError):
    pass


class DiskFullError(LakeError):
    pass


class ModelMismatchError(LakeError):
    pass


class DamagedSegmentError(LakeError):
    """A segment the catalog references no longer holds the bytes it committed; the
    message names the file and what it held, the help says how to repair."""


class EngineError(DocframeError):
    pass


class GPUUnavailableError(EngineError):
    pass


class ConnectorError(DocframeError):
    pass


class IsolationError(ConnectorError):
    """A job in an isolated worker (``docframe.isolation``) did not finish: it ran out of
    time or memory, or crashed. A ConnectorError, because the usual cause is a hostile
    or broken input, and the batch goes on without it."""


class WorkerTimeout(IsolationError):
    pass


class WorkerMemoryError(IsolationError):
    pass


class WorkerCrashed(IsolationError):
    pass


class UnsupportedInputError(ConnectorError):
    pass


class MissingDependencyError(DocframeError):
    pass


class QueryError(DocframeError):
    """A statement, predicate or search that cannot run. Where the engine said where the
    problem is, ``line`` and ``column`` (1-based) and ``highlight`` (the statement's line
    and a caret under the offending token) say it too, as fields a caller can use (an
    editor, an agent) rather than only as text; sqlglot's ``ParseError.errors`` is the
    model."""

    def __init__(
        self,
        message: str,
        *,
        help: str | None = None,
        line: int | None = None,
        column: int | None = None,
        highlight: str | None = None,
    ) -> None:
        super().__init__(message, help=help)
        self.line = line
        self.column = column
        self.highlight = highlight

    def __reduce__(self):  # keep the position across process boundaries (the sandbox)
        return (
            _rebuild_query_error,
            (type(self), self.message, self.help, self.line, self.column, self.highlight),
        )


def _rebuild_query_error(
    cls: type[QueryError],
    message: str,
    help: str | None,
    line: int | None,
    column: int | None,
    highlight: str | None,
) -> QueryError:
    return cls(message, help=help, line=line, column=column, highlight=highlight)


class SandboxViolation(QueryError):
    """A statement the agent sandbox (``docframe.mcp.sandbox``) refuses to run (a write,
    a file, a setting...)."""


class QueryTimeout(QueryError):
    """A statement stopped at the time limit."""


class ToolArgumentError(DocframeError):
    """A tool was called with arguments its schema does not allow."""


class JobError(DocframeError):
    """A table job is invalid or failed; ``step`` (1-based) and ``key`` locate it."""

    def __init__(
        self,
        message: str,
        *,
        help: str | None = None,
        step: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message, help=help)
        self.step = step
        self.key = key

    def __reduce__(self):
        return (_rebuild_job_error, (self.message, self.help, self.step, self.key))


def _rebuild_job_error(message: str, help: str | None, step: int | None, key: str | None):
    return JobError(message, help=help, step=step, key=key)


class DocframeWarning(UserWarning):
    """A problem docframe works around (an unusable index is rebuilt, one that cannot be
    saved is rebuilt by the next process): the message says what happened, ``help``
    what the user may do. The CLI and the shell print it as ``warning: <message>`` and
    ``help: ...``, like an error, never as Python's ``file.py:302: UserWarning`` line."""

    def __init__(self, message: str, *, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.help = help

    def __str__(self) -> str:  # Python's own display (a notebook) keeps the hint
        return f"{self.message} (help: {self.help})" if self.help else self.message

    def __reduce__(self):  # keep ``help`` across process boundaries
        return (_rebuild_warning, (self.message, self.help))


def _rebuild_warning(message: str, help: str | None) -> DocframeWarning:
    return DocframeWarning(message, help=help)


def warn(message: str, *, help: str | None = None) -> None:
    """Warn with a :class:`DocframeWarning`, attributed to the first caller outside
    docframe (as pandas' ``find_stack_level`` does): a notebook shows the user's own
    line, not ``docframe/index/store.py:302``. The CLI and the shell show neither: they
    print ``warning: ...`` and ``help: ...`` (``docframe.shell.messages``)."""
    import os
    import sys
    import warnings

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 2  # noqa: SLF001 - the caller of warn() is level 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(DocframeWarning(message, help=help), stacklevel=level)
