"""The facade's choice of embedders: what makes a lake's new vectors (the lake's own
embedder unless a backend is asked for by name), what encodes a question (the ONNX form
of the lake's embedder: no torch in a query process), and ``Lake.reembed`` /
``docframe reembed``. Real lakes, the packaged model on torch and ONNX Runtime."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import docframe
from docframe.cli import app
from docframe.errors import ModelMismatchError
from docframe.pipelines.embedding import DEFAULT_MODEL, Embedder
from tests.conftest import INT8, REPO, TORCH, write_topics

FP32 = f"{DEFAULT_MODEL}@onnx-fp32"


@pytest.fixture(scope="module")
def torch_lake(tmp_path_factory):
    """A lake whose vectors torch fp32 made (as every lake from before issue 16)."""
    root = tmp_path_factory.mktemp("api")
    files = write_topics(root / "docs", 6)
    lake = docframe.open(root / "lake", create=True, embed_backend="torch")
    assert lake.ingest(files[:4]).ok
    return root, files


def test_a_new_lake_embeds_with_auto_s_choice_int8_on_the_cpu(tmp_path):
    files = write_topics(tmp_path / "docs", 2)
    lake = docframe.open(tmp_path / "lake", create=True)
    assert lake.embedder.identity == INT8
    assert lake.ingest(files).ok
    assert lake.snapshot().embedder == INT8
    assert lake.query_encoder().identity == FP32  # full-precision questions, no torch


def test_auto_follows_the_embedder_the_lake_holds(torch_lake, monkeypatch):
    root, files = torch_lake
    monkeypatch.delenv("DOCFRAME_EMBED_BACKEND", raising=False)
    lake = docframe.open(root / "lake")
    assert lake.embedder.identity == TORCH  # not auto's int8: the lake keeps one embedder
    # the question is encoded by ONNX fp32, the torch-free form of the same vectors
    encoder = lake.query_encoder()
    assert encoder.identity == FP32
    question = "which note is about the river"
    torch_vector = Embedder(DEFAULT_MODEL, "cpu", backend="torch").encode([question])[0]
    assert float(encoder.encode([question])[0] @ torch_vector) > 0.999
    hits = lake.search(question, k=3).to_list()
    assert hits and hits == lake.search(question, k=3).to_list()


def test_a_backend_asked_for_by_name_is_refused_by_a_lake_of_another(torch_lake, tmp_path):
    root, files = torch_lake
    lake = docframe.open(root / "lake", embed_backend="onnx-int8")
    assert lake.embedder.identity == INT8
    with pytest.raises(ModelMismatchError) as refused:
        lake.ingest(files[4])
    message = str(refused.value)
    assert "holds vectors of " + TORCH in message and "docframe reembed" in message


def test_reembed_through_the_facade_changes_the_lake_s_embedder(tmp_path):
    files = write_topics(tmp_path / "docs", 3)
    lake = docframe.open(tmp_path / "lake", create=True, embed_backend="torch")
    assert lake.ingest(files[:2]).ok
    question = "notes about granite"
    before = [h["chunk_id"] for h in lake.search(question, k=2).to_list()]
    report = lake.reembed(embed_backend="onnx-int8")
    assert (report.previous, report.embedder) == (TORCH, INT8)
    assert report.versions == 2 and report.chunks > 0
    assert lake.snapshot().embedder == INT8
    assert lake.query_encoder().identity == FP32  # questions follow the model, in fp32
    assert [h["chunk_id"] for h in lake.search(question, k=2).to_list()] == before
    # this handle asked for torch by name, so its ingest is refused now; a default one
    # follows the lake's new embedder and needs no flag
    with pytest.raises(ModelMismatchError):
        lake.ingest(files[2])
    reopened = docframe.open(tmp_path / "lake")
    assert reopened.embedder.identity == INT8
    assert reopened.ingest(files[2]).ok


def test_cli_reembed_then_search(tmp_path):
    files = write_topics(tmp_path / "docs", 2)
    lake = tmp_path / "lake"
    runner = CliRunner()
    made = runner.invoke(app, ["--lake", str(lake), "ingest", *map(str, files),
                               "--embed-backend", "torch", "--no-progress"])  # fmt: skip
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["--lake", str(lake), "reembed", "--embed-backend", "onnx-int8"])
    assert result.exit_code == 0, result.output
    assert f"with {INT8}" in result.output and "re-embedded" in result.output
    again = runner.invoke(app, ["--lake", str(lake), "reembed", "--embed-backend", "onnx-int8"])
    assert f"already {INT8}" in again.output
    bad = runner.invoke(app, ["--lake", str(lake), "reembed", "--embed-backend", "tensorrt"])
    assert bad.exit_code != 0 and "unknown embedding backend 'tensorrt'" in bad.output
    hits = runner.invoke(app, ["--lake", str(lake), "search", "violin", "--format",
                               "json", "-k", "1"])  # fmt: skip
    assert hits.exit_code == 0, hits.output
    assert json.loads(hits.stdout)[0]["doc_key"]


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_a_dense_search_process_imports_no_torch(tmp_path, backend):
    """The cold CLI path: a lake of either embedder answers dense and hybrid searches and
    SQL search functions without torch, transformers or sentence-transformers."""
    files = write_topics(tmp_path / "docs", 2)
    lake = docframe.open(tmp_path / "lake", create=True, embed_backend=backend)
    assert lake.ingest(files).ok
    lake.index_build()
    program = f"""
import sys
from typer.testing import CliRunner
from docframe.cli import app
lake = {str(tmp_path / "lake")!r}
for args in (["search", "violin", "--mode", "dense"], ["search", "violin", "--mode", "hybrid"],
             ["sql", "SELECT count(*) FROM search('violin', k => 3)"]):
    result = CliRunner().invoke(app, ["--lake", lake, *args])
    assert result.exit_code == 0, result.output
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
print("heavy:", heavy)
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout


def test_the_query_encoder_of_a_torch_lake_matches_torch(torch_lake):
    """Questions in several lengths: the ONNX fp32 encoder a torch lake's searches use
    gives torch fp32's vectors (cosine >= 0.9999), so rankings are torch's."""
    root, _ = torch_lake
    lake = docframe.open(root / "lake")
    questions = ["x", "bees", "how do glaciers carve valleys over thousands of years?" * 6]
    got = lake.query_encoder().encode(questions)
    want = Embedder(DEFAULT_MODEL, "cpu", backend="torch").encode(questions)
    assert np.min(np.sum(got * want, axis=1)) >= 0.9999


def test_doctor_shows_the_embedder_a_lake_keeps(torch_lake):
    root, _ = torch_lake
    doctor = CliRunner().invoke(app, ["--lake", str(root / "lake"), "doctor"], terminal_width=300)
    row = " ".join(doctor.output.split())
    assert "torch-fp32: auto keeps the embedder of the vectors this lake holds" in row
    assert "questions encoded by onnx-fp32" in row
