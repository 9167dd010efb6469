"""Walking the records of a JSON or JSON Lines file, one at a time, in bounded memory.

Both passes of :mod:`docframe.connectors.json_tables` (inference, then batches)
walk the file through :class:`Records`, so they see the same records in the same
order and skip the same bad ones. A ``.json`` array is read by :class:`Scanner`,
an incremental decoder over a growing buffer: one record is decoded at a time,
never the whole document. JSON Lines are read line by line through
:mod:`docframe.connectors.jsonread`, which bounds line length and nesting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from docframe.connectors import jsonread
from docframe.connectors.encodings import open_text
from docframe.connectors.json_types import kind_name
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError

READ_CHUNK = 1 << 20
HEAD_BYTES = 1 << 16
_WS = re.compile(r"[ \t\r\n]*")


class Bad(Exception):
    """A record that can be skipped (with ``on_bad_rows="skip"``)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class Scanner:
    """An incremental reader of one large JSON document: values one at a time."""

    def __init__(self, fh: TextIO, path: Path) -> None:
        self.fh = fh
        self.path = path
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.counted = 0  # buf[:counted] has been counted into ``line``
        self.line = 1
        self.decoder = json.JSONDecoder()

    def line_at(self, pos: int) -> int:
        if pos > self.counted:
            self.line += self.buf.count("\n", self.counted, pos)
            self.counted = pos
        return self.line

    def _fill(self) -> None:
        self.line_at(self.pos)
        want = max(READ_CHUNK, len(self.buf) - self.pos)  # grow geometrically for big values
        chunk = self.fh.read(want)
        if not chunk:
            self.eof = True
            return
        self.buf = self.buf[self.pos :] + chunk
        self.counted -= self.pos
        self.pos = 0

    def peek(self) -> str:
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos] if self.pos < len(self.buf) else ""
            self._fill()

    def take(self, expected: str, context: str) -> str:
        char = self.peek()
        if char not in expected:
            found = repr(char) if char else "the end of the file"
            want = " or ".join(repr(c) for c in expected)
            raise ConnectorError(
                f"{self.path}: line {self.line_at(self.pos)}: expected {want} {context}, "
                f"found {found}",
                help="the file is not valid JSON; check it with `python -m json.tool`",
            )
        self.pos += 1
        return char

    def value(self) -> tuple[int, Any]:
        self.peek()
        line = self.line_at(self.pos)
        while True:
            try:
                obj, end = jsonread.decode(self.decoder, self.buf, self.pos)
            except jsonread.JsonTooDeep as exc:  # no safe place to resume: not skippable
                raise ConnectorError(
                    f"{self.path}: line {line}: {exc}", help=jsonread.DEPTH_HELP
                ) from None
            except json.JSONDecodeError as exc:
                # the value may simply go on past the buffer: read more and retry
                near_end = exc.pos >= len(self.buf) - 32 or exc.msg.startswith("Unterminated")
                if near_end and not self.eof:
                    self._fill()
                    continue
                raise ConnectorError(
                    f"{self.path}: line {self.line_at(exc.pos)}: invalid JSON ({exc.msg})",
                    help="fix the JSON; check it with `python -m json.tool`",
                ) from None
            if end == len(self.buf) and not self.eof:  # a number may go on in the next chunk
                self._fill()
                continue
            self.pos = end
            return line, obj

    def at_end(self) -> bool:
        return self.peek() == ""


