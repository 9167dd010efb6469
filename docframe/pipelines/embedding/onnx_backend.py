"""Sentence embeddings with ONNX Runtime: tokenizers + onnxruntime + numpy, no torch.

This is what a query process runs to encode its question, so importing it, opening a
session and encoding load neither torch nor transformers (a test checks ``sys.modules``
in a fresh process). The graphs come from :mod:`export_cache` (built from the packaged
weights on first use); pooling and normalisation happen here in numpy.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from docframe.pipelines.embedding.model_dir import ModelSpec
from docframe.pipelines.embedding.pooling import run
from docframe.pipelines.embedding.tokenizer import FastTokenizer

# one per export and thread count, per process
_SESSIONS: dict[tuple[str, str, int | None], tuple[Any, dict[str, Any]]] = {}
_LOCK = threading.Lock()
# threads per session; None: ONNX Runtime's default, one per core. A Dask worker sharing
# its host with others sets its share (docframe.pipelines.ingest_dask): N sessions each
# using every core would fight over them.
THREADS: int | None = None


def session(spec: ModelSpec, file: str, threads: int | None = None) -> tuple[Any, dict[str, Any]]:
    """The onnxruntime session on ``spec``'s export ``file`` and the export's manifest;
    ``threads`` for its operators (default: :data:`THREADS`)."""
    from docframe.pipelines.embedding import export_cache

    threads = threads or THREADS
    with _LOCK:
        found = _SESSIONS.get((spec.name, file, threads))
        if found is None:
            import onnxruntime as ort

            path, manifest = export_cache.ensure(spec, file)
            options = ort.SessionOptions()
            options.log_severity_level = 3  # errors only: no notes about unused initialisers
            if threads:
                options.intra_op_num_threads = threads
            opened = ort.InferenceSession(
                str(path / file), options, providers=["CPUExecutionProvider"]
            )
            found = _SESSIONS[(spec.name, file, threads)] = (opened, manifest)
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
        lanes = THREADS or os.cpu_count() or 1
        if batch_size == 1 and lanes > 1 and len(texts) > 1:
            return self._encode_alone(texts, lanes)
        runner, _ = session(self.spec, self.file)
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            inputs = self.tokenizer.batch([texts[i] for i in rows])
            out[rows] = run(runner, inputs, self.spec.pooling)
        return out

    def _encode_alone(self, texts: list[str], lanes: int) -> np.ndarray:
        """One text per call (int8: a vector depends on its text alone) on ``lanes``
        threads sharing a one-thread session. A model call on one text is too small to
        split over cores: one session with a thread per core spends its time handing work
        between them, while whole calls side by side keep every core busy (600 SciFact
        abstracts on 2 cores: 121-125 texts/s against 102-107; the vectors are
        identical)."""
        runner, _ = session(self.spec, self.file, threads=1)

        def one(text: str) -> np.ndarray:
            return run(runner, self.tokenizer.batch([text]), self.spec.pooling)

        with ThreadPoolExecutor(max_workers=lanes) as pool:
            return np.concatenate(list(pool.map(one, texts)))
