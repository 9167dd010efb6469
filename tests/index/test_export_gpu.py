"""``docframe index export --to hnswlib`` end to end: CAGRA built on the GPU, served by
a CPU-engine reader of the same lake. GPU runners only (``pytest -m gpu``); the CPU half
is checked everywhere in ``test_export.py``."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from docframe.backend import gpu_device_visible

pytestmark = pytest.mark.gpu
pytest.importorskip("cuvs")
pytest.importorskip("hnswlib")
if not gpu_device_visible()[0]:
    pytest.skip(f"cuVS installed but no GPU: {gpu_device_visible()[1]}", allow_module_level=True)

import docframe  # noqa: E402
from docframe.cli import app  # noqa: E402
from docframe.index import store  # noqa: E402
from docframe.index.cuvs_cagra import GRAPH_MIN_ROWS  # noqa: E402
from tests.index.conftest import SCIFACT, scifact_queries  # noqa: E402
from tests.index.test_store import truth  # noqa: E402


def test_cagra_export_is_served_by_a_cpu_reader(tmp_path):
    if not (SCIFACT / "corpus.jsonl.gz").exists():
        pytest.skip(f"SciFact not found at {SCIFACT}")
    subset = tmp_path / "scifact.jsonl"
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt") as fh, subset.open("w") as out:
        out.writelines(line for _, line in zip(range(1000), fh, strict=False))
    gpu = docframe.open(tmp_path / "lake", engine="gpu")
    assert gpu.ingest(subset).ok
    assert gpu.index_build(kind="cuvs-cagra")["kind"] == "cuvs-cagra"
    assert store.ensure_index(gpu.store, gpu.snapshot()).n_base >= GRAPH_MIN_ROWS  # a graph
    out = CliRunner().invoke(
        app, ["--lake", str(gpu.root), "--engine", "gpu", "index", "export", "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout)
    assert record["kind"] == "hnswlib" and record["from"].startswith("indexes/dense-cuvs/")

    store._BASES.clear()
    store._VIEWS.clear()
    cpu = docframe.open(gpu.root, engine="cpu")
    view = store.ensure_index(cpu.store, cpu.snapshot())
    assert view.kind == "hnswlib" and "exported from cuvs-cagra" in view.describe()
    found = expected = 0
    for text in scifact_queries(40):
        want = set(truth(cpu, text, 10))
        found += len(want & {h["chunk_id"] for h in cpu.search(text, k=10).to_list()})
        expected += len(want)
    assert found / expected >= 0.9, f"recall@10 {found}/{expected}"
