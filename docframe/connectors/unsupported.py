"""What to tell a user about a file no connector reads: its type, and what would read it.

"no connector for file type '.docx'" alone leaves the user guessing whether a flag, an
extra or another format is the way in. Every built-in connector ships with docframe (no
extra to install), so the answer is a format docframe does read: office documents and
e-books as PDF, plain-text formats under a text suffix, pictures inside a PDF (whose
image-only pages are OCR'd), archives unpacked. A type with no such route says so, and
that a third-party connector can add it.

:func:`unsupported` is the error :func:`docframe.connectors.connector_for` raises; ingest
keeps its ``help`` with the file's outcome, so a folder's unsupported files are listed
grouped by :func:`file_type`, each type with its hint, instead of as a bare count.
"""

from __future__ import annotations

from pathlib import Path

from docframe.errors import UnsupportedInputError

NO_SUFFIX = "(no suffix)"

_AS_PDF = "save or export it as PDF (or its text as .txt) and ingest that"
_AS_TEXT = "it is plain text: copy or rename it to .txt (or .md) to ingest it as text"
_IMAGE = (
    "pictures are read inside PDFs: put it in one (img2pdf, or any 'print to PDF'); "
    "image-only pages are OCR'd when Tesseract is installed"
)
_ARCHIVE = "unpack it and ingest the folder"
_SPREADSHEET = "save it as .xlsx or .csv and ingest that"
_NONE = (
    "no connector reads this type, and its content is not a PDF or a recording "
    "(recognised by content whatever the name); docframe ingest --help lists the types "
    "it reads, and a plugin can add one (the docframe.connectors entry points)"
)

HINTS: dict[str, str] = {
    **dict.fromkeys(
        (".doc", ".docx", ".docm", ".odt", ".rtf", ".pages", ".wpd", ".ppt", ".pptx",
         ".pptm", ".odp", ".epub", ".mobi", ".djvu", ".xps", ".ps", ".eps"),
        _AS_PDF,
    ),
    **dict.fromkeys((".xls", ".xlsb", ".ods", ".numbers"), _SPREADSHEET),
    **dict.fromkeys(
        (".rst", ".adoc", ".asciidoc", ".org", ".tex", ".log", ".ini", ".cfg", ".conf",
         ".toml", ".yaml", ".yml", ".xml", ".srt", ".vtt", ".py", ".js", ".java",
         ".c", ".h", ".cpp", ".go", ".rs", ".rb", ".sh", ".sql", ".r"),
        _AS_TEXT,
    ),
    **dict.fromkeys(
        (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp", ".heic"), _IMAGE
    ),
    **dict.fromkeys(
        (".zip", ".tar", ".tgz", ".tar.gz", ".gz", ".bz2", ".xz", ".zst", ".7z", ".rar"),
        _ARCHIVE,
    ),
}  # fmt: skip


def file_type(path: Path) -> str:
    """The type a user would name the file by: its suffix, lower-case (``.tar.gz`` whole
    when a hint knows it), or ``(no suffix)``."""
    name = path.name.lower()
    for compound in (s for s in HINTS if s.count(".") > 1):
        if name.endswith(compound):
            return compound
    return path.suffix.lower() or NO_SUFFIX


def reader_hint(path: Path) -> str:
    """What would read ``path``, one line: the format to convert it to, or that nothing
    does (see the module notes)."""
    return HINTS.get(file_type(path), _NONE)


def unsupported(path: Path) -> UnsupportedInputError:
    """The error for a file no connector reads: its type, and :func:`reader_hint`."""
    kind = file_type(path)
    what = "files without a suffix" if kind == NO_SUFFIX else f"file type {kind!r}"
    return UnsupportedInputError(f"{path}: no connector for {what}", help=reader_hint(path))
