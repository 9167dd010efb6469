"""Opening tabular sources: what the leading bytes say a file is, and its encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from docframe.connectors.encodings import bom_encoding
from docframe.connectors.sources import mislabeled, sniff_format


@pytest.mark.parametrize(
    ("head", "suffix"),
    [
        (b"SQLite format 3\x00rest", ".sqlite"),
        (b"PK\x03\x04....", ".xlsx"),
        (b"PAR1....", ".parquet"),
        (b"\x1f\x8b\x08\x00", ".gz"),
        (b"%PDF-1.7", ".pdf"),
        (b'  [{"a": 1}]', ".json"),
        (b"a,b\n1,2\n", ".csv"),
    ],
)
def test_sniff_format_names_common_kinds(head, suffix):
    assert sniff_format(head)[1] == suffix


def test_mislabeled_error_says_what_the_file_is():
    err = mislabeled(Path("x.db"), b"PK\x03\x04", "a SQLite database")
    assert "x.db: not a SQLite database: the content is a ZIP archive" in err.message
    assert ".xlsx" in err.help
    unknown = mislabeled(Path("x.db"), b"\x00\x01\x02", "a SQLite database")
    assert "unrecognised binary content" in unknown.message


def test_bom_encoding():
    assert bom_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert bom_encoding("a".encode("utf-16")) == "utf-16"
    assert bom_encoding("a".encode("utf-32")) == "utf-32"
    assert bom_encoding(b"a,b") is None
