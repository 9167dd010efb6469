"""Reading JSON input safely: a nesting limit, bounded lines, one wording for errors.

Python's ``json`` parser recurses once per nesting level, so a record nested
10,000 deep raises ``RecursionError`` -- and one just under the interpreter's
limit would overflow the recursive code after the parser (type inference,
flattening, ``json.dumps`` of metadata). Every JSON value read on ingest goes
through here: it nests at most :data:`MAX_DEPTH` levels (serde_json's default
limit) or is refused with a message the connector prefixes with the file and
line. Lines are read at most :data:`MAX_LINE_CHARS` at a time, so a file that
is one endless line (gigabytes of NUL bytes named ``.jsonl``) is never held whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO

from docframe.connectors.tables import listed_lines

MAX_DEPTH = 128
MAX_LINE_CHARS = 64 << 20
DEPTH_HELP = f"JSON input may nest at most {MAX_DEPTH} levels; flatten the deepest values"

# a string (skipped whole: brackets inside it do not count) or one bracket
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}]')


class JsonTooDeep(ValueError):
    """A JSON value nested deeper than :data:`MAX_DEPTH` levels."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_DEPTH} levels")


def check_depth(text: str, start: int = 0, end: int | None = None) -> None:
    """Raise :class:`JsonTooDeep` when ``text[start:end]`` nests deeper than the limit.

    A value cannot nest deeper than it has opening brackets, and counting them
    runs at C speed, so ordinary input costs two ``str.count`` calls; only text
    with more brackets than the limit is scanned token by token.
    """
    end = len(text) if end is None else end
    if text.count("[", start, end) + text.count("{", start, end) <= MAX_DEPTH:
        return
    depth = 0
    for token in _TOKEN.finditer(text, start, end):
        char = text[token.start()]
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise JsonTooDeep
        elif char in "]}":
            depth -= 1


def loads(text: str) -> Any:
    """``json.loads`` that refuses values nested deeper than :data:`MAX_DEPTH`."""
    check_depth(text)
    try:
        return json.loads(text)
    except RecursionError:  # only when the caller's own stack is already deep
        raise JsonTooDeep from None


def decode(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[Any, int]:
    """``decoder.raw_decode`` at ``pos`` with the nesting limit: (value, end)."""
    try:
        value, end = decoder.raw_decode(text, pos)
    except RecursionError:
        raise JsonTooDeep from None
    check_depth(text, pos, end)
    return value, end


def invalid(exc: json.JSONDecodeError) -> str:
    """``invalid JSON (Expecting value at column 5)``; json's own message may end in "at"."""
    return f"invalid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"


def lines(fh: TextIO) -> Iterator[tuple[int, str | None]]:
    """(line number, line) of a text file; None for a line over :data:`MAX_LINE_CHARS`.

    The text of an over-long line is read past in pieces and dropped, so the
    caller can report (or skip) it without ever holding it.
    """
    number = 0
    while line := fh.readline(MAX_LINE_CHARS):
        number += 1
        if len(line) < MAX_LINE_CHARS or line.endswith(("\n", "\r")):
            yield number, line
            continue
        while (rest := fh.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
            pass
        yield number, None


def too_long() -> str:
    return f"line longer than {MAX_LINE_CHARS >> 20} MiB"


def skipped_note(bad: list[tuple[int, str]]) -> str:
    """``skipped 2 bad record(s): lines 3, 9 (first: invalid JSON ...)`` for the notes."""
    listed = listed_lines([str(line) for line, _ in bad])
    return f"skipped {len(bad)} bad record(s): {listed} (first: {bad[0][1]})"
