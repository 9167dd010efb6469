"""From the transformer's token embeddings to one vector per text, in numpy.

sentence-transformers' Pooling module (mean, CLS, max, mean/sqrt(len)) followed by L2
normalisation; the ONNX graphs stop at the token embeddings so that this stays here,
cheap and shared by the encoder and the export's check.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def run(runner: Any, inputs: dict[str, np.ndarray], pooling: str) -> np.ndarray:
    """Pooled, L2-normalised vectors of one tokenized batch (float32)."""
    wanted = {i.name for i in runner.get_inputs()}
    hidden = runner.run(None, {k: v for k, v in inputs.items() if k in wanted})[0]
    return pool(hidden, inputs["attention_mask"], pooling)


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' Pooling module in numpy, then L2 normalisation."""
    hidden = hidden.astype(np.float32, copy=False)
    weights = mask[..., None].astype(np.float32)
    if mode == "cls":
        vectors = hidden[:, 0]
    elif mode == "max":
        vectors = np.where(weights > 0, hidden, -1e9).max(axis=1)
    else:
        summed = (hidden * weights).sum(axis=1)
        counts = np.clip(weights.sum(axis=1), 1e-9, None)
        vectors = summed / (np.sqrt(counts) if mode == "mean_sqrt_len" else counts)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.clip(norms, 1e-12, None), dtype=np.float32)
