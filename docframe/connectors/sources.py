"""Opening a tabular source and telling what it really is.

Files arrive with the wrong suffix (a workbook saved as ``.csv``, a database
named ``.json``), compressed, inside a ZIP archive, or damaged. Every table connector
opens its input through :func:`open_source` / :func:`read_head` and, when the leading
bytes say the file is something else, refuses it with :func:`mislabeled`, which names
what the content is, so the user learns the fix instead of reading a parser's error.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from docframe.connectors.content import HEAD_BYTES, media, recognise
from docframe.connectors.unpack import codec_of, open_compressed, open_member, split_member
from docframe.errors import ConnectorError


def open_source(path: Path) -> IO[bytes]:
    """The file's bytes: decompressed when its name ends in ``.gz`` or ``.zst``, streamed
    out of its archive for a member path ``ARCHIVE!/MEMBER`` (``docframe.connectors.unpack``,
    whose limits stop a decompression bomb in one line)."""
    if not path.exists() and (member := split_member(path)) is not None:
        return open_member(*member)
    if codec_of(path) is not None:
        return open_compressed(path)
    return open(path, "rb")


def read_head(path: Path, size: int) -> bytes:
    """Up to ``size`` leading bytes of the (decompressed) file; unreadable -> ConnectorError."""
    try:
        with open_source(path) as fh:
            return fh.read(size)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ConnectorError(
            f"{path}: cannot read: {exc}",
            help="check that the file exists, is readable, and (for .gz, .zst) is really "
            "compressed that way",
        ) from None


_MAGIC = (
    (b"SQLite format 3\x00", "a SQLite database", ".sqlite"),
    (b"PK\x03\x04", "a ZIP archive (e.g. an .xlsx workbook)", ".xlsx"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an OLE2 file (legacy .xls, or an encrypted workbook)",
        "",
    ),
    (b"PAR1", "a Parquet file", ".parquet"),
    (b"\x1f\x8b", "gzip-compressed data", ".gz"),
    (b"BZh", "bzip2-compressed data", ".bz2"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data", ".zst"),
    (b"%PDF", "a PDF document", ".pdf"),
    (b"\x89PNG", "a PNG image", ".png"),
    (b"\xff\xd8\xff", "a JPEG image", ".jpg"),
    (b"ARROW1", "an Arrow IPC file", ".arrow"),
)


def sniff_format(head: bytes) -> tuple[str, str] | None:
    """What the leading bytes say the file is: (description, usual suffix), or None."""
    for magic, what, suffix in _MAGIC:
        if head.startswith(magic):
            return what, suffix
    found = media(head)  # recordings and films (docframe.connectors.content)
    if found is not None:
        return found
    if head and b"\x00" not in head[:4096]:
        text = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        if text[:1] in (b"{", b"["):
            return "JSON text", ".json"
        return "text (CSV or similar)", ".csv"
    return None


# what sniff_format finds that a connector reads (a PNG is only "binary content")
_READABLE = (".sqlite", ".xlsx", ".parquet", ".gz", ".zst")


def binary_format(head: bytes) -> tuple[str, str] | None:
    """(what, suffix) of a file that is not text, when its leading bytes say it is a
    type docframe reads (a PDF, a recording, a database...): for a text connector's
    error on a mislabeled file."""
    found = recognise(head)  # PDFs (the header may follow other bytes), recordings
    if found is not None:
        return found
    found = sniff_format(head)
    return found if found is not None and found[1] in _READABLE else None


def mislabeled(
    path: Path, head: bytes, expected: str, found: tuple[str, str] | None = None
) -> ConnectorError:
    """The error for a file whose content is not what its suffix says (``found``: what
    it is, when the caller knows; else the leading bytes are sniffed)."""
    found = found or sniff_format(head)
    if found is None:
        return ConnectorError(
            f"{path}: not {expected}: unrecognised binary content",
            help="check the file; it may be damaged or of another type",
        )
    what, suffix = found
    hint = f"give the file its real extension ({suffix})" if suffix else "convert it first"
    return ConnectorError(f"{path}: not {expected}: the content is {what}", help=hint)


def refuse_other_format(path: Path, expected: str, own: tuple[str, ...]) -> None:
    """Before a parser runs: when ``path``'s first bytes say it is another type docframe
    reads (a WAV named ``.pdf``, a PDF named ``.mp3``), the :func:`mislabeled` error, not
    the parser's. ``own``: the suffixes :func:`binary_format` may name for this reader's
    own content. Anything unrecognised goes on to the parser, which says what it finds."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return  # the parser reports it
    found = binary_format(head)
    if found is not None and found[1] not in own:
        raise mislabeled(path, head, expected, found)
