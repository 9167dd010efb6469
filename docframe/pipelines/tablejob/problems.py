"""How spec problems are worded before their step is known.

Parsing an operation or an expression finds a problem without knowing which job
file or step it sits in: :class:`_Problem` carries the message, hint and key up
to :mod:`.spec`, which raises it as a located :class:`~docframe.errors.JobError`.
The listing helper keeps every module's messages alike (suggestions come from
:func:`docframe.errors.did_you_mean`, the one for all of docframe).
"""

from __future__ import annotations

from collections.abc import Sequence


class _Problem(Exception):
    """A spec problem found below the step level; the caller adds where it is."""

    def __init__(self, message: str, help: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message, self.help, self.key = message, help, key


def _listing(names: Sequence[str], limit: int = 12) -> str:
    names = list(names)
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
