"""Which embedder made a lake's vectors: identities as the catalog records them.

An identity names the model and how it ran, ``"<model>@<backend>-<precision>"``
(``sentence-transformers/all-MiniLM-L6-v2@onnx-int8``). Two backends of one model give
vectors that are close but not equal, so the lake records the identity of the
embedder that made its vectors (catalog meta ``embedder``, and every chunk segment's
``embedder`` column) and refuses to commit vectors from another one: a search encodes
its question with one embedder, and scores are only comparable within one.

Lakes made before identities were recorded hold vectors of the torch backend in
fp32 (the only one there was): :func:`legacy` names them. This module is the lake's
side; ``docframe.pipelines.embedding`` makes the identities it parses here.
"""

from __future__ import annotations

LEGACY_VARIANT = "torch-fp32"


def legacy(model: str) -> str:
    """The identity of vectors committed before identities were recorded."""
    return f"{model}@{LEGACY_VARIANT}"


def split(identity: str) -> tuple[str, str]:
    """``(model, "<backend>-<precision>")``; an identity without ``@`` is a bare model name
    (legacy vectors)."""
    model, at, variant = identity.rpartition("@")
    return (model, variant) if at else (identity, LEGACY_VARIANT)


def backend_option(identity: str) -> str:
    """The ``--embed-backend`` value that gives ``identity``'s vectors: ``torch`` for any
    torch precision (fp16 is the CUDA form of it), ``onnx`` for ONNX fp32, else the variant
    itself (``onnx-int8``)."""
    variant = split(identity)[1]
    backend, _, precision = variant.partition("-")
    if backend == "torch" or (backend == "onnx" and precision == "fp32"):
        return backend
    return variant
