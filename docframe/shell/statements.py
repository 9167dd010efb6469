"""Where a SQL statement ends: the shell runs each one at its ``;`` and ``docframe sql``
runs a script's statements in order, so both need the same rule."""

from __future__ import annotations

import re


def split_statements(text: str) -> tuple[list[str], str]:
    """(complete statements, unfinished rest) of ``text``.

    A statement ends with a ``;`` that is not inside a string, a quoted
    identifier, a comment or a dollar-quoted block, so ``SELECT ';'`` is one
    statement and a ``;`` in ``-- a comment;`` ends nothing. Empty statements
    (``;;``) are dropped; statements keep their text as typed, without the ``;``.
    """
    statements: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in ("'", '"'):
            end = text.find(ch, i + 1)
            while end != -1 and end + 1 < n and text[end + 1] == ch:  # '' and "" escape
                end = text.find(ch, end + 2)
            if end == -1:
                break
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            if end == -1:
                break
            i = end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                break
            i = end + 2
        elif ch == "$" and (tag := _DOLLAR.match(text, i)):
            end = text.find(tag.group(0), tag.end())
            if end == -1:
                break
            i = end + len(tag.group(0))
        elif ch == ";":
            statement = text[start:i].strip()
            if statement and not is_blank(statement):
                statements.append(statement)
            start = i = i + 1
        else:
            i += 1
    return statements, text[start:]


_DOLLAR = re.compile(r"\$[A-Za-z_]*\$")


def is_blank(text: str) -> bool:
    """Nothing but whitespace and finished comments: not a statement to run or wait for."""
    stripped = re.sub(r"--[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)
    return not stripped.strip()


def is_explain(statement: str) -> bool:
    """True for ``EXPLAIN`` and ``EXPLAIN ANALYZE``: their rows are printed as plain text."""
    return re.match(r"\s*explain\b", statement, re.IGNORECASE) is not None
