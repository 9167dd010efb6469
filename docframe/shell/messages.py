"""Problems as a user reads them: ``error: <message>`` or ``warning: <message>``, then
``help: <hint>`` when there is one. The shell and the ``docframe`` command both speak
this way, and never show Python's ``file.py:302: UserWarning: ...`` line."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

# (label colour, help colour) on a terminal: ANSI bold red / bold yellow, then dim
_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m"}
_DIM, _RESET = "\x1b[2m", "\x1b[0m"


def problem_text(label: str, message: str, help: str | None, *, color: bool = False) -> str:
    """``label: message`` and, when given, ``help: ...`` on the next line; ANSI-coloured
    when ``color``."""
    start, dim, reset = (_COLORS[label], _DIM, _RESET) if color else ("", "", "")
    text = f"{start}{label}:{reset} {message}\n"
    if help:
        text += f"{dim}help: {help}{reset}\n"
    return text


@contextmanager
def showing_warnings(show: Callable[[str, str | None], None]) -> Iterator[None]:
    """Within the block, every warning that Python would print goes to ``show(message,
    help)`` instead (``help`` from a :class:`docframe.errors.DocframeWarning`).

    Only the display changes: the warning filters stay as they are, so ``-W error`` (or
    pytest's ``error``) still raises. The same message raised from two places (a damaged
    index is found while loading and again while saving its replacement) is shown once.
    """
    shown: set[tuple[str, str | None]] = set()

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        # a DocframeWarning's message and help apart (its str() joins them for Python)
        problem = (getattr(message, "message", str(message)), getattr(message, "help", None))
        if problem not in shown:
            shown.add(problem)
            show(*problem)

    with warnings.catch_warnings():
        warnings.showwarning = showwarning
        yield
