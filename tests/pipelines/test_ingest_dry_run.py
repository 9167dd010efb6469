"""The ingest dry run and ingest jobs on a real lake: the plan names every input with
what the run would do and why, writes nothing (catalog bytes, files and snapshot
unchanged; not even a new lake), and agrees with the run that follows; a job re-run
over unchanged inputs commits nothing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import docframe
from docframe.connectors.unsupported import reader_hint
from docframe.errors import DocframeError
from docframe.lake import catalog
from docframe.pipelines.ingest_spec import load_ingest_spec


def lake_state(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file of the lake (SQLite's -wal/-shm aside): size, mtime and content hash."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns,
                                   hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }  # fmt: skip


def latest(root: Path) -> int:
    con = catalog.connect(root / catalog.CATALOG_FILE, readonly=True)
    try:
        return catalog.latest_snapshot(con)
    finally:
        con.close()


def plan_of(dry) -> dict[str, tuple[str, str]]:
    return {Path(e.input).name: (e.action, e.reason) for e in dry.entries}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "keep.txt").write_text("Granite is an igneous rock that cools slowly underground.\n")
    (root / "edit.md").write_text("# Basalt\n\nBasalt cools quickly from lava at the surface.\n")
    (root / "sub" / "gone.txt").write_text("Obsidian is volcanic glass with sharp edges.\n")
    (root / "scratch.tmp").write_text("temporary notes")
    (root / "blob.bin").write_bytes(b"\x00\x01\x02")
    return root


def test_dry_run_lists_every_action_with_its_reason_and_writes_nothing(docs, tmp_path):
    lake = docframe.open(tmp_path / "lake")
    first = lake.ingest(docs, exclude=["*.tmp"])
    assert first.ok and first.count("ingested") == 3
    (docs / "edit.md").write_text("# Basalt\n\nBasalt columns form as lava cools and cracks.\n")
    (docs / "new.txt").write_text("Pumice floats on water because of its trapped gas.\n")
    (docs / "sub" / "gone.txt").unlink()
    os.symlink(docs / "keep.txt", docs / "alias.txt")
    before, snapshot = lake_state(lake.root), latest(lake.root)

    fresh = docframe.open(lake.root)  # as `docframe ingest --dry-run` opens it
    dry = fresh.ingest([docs, tmp_path / "missing"], exclude=["*.tmp"], prune=True, dry_run=True)

    assert plan_of(dry) == {
        "new.txt": ("ingest", "new"),
        "edit.md": ("ingest", "changed"),
        "keep.txt": ("skip", "unchanged"),
        "blob.bin": ("skip", f"unsupported: {reader_hint(Path('blob.bin'))}"),
        "scratch.tmp": ("skip", "excluded by pattern '*.tmp'"),
        "alias.txt": ("skip", "a symbolic link, not followed (pass --follow-symlinks to read it)"),
        "missing": ("fail", "no such file or directory; check the path"),
        "gone.txt": ("prune", "no longer exists"),
    }
    assert dry.summary() == (
        "dry run: 2 to ingest (1 new, 1 to update), 4 to skip, 1 failing, 1 to prune; "
        "nothing written"
    )
    lines = dry.lines()  # grouped by action, in the order ingest, skip, fail, prune
    assert [line.split()[0] for line in lines] == ["ingest"] * 2 + ["skip"] * 4 + ["fail", "prune"]
    assert lines[0] == f"ingest {docs / 'edit.md'}: changed"
    assert lake_state(lake.root) == before and latest(lake.root) == snapshot  # .lock too
    assert "embedder" not in fresh.__dict__  # the model was not even loaded

    # the run does what the dry run said
    report = lake.ingest([docs, tmp_path / "missing"], exclude=["*.tmp"], prune=True)
    done = {Path(o.input).name: o.status for o in report.outcomes}
    assert {n for n, s in done.items() if s == "ingested"} == {"new.txt", "edit.md"}
    assert {n for n, s in done.items() if s == "pruned"} == {"gone.txt"}
    assert {n for n, s in done.items() if s == "failed"} == {"missing"}


def test_a_dry_run_of_a_new_lake_creates_nothing(docs, tmp_path):
    root = tmp_path / "new-lake"
    lake = docframe.open(root, dry_run=True)
    dry = lake.ingest(docs, include=["*.txt", "*.md"], prune=True, dry_run=True)
    assert not root.exists() and not dry.lake_exists
    assert dry.lines()[0] == f"a new lake would be created at {root}"
    assert {e.reason for e in dry.of("ingest")} == {"new"} and len(dry.of("ingest")) == 3
    assert dry.of("prune") == []  # nothing to prune from a lake that is not there
    assert not root.exists()


def test_excluded_files_are_kept_by_prune_until_they_are_gone(docs, tmp_path):
    lake = docframe.open(tmp_path / "lake")
    assert lake.ingest(docs).count("ingested") == 3
    report = lake.ingest(docs, exclude=["sub"], prune=True)  # sub/gone.txt left out, not gone
    assert report.count("pruned") == 0
    assert any(s.endswith("gone.txt") for s in lake.sources().to_pandas()["source_uri"])
    (docs / "sub" / "gone.txt").unlink()
    dry = lake.ingest(docs, exclude=["sub"], prune=True, dry_run=True)
    assert [Path(e.input).name for e in dry.of("prune")] == ["gone.txt"]
    assert lake.ingest(docs, exclude=["sub"], prune=True).count("pruned") == 1


def test_a_table_read_with_other_options_is_planned_again(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rates.csv").write_text("id,rate\n1,0.5\n2,0.75\n")
    lake = docframe.open(tmp_path / "lake")
    assert lake.ingest(tmp_path / "data").ok
    same = lake.ingest(tmp_path / "data", dry_run=True)
    assert plan_of(same) == {"rates.csv": ("skip", "unchanged")}
    other = lake.ingest(tmp_path / "data", schema={"rate": "float32"}, dry_run=True)
    assert plan_of(other)["rates.csv"] == (
        "ingest",
        "changed read options (--schema, --delimiter, ...)",
    )


def test_an_unchanged_ingest_job_commits_nothing(docs, tmp_path):
    job = tmp_path / "nightly.toml"
    job.write_text(
        '[ingest]\nsources = ["docs"]\nexclude = ["*.tmp", "*.bin"]\nprune = true\n'
        "[ingest.chunking]\ntokens = 64\noverlap = 8\n[ingest.commit]\nchunks = 2\n"
    )
    spec = load_ingest_spec(job)
    lake = docframe.open(tmp_path / "lake", **spec.settings)
    assert lake.settings.chunk_tokens == 64 and lake.settings.commit_chunks == 2
    first = lake.ingest(**spec.arguments())
    assert first.ok and first.count("ingested") == 3
    snapshot, state = latest(lake.root), lake_state(lake.root)

    again = docframe.open(tmp_path / "lake", **spec.settings).ingest(**spec.arguments())
    assert [o.status for o in again.outcomes] == ["unchanged"] * 3
    assert latest(lake.root) == snapshot == again.snapshot_id
    del state[".lock"]  # a run takes the writer's lock (its pid, rewritten); a dry run does not
    assert {k: v for k, v in lake_state(lake.root).items() if k != ".lock"} == state
    dry = lake.ingest(**spec.arguments(), dry_run=True)
    assert dry.summary() == "dry run: 5 to skip; nothing written"  # 3 unchanged, 2 excluded


def test_a_dry_run_on_dask_plans_without_reaching_a_cluster(docs, tmp_path):
    lake = docframe.open(tmp_path / "lake")  # nothing listens at that address
    assert lake.ingest(docs, scheduler="tcp://127.0.0.1:9", dry_run=True).of("ingest")
    with pytest.raises(DocframeError, match="both given"):
        lake.ingest(docs, workers=2, scheduler="tcp://127.0.0.1:9")
