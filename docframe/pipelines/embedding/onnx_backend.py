"""Sentence embeddings with ONNX Runtime: tokenizers + onnxruntime + numpy, no torch.

This is what a query process runs to encode its question, so importing it, opening a
session and encoding load neither torch nor transformers (a test checks ``sys.modules``
in a fresh process). The graphs come from :mod:`export_cache` (built from the packaged
weights on first use); pooling and normalisation happen here in numpy.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from docframe.pipelines.embedding.model_dir import ModelSpec
from docframe.pipelines.embedding.pooling import run
from docframe.pipelines.embedding.tokenizer import FastTokenizer

_SESSIONS: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}  # one per export, per process
_LOCK = threading.Lock()
# threads per session; None: ONNX Runtime's default, one per core. A Dask worker sharing
# its host with others sets its share (docframe.pipelines.ingest_dask): N sessions each
# using every core would fight over them.
THREADS: int | None = None


def session(spec: ModelSpec, file: str) -> tuple[Any, dict[str, Any]]:
    """The onnxruntime session on ``spec``'s export ``file`` and the export's manifest."""
    from docframe.pipelines.embedding import export_cache

    with _LOCK:
        found = _SESSIONS.get((spec.name, file))
        if found is None:
            import onnxruntime as ort

            path, manifest = export_cache.ensure(spec, file)
            options = ort.SessionOptions()
            options.log_severity_level = 3  # errors only: no notes about unused initialisers
            if THREADS:
                options.intra_op_num_threads = THREADS
            opened = ort.InferenceSession(
                str(path / file), options, providers=["CPUExecutionProvider"]
            )
            found = _SESSIONS[(spec.name, file)] = (opened, manifest)
        return found


class OnnxEncoder:
    """One model's ONNX graph (fp32 or int8) with its tokenizer."""

    def __init__(self, spec: ModelSpec, file: str) -> None:
        self.spec = spec
        self.file = file
        self.tokenizer = FastTokenizer(
            spec.tokenizer_file, spec.max_seq_length, lowercase=spec.do_lower_case
        )

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """L2-normalised float32 vectors, longest texts first in batches (little padding,
        as sentence-transformers orders them), returned in the input order."""
        runner, _ = session(self.spec, self.file)
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            inputs = self.tokenizer.batch([texts[i] for i in rows])
            out[rows] = run(runner, inputs, self.spec.pooling)
        return out
