"""Which embedding backend runs, decided once per embedder, with the reason recorded.

``auto`` is a policy, not a guess: on a CUDA device, torch in fp16; on the CPU, ONNX
Runtime in int8 when the model's int8 export met the quality gates in its own check
(cosine to torch fp32: mean >= 0.99, min >= 0.97; ``onnx_export``), else ONNX fp32;
torch fp32 only when the ONNX backend cannot run the model (the reason says why).
Asking for a backend by name gets that backend or an error naming the model.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from docframe.config import EMBED_BACKENDS
from docframe.errors import DocframeError, MissingDependencyError, did_you_mean
from docframe.pipelines.embedding.model_dir import ModelSpec, model_location, read_spec
from docframe.pipelines.embedding.onnx_export import GATE_MEAN, GATE_MIN

# what --embed-backend and docframe.toml accept
BACKENDS = EMBED_BACKENDS
# the exact variants an identity names (``Embedder.for_identity`` passes them as backend)
VARIANTS = ("torch-fp32", "torch-fp16", "onnx-fp32", "onnx-int8")
# texts per model call, measured on SciFact chunks (2-core AMD EPYC, benchmarks/embed.py):
# ONNX fp32 runs fastest in small batches (4-8; 32 is 10% slower); torch keeps
# sentence-transformers' default of 32 on the CPU; a GPU wants large batches. int8 runs one text
# per call, always: dynamic quantisation scales activations over the whole call, so in a
# batch a text's vector would depend on its neighbours (by up to 0.02 per component);
# alone it is a function of the text, which vector reuse relies on. It costs ~12%.
DEFAULT_BATCH = {"onnx-fp32": 8, "onnx-int8": 1, "torch-cpu": 32, "torch-cuda": 128}


@dataclass(frozen=True)
class Choice:
    backend: str  # "torch" | "onnx"
    precision: str  # "fp32" | "fp16" | "int8"
    reason: str

    @property
    def variant(self) -> str:
        return f"{self.backend}-{self.precision}"


def check_requested(backend: str) -> str:
    if backend not in BACKENDS and backend not in VARIANTS:
        raise DocframeError(
            f"unknown embedding backend {backend!r}{did_you_mean(backend, BACKENDS)}",
            help=f"choose one of {', '.join(BACKENDS)}",
        )
    return backend


def onnx_spec(name: str) -> ModelSpec:
    """``name``'s settings for the ONNX backend, or an error saying why it cannot run it."""
    missing = [m for m in ("onnxruntime", "tokenizers") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"the ONNX embedding backend needs {' and '.join(missing)}",
            help="pip install docframe (they are core dependencies)",
        )
    root = model_location(name)
    if root is None:
        raise DocframeError(
            f"model {name!r} is not a local folder, so it cannot be exported to ONNX",
            help="give the model's folder, or use --embed-backend torch",
        )
    return read_spec(name, root)


def choose(name: str, device: str, requested: str, *, build: bool = True) -> Choice:
    """The backend and precision for ``name`` on ``device``. With ``build=False`` (docframe
    doctor) no export is built: ``auto`` then says what it expects."""
    cuda = device.startswith("cuda")
    if requested in ("torch", "torch-fp32", "torch-fp16"):
        precision = requested.partition("-")[2] or ("fp16" if cuda else "fp32")
        return Choice("torch", precision, f"asked for {requested}")
    if requested in ("onnx", "onnx-fp32", "onnx-int8"):
        onnx_spec(name)  # fails here, naming the model, when it cannot run
        precision = "int8" if requested == "onnx-int8" else "fp32"
        return Choice("onnx", precision, f"asked for {requested}")
    if cuda:
        return Choice("torch", "fp16", "auto on a CUDA device: torch in fp16")
    try:
        spec = onnx_spec(name)
    except DocframeError as exc:
        return Choice("torch", "fp32", f"auto: the ONNX backend cannot run it: {exc.message}")
    try:
        check = _int8_check(spec, build)
    except DocframeError as exc:  # no writable cache, an export that failed its check...
        return Choice("torch", "fp32", f"auto: the ONNX export failed: {exc}")
    if check is None:
        return Choice(
            "onnx", "int8", "auto on the CPU: int8 if its check passes (export not built yet)"
        )
    figures = (
        f"cosine to torch fp32 on the export's probe texts: mean {check['mean']:.4f}, "
        f"min {check['min']:.4f}; gates {GATE_MEAN}, {GATE_MIN}"
    )
    if check.get("passes"):
        return Choice("onnx", "int8", f"auto on the CPU: int8 meets the quality gates ({figures})")
    return Choice("onnx", "fp32", f"auto on the CPU: int8 misses the quality gates ({figures})")


def _int8_check(spec: ModelSpec, build: bool) -> dict[str, Any] | None:
    from docframe.pipelines.embedding import export_cache
    from docframe.pipelines.embedding.onnx_export import INT8_FILE

    if build:
        manifest = export_cache.ensure(spec, INT8_FILE)[1]
    else:
        manifest = export_cache.read_manifest(export_cache.folder(spec))
    if manifest is None:
        return None
    return dict(manifest["check"]["int8"])
