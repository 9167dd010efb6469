"""Kind selection, the factory, and what is particular to each kind (real faiss/hnswlib).

The shared contract lives in ``test_contract.py``; here: ``choose_kind`` thresholds,
``make_index`` / ``make_index_kind`` / ``load_index`` dispatch and errors, HNSW
tombstones and compaction, IVF-PQ training on small inputs and its memory-mapped
raw vectors, the shared helpers (id lookup, exact scorer, re-ranker, cuVS bitset
layout), and that importing any index module stays light.
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
from docframe.index import (
    EXACT_KIND,
    FAMILY_KINDS,
    choose_kind,
    load_index,
    make_index,
    make_index_kind,
)
from docframe.index.cuvs_common import bitset_words
from docframe.index.faiss_hnsw import FaissHNSWIndex
from docframe.index.faiss_ivfpq import FaissIVFPQIndex, auto_m
from docframe.index.idlookup import IdLookup
from docframe.index.ivfpq_plan import IVFPQPlan, plan_ivfpq
from docframe.index.topk import exact_top_k, rerank_exact, row_top_k, top_k

DIM = 16


def unit(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- choose_kind and the factory ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "family", "kind"),
    [
        (0, "faiss", "faiss-flat"),
        (49_999, "faiss", "faiss-flat"),
        (50_000, "faiss", "faiss-hnsw"),
        (4_999_999, "faiss", "faiss-hnsw"),
        (5_000_000, "faiss", "faiss-ivfpq"),
        (10, "cuvs", "cuvs-brute-force"),
        (50_000, "cuvs", "cuvs-cagra"),
        (4_000_000, "cuvs", "cuvs-cagra"),  # 4M x (1536 + 256) B = 7.2 GB < 8 GiB
        (5_000_000, "cuvs", "cuvs-ivfpq"),  # 9 GB > half of the assumed 16 GiB
    ],
)
def test_choose_kind_thresholds(n, family, kind):
    assert choose_kind(n, family) == kind


def test_choose_kind_uses_the_device_memory_it_is_given():
    assert choose_kind(5_000_000, "cuvs", device_memory_bytes=80 * 2**30) == "cuvs-cagra"
    assert choose_kind(1_000_000, "cuvs", device_memory_bytes=2 * 2**30) == "cuvs-ivfpq"
    assert choose_kind(1_000_000, "cuvs", dim=4096, device_memory_bytes=16 * 2**30) == (
        "cuvs-ivfpq"
    )
    with pytest.raises(ValueError, match="unknown index family 'annoy'"):
        choose_kind(10, "annoy")
    with pytest.raises(ValueError, match="n_vectors must be >= 0"):
        choose_kind(-1, "faiss")


def test_make_index_defaults_to_the_exact_kind_and_takes_a_kind():
    for family, kind in EXACT_KIND.items():
        assert kind in FAMILY_KINDS[family]
    assert make_index("faiss", DIM).kind == "faiss-flat"  # what the lake's store relies on
    index = make_index("faiss", DIM, kind="faiss-hnsw", M=8, ef_search=20)
    assert isinstance(index, FaissHNSWIndex)
    assert index.params == {"M": 8, "ef_construction": 200, "ef_search": 20}
    assert make_index_kind("faiss-ivfpq", DIM, nprobe=4).params["nprobe"] == 4


def test_factory_errors_name_the_offending_input():
    with pytest.raises(ValueError, match="'cuvs-cagra' is not of family 'faiss'"):
        make_index("faiss", DIM, kind="cuvs-cagra")
    with pytest.raises(ValueError, match="unknown index kind 'faiss-lsh'"):
        make_index_kind("faiss-lsh", DIM)
    with pytest.raises(ValueError, match="positive"):
        make_index_kind("faiss-hnsw", -3)
    with pytest.raises(ValueError, match="unknown parameter.*efSearch.*valid: M, ef_construction"):
        make_index_kind("faiss-hnsw", DIM, efSearch=10)
    with pytest.raises(ValueError, match="parameter M must be a positive integer, got 0"):
        make_index_kind("faiss-hnsw", DIM, M=0)
    with pytest.raises(ValueError, match="ef_search must be a positive integer, got '64'"):
        make_index_kind("faiss-hnsw", DIM, ef_search="64")
    with pytest.raises(ValueError, match="m=5 must divide the dimension 16"):
        make_index_kind("faiss-ivfpq", DIM, m=5)
    with pytest.raises(ValueError, match="nbits must be <= 16"):
        make_index_kind("faiss-ivfpq", DIM, nbits=17)
    with pytest.raises(ValueError, match="refine_factor must be an integer >= 0"):
        make_index_kind("faiss-ivfpq", DIM, refine_factor=-1)


@pytest.mark.skipif(importlib.util.find_spec("cuvs") is not None, reason="cuVS is installed")
@pytest.mark.parametrize("kind", FAMILY_KINDS["cuvs"])
def test_cuvs_kinds_without_rapids_name_the_extra(kind):
    with pytest.raises(MissingDependencyError) as caught:
        make_index_kind(kind, DIM)
    assert "docframe[gpu-cu12]" in str(caught.value)


def test_hnswlib_kind_without_hnswlib_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "hnswlib", None)  # import hnswlib -> ImportError
    with pytest.raises(MissingDependencyError, match="hnswlib"):
        make_index_kind("hnswlib", DIM)


def test_version_1_manifest_without_params_loads_with_defaults(tmp_path: Path):
    index = make_index("faiss", DIM)
    index.build(unit(10), np.arange(10))
    index.save(tmp_path)
    manifest = json.loads((tmp_path / "index.json").read_text())
    del manifest["params"]
    manifest["format_version"] = 1
    (tmp_path / "index.json").write_text(json.dumps(manifest))
    assert len(load_index(tmp_path)) == 10


def test_corrupt_manifest_is_a_value_error(tmp_path: Path):
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_index(tmp_path)


# --- faiss HNSW ------------------------------------------------------------------------------


def test_hnsw_tombstones_are_saved_and_compacted_away(tmp_path: Path):
    vectors, ids = unit(400), np.arange(400, dtype=np.int64) + 1000
    index = make_index_kind("faiss-hnsw", DIM)
    index.build(vectors, ids)
    assert index.remove(ids[:150]) == 150
    assert (len(index), index._dead, index._index.ntotal) == (250, 150, 400)  # tombstones
    index.save(tmp_path)
    assert json.loads((tmp_path / "index.json").read_text())["tombstones"] == 150
    loaded = load_index(tmp_path)
    assert (len(loaded), loaded._dead) == (250, 150)
    assert not np.isin(loaded.search(vectors, 5)[0], ids[:150]).any()
    assert loaded.remove(ids[150:260]) == 110  # now dead (260) > live (140): rebuild
    assert (len(loaded), loaded._dead, loaded._index.ntotal) == (140, 0, 140)
    got, _ = loaded.search(vectors[260:], 1)
    np.testing.assert_array_equal(got[:, 0], ids[260:])


def test_hnsw_ef_search_reaches_faiss_and_widens_for_filters():
    index = make_index_kind("faiss-hnsw", DIM, ef_search=24)
    index.build(unit(300), np.arange(300))
    assert index._inner().hnsw.efSearch == 24
    index.set_search_params(ef_search=80)
    assert (index._inner().hnsw.efSearch, index.params["ef_search"]) == (80, 80)
    with pytest.raises(ValueError, match="M cannot be changed at search time"):
        index.set_search_params(M=8)


# --- faiss IVF-PQ ----------------------------------------------------------------------------


def test_ivfpq_small_inputs_train_with_clamped_lists():
    vectors = unit(100)
    index = make_index_kind("faiss-ivfpq", DIM, nlist=64)
    index.build(vectors, np.arange(100))
    # 100 // 39 lists; 4-bit codes (16 centroids a codebook), not 8 (256 need 9,984 points)
    assert index.trained_params() == {"nlist": 2, "m": auto_m(DIM), "nbits": 4}
    got, scores = index.search(vectors[:20], 1)
    np.testing.assert_array_equal(got[:, 0], np.arange(20))  # re-ranked: exact at this size
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


@pytest.mark.parametrize(
    ("n", "dim", "expected"),
    [
        # n, dim -> (nlist, m, nbits, train_size): lists ~ 4 sqrt(n) within n / 39, code bits
        # that real points train (2**nbits * 39 <= n), a sample of 64 points per centroid
        (100, 384, (2, 96, 4, 624)),  # tiny: 4-bit codebooks padded to 16 * 39 points
        (2_416, 384, (61, 96, 5, 2_416)),  # the reported build: no padding, all points
        (20_000, 384, (512, 96, 8, 20_000)),  # 8-bit codes once 9,984 points train them
        (1_000_000, 384, (4_000, 96, 8, 256_000)),  # trains on a quarter of the data
        (100_000_000, 768, (40_000, 192, 8, 2_560_000)),
        (10**12, 1_024, (65_536, 256, 8, 4_194_304)),  # lists capped
    ],
)
def test_ivfpq_parameters_scale_with_the_collection(n, dim, expected):
    plan = plan_ivfpq(n, dim)
    assert (plan.nlist, plan.m, plan.nbits, plan.train_size) == expected
    assert dim % plan.m == 0 and plan.nlist * 39 <= max(n, 39)


def test_ivfpq_given_parameters_win_and_cuvs_codes_are_whole_bytes():
    assert plan_ivfpq(50_000, 384, nlist=64, m=48, nbits=6) == IVFPQPlan(64, 48, 6, 4_096)
    assert plan_ivfpq(100, 384, nbits=8).train_size == 256 * 39  # padded, as asked
    assert plan_ivfpq(5_000, 384, m=90, nbits=5, byte_codes=True).m == 96  # 90*5 bits -> 96*5
    assert plan_ivfpq(5_000, 384, m=90, nbits=8, byte_codes=True).m == 90
    assert auto_m(383) == 383 and auto_m(768) == 192 and auto_m(100) == 25  # never m=1


def test_ivfpq_trains_on_a_sample_of_a_large_collection():
    """Training sees the plan's sample, not every vector: faiss k-means over all n
    costs memory (every residual) and time, and more than 256 a centroid is dropped."""
    vectors = unit(12_000)
    index = make_index_kind("faiss-ivfpq", DIM, nlist=8, nbits=6)
    sample = index._training_set(vectors, plan_ivfpq(12_000, DIM, nlist=8, nbits=6).train_size)
    assert len(sample) == 64 * 64 and np.isin(sample, vectors).all()
    index.build(vectors, np.arange(12_000))
    assert index.trained_params() == {"nlist": 8, "m": 4, "nbits": 6} and len(index) == 12_000


def test_ivfpq_empty_build_trains_on_first_add():
    index = make_index_kind("faiss-ivfpq", DIM)
    index.build(np.empty((0, DIM), np.float32), np.empty(0, np.int64))
    assert index.trained_params() == {} and len(index) == 0
    index.add(unit(200), np.arange(200))
    assert len(index) == 200 and index.trained_params()["nlist"] == 5


def test_ivfpq_loaded_index_memory_maps_raw_vectors(tmp_path: Path):
    vectors = unit(300)
    index = make_index_kind("faiss-ivfpq", DIM)
    index.build(vectors, np.arange(300) * 2)
    index.remove(np.arange(0, 100) * 2)
    index.save(tmp_path)
    assert np.load(tmp_path / "vectors.npy").shape == (200, DIM)  # saved compacted
    loaded = load_index(tmp_path)
    assert isinstance(loaded, FaissIVFPQIndex) and isinstance(loaded._raw, np.memmap)
    got, _ = loaded.search(vectors[100:], 1)
    np.testing.assert_array_equal(got[:, 0], np.arange(100, 300) * 2)
    loaded.add(unit(5, seed=9), np.arange(5) * 2 + 1)  # add after load reads the file in
    assert len(loaded) == 205 and not isinstance(loaded._raw, np.memmap)


def test_ivfpq_without_refinement_keeps_no_raw_vectors(tmp_path: Path):
    vectors = unit(500)
    index = make_index_kind("faiss-ivfpq", DIM, refine_factor=0)
    index.build(vectors, np.arange(500))
    assert index._vectors() is None
    with pytest.raises(ValueError, match="built with refine_factor=0"):
        index.set_search_params(refine_factor=4)
    index.save(tmp_path)
    assert not (tmp_path / "vectors.npy").exists()
    loaded = load_index(tmp_path)
    got, _ = loaded.search(vectors[:30], 1)
    assert (got[:, 0] == np.arange(30)).mean() >= 0.8  # PQ codes only: approximate
    allowed = np.arange(0, 500, 7)
    assert np.isin(loaded.search(vectors[:30], 5, allowed=allowed)[0], allowed).all()


# --- shared helpers --------------------------------------------------------------------------


def test_id_lookup_insert_delete_rows():
    lookup = IdLookup(np.array([50, -1, 10, 30], np.int64))
    assert len(lookup) == 3
    np.testing.assert_array_equal(lookup.contains(np.array([10, 20, 50, -1])), [1, 0, 1, 0])
    np.testing.assert_array_equal(lookup.rows_of(np.array([50, 10, 30])), [0, 2, 3])
    lookup.insert(np.array([20, 5]), np.array([4, 5]))
    np.testing.assert_array_equal(lookup.ids, [5, 10, 20, 30, 50])
    np.testing.assert_array_equal(lookup.delete(np.array([20, 99, 50])), [4, 0])
    np.testing.assert_array_equal(lookup.ids, [5, 10, 30])
    with pytest.raises(KeyError, match=r"\[99\]"):
        lookup.rows_of(np.array([99]))


def test_exact_top_k_and_rerank_agree_with_numpy():
    vectors, queries = unit(50), unit(7, seed=3)
    ids = np.arange(50, dtype=np.int64) * 10
    scores = queries @ vectors.T
    want = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    got_ids, got_scores = exact_top_k(queries, vectors, ids, 5)
    np.testing.assert_array_equal(got_ids, ids[want])
    np.testing.assert_allclose(got_scores, np.take_along_axis(scores, want, 1), rtol=1e-6)
    candidates = np.where(np.arange(8) < 6, np.argsort(scores, axis=1)[:, -8:], -1)
    keys, exact = rerank_exact(queries, candidates, lambda k: vectors[k])
    assert (keys[:, 6:] == -1).all() and np.isneginf(exact[:, 6:]).all()
    assert (np.diff(exact[:, :6], axis=1) <= 0).all()


def test_top_k_breaks_ties_by_id_among_all_tied_candidates():
    """A tie at the k-th place goes to the smallest ids, whichever ones a partition kept."""
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1, 0.5], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], np.float32)
    labels = np.array([60, 50, 40, 30, 20, 10])
    ids, got = top_k(scores, labels, 3)
    np.testing.assert_array_equal(ids, [[50, 10, 30], [10, 20, 30]])
    np.testing.assert_array_equal(got, np.float32([[0.9, 0.5, 0.5], [6.0, 5.0, 4.0]]))
    per_row = np.array([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]])  # each row its own labels
    ids, _ = top_k(np.zeros((2, 6), np.float32), per_row, 2)
    np.testing.assert_array_equal(ids, [[1, 2], [1, 2]])
    ids, got = top_k(scores[:, :2], labels[:2], 4)  # k beyond n: padded
    np.testing.assert_array_equal(ids, [[50, 60, -1, -1], [50, 60, -1, -1]])
    assert np.isneginf(got[:, 2:]).all()


def test_top_k_matches_a_full_sort_on_scores_full_of_ties():
    rng = np.random.default_rng(7)
    for _ in range(50):
        q, n, k = rng.integers(1, 5), rng.integers(1, 40), rng.integers(1, 45)
        scores = rng.integers(0, 4, size=(q, n)).astype(np.float32)  # a few values: many ties
        labels = rng.permutation(1000)[:n]
        ids, got = top_k(scores, labels, k)
        for row in range(q):
            want = sorted(zip(-scores[row], labels, strict=True))[:k]
            assert ids[row, : len(want)].tolist() == [int(label) for _, label in want]
            assert got[row, : len(want)].tolist() == [float(-s) for s, _ in want]
            assert (ids[row, len(want) :] == -1).all()
        row_ids, _ = row_top_k(scores[0], labels, k)
        assert row_ids.tolist() == ids[0, : len(row_ids)].tolist()


def test_cuvs_bitset_layout():
    """Row r is bit r % 32 of uint32 word r // 32 (cuVS bitset_view::test)."""
    mask = np.zeros(70, dtype=bool)
    mask[[0, 5, 31, 32, 69]] = True
    words = bitset_words(mask)
    assert words.dtype == np.uint32 and words.shape == (3,)
    for r in range(70):
        assert bool((int(words[r // 32]) >> (r % 32)) & 1) == mask[r]


def test_index_modules_import_without_heavy_packages():
    """Importing every index module must import none of faiss, hnswlib, cupy or cuVS."""
    modules = [
        "docframe.index",
        "docframe.index.faiss_flat",
        "docframe.index.faiss_hnsw",
        "docframe.index.faiss_ivfpq",
        "docframe.index.cuvs_flat",
        "docframe.index.cuvs_cagra",
        "docframe.index.cuvs_ivfpq",
        "docframe.index.cuvs_hnsw",
    ]
    code = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        "heavy = [m for m in ('faiss', 'hnswlib', 'cupy', 'cuvs') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_ivfpq_builds_under_an_omp_thread_limit(tmp_path):
    """OMP_THREAD_LIMIT=1 (set for Tesseract) once made IVF k-means spin forever in libgomp."""
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from docframe.index import make_index_kind\n"
        "v = np.random.default_rng(0).standard_normal((6000, 32)).astype('float32')\n"
        "v /= np.linalg.norm(v, axis=1, keepdims=True)\n"
        "i = make_index_kind('faiss-ivfpq', 32)\n"
        "i.build(v, np.arange(6000))\n"
        "print(len(i))\n"
    )
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6000"
