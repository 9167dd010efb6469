"""A read-only lake is fully readable, and every writer is refused in one line.

Root ignores file modes, so ``chmod -R a-w`` alone proves nothing when the suite
runs as root (as CI does). The read-only file system here is a real bind mount
remounted read-only (root only; skipped with the reason otherwise), and the
permission case runs the CLI as user ``nobody`` on a ``chmod``'ed copy (or as
the current user, when that is not root).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

import docframe
from docframe.errors import LakeError, LakeReadOnlyError
from tests.conftest import SAMPLE, write_topics

CLI = [sys.executable, "-m", "docframe.cli"]
QUESTION = "how do scientists know a volcano is about to erupt"
WAL_MODE = b"\x02\x02"  # bytes 18-19 of a SQLite file in WAL mode


def _copy_lake(src: Path, dest: Path, *, indexes: bool = False) -> Path:
    """A copy of ``src``, cleanly closed (every commit in the main file, no -wal or -shm);
    without its ``indexes/`` unless asked, so readers must build (and cache) their own."""
    con = sqlite3.connect(src / "catalog.sqlite")
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    skip = ["*-wal", "*-shm", ".lock"] + ([] if indexes else ["indexes"])
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*skip))
    assert (dest / "catalog.sqlite").read_bytes()[18:20] == WAL_MODE
    return dest


@contextmanager
def _read_only_mount(src: Path, at: Path) -> Iterator[Path]:
    """``src`` bind-mounted at ``at`` and remounted read-only: EROFS even for root."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (test_another_users_lake covers non-root)")
    at.mkdir(exist_ok=True)
    bound = subprocess.run(["mount", "--bind", str(src), str(at)], capture_output=True, text=True)
    if bound.returncode:
        pytest.skip(f"cannot bind-mount here ({bound.stderr.strip()}); needs CAP_SYS_ADMIN")
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(at)], capture_output=True, text=True
        )
        if ro.returncode:
            pytest.skip(f"cannot remount read-only here ({ro.stderr.strip()})")
        with pytest.raises(OSError, match="Read-only file system"):
            (at / "probe").write_text("root cannot write here")
        yield at
    finally:  # lazy: this process may still map an index file from the mount
        subprocess.run(["umount", "--lazy", str(at)], check=True)


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def _cached(cache: Path) -> dict[str, int]:
    """Index manifests in the per-user cache: path -> mtime."""
    folder = cache / "docframe" / "indexes"
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("manifest.json")}


