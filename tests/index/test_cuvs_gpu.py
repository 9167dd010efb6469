"""The VectorIndex contract on cuVS brute force, checked against faiss and numpy.

GPU runners only: skipped where cuVS is not installed, and where it is installed
but no GPU is visible (e.g. the ``.venv-gpu`` API check on a CPU machine). Both
indexes are exact, so they must agree on ids; scores agree up to float rounding.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest

from docframe.backend import gpu_device_visible

pytestmark = pytest.mark.gpu
pytest.importorskip("cuvs")
if not gpu_device_visible()[0]:
    pytest.skip(f"cuVS installed but no GPU: {gpu_device_visible()[1]}", allow_module_level=True)

from docframe.index import VectorIndex, load_index, make_index  # noqa: E402
from docframe.index.cuvs_flat import CuvsBruteForceIndex  # noqa: E402

DIM = 64


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def labels(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n).astype(np.int64) + 10**12


def built(family: str, vectors: np.ndarray, ids: np.ndarray) -> VectorIndex:
    index = make_index(family, vectors.shape[1])
    index.build(vectors, ids)
    return index


@pytest.fixture(scope="module")
def data():
    return unit_vectors(2000), labels(2000), unit_vectors(50, seed=7)


def test_factory_gives_cuvs_index():
    index = make_index("cuvs", DIM)
    assert isinstance(index, CuvsBruteForceIndex)
    assert isinstance(index, VectorIndex)
    assert (index.kind, index.dim, len(index)) == ("cuvs-brute-force", DIM, 0)


@pytest.mark.parametrize("k", [1, 10, 100])
def test_agrees_with_faiss_and_numpy(data, k):
    vectors, ids, queries = data
    gpu_ids, gpu_scores = built("cuvs", vectors, ids).search(queries, k)
    cpu_ids, cpu_scores = built("faiss", vectors, ids).search(queries, k)
    assert gpu_ids.dtype == np.int64 and gpu_scores.dtype == np.float32
    assert gpu_ids.shape == gpu_scores.shape == (50, k)
    np.testing.assert_array_equal(gpu_ids, cpu_ids)
    np.testing.assert_allclose(gpu_scores, cpu_scores, rtol=1e-4, atol=1e-5)
    exact = queries @ vectors.T
    order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(gpu_ids, ids[order])


def test_k_larger_than_n_pads_with_minus_one():
    vectors, ids, queries = unit_vectors(5), labels(5), unit_vectors(3, seed=3)
    gpu_ids, gpu_scores = built("cuvs", vectors, ids).search(queries, 8)
    cpu_ids, cpu_scores = built("faiss", vectors, ids).search(queries, 8)
    np.testing.assert_array_equal(gpu_ids, cpu_ids)
    assert (gpu_ids[:, 5:] == -1).all() and np.isneginf(gpu_scores[:, 5:]).all()
    np.testing.assert_allclose(gpu_scores[:, :5], cpu_scores[:, :5], rtol=1e-4, atol=1e-5)


def test_empty_index(tmp_path: Path):
    index = built("cuvs", np.empty((0, DIM), np.float32), np.empty(0, np.int64))
    got_ids, got_scores = index.search(unit_vectors(4), 3)
    assert (got_ids == -1).all() and np.isneginf(got_scores).all()
    index.save(tmp_path)
    assert len(load_index(tmp_path)) == 0


def test_index_outlives_the_callers_arrays(data):
    """cuVS keeps a non-owning view of a device dataset; the wrapper must hold it."""
    vectors, ids, queries = data
    index = built("cuvs", vectors.copy(), ids.copy())
    gc.collect()
    import cupy

    scratch = cupy.full((4000, DIM), 7.0, dtype=cupy.float32)  # reuse freed memory, if any
    got_ids, _ = index.search(queries, 10)
    del scratch
    want_ids, _ = built("faiss", vectors, ids).search(queries, 10)
    np.testing.assert_array_equal(got_ids, want_ids)


def test_save_load_round_trip(data, tmp_path: Path):
    vectors, ids, queries = data
    index = built("cuvs", vectors, ids)
    index.save(tmp_path)
    manifest = json.loads((tmp_path / "index.json").read_text())
    assert manifest["kind"] == "cuvs-brute-force"
    assert (manifest["dim"], manifest["count"]) == (DIM, 2000)
    loaded = load_index(tmp_path)
    assert isinstance(loaded, CuvsBruteForceIndex) and len(loaded) == 2000
    for got, want in zip(loaded.search(queries, 10), index.search(queries, 10), strict=True):
        np.testing.assert_array_equal(got, want)
