"""Sentence embeddings with sentence-transformers on torch: the reference, and the GPU path.

fp32 on the CPU is the reference every other backend is measured against; on a CUDA
device the model runs in fp16 (half the memory traffic, the tensor cores). Any model
sentence-transformers can load runs here, including those the ONNX backend cannot.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from docframe.config import allow_download
from docframe.errors import DocframeError, MissingDependencyError
from docframe.pipelines.embedding.model_dir import model_location

_MODELS: dict[tuple[str, str, str], Any] = {}  # one loaded model per process, shared by lakes


def load(name: str, device: str, precision: str) -> Any:
    """The SentenceTransformer for ``name`` on ``device`` in ``precision`` (cached)."""
    key = (name, device, precision)
    if key not in _MODELS:
        _MODELS[key] = _load(name, device, precision)
    return _MODELS[key]


def _load(name: str, device: str, precision: str) -> Any:
    if not allow_download():
        os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # "Loading weights" bars on every open
    except ImportError as exc:
        raise MissingDependencyError(
            "sentence-transformers is not installed", help="pip install docframe"
        ) from exc
    location = model_location(name)
    try:
        model = SentenceTransformer(str(location or name), device=device)
    except (OSError, ValueError) as exc:
        raise DocframeError(
            f"cannot load embedding model {name!r}: {exc}".splitlines()[0],
            help="give a local sentence-transformers directory, or set "
            "DOCFRAME_ALLOW_DOWNLOAD=1 to fetch it from the Hugging Face hub",
        ) from exc
    return model.half() if precision == "fp16" else model


def dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None)
    getter = getter or model.get_sentence_embedding_dimension  # sentence-transformers < 5
    return int(getter())


def encode(model: Any, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
    vectors = model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=progress,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
