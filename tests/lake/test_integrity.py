"""Segment integrity: checksums at commit, the cheap check on read, full verify, repair.

Every lake here is real (SQLite catalog, Parquet segments, DuckDB, the packaged model);
damage is done the way disks and people do it: a flipped bit, a cut-off file, a deleted
file.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import docframe
from docframe.cli import app
from docframe.errors import DamagedSegmentError, DocframeError
from tests.conftest import write_topics

N_ORDERS = 20_000


def _make_corpus(folder: Path) -> dict[str, object]:
    """Two tables and three notes; returns what a sound lake must answer."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    amount = np.round(rng.random(N_ORDERS) * 1000, 2)
    pq.write_table(
        pa.table({"order_id": np.arange(N_ORDERS), "amount": amount}), folder / "orders.parquet"
    )
    (folder / "customers.csv").write_text("cid,name\n" + "".join(f"{i},c{i}\n" for i in range(50)))
    write_topics(folder / "notes", 3)
    return {"orders": round(float(amount.sum()), 2), "customers": 50}


QUERIES = {
    "orders": "SELECT round(sum(amount), 2) AS v FROM orders",
    "customers": "SELECT count(*) AS v FROM customers",
    "chunks": "SELECT count(*) || ':' || sum(length(text)) AS v FROM chunks",
    "documents": "SELECT count(*) || ':' || sum(n_chars) AS v FROM documents",
}