@dataclass
class Records:
    """Where the records are and how to walk them (both passes walk the same way)."""

    path: Path
    options: TableOptions
    lines: bool  # JSON Lines
    key: str | None = None  # the wrapping object's key holding the records
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        skip = self.options.on_bad_rows == "skip"
        self.skipped = []
        source = self._lines() if self.lines else self._document()
        for item in source:
            if isinstance(item, Bad):
                if not skip:
                    raise ConnectorError(
                        f"{self.path}: line {item.line}: {item.message}",
                        help="fix the record, or pass --on-bad-rows skip to skip bad records "
                        "(they are listed in the table's notes)",
                    )
                self.skipped.append((item.line, item.message))
                continue
            yield item

    def _lines(self) -> Iterator[tuple[int, dict] | Bad]:
        try:
            with open_text(self.path, self.options.encoding) as fh:
                for number, line in jsonread.lines(fh):
                    if line is None:
                        yield Bad(number, jsonread.too_long())
                        continue
                    if not line.strip():
                        continue
                    try:
                        record = jsonread.loads(line)
                    except json.JSONDecodeError as exc:
                        yield Bad(number, jsonread.invalid(exc))
                        continue
                    except jsonread.JsonTooDeep as exc:
                        yield Bad(number, str(exc))
                        continue
                    if not isinstance(record, dict):
                        yield Bad(number, f"expected a JSON object, found {kind_name(record)}")
                        continue
                    yield number, record
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, exc, self.options.encoding) from None
        except (OSError, EOFError) as exc:
            raise _read_error(self.path, exc) from None

    def _document(self) -> Iterator[tuple[int, dict] | Bad]:
        try:
            with open_text(self.path, self.options.encoding) as fh:
                scan = Scanner(fh, self.path)
                first = scan.peek()
                if first == "[":
                    yield from self._array(scan, "in the top-level array")
                elif first == "{":
                    yield from self._wrapped(scan)
                else:
                    raise ConnectorError(
                        f"{self.path}: line {scan.line_at(scan.pos)}: expected an array of "
                        f"records or an object holding one, found "
                        f"{repr(first) if first else 'nothing'}",
                        help='write [{"col": 1}, ...] or {"data": [{"col": 1}, ...]}',
                    )
                if not scan.at_end():
                    raise ConnectorError(
                        f"{self.path}: line {scan.line_at(scan.pos)}: more JSON after the end "
                        f"of the top-level value",
                        help="a file holding one record per line should be named .jsonl",
                    )
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, exc, self.options.encoding) from None
        except (OSError, EOFError) as exc:
            raise _read_error(self.path, exc) from None

    def _array(self, scan: Scanner, context: str) -> Iterator[tuple[int, dict] | Bad]:
        scan.take("[", context)
        if scan.peek() == "]":
            scan.pos += 1
            return
        while True:
            line, record = scan.value()
            if isinstance(record, dict):
                yield line, record
            else:
                yield Bad(line, f"expected a JSON object, found {kind_name(record)}")
            if scan.take(",]", f"after the record at line {line}") == "]":
                return

    def _wrapped(self, scan: Scanner) -> Iterator[tuple[int, dict] | Bad]:
        scan.take("{", "")
        found: list[str] = []
        if scan.peek() == "}":
            scan.pos += 1
        else:
            while True:
                line, key = scan.value()
                if not isinstance(key, str):
                    raise ConnectorError(
                        f"{self.path}: line {line}: expected a key (a string), found {key!r}",
                        help="the file is not valid JSON; check it with `python -m json.tool`",
                    )
                scan.take(":", f"after the key {key!r}")
                if scan.peek() == "[" and self._list_of_objects(scan):
                    found.append(key)
                    if len(found) > 1:
                        raise ConnectorError(
                            f"{self.path}: the top-level object holds several lists of records "
                            f"({', '.join(map(repr, found))}); expected one",
                            help="split the file, one list of records per file",
                        )
                    self.key = key
                    yield from self._array(scan, f"in {key!r}")
                else:
                    scan.value()  # not records: skipped
                if scan.take(",}", "in the top-level object") == "}":
                    break
        if not found:
            raise ConnectorError(
                f"{self.path}: the top-level object holds no list of records",
                help='expected [{"col": 1}, ...] or {"data": [{"col": 1}, ...]}',
            )

    @staticmethod
    def _list_of_objects(scan: Scanner) -> bool:
        """Whether the list at the scanner's position starts with an object (not consumed)."""
        start = scan.pos
        scan.pos += 1
        char = scan.peek()
        scan.pos = start
        return char == "{"


def _decode_error(path: Path, exc: UnicodeDecodeError, encoding: str | None) -> ConnectorError:
    return ConnectorError(
        f"{path}: not valid {encoding or 'UTF-8'} ({exc.reason})",
        help="JSON is UTF-8; re-encode the file, or pass its encoding with --encoding",
    )


def _read_error(path: Path, exc: BaseException) -> ConnectorError:
    return ConnectorError(
        f"{path}: cannot read: {exc}", help="check the file; a .gz file must be complete gzip"
    )


def json_lines_in_json(path: Path, encoding: str | None) -> bool:
    """A ``.json`` file that is really JSON Lines: an object alone on its first line, more after."""
    found: list[str] = []
    try:
        with open_text(path, encoding) as fh:
            while len(found) < 2:
                line = fh.readline(HEAD_BYTES)
                if not line:
                    break
                if line.strip():
                    found.append(line)
    except (OSError, EOFError, UnicodeDecodeError, LookupError):
        return False
    if len(found) < 2 or not found[0].endswith("\n"):  # one line, or a very long first line
        return False
    try:
        first = jsonread.loads(found[0])
    except ValueError:
        return False
    return isinstance(first, dict) and found[1].lstrip().startswith("{")
