"""The per-stage report: what each stage counted matches what the lake holds afterwards,
and the bounding stage is the one whose lanes were busy longest."""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

import docframe
from docframe.pipelines.stages import STAGE_UNITS, StageClock, StageStats, bounding, stage_table
from tests.conftest import write_topics


def test_bounding_divides_busy_time_by_lanes():
    stages = {
        "extract": StageStats("files", items=10, busy_s=6.0, lanes=4),  # 1.5 s of wall
        "embed": StageStats("chunks", items=100, busy_s=2.0),  # 2.0 s: the bound
        "commit": StageStats("commits", items=1, busy_s=0.0),
    }
    assert bounding(stages) == "embed"
    assert stages["extract"].items_per_s == 10 * 4 / 6.0
    assert stages["commit"].items_per_s is None  # never busy: no rate
    stages["extract"].lanes = 2  # now 3.0 s of wall
    assert bounding(stages) == "extract"
    lines = stage_table(stages)
    assert [line.split()[0] for line in lines] == ["extract", "embed", "commit"]
    assert "bounded the run" in lines[0] and "x2" in lines[0]
    assert bounding({}) is None


def test_a_clock_pickles_and_merges_keeping_its_own_lanes():
    worker = StageClock()
    with worker.busy("embed", items=7):
        pass
    worker.add("chunk", items=3, busy=0.5, wait=0.25)
    back = pickle.loads(pickle.dumps(worker))  # a Dask worker's clock comes back pickled
    driver = StageClock({"extract": 2, "embed": 2})
    driver.merge(back)
    driver.merge(back)
    assert driver.stages["embed"].items == 14 and driver.stages["embed"].lanes == 2
    assert driver.stages["chunk"].busy_s == 1.0 and driver.stages["chunk"].wait_s == 0.5
    assert set(driver.stages) == set(STAGE_UNITS)


def test_the_report_counts_what_the_lake_holds(tmp_path: Path):
    corpus = tmp_path / "notes"
    write_topics(corpus, 6)
    (corpus / "rates.csv").write_text("id,rate\n1,0.5\n2,0.25\n")
    lake = docframe.open(tmp_path / "lake", commit_chunks=2)  # several commits
    report = lake.ingest(corpus)
    stages = report.stages
    assert stages["discover"].items == 7
    assert stages["extract"].items == 7  # six notes and the CSV, each read once
    assert stages["chunk"].items == report.n_chunks == stages["embed"].items
    con = sqlite3.connect(tmp_path / "lake" / "catalog.sqlite")
    snapshots = con.execute("SELECT count(*) FROM snapshots WHERE snapshot_id > 0").fetchone()[0]
    kinds = dict(con.execute("SELECT kind, count(*) FROM segments GROUP BY kind").fetchall())
    con.close()
    assert stages["commit"].items == snapshots > 1
    assert stages["write"].items == kinds["chunks"] + kinds["documents"]  # tables stream
    assert stages["extract"].lanes == report.stages["extract"].lanes >= 1
    assert report.bound in STAGE_UNITS
    assert report.workers == {}  # one process: no per-worker table

    data = json.loads(json.dumps(report.to_dict()))  # what --report writes
    assert data["bound"] == report.bound
    assert data["stages"]["embed"]["items"] == report.n_chunks
    assert data["counts"]["ingested"] == 7 and len(data["outcomes"]) == 7

    again = lake.ingest(corpus)  # nothing to read: nothing counted past discovery
    assert again.stages["discover"].items == 7
    assert all(again.stages[s].items == 0 for s in ("extract", "chunk", "embed", "commit"))


def test_cli_report_file_is_written_whole(tmp_path: Path):
    from typer.testing import CliRunner

    from docframe.cli.app import app

    write_topics(tmp_path / "notes", 3)
    out = tmp_path / "run.json"
    result = CliRunner().invoke(
        app,
        ["--lake", str(tmp_path / "lake"), "ingest", str(tmp_path / "notes"), "--report",
         str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["counts"]["ingested"] == 3 and data["stages"]["chunk"]["items"] > 0
    assert "bounded the run" in result.stderr
    blocked = CliRunner().invoke(
        app,
        ["--lake", str(tmp_path / "lake"), "ingest", str(tmp_path / "notes"), "--report",
         str(tmp_path / "no" / "such" / "dir" / "r.json")],
    )  # fmt: skip
    assert blocked.exit_code != 0 and "--report" in blocked.stderr
