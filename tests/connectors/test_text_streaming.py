"""Text files are sniffed, then decoded a block at a time: a huge file of NUL bytes (a
disk image renamed .txt, a sparse file) is refused after its first block instead of
being read whole into memory. Real files on disk; the memory test measures a real
``docframe ingest`` process."""

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

# Runs ``docframe ingest`` as its only child and reports that child's peak RSS (KiB on
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


def _ingest_measured(lake: Path, path: Path) -> dict:
    cmd = [sys.executable, "-m", "docframe.cli", "--lake", str(lake), "ingest", str(path),
           "--no-progress"]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    "head",
    [b"", b"A line of text before the hole.\n", b"Long text. " * 2000],
    ids=["all-zeros", "a-line-then-zeros", "22kb-of-text-then-zeros"],
)
def test_a_sparse_2gib_txt_is_refused_without_reading_it_into_memory(tmp_path, head):
    path = _sparse(tmp_path / "disk image.txt", head, 2 * GIB)
    result = _ingest_measured(tmp_path / "lake", path)
    assert result["rc"] == 1
    failed = [line for line in result["err"].splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and str(path) in failed[0] and "binary content" in failed[0]
    assert "Traceback" not in result["err"]
    # read whole, the file took 2.2 GB; refused after its first block, the process
    # stays near its own size (~140 MB: the embedding model is not loaded for a failure)
    assert result["peak_kib"] * 1024 < GIB / 2, result["peak_kib"]


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
