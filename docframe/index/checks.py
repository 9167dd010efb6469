"""What an index refuses, and how it says so: bad inputs, bad parameters, a missing package.

Every implementation validates through these functions so that they agree on
edge cases exactly -- wrong shapes, non-integer or duplicate ids, negative ``k``,
unknown parameters -- and raise the same ``ValueError`` naming the argument.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from docframe.errors import MissingDependencyError


def check_build_inputs(
    dim: int, vectors: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise build inputs to C-contiguous float32 (n, dim) and int64 (n,)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.asarray(ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors must have shape (n, {dim}), got {vectors.shape}")
    if ids.shape != (vectors.shape[0],):
        raise ValueError(f"ids must have shape ({vectors.shape[0]},), got {ids.shape}")
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be non-negative (-1 marks a missing result), got {ids.min()}")
    if ids.size > 1:
        ordered = np.sort(ids)
        dup = ordered[1:][ordered[1:] == ordered[:-1]]
        if dup.size:
            raise ValueError(f"ids must be unique; repeated: {dup[:5].tolist()}")
    return vectors, ids


def check_id_array(name: str, ids: Any) -> np.ndarray:
    """A 1-D integer id array (``remove``'s input, a search filter) as sorted unique int64."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of int64 ids, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    return np.unique(arr.astype(np.int64, copy=False))


def check_queries(dim: int, queries: np.ndarray, k: int) -> np.ndarray:
    """Validate a query batch and ``k``; returns C-contiguous float32 (q, dim)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"queries must have shape (q, {dim}), got {queries.shape}")
    try:
        k = operator.index(k)
    except TypeError:
        raise ValueError(f"k must be an integer, got {k!r}") from None
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return queries


def check_filters(
    allowed: np.ndarray | None, excluded: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Validated filter arrays; with both given, ``excluded`` is folded into ``allowed``."""
    if allowed is not None:
        allowed = check_id_array("allowed", allowed)
    if excluded is not None:
        excluded = check_id_array("excluded", excluded)
        if allowed is not None:
            return np.setdiff1d(allowed, excluded, assume_unique=True), None
    return allowed, excluded


def resolve_params(kind: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` overridden by ``given``; an unknown name is an error naming it."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"{kind}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(defaults)}"
        )
    return {**defaults, **given}


def positive_int(kind: str, name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """``value`` as a positive int, or a ValueError naming the parameter."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{kind}: parameter {name} must be a positive integer, got {value!r}")
    return int(value)


def check_search_params(kind: str, search_names: frozenset[str], given: dict[str, Any]) -> None:
    """Refuse names that are not search-time parameters of ``kind``."""
    unknown = sorted(set(given) - search_names)
    if unknown:
        valid = ", ".join(sorted(search_names)) or "none"
        raise ValueError(
            f"{kind}: {', '.join(unknown)} cannot be changed at search time; valid: {valid}"
        )


def missing_dependency(package: str, extra_hint: str) -> MissingDependencyError:
    """The error raised when an index family's package is not installed."""
    return MissingDependencyError(f"the {package!r} package is not installed", help=extra_hint)
