"""How spec problems are worded before their step is known.

Parsing an operation or an expression finds a problem without knowing which job
file or step it sits in: :class:`_Problem` carries the message, hint and key up
to :mod:`.spec`, which raises it as a located :class:`~docframe.errors.JobError`.
The did-you-mean and listing helpers keep every module's messages alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


class _Problem(Exception):
    """A spec problem found below the step level; the caller adds where it is."""

    def __init__(self, message: str, help: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message, self.help, self.key = message, help, key


def _did_you_mean(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listing(names: Sequence[str], limit: int = 12) -> str:
    names = list(names)
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