def test_a_cleanly_closed_lake_is_read_and_searched_on_a_read_only_mount(
    sample_lake, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    src = _copy_lake(sample_lake.root, tmp_path / "src")
    assert not (src / "catalog.sqlite-wal").exists() and not (src / "indexes").exists()
    csv_rows = len((SAMPLE / "shipments.csv").read_text().splitlines()) - 1
    with _read_only_mount(src, tmp_path / "ro") as ro:
        before = _listing(ro)
        lake = docframe.open(ro, create=False)
        assert lake.read_only
        assert lake.snapshot().snapshot_id == sample_lake.snapshot().snapshot_id
        n = lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
        assert n == sample_lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"] > 0
        assert "shipments" in set(lake.tables().to_pandas().name)
        assert len(lake.table("shipments").to_pandas()) == csv_rows
        for mode in ("dense", "keyword", "hybrid"):
            top = lake.search(QUESTION, k=3, mode=mode).to_list()[0]
            assert top["source_uri"].endswith("volcanoes.html"), (mode, top)
        assert _listing(ro) == before  # nothing was written into the lake
        sid = lake.snapshot().snapshot_id
        cached = _cached(cache)
        assert sorted(Path(p).parent.parent.name for p in cached) == ["dense-faiss", "keyword"]
        assert all(Path(p).parent.name == str(sid) for p in cached)

        # a new process finds the cached indexes: nothing is built again, nothing written
        run = subprocess.run(CLI + ["--lake", str(ro), "search", QUESTION, "-k", "1"],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "volcanoes.html" in run.stdout and run.stderr == ""
        assert _cached(cache) == cached
        assert _listing(ro) == before


def test_the_agent_tools_serve_a_read_only_mount(sample_lake, tmp_path, monkeypatch):
    """The MCP tools (sandboxed SQL, search with filters, context) on a read-only file
    system: everything answers, and nothing is written into the lake."""
    from docframe.mcp.tools import LakeTools

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = _copy_lake(sample_lake.root, tmp_path / "src")
    with _read_only_mount(src, tmp_path / "ro") as ro:
        before = _listing(ro)
        tools = LakeTools(docframe.open(ro, create=False))
        try:
            listed = {r["name"]: r["rows"] for r in tools.call("list_tables", {})["relations"]}
            assert (
                listed["shipments"] == len((SAMPLE / "shipments.csv").read_text().splitlines()) - 1
            )
            query = (
                "SELECT c.source_uri FROM hybrid_search('volcano eruption warning', k => 3) s "
                "JOIN chunks c USING (chunk_id) ORDER BY s.rank"
            )
            rows = tools.call("sql", {"query": query})["rows"]
            assert rows[0]["source_uri"].endswith("volcanoes.html")
            hits = tools.call("search", {"text": QUESTION, "filters": {"modality": "text"}})
            top = hits["hits"][0]
            assert top["source_uri"].endswith("volcanoes.html")
            assert tools.call("get_context", {"chunk_id": top["chunk_id"]})["citation"]
        finally:
            tools.close()
        assert _listing(ro) == before


def test_commits_still_in_the_wal_are_read_on_a_read_only_mount(sample_lake, tmp_path):
    src = _copy_lake(sample_lake.root, tmp_path / "src", indexes=True)
    extra = tmp_path / "extra.csv"
    extra.write_text("id,name\n1,ant\n2,bee\n3,cow\n")
    env = dict(os.environ, DOCFRAME_FAILPOINT="after-commit:1")  # killed before any checkpoint
    run = subprocess.run(CLI + ["--lake", str(src), "ingest", str(extra), "--no-progress"],
                         env=env, capture_output=True, timeout=300)  # fmt: skip
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert (src / "catalog.sqlite-wal").stat().st_size > 0  # the commit lives only in the log
    latest = sample_lake.snapshot().snapshot_id + 1
    chunks = sample_lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]

    with _read_only_mount(src, tmp_path / "ro") as ro:
        lake = docframe.open(ro, create=False)
        assert lake.snapshot().snapshot_id == latest  # immutable=1 would show latest - 1
        assert lake.table("extra").to_pandas().name.tolist() == ["ant", "bee", "cow"]
        assert lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"] == chunks
        assert lake.search("volcano", k=1).to_list()[0]["source_uri"].endswith("volcanoes.html")

    # without the -shm index SQLite cannot share the log read-only: refused, never stale
    (src / "catalog.sqlite-shm").unlink()
    with _read_only_mount(src, tmp_path / "ro2") as ro:
        with pytest.raises(LakeError, match=r"catalog\.sqlite-wal holds commits") as refused:
            docframe.open(ro, create=False)
        assert "writable" in refused.value.help


def test_writers_are_refused_in_one_line_on_a_read_only_mount(sample_lake, tmp_path):
    from docframe.index import maintenance

    src = _copy_lake(sample_lake.root, tmp_path / "src", indexes=True)
    new = tmp_path / "new.txt"
    new.write_text("A note about zeppelins and their hangars.\n")
    with _read_only_mount(src, tmp_path / "ro") as ro:
        lake = docframe.open(ro, create=False)
        writers = {
            "ingest": lambda: lake.ingest(new),
            "gc": lake.gc,
            "table job": lambda: lake.write_table(
                "t", pa.table({"a": [1]}), source="job:t", content_hash="h"
            ),
            "index build": lambda: maintenance.build(lake),
            "index tune": lambda: maintenance.tune(lake),
        }
        for name, write in writers.items():
            with pytest.raises(LakeReadOnlyError, match="read-only file system") as refused:
                write()
            assert refused.value.message.startswith(f"lake {ro} is read-only"), name
            assert "readers" in refused.value.help
        with pytest.raises(LakeError, match=f"cannot create lake {ro / 'new'}"):
            docframe.open(ro / "new")

        for args in (["ingest", str(new), "--no-progress"], ["gc"], ["index", "build"]):
            run = subprocess.run(CLI + ["--lake", str(ro), *args],
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
            lines = run.stderr.strip().splitlines()
            assert run.returncode == 2 and len(lines) == 2, (args, run.stderr)
            assert lines[0].startswith(f"error: lake {ro} is read-only"), args
            assert lines[1].startswith("help: readers (sql, search, tables) still work")
        assert lake.sql("SELECT count(*) AS n FROM sources").to_list()[0]["n"] == 6


def _as_other_user() -> list[str]:
    """The command prefix that runs a process as someone who may not write the copy."""
    if os.geteuid() != 0:
        return []  # chmod a-w binds the current user already
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop to user nobody")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no user nobody to drop to")
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]


