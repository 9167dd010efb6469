"""The benchmarks run from a fresh clone: they start, and their cache folder is made.

A fresh clone has no ``benchmarks/.cache/`` (git ignores it); ``hybrid_query.py`` once
died there with ``FileNotFoundError: benchmarks/.cache/scifact-300.jsonl``. These
checks are cheap: ``--help`` of every script, the one cache helper, and one real
cached lake built from three SciFact documents into an empty folder.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO, SHARED_CORPUS

BENCHMARKS = REPO / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if p.name != "common.py")
SCIFACT = SHARED_CORPUS / "retrieval" / "scifact"


@pytest.fixture
def bench(monkeypatch, tmp_path):
    """Imports a benchmark script as ``python benchmarks/x.py`` would (its folder on
    ``sys.path``), with the shared cache pointed at a folder that does not exist yet."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    import common

    cache = tmp_path / "clone" / "benchmarks" / ".cache"
    monkeypatch.setattr(common, "CACHE", cache)

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    load.cache = cache
    yield load
    for name in set(sys.modules) - before:  # the scripts' own modules leave with them
        if str(getattr(sys.modules[name], "__file__", "")).startswith(str(BENCHMARKS)):
            del sys.modules[name]


def test_every_benchmark_script_starts_and_answers_help():
    assert len(SCRIPTS) >= 10
    for script in SCRIPTS:
        out = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        assert out.returncode == 0, f"{script.name} --help: {out.stderr[-2000:]}"
        assert out.stdout.startswith(f"usage: {script.name}"), out.stdout[:200]


def test_no_benchmark_builds_a_cache_path_of_its_own():
    """Every path into ``benchmarks/.cache`` comes from ``common``, which makes the folder."""
    offenders = []
    for script in SCRIPTS:
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Constant) and node.value == ".cache":
                offenders.append(f"{script.name}:{node.lineno}")
    assert not offenders, f"use common.cache_path / cached_lake instead: {offenders}"


def test_cache_path_makes_the_folder_of_a_fresh_clone(bench):
    import common

    assert not bench.cache.exists()
    path = common.cache_path("scifact-3.jsonl")
    assert path == bench.cache / "scifact-3.jsonl" and bench.cache.is_dir()
    path.write_text("{}\n")  # what hybrid_query.py could not do in a fresh clone


def test_a_cached_lake_that_did_not_finish_is_refused_not_measured(bench):
    import common

    calls = []
    root, seconds = common.cached_lake("lake", lambda root: calls.append(root.mkdir()))
    assert calls and seconds is not None and (root / common.DONE).exists()
    assert common.cached_lake("lake", lambda root: calls.append(root)) == (root, None)
    assert len(calls) == 1  # built once
    (bench.cache / "half").mkdir()  # an ingest killed half-way leaves its folder
    with pytest.raises(SystemExit, match="did not finish"):
        common.cached_lake("half", lambda root: calls.append(root))
    assert len(calls) == 1


@pytest.mark.skipif(
    not (SCIFACT / "corpus.jsonl.gz").exists(), reason=f"SciFact not found under {SCIFACT}"
)
def test_hybrid_query_builds_its_lake_in_a_fresh_clone(bench):
    import docframe

    hybrid_query = bench("hybrid_query")
    root = hybrid_query.build_lake(3)
    assert root == bench.cache / "hybrid-lake-3"
    lake = docframe.open(root, create=False)
    keys = lake.sql("SELECT DISTINCT doc_key FROM chunks ORDER BY 1").to_list()
    assert len(keys) == 3
    assert hybrid_query.build_lake(3) == root  # cached: not ingested again
