"""docframe index build / check / tune on a real lake."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import docframe
from docframe.cli import app
from docframe.errors import QueryError
from docframe.index import maintenance, store
from tests.index.test_store import beir_docs


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("maint")
    beir_docs(root / "docs.jsonl", 300, seed=11)
    lake = docframe.open(root / "lake")
    lake.ingest([root / "docs.jsonl"])
    return lake


def test_flat_is_exact_and_has_nothing_to_tune(lake):
    record = maintenance.check(lake, k=10, n_queries=20)
    assert record["kind"] == "faiss-flat" and record["recall"] == 1.0
    assert maintenance.tune(lake)["exact"] is True


def test_build_check_and_tune_an_hnsw_index(lake):
    built = maintenance.build(lake, kind="faiss-hnsw")
    assert built["kind"] == "faiss-hnsw" and built["params"]["M"] > 0
    assert "bm25" in built["keyword"]
    record = maintenance.check(lake, k=10, n_queries=30)
    assert record["kind"] == "faiss-hnsw" and 0.0 < record["recall"] <= 1.0
    tuned = maintenance.tune(lake, target=0.9, k=10, n_queries=30)
    chosen = tuned["chosen"]
    assert chosen["recall"] >= 0.9
    assert [row["ef_search"] for row in tuned["sweep"]][-1] == chosen["ef_search"]
    saved = json.loads((store.family_dir(lake.root, "faiss") / store.TUNING_FILE).read_text())
    assert saved["faiss-hnsw"]["params"] == {"ef_search": chosen["ef_search"]}
    # a fresh process-level load applies the tuned value
    store._BASES.clear()
    store._VIEWS.clear()
    view = store.ensure_index(lake, lake.snapshot())
    assert view.base.index.params["ef_search"] == chosen["ef_search"]


def test_unknown_kind_and_bad_target_are_clear_errors(lake):
    with pytest.raises(QueryError, match="cuvs-cagra"):
        maintenance.build(lake, kind="cuvs-cagra")  # a GPU kind on the faiss family
    with pytest.raises(QueryError, match="target-recall"):
        maintenance.tune(lake, target=1.5)


def test_cli_index_commands(lake, tmp_path):
    runner = CliRunner()
    base = ["--lake", str(lake.root), "index"]
    out = runner.invoke(app, [*base, "build", "--kind", "faiss-flat", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["kind"] == "faiss-flat"
    questions = tmp_path / "q.txt"
    questions.write_text("lava and eruptions\nviolins in an orchestra\n")
    out = runner.invoke(app, [*base, "check", "--queries", str(questions), "--format", "json"])
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout)
    assert record["queries"] == 2 and record["recall"] == 1.0
    out = runner.invoke(app, [*base, "build", "--kind", "annoy"])
    assert out.exit_code == 2 and "annoy" in out.stderr
