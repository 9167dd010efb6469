"""Text encodings of tabular inputs: byte-order marks, codec names, and guessing.

CSV and JSON connectors read bytes that someone else wrote, often on another
system. They weigh the same evidence in the same order: an explicit
``--encoding`` wins; then a byte-order mark; then UTF-8. CSV files, which
spreadsheets still write in local code pages, go one step further
(:func:`detect_encoding`): when the bytes are not UTF-8 the encoding is guessed
(:func:`guess_encoding`) and the guess is recorded in the table's notes. JSON is
UTF-8 by its standard, so its readers stop at the first byte that does not decode.
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path
from typing import TextIO

from docframe.connectors.sources import open_source, read_head
from docframe.errors import ConnectorError

SCAN_CHUNK = 1 << 20  # bytes decoded at a time when checking a whole file is UTF-8
_WESTERN_MAX_SHARE = 0.5

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark announces (``utf-8-sig``, ``utf-16``, ``utf-32``)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def python_codec(path: Path, name: str, examples: str = "utf-8") -> str:
    """``name`` as Python spells the codec; UTF-8 becomes ``utf-8-sig`` so a BOM is dropped.

    An unknown name is an error naming the file and the name, with ``examples``
    of names that work.
    """
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise ConnectorError(
            f"{path}: unknown encoding {name!r}", help=f"use a Python codec name such as {examples}"
        ) from None
    return "utf-8-sig" if codec == "utf-8" else codec


def open_text(path: Path, encoding: str | None) -> TextIO:
    """The file as text: ``encoding``, else what its byte-order mark says, else UTF-8.

    Decoding is strict (a bad byte raises ``UnicodeDecodeError`` for the caller to
    name the file) and newlines are kept as written, so line counts match the file.
    """
    enc = python_codec(path, encoding or bom_encoding(read_head(path, 4)) or "utf-8")
    return io.TextIOWrapper(open_source(path), encoding=enc, errors="strict", newline="")


def detect_encoding(path: Path, head: bytes, given: str | None) -> tuple[str, str | None]:
    """(Python codec, note or None) for a CSV file whose first bytes are ``head``.

    ``given`` (``--encoding``) wins; then a byte-order mark; then UTF-8 when the
    whole file decodes; else :func:`guess_encoding` over the head and the bytes
    around the first non-UTF-8 one. A non-UTF-8 result comes with a note saying
    how it was found; no guess at all is an error naming the offending byte.
    """
    if given:
        return python_codec(path, given, "utf-8, cp1252, latin-1, utf-16"), None
    enc = bom_encoding(head)
    if enc:
        note = f"encoding: {enc.upper()} (from its byte-order mark)" if enc != "utf-8-sig" else None
        return enc, note
    bad = first_non_utf8(path)
    if bad is None:
        return "utf-8", None
    offset, byte, region = bad
    enc, how = guess_encoding(head[:65536] + b"\n" + region)
    if enc is None:
        raise ConnectorError(
            f"{path}: not UTF-8 (byte 0x{byte:02x} at offset {offset}) "
            f"and its encoding could not be determined",
            help="pass the file's encoding, e.g. --encoding cp1251, or re-encode it as UTF-8",
        )
    return enc, (
        f"encoding: not UTF-8 (first non-UTF-8 byte at offset {offset}); "
        f"read as {enc} ({how}); pass --encoding to override"
    )


def first_non_utf8(path: Path) -> tuple[int, int, bytes] | None:
    """(offset, byte, surrounding bytes) of the file's first non-UTF-8 byte; None for UTF-8.

    The whole file is decoded in chunks of :data:`SCAN_CHUNK` bytes at C speed, a
    character cut at a chunk's end carried into the next, so memory stays flat.
    """
    offset = 0  # where ``data`` starts in the file
    carry = b""  # a character cut at the end of the previous chunk
    with open_source(path) as fh:
        while chunk := fh.read(SCAN_CHUNK):
            data = carry + chunk
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                at = exc.start
                if exc.reason == "unexpected end of data":
                    carry, offset = data[at:], offset + at
                    continue
                return offset + at, data[at], data[max(at - 32768, 0) : at + 32768]
            carry, offset = b"", offset + len(data)
    if carry:
        return offset, carry[0], carry
    return None


def first_bad_utf8_line(path: Path) -> int | None:
    """The 1-based number of the file's first line that is not valid UTF-8, or None."""
    with open_source(path) as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def guess_encoding(sample: bytes) -> tuple[str | None, str]:
    """The encoding of non-UTF-8 bytes: cp1252 when they read as Western European words.

    In Western text the accented letters are a minority inside their words
    ("Orléans", "Müller"); Cyrillic or Greek bytes read as cp1252 give words
    made entirely of accented letters ("Ìîñêâà"). Those, and bytes cp1252
    cannot decode, go to charset-normalizer. Returns (encoding or None, how).
    """
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        letters = accented = 0
        for word in re.findall(r"[^\W\d_]+", text):
            extra = sum(ord(c) > 127 for c in word)
            if extra:
                letters += len(word)
                accented += extra
        if letters and accented / letters <= _WESTERN_MAX_SHARE:
            return "cp1252", "its non-ASCII text reads as Western European"
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: without it only cp1252 is recognised
        return None, ""
    best = from_bytes(sample).best()
    if best is None:
        return None, ""
    return codecs.lookup(best.encoding).name, "guessed by charset-normalizer"
