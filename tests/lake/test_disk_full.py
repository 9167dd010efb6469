"""The disk fills during an ingest: one line naming the lake and the space, nothing committed.

Each test puts its lake on a small tmpfs (root only: skipped with the reason
otherwise), fills it, ingests, and checks the error, that the catalog is exactly
as before and still readable, and that the same ingest succeeds once space is
freed.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import docframe
from docframe.errors import DiskFullError
from tests.conftest import SAMPLE

SMALL_CHUNKS = "chunk_tokens = 32\nchunk_overlap = 0\n"  # many chunks for little embedding
LINE = re.compile(
    r"lake (?P<lake>\S+): disk full while writing (?P<what>.+?) "
    r"\((?:about (?P<need>[\d.]+) (?P<need_unit>\w+) to write, )?"
    r"(?P<free>[\d.]+) (?P<free_unit>\w+) free\); nothing was committed"
)
UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


@contextmanager
def _tmpfs(at: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``at`` (a real file system that can fill up)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(at)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); needs CAP_SYS_ADMIN")
    try:
        yield at
    finally:  # lazy: this process may still map an index file from it
        subprocess.run(["umount", "--lazy", str(at)], check=True)


@contextmanager
def _bind(src: Path, at: Path) -> Iterator[Path]:
    at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "--bind", str(src), str(at)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot bind-mount here ({done.stderr.strip()})")
    try:
        yield at
    finally:
        subprocess.run(["umount", "--lazy", str(at)], check=True)


def _fill(folder: Path, leave: int = 0) -> Path:
    """Fill ``folder``'s file system, then give back about ``leave`` bytes."""
    filler = folder / f"filler-{len(list(folder.glob('filler-*')))}"
    with open(filler, "wb", buffering=0) as fh:
        for block in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    fh.write(b"\0" * block)
            except OSError as exc:
                assert exc.errno == 28, exc  # ENOSPC
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    assert os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize <= leave + 4096
    return filler