def _answers(lake) -> dict[str, object]:
    return {name: lake.sql(q).to_list()[0]["v"] for name, q in QUERIES.items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A sound lake, built once; tests damage private copies of it."""
    root = tmp_path_factory.mktemp("integrity")
    _make_corpus(root / "corpus")
    lake = docframe.open(root / "lake")
    report = lake.ingest(root / "corpus")
    assert report.ok, report.failures
    return root, _answers(lake)


@pytest.fixture
def copy(base, tmp_path):
    """A private copy of the base lake and its corpus, at the same relative layout."""
    root, answers = base
    # the catalog records absolute source paths: copy the corpus in place, not elsewhere
    shutil.copytree(root / "lake", tmp_path / "lake")
    return docframe.open(tmp_path / "lake", create=False), answers, root / "corpus"


def _segment(lake, relation: str) -> Path:
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    try:
        (path,) = con.execute(
            "SELECT path FROM segments WHERE coalesce(relation, kind) = ?", (relation,)
        ).fetchone()
    finally:
        con.close()
    return lake.root / path


def _flip(path: Path, offset: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


def _one_line(exc: DocframeError) -> str:
    assert "\n" not in exc.message and exc.message, exc.message
    return exc.message


def _snapshots(lake) -> int:
    return lake.sql("SELECT count(*) AS n FROM snapshots").to_list()[0]["n"]


# -- checksums ----------------------------------------------------------------------------
def test_every_segment_records_the_sha256_of_its_bytes(copy):
    lake, _, _ = copy
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    rows = con.execute("SELECT path, bytes, checksum FROM segments").fetchall()
    con.close()
    assert {Path(p).name.split("-")[0] for p, _, _ in rows} == {"chunks", "documents", "table"}
    for path, size, checksum in rows:
        data = (lake.root / path).read_bytes()
        assert len(data) == size
        assert checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert lake.verify().ok and lake.verify().checked == len(rows)


# -- the three kinds of damage -------------------------------------------------------------
def test_a_flipped_byte_is_found_by_verify_the_cheap_check_misses_it(copy):
    lake, answers, _ = copy
    seg = _segment(lake, "orders")
    _flip(seg, seg.stat().st_size // 2)
    # the cheap check (size + PAR1 at both ends) cannot see a flipped bit inside a page:
    # the query runs; whether its answer changed depends on which bit it was
    lake.sql(QUERIES["orders"])
    report = lake.verify()
    assert not report.ok
    (damage,) = report.damaged
    assert damage.path == f"segments/{seg.name}"
    assert "checksum" in damage.reason
    assert damage.relations == ("orders",)
    line = damage.message
    assert "\n" not in line and seg.name in line and "orders" in line and "snapshot 1" in line
    result = CliRunner().invoke(app, ["--lake", str(lake.root), "verify"])
    assert result.exit_code == 1, result.output
    assert seg.name in result.output and "Traceback" not in result.output


def test_a_truncated_segment_fails_its_relation_in_one_line_others_still_answer(copy):
    lake, answers, _ = copy
    seg = _segment(lake, "orders")
    _truncate(seg, seg.stat().st_size // 3)
    with pytest.raises(DamagedSegmentError) as caught:
        lake.sql(QUERIES["orders"])
    line = _one_line(caught.value)
    assert seg.name in line and "orders" in line and "truncated" in line
    assert "snapshot 1" in line and "repair" in caught.value.help
    for name in ("customers", "chunks", "documents"):  # unrelated relations still work
        assert lake.sql(QUERIES[name]).to_list()[0]["v"] == answers[name]
    assert lake.sql("SELECT count(*) AS n FROM tables").to_list()[0]["n"] == 2
    result = CliRunner().invoke(app, ["--lake", str(lake.root), "sql", QUERIES["orders"]])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and seg.name in result.output


def test_a_deleted_chunk_segment_fails_chunks_and_search_not_the_tables(copy):
    lake, answers, _ = copy
    seg = _segment(lake, "chunks")
    seg.unlink()
    with pytest.raises(DamagedSegmentError) as caught:
        lake.sql("SELECT count(*) FROM chunks")
    line = _one_line(caught.value)
    assert seg.name in line and "missing" in line and "chunks" in line
    assert "note-000.txt" in line  # which sources it held
    with pytest.raises(DamagedSegmentError):
        lake.search("granite", k=2)
    assert lake.sql(QUERIES["orders"]).to_list()[0]["v"] == answers["orders"]
    assert lake.sql(QUERIES["documents"]).to_list()[0]["v"] == answers["documents"]
    assert [d.path for d in lake.verify(full=False).damaged] == [f"segments/{seg.name}"]


def test_a_damaged_relation_in_a_search_free_statement_with_joins_names_the_file(copy):
    lake, _, _ = copy
    seg = _segment(lake, "documents")
    _truncate(seg, 10)
    with pytest.raises(DamagedSegmentError) as caught:
        lake.sql("SELECT c.text, d.title FROM chunks c JOIN documents d USING (doc_id)")
    assert seg.name in _one_line(caught.value)


# -- writers refuse, repair restores ---------------------------------------------------------
def test_ingest_and_write_table_refuse_a_damaged_lake(copy, tmp_path):
    lake, _, _ = copy
    _truncate(_segment(lake, "orders"), 100)
    before = _snapshots(lake)
    extra = tmp_path / "extra"
    write_topics(extra, 1)
    with pytest.raises(DamagedSegmentError) as caught:
        lake.ingest(extra)
    assert "orders" in _one_line(caught.value) and "docframe repair" in caught.value.help
    with pytest.raises(DamagedSegmentError):
        lake.write_table("t", pa.table({"x": [1]}), source="job:t", content_hash="1")
    from docframe.pipelines.tablejob import JobSpec, run_job

    with pytest.raises(DamagedSegmentError) as caught:  # reading a damaged input, too
        run_job(lake, JobSpec("big", input="orders", output="big_orders"))
    assert "orders" in _one_line(caught.value)
    with pytest.raises(DamagedSegmentError):  # a sound input is read, the commit refused
        run_job(lake, JobSpec("few", input="customers", output="few"))
    result = CliRunner().invoke(app, ["--lake", str(lake.root), "ingest", str(extra),
                                      "--no-progress"])  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert _snapshots(lake) == before


def test_repair_reingests_from_the_files_and_the_lake_is_sound_again(copy, tmp_path):
    lake, answers, _ = copy
    _truncate(_segment(lake, "orders"), 100)
    chunks = _segment(lake, "chunks")
    chunks.unlink()
    report = lake.repair()
    assert report.ok, report.summary()
    assert sorted(Path(u).name for u in report.reingested) == [
        "note-000.txt", "note-001.txt", "note-002.txt", "orders.parquet"
    ]  # fmt: skip
    assert report.dropped == []
    assert _answers(lake) == answers
    assert lake.search("granite", k=1).to_list()[0]["source_uri"].endswith("note-001.txt")
    verified = lake.verify()
    assert verified.ok and {d.path for d in verified.lost} == {
        f"segments/{chunks.name}",
        f"segments/{_segment_name(lake, 'orders', snapshot=1)}",
    }
    # history that lived only in the lost files says so in one line
    with pytest.raises(DamagedSegmentError) as caught:
        lake.sql("SELECT count(*) FROM chunks", snapshot=1)
    assert "lost" in _one_line(caught.value)
    extra = tmp_path / "extra"
    write_topics(extra, 1)
    assert lake.ingest(extra).ok  # writers are welcome again
    result = CliRunner().invoke(app, ["--lake", str(lake.root), "verify"])
    assert result.exit_code == 0, result.output


def _segment_name(lake, relation: str, snapshot: int) -> str:
    con = sqlite3.connect(lake.root / "catalog.sqlite")
    try:
        (path,) = con.execute(
            "SELECT path FROM segments WHERE relation = ? AND snapshot_id = ?",
            (relation, snapshot),
        ).fetchone()
    finally:
        con.close()
    return Path(path).name


def test_repair_drops_what_cannot_be_reread_only_when_told(base, tmp_path):
    src = tmp_path / "src"
    _make_corpus(src)
    lake = docframe.open(tmp_path / "lake")
    assert lake.ingest(src).ok
    _flip(_segment(lake, "orders"), 200)
    (src / "orders.parquet").unlink()  # the file it came from is gone
    report = lake.repair()
    assert not report.ok and report.reingested == [] and report.dropped == []
    assert [Path(u).name for u in report.missing] == ["orders.parquet"]
    assert "--drop-missing" in report.summary()
    with pytest.raises(DamagedSegmentError):  # a flipped bit: only verify saw it, yet
        lake.write_table("t", pa.table({"x": [1]}), source="job:t", content_hash="1")
    result = CliRunner().invoke(app, ["--lake", str(lake.root), "repair", "--drop-missing"])
    assert result.exit_code == 0, result.output
    assert "dropped" in result.output and "orders.parquet" in result.output
    assert [t["name"] for t in lake.tables().to_list()] == ["customers"]
    last = lake.sql("SELECT job, note FROM snapshots ORDER BY snapshot_id DESC LIMIT 1")
    assert last.to_list()[0]["job"] == "repair"
    assert lake.verify().ok
    assert lake.write_table("t", pa.table({"x": [1]}), source="job:t", content_hash="1") > 0


# -- lakes made before checksums -------------------------------------------------------------
def _make_old(lake_root: Path) -> None:
    """Turn a lake's catalog into one written before checksums and the source log."""
    con = sqlite3.connect(lake_root / "catalog.sqlite")
    con.execute("ALTER TABLE segments DROP COLUMN checksum")
    con.execute("ALTER TABLE segments DROP COLUMN damage")
    con.execute("DROP TABLE source_log")
    con.commit()
    con.close()


def test_an_old_catalog_is_read_as_is_and_upgraded_by_the_next_writer(copy, tmp_path):
    lake, answers, _ = copy
    _make_old(lake.root)
    catalog = lake.root / "catalog.sqlite"
    before = catalog.read_bytes()
    assert _answers(lake) == answers  # readers need no new column
    report = lake.verify()
    assert report.ok and report.unchecksummed == report.checked
    assert catalog.read_bytes() == before  # and write nothing
    _truncate(_segment(lake, "customers"), 50)  # size + footer still guard old segments
    with pytest.raises(DamagedSegmentError):
        lake.sql(QUERIES["customers"])
    assert [d.relations for d in lake.verify().damaged] == [("customers",)]
    assert lake.repair().ok  # a writer: upgrades the catalog in place, then repairs
    con = sqlite3.connect(catalog)
    columns = {r[1] for r in con.execute("PRAGMA table_info(segments)")}
    checksums = con.execute(
        "SELECT count(*), count(checksum) FROM segments WHERE damage IS NULL"
    ).fetchone()
    con.close()
    assert {"checksum", "damage"} <= columns
    assert checksums[0] > checksums[1] > 0  # old segments keep NULL, the new one has one
    assert _answers(lake) == answers


# -- the fault harness ---------------------------------------------------------------------
def _in_catalog_order(lake_dir: Path) -> list[Path]:
    con = sqlite3.connect(lake_dir / "catalog.sqlite")
    try:
        rows = con.execute("SELECT path FROM segments ORDER BY segment_id").fetchall()
        return [lake_dir / path for (path,) in rows]
    finally:
        con.close()


TRIALS = int(os.environ.get("DOCFRAME_FAULT_TRIALS", "48"))  # the README's run: 400


def test_fault_harness_every_outcome_is_right_or_one_line(base, tmp_path):
    """Flip a random bit or cut a random segment of a copy of a real lake, ``TRIALS``
    times; every query must answer correctly or fail with one line (never a traceback),
    and full verify must name the damaged segment, so a wrong answer is never silent to
    ``docframe verify``. The tally is printed (pytest -s) for the README."""
    root, answers = base
    rng = random.Random(13)
    tally: Counter[str] = Counter()
    others: list[str] = []
    for trial in range(TRIALS):
        lake_dir = tmp_path / f"t{trial}"
        shutil.copytree(root / "lake", lake_dir)
        lake = docframe.open(lake_dir, create=False)
        segments = _in_catalog_order(lake_dir)  # file names are random: not their order
        seg = rng.choice(segments)
        size = seg.stat().st_size
        damage = "flip" if trial % 2 == 0 else "truncate"
        if damage == "flip":
            _flip(seg, rng.randrange(size), rng.randrange(8))
        else:
            _truncate(seg, rng.randrange(size))
        for name, query in QUERIES.items():
            try:
                got = lake.sql(query).to_list()[0]["v"]
            except DamagedSegmentError as exc:
                assert seg.name in _one_line(exc)
                tally[f"{damage}: damage error"] += 1
                continue
            except DocframeError as exc:  # a read error DuckDB found: still one line
                others.append(_one_line(exc))
                tally[f"{damage}: other one-line error"] += 1
                continue
            tally[f"{damage}: {'correct' if got == answers[name] else 'wrong'}"] += 1
        (found,) = lake.verify().damaged
        assert found.path == f"segments/{seg.name}"
        tally[f"{damage}: verify found it"] += 1
        shutil.rmtree(lake_dir)
    print(f"\nfault harness, {TRIALS} trials x {len(QUERIES)} queries:")
    print(dict(sorted(tally.items())), *others, sep="\n")
    assert tally["flip: verify found it"] + tally["truncate: verify found it"] == TRIALS
    assert tally["truncate: wrong"] == 0  # the cheap check sees every cut
