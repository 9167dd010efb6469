"""Build a model's ONNX files from its packaged weights, offline, into a folder.

Runs once per model and onnxruntime version (``export_cache`` decides when and keeps the
result); this is the only part of the ONNX backend that imports torch.

1. ``torch.onnx.export`` of the transformer alone (dynamic batch and sequence axes; the
   output is the token embeddings: pooling and normalisation run in numpy, as cheaply).
   Eager attention, because the SDPA path's shape checks are traced as constants.
2. int8: ``quantize_dynamic`` of that graph, per channel with signed int8 weights. Here
   (2-core AMD EPYC, AVX-512 VNNI) on SciFact chunks: per-channel QInt8 kept cosine mean
   0.9944 / min 0.990 to torch fp32; reduce_range gave 0.9932 / 0.987 at the same speed;
   QUInt8 weights ran 30% slower; per-tensor fell to 0.94 / 0.89.
3. Each graph is saved graph-optimised by onnxruntime (fusions of attention, GELU, layer
   norm) so sessions start without redoing it. (onnxruntime.transformers' BERT optimizer
   measured no faster here, and the quantizer cannot read its fused operators.)
4. A check on :data:`PROBE_TEXTS`: the fp32 graph must agree with torch (cosine > 0.9999
   for every text, else the export is broken and refused), and the int8 graph's cosine to
   torch is recorded: ``auto`` uses int8 only where it meets the quality gates.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from docframe.errors import DocframeError, MissingDependencyError
from docframe.pipelines.embedding.model_dir import ModelSpec
from docframe.pipelines.embedding.pooling import pool, run

OPSET = 17
FP32_FILE = "model-fp32.onnx"
INT8_FILE = "model-int8.onnx"
# the gates int8 must meet against torch fp32 for ``auto`` to choose it (issue 16)
GATE_MEAN, GATE_MIN = 0.99, 0.97
_SENTENCES = (
    "The mitochondria is the powerhouse of the cell.",
    "How do I reset my password if I no longer have access to my email?",
    "Late delivery penalties apply after 14 days, at 0.5% of the order value per day.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "SELECT amount FROM orders WHERE contract_id = 'C-1042' ORDER BY ts DESC;",
    "Aspirin reduced the risk of a first myocardial infarction in men over 50 (p < 0.01).",
    "what is the capital of australia",
    "She sells sea shells by the sea shore; the shells she sells are surely sea shells.",
    "Q3 revenue grew 12% year over year to $4.2 billion, driven by cloud services.",
    "Patients were randomised to placebo or 20 mg daily for twelve weeks.",
    "The court held that the clause was unenforceable as a penalty.",
    "🙂 emoji, accents (café, naïve), CJK 中文 and math ∑ x² all in one line.",
)
# short and long texts, so both the few-token and the near-full-window paths are checked
PROBE_TEXTS = (*_SENTENCES, " ".join(_SENTENCES), " ".join(_SENTENCES[::-1]) * 3)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter and quantizer warn about things that do not apply here (the legacy
    exporter, traced shape checks, 'consider pre-processing' on the root logger)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def build(spec: ModelSpec, folder: Path) -> dict[str, Any]:
    """Write :data:`FP32_FILE` and :data:`INT8_FILE` into ``folder``; return the check's
    figures (for the manifest)."""
    try:
        import torch
        from transformers import AutoModel
        from transformers import logging as hf_logging
    except ImportError as exc:
        raise MissingDependencyError(
            "exporting the ONNX embedding model needs torch and transformers",
            help="pip install docframe (they are core dependencies)",
        ) from exc
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(spec.transformer_dir), attn_implementation="eager")
    model.eval()
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")
    from docframe.pipelines.embedding.tokenizer import FastTokenizer

    tokenizer = FastTokenizer(
        spec.tokenizer_file, spec.max_seq_length, lowercase=spec.do_lower_case
    )
    probe = {k: v for k, v in tokenizer.batch(list(PROBE_TEXTS)).items() if k in names}

    class _TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    raw = folder / "raw.onnx"
    sample = tuple(torch.from_numpy(probe[n][:2, :16]) for n in names)
    with _quiet(), torch.no_grad():
        # the reference first: the model answers differently once it has been traced
        reference = model(**{n: torch.from_numpy(v) for n, v in probe.items()})
        reference = pool(reference.last_hidden_state.numpy(), probe["attention_mask"], spec.pooling)
        torch.onnx.export(
            _TokenEmbeddings(), sample, str(raw), input_names=names,
            output_names=["token_embeddings"], opset_version=OPSET, dynamo=False,
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]},
        )  # fmt: skip
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # onnxruntime's quantizer needs the onnx package
        raise MissingDependencyError(
            f"quantising the ONNX embedding model needs the onnx package ({exc})",
            help="pip install onnx (a core dependency of docframe)",
        ) from exc
    quantized = folder / "raw-int8.onnx"
    with _quiet():
        quantize_dynamic(raw, quantized, per_channel=True, weight_type=QuantType.QInt8)
    check: dict[str, Any] = {"texts": len(PROBE_TEXTS)}
    for source, target, precision in ((raw, FP32_FILE, "fp32"), (quantized, INT8_FILE, "int8")):
        session = _optimise(source, folder / target)
        source.unlink()
        cosine = np.sum(run(session, probe, spec.pooling) * reference, axis=1)
        check[precision] = {
            "mean": round(float(cosine.mean()), 5),
            "min": round(float(cosine.min()), 5),
        }
        if precision == "fp32" and cosine.min() < 0.9999:
            raise DocframeError(
                f"the ONNX export of {spec.name!r} disagrees with torch "
                f"(cosine {cosine.min():.4f})",
                help="use --embed-backend torch for this model",
            )
    check["int8"]["passes"] = (
        check["int8"]["mean"] >= GATE_MEAN and check["int8"]["min"] >= GATE_MIN
    )
    return check


def _optimise(source: Path, target: Path) -> Any:
    """Save ``source`` graph-optimised to ``target``; the session on it, for the check."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # extended, not all: the 'all' level adds layouts specific to this CPU's instructions
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
