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


def test_a_full_tune_measures_every_setting_and_chooses_the_same(lake):
    maintenance.build(lake, kind="faiss-hnsw")
    stopped = maintenance.tune(lake, target=0.9, k=10, n_queries=30)
    full = maintenance.tune(lake, target=0.9, k=10, n_queries=30, full=True)
    values = [row["ef_search"] for row in full["sweep"]]
    assert values == list(maintenance.SWEEPS["faiss-hnsw"][1])  # the whole curve
    assert full["chosen"] == {**stopped["chosen"], **{m: full["chosen"][m] for m in TIMES}}
    assert full["sweep"][: len(stopped["sweep"])] == [
        {**row, **{m: full_row[m] for m in TIMES}}
        for row, full_row in zip(stopped["sweep"], full["sweep"], strict=False)
    ]
    assert full["sweep"][-1]["recall"] >= full["chosen"]["recall"]
    # later loads search with the chosen setting, not the last one measured
    view = store.ensure_index(lake, lake.snapshot())
    assert view.base.index.params["ef_search"] == full["chosen"]["ef_search"] < values[-1]
    args = ["--lake", str(lake.root), "index", "tune", "--target-recall", "0.9", "--n", "30"]
    out = CliRunner().invoke(app, [*args, "--full", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [row["ef_search"] for row in json.loads(out.stdout)["sweep"]] == values


TIMES = ("p50_ms", "p95_ms")  # measured anew on each run


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