def test_another_users_lake_is_read_and_refuses_writes(sample_lake):
    prefix = _as_other_user()
    base = Path(tempfile.mkdtemp(prefix="docframe-ro-"))  # pytest's tmp is private to root
    try:
        base.chmod(0o755)
        src = _copy_lake(sample_lake.root, base / "lake")
        cache = base / "home"
        cache.mkdir()
        if prefix:
            nobody = pwd.getpwnam("nobody")
            os.chown(cache, nobody.pw_uid, nobody.pw_gid)
        subprocess.run(["chmod", "-R", "a-w", str(src)], check=True)
        env = dict(os.environ, HOME=str(cache), XDG_CACHE_HOME=str(cache / ".cache"))

        def cli(*args: str) -> subprocess.CompletedProcess:
            command = prefix + CLI + ["--lake", str(src), *args]
            return subprocess.run(
                command, env=env, cwd=base, capture_output=True, text=True, timeout=300
            )

        touch = subprocess.run(prefix + ["touch", str(src / "probe")], capture_output=True)
        assert touch.returncode != 0, "the copy should not be writable for this user"
        chunks = sample_lake.sql("SELECT count(*) AS n FROM chunks").to_list()[0]["n"]
        run = cli("sql", "SELECT count(*) AS n FROM chunks", "--format", "json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == [{"n": chunks}]
        run = cli("tables")
        assert run.returncode == 0 and "shipments" in run.stdout, run.stderr
        run = cli("search", QUESTION, "-k", "1")
        assert run.returncode == 0 and "volcanoes.html" in run.stdout, run.stderr
        assert list(
            (cache / ".cache" / "docframe" / "indexes").glob("*/dense-faiss/*/manifest.json")
        )
        run = cli("ingest", str(SAMPLE / "beekeeping.txt"), "--no-progress")
        assert run.returncode == 2 and "Traceback" not in run.stderr
        assert run.stderr.startswith(
            f"error: lake {src} is read-only (no write permission for this user)"
        ), run.stderr
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)


_KEYWORD_PROBE = """
import json, sys
import docframe
lake = docframe.open(sys.argv[1], create=False)
ids = set(lake.sql("SELECT chunk_id FROM chunks").to_pandas().chunk_id)
hits = {w: [h["chunk_id"] for h in lake.search(w, k=3, mode="keyword").to_list()]
        for w in sys.argv[2:]}
print(json.dumps({"hits": hits, "foreign": sorted({c for h in hits.values() for c in h} - ids)}))
"""


def _keyword_hits(lake_path: Path, cache: Path, *words: str) -> dict[str, list[str]]:
    """Keyword hits in a fresh process (nothing cached in memory); no hit from another lake."""
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    run = subprocess.run([sys.executable, "-c", _KEYWORD_PROBE, str(lake_path), *words],
                         env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["foreign"] == [], "a cached index of another lake answered"
    return out["hits"]


def test_the_index_cache_never_mixes_two_lakes_or_two_histories(sample_lake, tmp_path):
    cache = tmp_path / "cache"
    mount_point = tmp_path / "ro"  # every lake below is read at this same path
    topics = docframe.open(tmp_path / "topics")
    assert topics.ingest(write_topics(tmp_path / "notes", 8)).ok
    assert topics.snapshot().snapshot_id == sample_lake.snapshot().snapshot_id == 1
    src_a = _copy_lake(sample_lake.root, tmp_path / "a")
    src_b = _copy_lake(topics.root, tmp_path / "b")

    with _read_only_mount(src_a, mount_point) as ro:
        assert _keyword_hits(ro, cache, "volcano")["volcano"]
    with _read_only_mount(src_b, mount_point) as ro:
        assert _keyword_hits(ro, cache, "glacier")["glacier"]
    assert len(list((cache / "docframe" / "indexes").iterdir())) == 2  # one folder per lake

    # two copies of lake a whose snapshot 2 differs: the cached index of one never serves
    # the other, though both have the same path and the same snapshot 0
    for word, other in (("zeppelin", "quokka"), ("quokka", "zeppelin")):
        src = _copy_lake(sample_lake.root, tmp_path / f"a-{word}")
        (tmp_path / f"{word}.txt").write_text(f"A short note on the {word} and its habits.\n")
        assert docframe.open(src).ingest(tmp_path / f"{word}.txt").ok
        with _read_only_mount(src, mount_point) as ro:
            hits = _keyword_hits(ro, cache, word, other)
        assert len(hits[word]) == 1 and hits[other] == []
    assert len(list((cache / "docframe" / "indexes").iterdir())) == 2
