"""Text files are sniffed, then decoded a block at a time: a huge file of NUL bytes (a
disk image renamed .txt, a sparse file) is refused after its first block instead of
being read whole into memory. Real (sparse) files on disk; the memory tests measure
the peak RSS of a real ``docframe ingest`` process or a connector in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from docframe.connectors.base import read_text
from docframe.connectors.text import TextConnector
from docframe.errors import ConnectorError

GIB = 1 << 30

# Runs a command as its only child and reports that child's peak RSS (KiB on
# Linux): RUSAGE_CHILDREN of this wrapper covers nothing else the test process started.
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": done.returncode, "err": done.stderr, "peak_kib": peak}))
"""


def _sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes: ``head``, then a hole that reads as NUL bytes."""
    path.write_bytes(head)
    os.truncate(path, size)
    return path


def _measured(*cmd: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


# Reads one file the way ingest does (the connector the registry picks), in a process
# of its own; prints the one-line error.
_READ = """
import sys
from pathlib import Path
from docframe.connectors import connector_for
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError
path = Path(sys.argv[1])
connector = connector_for(path)
try:
    if getattr(connector, "kind", "documents") == "table":
        for table in connector.read_tables(path, TableOptions()):
            for _ in table.batches:
                pass
    else:
        list(connector.extract(path))
except ConnectorError as exc:
    sys.exit(f"failed {exc}")
"""

CEILING = GIB / 2  # read whole, such a file took 2.2 GB; refused early, ~140 MB


def test_a_sparse_2gib_txt_fails_in_one_line_without_reading_it_into_memory(tmp_path):
    path = _sparse(tmp_path / "disk image.txt", b"A line of text before the hole.\n", 2 * GIB)
    result = _measured(sys.executable, "-m", "docframe.cli", "--lake", str(tmp_path / "lake"),
                       "ingest", str(path), "--no-progress")  # fmt: skip
    assert result["rc"] == 1
    failed = [line for line in result["err"].splitlines() if line.startswith("failed")]
    assert failed == [
        f"failed {path}: binary content (a NUL byte at offset 32) in a .txt file (help: this "
        "is not a text file; remove it or give it its real extension)"
    ]
    assert "Traceback" not in result["err"]
    # the embedding model is not loaded for a failed file: the process stays small
    assert result["peak_kib"] * 1024 < CEILING, result["peak_kib"]


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("zeros.txt", b""),
        ("text-then-zeros.txt", b"Long text. " * 2000),  # past the 8 KiB sniff
        ("zeros.md", b""),
        ("zeros.html", b"<p>"),
        ("docs-then-zeros.jsonl", b'{"_id": "d1", "text": "one document"}\n'),
        ("rows-then-zeros.jsonl", b'{"id": 1, "amount": 2.5}\n'),
        ("zeros.jsonl", b""),
        ("records-then-zeros.json", b'[{"id": 1},\n'),
    ],
)
def test_sparse_text_and_json_files_are_refused_after_their_first_block(tmp_path, name, head):
    path = _sparse(tmp_path / name, head, 2 * GIB)
    result = _measured(sys.executable, "-c", _READ, str(path))
    assert result["rc"] == 1 and "Traceback" not in result["err"], result["err"]
    (line,) = result["err"].splitlines()
    assert line.startswith(f"failed {path}: ") and "binary content" in line
    assert result["peak_kib"] * 1024 < CEILING, result["peak_kib"]


def test_nul_bytes_after_the_sniffed_head_are_refused_with_their_offset(tmp_path):
    path = tmp_path / "late.txt"
    path.write_bytes(b"plain words\n" * 5000 + b"\x00\x00tail")
    with pytest.raises(ConnectorError, match=r"late\.txt: binary content \(a NUL byte at offset "
                       r"60000\)") as info:  # fmt: skip
        read_text(path)
    assert "\n" not in str(info.value)


def test_text_decodes_across_block_boundaries_as_before(tmp_path):
    # multi-byte characters straddle every 1 MiB block edge; a BOM is dropped as before
    body = "é€😀 mixed ascii and accents, " * 100_000
    path = tmp_path / "big.txt"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    assert path.stat().st_size > 3 * (1 << 20)
    assert read_text(path) == body
    (doc,) = TextConnector().extract(path)
    assert doc.elements[0].text == body and doc.title == body.strip().splitlines()[0][:200]


def test_invalid_utf8_far_into_a_file_names_its_byte_offset(tmp_path):
    path = tmp_path / "late-latin1.txt"
    head = b"ascii only\n" * 200_000  # 2.2 MB: the bad byte is in the third block
    path.write_bytes(head + "café".encode("latin-1"))
    offset = len(head) + 3
    with pytest.raises(ConnectorError, match=rf"byte 0xe9 at offset {offset}\)"):
        read_text(path)
