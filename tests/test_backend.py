import subprocess
import sys

import pytest

from docframe import backend
from docframe.errors import EngineError, GPUUnavailableError


def test_auto_chooses_cpu_here_and_says_why():
    chosen = backend.resolve("auto")
    assert chosen.name == "cpu"
    assert chosen.requested == "auto"
    # the reason names the missing evidence, not just "cpu"
    assert "no NVIDIA driver" in chosen.reason or "RAPIDS packages missing" in chosen.reason
    assert chosen.torch_device == "cpu"
    assert chosen.index_family == "faiss"
    assert chosen.table_module().__name__ == "pandas"
    assert chosen.array_module().__name__ == "numpy"


def test_gpu_without_a_device_is_a_clear_error():
    with pytest.raises(GPUUnavailableError) as info:
        backend.resolve("gpu")
    assert "no usable GPU" in str(info.value)
    assert "--engine cpu" in info.value.help


def test_env_variable_selects_engine(monkeypatch):
    monkeypatch.setenv("DOCFRAME_ENGINE", "cpu")
    assert backend.resolve().reason == "CPU requested explicitly"
    monkeypatch.setenv("DOCFRAME_ENGINE", "gpu")
    with pytest.raises(GPUUnavailableError):
        backend.resolve()


def test_unknown_engine_lists_the_valid_ones():
    with pytest.raises(EngineError, match="auto, cpu, gpu"):
        backend.resolve("tpu")


def test_hidden_gpus_are_reported(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    visible, evidence = backend.gpu_device_visible()
    assert not visible and "CUDA_VISIBLE_DEVICES" in evidence


def test_import_docframe_stays_light():
    code = (
        "import sys, docframe; "
        "heavy = [m for m in ('torch', 'cudf', 'cupy', 'faiss', 'fitz', 'sentence_transformers')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
