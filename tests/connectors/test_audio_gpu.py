"""The speech model on CUDA (float16): run with ``pytest -m gpu`` on a GPU machine.

Skips itself where CTranslate2 sees no CUDA device (CTranslate2's wheels carry their CUDA
code; they need CUDA 12 and cuDNN 9 libraries at run time)."""

from __future__ import annotations

import pytest

from docframe.connectors.media import AudioConnector, MediaOptions, models
from tests.connectors.audio_corpus import AUDIO, references, require, wer

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _needs_cuda() -> None:
    if models._cuda_devices() == 0:
        pytest.skip("CTranslate2 sees no CUDA device")


def test_cuda_float16_transcribes_as_well_as_the_cpu():
    path = require(AUDIO / "jfk.wav")
    connector = AudioConnector().configured(MediaOptions(device="cuda"))
    [doc] = connector.extract(path)
    assert (doc.metadata["asr_device"], doc.metadata["compute_type"]) == ("cuda", "float16")
    text = " ".join(e.text for e in doc.elements)
    assert wer(references()["jfk.wav"]["reference"], text) <= 0.15


def test_auto_follows_the_gpu_engine():
    from docframe import backend

    if backend.resolve("auto").name != "gpu":
        pytest.skip("the engine here is the CPU (no RAPIDS packages)")
    run = models.runtime("auto", engine="gpu")
    assert (run.device, run.compute_type) == ("cuda", "float16")
