"""One DuckDB database per pinned snapshot per process, shared through cursors."""

from __future__ import annotations

import threading

import duckdb
import pytest

from docframe.lake.reader import READERS, reader


def test_readers_are_shared_per_snapshot_and_told_apart_by_commit(sample_lake):
    snap = sample_lake.snapshot()
    assert reader(snap) is reader(sample_lake.snapshot())  # a new pin of the same snapshot
    with reader(snap).cursor() as cur:
        assert cur.execute("SELECT count(*) FROM chunks").fetchone()[0] > 0


def test_an_evicted_reader_closes_only_after_its_running_statements(sample_lake):
    """Closing a DuckDB connection closes its cursors: eviction must wait for them."""
    snap = sample_lake.snapshot()
    current = reader(snap)
    with current.cursor() as cur:
        READERS.clear()  # evicts (and would close) the reader while a statement runs
        assert cur.execute("SELECT count(*) FROM documents").fetchone()[0] > 0
    with pytest.raises(duckdb.ConnectionException):
        current.con.execute("SELECT 1")  # closed once the last cursor was done
    assert reader(snap) is not current  # the next statement gets a fresh reader


def test_cursors_run_side_by_side_from_threads(sample_lake):
    snap = sample_lake.snapshot()
    counts: list[int] = []

    def count() -> None:
        with reader(snap).cursor(hit_rows=True) as cur:
            counts.append(cur.execute("SELECT count(*) FROM _hit_rows").fetchone()[0])

    threads = [threading.Thread(target=count) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(counts) == 8 and len(set(counts)) == 1 and counts[0] > 0
