"""The VectorIndex contract on the CPU reference index (real faiss), plus the factory.

Exactness is checked against a numpy brute force over seeded random unit vectors,
so any mistake in id mapping, ordering or padding shows up as a mismatch.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from docframe.errors import MissingDependencyError
from docframe.index import VectorIndex, load_index, make_index
from docframe.index.faiss_flat import FaissFlatIndex

DIM = 32


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def labels(n: int, seed: int = 1) -> np.ndarray:
    """Large, shuffled int64 labels: a search that returns row positions fails."""
    return np.random.default_rng(seed).permutation(n).astype(np.int64) + 10**12


def reference(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int):
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[order], np.take_along_axis(scores, order, axis=1).astype(np.float32)


@pytest.fixture
def data():
    vectors, ids, queries = unit_vectors(500), labels(500), unit_vectors(20, seed=7)
    index = make_index("faiss", DIM)
    index.build(vectors, ids)
    return index, vectors, ids, queries


def test_factory_returns_protocol_instance():
    index = make_index("faiss", DIM)
    assert isinstance(index, FaissFlatIndex)
    assert isinstance(index, VectorIndex)
    assert (index.kind, index.dim, len(index)) == ("faiss-flat", DIM, 0)


def test_factory_rejects_unknown_family_and_bad_dim():
    with pytest.raises(ValueError, match="unknown index family"):
        make_index("annoy", DIM)
    with pytest.raises(ValueError, match="positive"):
        make_index("faiss", 0)


def test_search_matches_numpy_brute_force(data):
    index, vectors, ids, queries = data
    got_ids, got_scores = index.search(queries, 10)
    want_ids, want_scores = reference(vectors, ids, queries, 10)
    assert got_ids.dtype == np.int64 and got_scores.dtype == np.float32
    assert got_ids.shape == got_scores.shape == (20, 10)
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5, atol=1e-6)


def test_each_vector_finds_itself_first(data):
    index, vectors, ids, _ = data
    got_ids, got_scores = index.search(vectors[:50], 1)
    np.testing.assert_array_equal(got_ids[:, 0], ids[:50])
    np.testing.assert_allclose(got_scores[:, 0], 1.0, atol=1e-5)


def test_k_larger_than_n_pads_with_minus_one():
    vectors, ids, queries = unit_vectors(5), labels(5), unit_vectors(3, seed=3)
    index = make_index("faiss", DIM)
    index.build(vectors, ids)
    got_ids, got_scores = index.search(queries, 8)
    want_ids, want_scores = reference(vectors, ids, queries, 5)
    np.testing.assert_array_equal(got_ids[:, :5], want_ids)
    np.testing.assert_allclose(got_scores[:, :5], want_scores, rtol=1e-5, atol=1e-6)
    assert (got_ids[:, 5:] == -1).all()
    assert np.isneginf(got_scores[:, 5:]).all()


def test_empty_index_returns_only_padding(tmp_path: Path):
    index = make_index("faiss", DIM)
    index.build(np.empty((0, DIM), np.float32), np.empty(0, np.int64))
    assert len(index) == 0
    got_ids, got_scores = index.search(unit_vectors(4), 3)
    assert got_ids.shape == (4, 3) and (got_ids == -1).all()
    assert np.isneginf(got_scores).all()
    index.save(tmp_path)
    assert len(load_index(tmp_path)) == 0


def test_k_zero_and_no_queries(data):
    index, *_ = data
    ids, scores = index.search(unit_vectors(3), 0)
    assert ids.shape == scores.shape == (3, 0)
    ids, scores = index.search(np.empty((0, DIM), np.float32), 5)
    assert ids.shape == scores.shape == (0, 5)


def test_build_replaces_contents(data):
    index, *_ = data
    vectors, ids = unit_vectors(7, seed=11), np.arange(7, dtype=np.int64)
    index.build(vectors, ids)
    assert len(index) == 7
    got_ids, _ = index.search(vectors, 1)
    np.testing.assert_array_equal(got_ids[:, 0], ids)


def test_save_load_round_trip(data, tmp_path: Path):
    index, vectors, ids, queries = data
    index.save(tmp_path)
    manifest = json.loads((tmp_path / "index.json").read_text())
    assert manifest["kind"] == "faiss-flat"
    assert (manifest["dim"], manifest["count"]) == (DIM, 500)
    assert (tmp_path / "index.faiss").is_file()
    for loaded in (load_index(tmp_path), FaissFlatIndex.load(tmp_path)):
        assert isinstance(loaded, FaissFlatIndex)
        assert (loaded.dim, len(loaded)) == (DIM, 500)
        for got, want in zip(loaded.search(queries, 10), index.search(queries, 10), strict=True):
            np.testing.assert_array_equal(got, want)


def test_load_refuses_other_kind(tmp_path: Path):
    (tmp_path / "index.json").write_text(
        json.dumps({"kind": "cuvs-brute-force", "dim": DIM, "count": 0})
    )
    with pytest.raises(ValueError, match="not 'faiss-flat'"):
        FaissFlatIndex.load(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"kind": "mystery", "dim": DIM, "count": 0}))
    with pytest.raises(ValueError, match="unknown index kind"):
        load_index(tmp_path)


def test_load_without_manifest(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="index.json"):
        load_index(tmp_path)


@pytest.mark.parametrize(
    ("vectors", "ids", "message"),
    [
        (np.zeros((3, DIM + 1), np.float32), np.arange(3), "shape"),
        (np.zeros((3, DIM), np.float32), np.arange(2), "ids must have shape"),
        (np.zeros((3, DIM), np.float32), np.array([0, 1, 1]), "unique"),
        (np.zeros((3, DIM), np.float32), np.array([0, -1, 2]), "non-negative"),
    ],
)
def test_build_rejects_bad_input(vectors, ids, message):
    with pytest.raises(ValueError, match=message):
        make_index("faiss", DIM).build(vectors, ids)


def test_search_rejects_bad_queries(data):
    index, *_ = data
    with pytest.raises(ValueError, match="queries must have shape"):
        index.search(np.zeros(DIM, np.float32), 3)
    with pytest.raises(ValueError, match="k must be"):
        index.search(unit_vectors(2), -1)


@pytest.mark.skipif(importlib.util.find_spec("cuvs") is not None, reason="cuVS is installed")
def test_cuvs_family_without_rapids_names_the_extra():
    with pytest.raises(MissingDependencyError) as caught:
        make_index("cuvs", DIM)
    assert "docframe[gpu-cu12]" in str(caught.value)


def test_index_modules_import_without_heavy_packages():
    """Importing the index package (even the cuVS module) must not import faiss, cupy or cuVS."""
    code = (
        "import sys, docframe.index, docframe.index.cuvs_flat, docframe.index.faiss_flat\n"
        "heavy = [m for m in ('faiss', 'cupy', 'cuvs') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
