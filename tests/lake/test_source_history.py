"""``sources`` at ``--snapshot N`` is the lake as it was at N, like every other relation."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import docframe
from tests.conftest import write_topics


def _at(lake, n: int) -> dict[str, tuple[str, int, int]]:
    rows = lake.sql(
        "SELECT source_uri, status, n_chunks, snapshot_id FROM sources", snapshot=n
    ).to_list()
    return {
        Path(r["source_uri"]).name: (r["status"], r["n_chunks"], r["snapshot_id"]) for r in rows
    }


def _check_every_snapshot(lake) -> None:
    latest = lake.snapshot().snapshot_id
    for n in range(latest + 1):
        got = lake.sql(
            "SELECT (SELECT coalesce(sum(n_chunks), 0) FROM sources) AS listed,"
            " (SELECT count(*) FROM chunks) AS chunks,"
            " (SELECT coalesce(max(snapshot_id), 0) FROM sources) AS newest",
            snapshot=n,
        ).to_list()[0]
        assert got["listed"] == got["chunks"], f"snapshot {n}: {got}"
        assert got["newest"] <= n, f"snapshot {n}: {got}"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A lake through add, change, fail, fail-only, prune, table, touch."""
    root = tmp_path_factory.mktemp("history")
    notes = root / "notes"
    paths = write_topics(notes, 4)
    lake = docframe.open(root / "lake")
    steps = {}
    assert lake.ingest(notes).ok  # 1: four notes
    steps["add"] = lake.snapshot().snapshot_id
    long = "\n\n".join(f"Paragraph {i} on granite quarries and their long history." * 8
                       for i in range(12))  # fmt: skip
    paths[1].write_text(long)
    assert lake.ingest(notes).count("ingested") == 1  # 2: note-001 grows to many chunks
    steps["change"] = lake.snapshot().snapshot_id
    paths[2].write_bytes(b"\xff\xfe not text any more")
    write_topics(root / "more", 5)[4].rename(notes / "note-004.txt")
    report = lake.ingest(notes)  # 3: note-002 fails (its old chunks stay), note-004 joins
    assert report.count("failed") == 1 and report.count("ingested") == 1
    steps["fail"] = lake.snapshot().snapshot_id
    paths[3].write_bytes(b"\xff\xfe broken too")
    assert lake.ingest(paths[3]).count("failed") == 1  # a failure alone: no new snapshot
    paths[0].unlink()
    assert lake.ingest(notes, prune=True).count("pruned") == 1  # 4: note-000 leaves
    steps["prune"] = lake.snapshot().snapshot_id
    (root / "customers.csv").write_text("cid,name\n1,a\n2,b\n")
    assert lake.ingest(root / "customers.csv").ok  # 5: a table (no chunks)
    steps["table"] = lake.snapshot().snapshot_id
    os.utime(notes / "note-004.txt", (1, 1))
    assert lake.ingest(notes / "note-004.txt").count("unchanged") == 1  # an mtime touch
    return lake, steps


def test_sources_at_every_snapshot_agree_with_chunks(history):
    lake, steps = history
    assert list(steps.values()) == [1, 2, 3, 4, 5]
    _check_every_snapshot(lake)


def test_sources_at_a_snapshot_show_that_snapshot(history):
    lake, _ = history
    assert _at(lake, 0) == {}
    first = _at(lake, 1)
    assert set(first) == {"note-000.txt", "note-001.txt", "note-002.txt", "note-003.txt"}
    assert {v[0] for v in first.values()} == {"ok"} and first["note-001.txt"][1] == 1
    second = _at(lake, 2)
    assert second["note-001.txt"][1] > 1 and second["note-001.txt"][2] == 2
    assert second["note-002.txt"][0] == "ok"  # it failed later, not yet
    third = _at(lake, 3)
    assert third["note-002.txt"][0] == "error" and third["note-002.txt"][1] == 1
    assert third["note-003.txt"][0] == "error"  # failed alone, at snapshot 3
    assert "note-004.txt" in third and "note-004.txt" not in second
    assert "note-000.txt" in third and "note-000.txt" not in _at(lake, 4)
    assert "customers.csv" in _at(lake, 5) and "customers.csv" not in _at(lake, 4)
    latest = lake.sources().to_pandas().set_index("source_uri")
    assert _at(lake, 5) == {
        Path(uri).name: (r.status, r.n_chunks, r.snapshot_id) for uri, r in latest.iterrows()
    }


def test_an_old_lake_without_the_log_is_read_filtered_and_seeded_by_a_writer(history, tmp_path):
    import shutil

    lake, _ = history
    shutil.copytree(lake.root, tmp_path / "lake")
    con = sqlite3.connect(tmp_path / "lake" / "catalog.sqlite")
    con.execute("DROP TABLE source_log")
    con.commit()
    con.close()
    old = docframe.open(tmp_path / "lake", create=False)
    for n in range(6):  # a reader of an old catalog: today's rows, none from the future
        assert all(v[2] <= n for v in _at(old, n).values())
    assert set(_at(old, 5)) == set(_at(lake, 5))
    old.ingest(lake.root.parent / "notes" / "note-004.txt")  # a writer upgrades the catalog
    _check_every_snapshot(old)  # the seeded log rebuilds history from the versions
    assert set(_at(old, 1)) == set(_at(lake, 1)) and set(_at(old, 3)) == set(_at(lake, 3))
    assert _at(old, 3)["note-002.txt"][0] == "error"  # from the errors table
