"""The embedding backends: the same chunks and (nearly) the same vectors on each, and a
query path that needs no torch. Real model, real onnxruntime, real tokenizers."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from docframe.config import Settings, load_settings
from docframe.errors import DocframeError
from docframe.pipelines.chunking import Chunker
from docframe.pipelines.embedding import DEFAULT_MODEL, Embedder
from docframe.pipelines.embedding.choice import choose
from tests.conftest import SAMPLE, SHARED_CORPUS

SCIFACT = SHARED_CORPUS / "retrieval" / "scifact" / "corpus.jsonl.gz"
EDGES = [
    "",
    " ",
    "  leading and trailing  ",
    "été naïve café 中文 🙂 \u200b zero-width, ∑ x² and a tab\tand\r\nnewlines",
    "word " * 400,  # past the model's 256 word pieces
]


def _sample_texts() -> list[str]:
    return [p.read_text(errors="replace") for p in sorted(SAMPLE.rglob("*")) if p.is_file()]


def _scifact_texts(n: int) -> list[str]:
    if not SCIFACT.is_file():
        return []
    with gzip.open(SCIFACT, "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for _, line in zip(range(n), fh, strict=False)]
    return [f"{d['title']}\n{d['text']}" for d in docs]


@pytest.fixture(scope="module")
def torch_fp32() -> Embedder:
    return Embedder(backend="torch")


@pytest.fixture(scope="module")
def int8() -> Embedder:
    return Embedder(backend="onnx-int8")


@pytest.fixture(scope="module")
def fp32() -> Embedder:
    return Embedder(backend="onnx")


def test_identity_backend_and_precision(torch_fp32, int8, fp32):
    assert (torch_fp32.backend, torch_fp32.precision) == ("torch", "fp32")
    assert torch_fp32.identity == f"{DEFAULT_MODEL}@torch-fp32"
    assert int8.identity == f"{DEFAULT_MODEL}@onnx-int8"
    assert fp32.identity == f"{DEFAULT_MODEL}@onnx-fp32"
    assert int8.dim == fp32.dim == torch_fp32.dim == 384
    for variant in ("torch-fp32", "torch-fp16", "onnx-fp32", "onnx-int8"):
        again = Embedder.for_identity(f"{DEFAULT_MODEL}@{variant}")
        assert again.identity == f"{DEFAULT_MODEL}@{variant}"
    assert Embedder.for_identity(DEFAULT_MODEL).identity == f"{DEFAULT_MODEL}@torch-fp32"


def test_auto_is_int8_on_the_cpu_and_torch_fp16_on_cuda():
    cpu = Embedder()
    assert cpu.identity == f"{DEFAULT_MODEL}@onnx-int8"
    assert "meets the quality gates" in cpu.choice.reason
    cuda = choose(DEFAULT_MODEL, "cuda", "auto")
    assert (cuda.backend, cuda.precision) == ("torch", "fp16")
    assert Embedder(device="cuda", backend="torch").precision == "fp16"


def test_batch_sizes_are_the_backends_own(torch_fp32, int8, fp32):
    assert (torch_fp32.batch_size, fp32.batch_size, int8.batch_size) == (32, 8, 1)
    assert Embedder(batch_size=16, backend="onnx").batch_size == 16
    assert Embedder(batch_size=16, backend="onnx-int8").batch_size == 1  # see choice.py


def test_the_onnx_tokenizer_gives_the_same_offsets(torch_fp32, int8):
    """Chunk boundaries, and so chunk ids, do not depend on the backend."""
    texts = _sample_texts() + _scifact_texts(300) + EDGES
    options = dict(
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        verbose=False,
    )
    for text in texts:
        want = [tuple(o) for o in torch_fp32.tokenizer(text, **options)["offset_mapping"]]
        got = [tuple(o) for o in int8.tokenizer(text, **options)["offset_mapping"]]
        assert got == want, text[:60]
    a, b = Chunker(torch_fp32.tokenizer, 200, 32), Chunker(int8.tokenizer, 200, 32)
    for text in texts:
        assert a.split(text) == b.split(text)


def test_the_model_reads_the_same_word_pieces(torch_fp32, int8):
    """Truncation at 256 and padding as sentence-transformers does them."""
    texts = _scifact_texts(40) + _sample_texts()[:8] + EDGES
    for start in range(0, len(texts), 16):
        batch = texts[start : start + 16]
        want = torch_fp32.model.preprocess(batch)
        got = int8._onnx.tokenizer.batch(batch)
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            np.testing.assert_array_equal(got[name], want[name].numpy(), err_msg=name)


def test_onnx_vectors_are_close_to_torch(torch_fp32, int8, fp32):
    texts = _scifact_texts(64) or _sample_texts()
    reference = torch_fp32.encode(texts)
    for embedder, mean, low in ((fp32, 0.9999, 0.9999), (int8, 0.99, 0.97)):
        vectors = embedder.encode(texts)
        assert vectors.dtype == np.float32 and vectors.shape == reference.shape
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosine = (vectors * reference).sum(axis=1)
        assert cosine.mean() >= mean and cosine.min() >= low, embedder.identity
    assert int8.encode([]).shape == (0, 384)


def test_an_int8_vector_does_not_depend_on_its_batch(int8):
    """Reused and deduplicated vectors are what a fresh ingest would make."""
    texts = ["a short one", "a much longer text about volcanoes and the ash they throw", "mid"]
    together = int8.encode(texts)
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(int8.encode([text])[0], together[i])


def test_the_query_path_imports_no_torch(int8):
    int8.encode(["build the export first"])  # exports once, in this process's cache
    code = (
        "import sys\n"
        "from docframe.pipelines.embedding import Embedder\n"
        "e = Embedder()\n"
        "v = e.encode(['what causes inflammation?'])\n"
        "e.tokenizer('two words', add_special_tokens=False, return_offsets_mapping=True)\n"
        "assert v.shape == (1, e.dim) and e.identity.endswith('@onnx-int8'), e.identity\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules]\n"
        "assert heavy == [], heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _folder_with_modules(tmp_path: Path, modules: list[dict]) -> Path:
    from docframe.pipelines.embedding.model_dir import model_location

    source = model_location(DEFAULT_MODEL)
    assert source is not None
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
        (folder / name).write_bytes((source / name).read_bytes())
    pooling = source / "1_Pooling" / "config.json"
    (folder / "1_Pooling" / "config.json").write_bytes(pooling.read_bytes())
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def test_a_model_onnx_cannot_run_falls_back_to_torch_and_says_why(tmp_path):
    st = "sentence_transformers.models."
    folder = _folder_with_modules(
        tmp_path,
        [
            {"idx": 0, "name": "0", "path": "", "type": st + "Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": st + "Pooling"},
            {"idx": 2, "name": "2", "path": "2_Dense", "type": st + "Dense"},
        ],
    )
    chosen = choose(str(folder), "cpu", "auto", build=False)
    assert (chosen.backend, chosen.precision) == ("torch", "fp32")
    assert "Dense" in chosen.reason
    with pytest.raises(DocframeError, match="Dense"):
        choose(str(folder), "cpu", "onnx-int8")


def test_the_setting_is_checked_and_read_from_env_and_toml(tmp_path, monkeypatch):
    assert Settings().embed_backend == "auto"
    with pytest.raises(DocframeError, match="did you mean 'onnx-int8'"):
        Settings(embed_backend="onnx-int")
    with pytest.raises(DocframeError, match="did you mean 'onnx-int8'"):
        Embedder(backend="onnx-int")
    (tmp_path / "docframe.toml").write_text('embed_backend = "onnx"\n')
    assert load_settings(tmp_path).embed_backend == "onnx"
    monkeypatch.setenv("DOCFRAME_EMBED_BACKEND", "torch")
    assert load_settings(tmp_path).embed_backend == "torch"
    assert load_settings(tmp_path, embed_backend="onnx-int8").embed_backend == "onnx-int8"


def test_ingest_refuses_an_unknown_backend_and_doctor_shows_the_choice(tmp_path):
    from typer.testing import CliRunner

    from docframe.cli import app

    lake = tmp_path / "lake"
    args = ["--lake", str(lake), "ingest", str(SAMPLE), "--embed-backend", "tensorrt"]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code != 0
    assert "embed_backend 'tensorrt' is not one of auto, torch, onnx, onnx-int8" in bad.output
    doctor = CliRunner().invoke(app, ["--lake", str(lake), "doctor"])
    assert "embedding backend" in doctor.output
    assert "onnx-int8: auto on the CPU: int8 meets the quality gates" in " ".join(
        doctor.output.split()
    )


def test_int8_calls_side_by_side_give_the_vectors_of_one_session(int8, monkeypatch):
    """int8 encodes one text per call, on a thread per core sharing a one-thread session
    (onnx_backend.OnnxEncoder._encode_alone); the vectors, in input order, are exactly
    those of one session doing the calls in turn (THREADS = 1: no side by side)."""
    from docframe.pipelines.embedding import onnx_backend

    texts = [f"Note {i}: " + "granite cools slowly underground. " * (1 + i % 7) for i in range(24)]
    monkeypatch.setattr(onnx_backend, "THREADS", 3)  # three lanes, whatever the machine
    side_by_side = int8.encode(texts)
    monkeypatch.setattr(onnx_backend, "THREADS", 1)
    in_turn = int8.encode(texts)
    assert side_by_side.shape == (24, 384)
    np.testing.assert_array_equal(side_by_side, in_turn)
    assert not np.array_equal(side_by_side[0], side_by_side[1])  # each row its own text
