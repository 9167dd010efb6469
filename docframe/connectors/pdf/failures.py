"""How a PDF that cannot be read is told: fixed messages, one-line reasons.

Both parsers (PyMuPDF in ``extract``, pypdf in ``pypdf_text``) fail a file with
the same words, so a user (and the corpus tests) can match on them whichever
parser met the problem; and a parser's exception, often multi-line and prefixed
with MuPDF's error code, becomes one line for the ``sources`` table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from docframe.errors import ConnectorError

SUPPLY_PASSWORD = "encrypted: supply a password (--pdf-password or a --pdf-passwords file)"
WRONG_PASSWORD = "encrypted: wrong password"
CORRUPT_HELP = "the file is damaged; re-export it or try repairing it (e.g. qpdf --repair)"
_MEMORY_HINTS = ("malloc", "out of memory", "cannot allocate", "memory limit")


def unlock(label: str, password: str | None, try_password: Callable[[str], Any]) -> None:
    """Open an encrypted file with ``password`` (``try_password`` returns falsy when it
    is wrong), or raise the one message either parser gives for a missing or wrong one."""
    if not password:
        raise ConnectorError(
            f"{label}: {SUPPLY_PASSWORD}", help="ingest again with the file's password"
        )
    if not try_password(password):
        raise ConnectorError(
            f"{label}: {WRONG_PASSWORD}",
            help="check the password given for this file (--pdf-password/--pdf-passwords)",
        )


def is_memory_error(exc: BaseException) -> bool:
    if type(exc).__name__ == "FzErrorMemory":
        return True
    text = str(exc).lower()
    return any(hint in text for hint in _MEMORY_HINTS)


def one_line_reason(exc: BaseException) -> str:
    """A one-line reason from a parser exception (MuPDF's "code=7: " prefix dropped)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"^code=\d+:\s*", "", text)
    text = re.sub(r"Failed to open file '.*' as type \w+\.?", "cannot open the file as PDF", text)
    if isinstance(exc, RecursionError):
        text = "structure nested too deeply"
    return text[:200]