def _dump(lake_root: Path) -> list[str]:
    """The catalog's full content, read through a fresh read-only connection."""
    con = sqlite3.connect(f"{(lake_root / 'catalog.sqlite').as_uri()}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def _parse(message: str) -> dict:
    found = LINE.search(message)
    assert found, message
    return found.groupdict()


def _bytes(number: str, unit: str) -> float:
    return float(number) * UNITS[unit]


def _unreferenced(lake) -> set[str]:
    files = {p.name for p in (lake.root / "segments").iterdir()}
    con = lake.connect()
    try:
        known = {Path(r[0]).name for r in con.execute("SELECT path FROM segments")}
    finally:
        con.close()
    return files - known


def _big_text(path: Path, n: int = 240) -> Path:
    words = ["granite", "harbour", "lantern", "meadow", "orchid", "quarry", "saddle", "tundra"]
    path.write_text(
        "\n\n".join(
            f"Entry {i}: the {words[i % 8]} log notes item {i * 7} with {words[(i * 3) % 8]} "
            f"and {words[(i * 5) % 8]} beside reading {i * 13 % 97} in sector {i % 11}."
            for i in range(n)
        )
        + "\n"
    )
    return path


def test_disk_full_while_writing_the_chunk_segment(tmp_path):
    with _tmpfs(tmp_path / "disk", "16m") as disk:
        (disk / "lake").mkdir()
        (disk / "lake" / "docframe.toml").write_text(SMALL_CHUNKS)
        lake = docframe.open(disk / "lake")
        assert lake.ingest(SAMPLE / "beekeeping.txt").ok
        big = _big_text(tmp_path / "ledger.txt")
        before = _dump(lake.root)
        chunks = lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
        filler = _fill(disk, leave=96 << 10)

        run = subprocess.run(
            [sys.executable, "-m", "docframe.cli", "--lake", str(lake.root), "ingest", str(big),
             "--no-progress"], capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 2, run.stderr  # no traceback
        assert lines[0].startswith(f"error: lake {lake.root}: disk full while writing")
        assert lines[1].startswith("help: free space on the lake's disk")
        found = _parse(lines[0])
        assert found["what"] == "a chunks segment"
        assert _bytes(found["need"], found["need_unit"]) > _bytes(found["free"], found["free_unit"])

        assert _dump(lake.root) == before  # nothing half-committed
        reader = docframe.open(lake.root, create=False)
        assert reader.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"] == chunks
        assert reader.search("bees", k=1).to_list()[0]["source_uri"].endswith("beekeeping.txt")
        assert _unreferenced(reader) == set()  # the partial segment was removed

        filler.unlink()  # room again: the same ingest now goes through
        report = reader.ingest(big)
        assert report.ok and report.count("ingested") == 1
        added = reader.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"] - chunks
        assert added > 100
        hit = reader.search("lantern log sector", k=1, mode="keyword").to_list()[0]
        assert hit["source_uri"].endswith("ledger.txt")
        reader.gc()
        assert _unreferenced(reader) == set()


def test_disk_full_while_writing_a_table_segment(tmp_path):
    rng = np.random.default_rng(13)
    n = 40_000
    csv = tmp_path / "readings.csv"
    pacsv.write_csv(pa.table({"id": np.arange(n), "a": rng.random(n), "b": rng.random(n)}), csv)
    with _tmpfs(tmp_path / "disk", "8m") as disk:
        lake = docframe.open(disk / "lake")
        assert lake.ingest(SAMPLE / "shipments.csv").ok
        before = _dump(lake.root)
        segments = sorted((lake.root / "segments").iterdir())
        filler = _fill(disk, leave=64 << 10)

        with pytest.raises(DiskFullError) as full:
            lake.ingest(csv)
        found = _parse(full.value.message)
        assert found["lake"] == str(lake.root) and found["what"] == "a table segment"
        assert _bytes(found["need"], found["need_unit"]) > _bytes(found["free"], found["free_unit"])
        assert _dump(lake.root) == before
        assert sorted((lake.root / "segments").iterdir()) == segments  # no partial file left
        assert (
            len(lake.table("shipments").to_pandas())
            == len((SAMPLE / "shipments.csv").read_text().splitlines()) - 1
        )

        filler.unlink()
        assert lake.ingest(csv).ok
        assert lake.sql("SELECT count(*) AS n, max(id) AS top FROM readings").to_list() == [
            {"n": n, "top": n - 1}
        ]


def test_disk_full_when_the_catalog_commits(tmp_path):
    """Segments fit (another disk), the catalog's log does not: SQLite's 'database or disk
    is full' at COMMIT becomes the same one line, and the transaction is rolled back."""
    roomy = tmp_path / "roomy"
    (roomy / "segments").mkdir(parents=True)
    (roomy / "indexes").mkdir()
    note = tmp_path / "note.txt"
    note.write_text("Orchids need bright, indirect light and a loose bark mix.\n")
    with _tmpfs(tmp_path / "disk", "2m") as disk:
        lake = docframe.open(disk / "lake")
        with (_bind(roomy / "segments", lake.root / "segments"),
              _bind(roomy / "indexes", lake.root / "indexes")):  # fmt: skip
            assert lake.ingest(SAMPLE / "beekeeping.txt").ok
            before = _dump(lake.root)
            keeper = lake.connect()  # a reader holding the catalog open (an agent server)
            keeper.execute("SELECT count(*) FROM snapshots").fetchone()
            filler = _fill(disk)

            with pytest.raises(DiskFullError) as full:
                lake.ingest(note)
            found = _parse(full.value.message)
            assert found["what"] == "the catalog catalog.sqlite" and found["free"] == "0"
            orphans = _unreferenced(lake)
            assert orphans, "the chunk and document segments were written before the commit"
            assert _dump(lake.root) == before
            keeper.close()

            # a completely full disk, no -shm file left: readers still read, writers get a line
            _fill(disk)
            reader = docframe.open(lake.root, create=False)
            assert reader.sql("SELECT count(*) AS n FROM sources").to_list() == [{"n": 1}]
            with pytest.raises(DiskFullError, match="disk full while writing the catalog's"):
                reader.ingest(note)

            for path in disk.glob("filler-*"):
                path.unlink()
            assert filler not in list(disk.iterdir())
            assert lake.gc().segments == sorted(orphans)
            assert lake.ingest(note).ok
            assert lake.sql("SELECT count(*) AS n FROM sources").to_list() == [{"n": 2}]
