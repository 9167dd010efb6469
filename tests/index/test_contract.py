"""The VectorIndex contract, run against every index kind with real libraries.

CPU kinds (faiss flat / HNSW / IVF-PQ, and hnswlib where installed) run everywhere;
the cuVS kinds are marked ``gpu`` and skipped unless cuVS is installed *and* a GPU
is visible (same rule as ``test_cuvs_gpu.py``). Each kind goes through the same
life: build -> add -> remove -> search -> save -> load -> filtered search, checked
against a numpy brute force on seeded clustered data: exact kinds must match it
exactly, approximate kinds must reach recall@10 >= 0.95; removed and filtered-out
ids must never come back; parameters must survive save/load; bad input must fail
with an error naming it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from docframe.backend import gpu_device_visible
from docframe.index import VectorIndex, load_index, make_index_kind

DIM = 32
N = 6000  # above the cuVS thresholds for a CAGRA graph (1024) and an IVF-PQ index (4096)
K = 10
EXACT_KINDS = {"faiss-flat", "cuvs-brute-force"}


def _gpu_ready() -> tuple[bool, str]:
    if importlib.util.find_spec("cuvs") is None:
        return False, "cuVS not installed"
    visible, evidence = gpu_device_visible()
    return visible, evidence


_GPU_OK, _GPU_WHY = _gpu_ready()
_GPU = [pytest.mark.gpu, pytest.mark.skipif(not _GPU_OK, reason=f"needs a GPU: {_GPU_WHY}")]
_HNSWLIB = pytest.mark.skipif(
    importlib.util.find_spec("hnswlib") is None, reason="hnswlib not installed (bench extra)"
)
KINDS = [
    "faiss-flat",
    "faiss-hnsw",
    "faiss-ivfpq",
    pytest.param("hnswlib", marks=_HNSWLIB),
    pytest.param("cuvs-brute-force", marks=_GPU),
    pytest.param("cuvs-cagra", marks=_GPU),
    pytest.param("cuvs-ivfpq", marks=_GPU),
]
# Non-default parameters per kind, to check that params reach the index and survive save/load.
NON_DEFAULT = {
    "faiss-flat": {},
    "faiss-hnsw": {"M": 16, "ef_construction": 80, "ef_search": 48},
    "faiss-ivfpq": {"nlist": 24, "m": 16, "nbits": 6, "nprobe": 12, "refine_factor": 3},
    "hnswlib": {"M": 16, "ef_construction": 80, "ef_search": 48},
    "cuvs-brute-force": {},
    "cuvs-cagra": {"graph_degree": 32, "intermediate_graph_degree": 64, "itopk_size": 96},
    "cuvs-ivfpq": {"n_lists": 32, "pq_dim": 16, "pq_bits": 8, "n_probes": 16},
}
SEARCH_KNOB = {
    "faiss-hnsw": {"ef_search": 96},
    "faiss-ivfpq": {"nprobe": 48},
    "hnswlib": {"ef_search": 96},
    "cuvs-cagra": {"itopk_size": 128},
    "cuvs-ivfpq": {"n_probes": 80},
}


def clustered(n: int, seed: int = 0, n_clusters: int = 30) -> np.ndarray:
    """Seeded Gaussian-mixture unit vectors: structure like real embeddings, not a sphere."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, DIM))
    x = centers[rng.integers(0, n_clusters, n)] + 0.6 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def near(points: np.ndarray, n: int, seed: int = 5) -> np.ndarray:
    """Queries drawn near data points."""
    rng = np.random.default_rng(seed)
    q = points[rng.integers(0, len(points), n)] + 0.3 * rng.standard_normal((n, DIM))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def labels(n: int, seed: int = 1) -> np.ndarray:
    """Large, shuffled int64 labels: an index that returns row positions fails."""
    return np.random.default_rng(seed).permutation(n).astype(np.int64) * 3 + 10**12


def exact(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int):
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[order], np.take_along_axis(scores, order, axis=1).astype(np.float32)


def recall(got: np.ndarray, want: np.ndarray) -> float:
    return float(
        np.mean([len(set(g[g >= 0]) & set(w)) / len(w) for g, w in zip(got, want, strict=True)])
    )


def check_well_formed(ids: np.ndarray, scores: np.ndarray, n_queries: int, k: int) -> None:
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert ids.shape == scores.shape == (n_queries, k)
    finite = np.where(np.isneginf(scores), np.float32(-1e30), scores)
    assert (np.diff(finite, axis=1) <= 1e-6).all(), "scores not best first"
    assert (np.isneginf(scores) == (ids < 0)).all(), "padding is id -1 with score -inf"


def check_scores(ids, scores, vectors, all_ids, queries) -> None:
    """Every returned score is the true inner product of the query and that id's vector."""
    row_of = {int(i): r for r, i in enumerate(all_ids)}
    for q, (row_ids, row_scores) in enumerate(zip(ids, scores, strict=True)):
        for i, s in zip(row_ids, row_scores, strict=True):
            if i >= 0:
                assert abs(float(queries[q] @ vectors[row_of[int(i)]]) - s) < 1e-3


def check_results(kind, got, want, min_recall=0.95) -> None:
    got_ids, got_scores = got
    want_ids, want_scores = want
    if kind in EXACT_KINDS:
        np.testing.assert_array_equal(got_ids, want_ids)
        np.testing.assert_allclose(got_scores, want_scores, rtol=1e-4, atol=1e-5)
    else:
        assert recall(got_ids, want_ids) >= min_recall


@pytest.fixture(scope="module")
def data():
    vectors, ids = clustered(N), labels(N)
    return vectors, ids, near(vectors, 100)


@pytest.fixture(scope="module", params=KINDS)
def built(request, data):
    """One index per kind over the whole data set, for the read-only tests."""
    vectors, ids, _ = data
    index = make_index_kind(request.param, DIM)
    index.build(vectors, ids)
    return request.param, index


@pytest.mark.parametrize("kind", KINDS)
def test_new_index_follows_the_protocol(kind):
    index = make_index_kind(kind, DIM)
    assert isinstance(index, VectorIndex)
    assert (index.kind, index.dim, len(index)) == (kind, DIM, 0)
    assert isinstance(index.params, dict)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_index_answers_padding(kind, tmp_path: Path):
    index = make_index_kind(kind, DIM)
    index.build(np.empty((0, DIM), np.float32), np.empty(0, np.int64))
    ids, scores = index.search(near(clustered(50), 4), 3)
    check_well_formed(ids, scores, 4, 3)
    assert (ids == -1).all()
    index.save(tmp_path)
    loaded = load_index(tmp_path)
    assert type(loaded) is type(index) and len(loaded) == 0
    assert (loaded.search(near(clustered(50), 2), 2)[0] == -1).all()


def test_search_matches_exact_or_reaches_recall(built, data):
    kind, index = built
    vectors, ids, queries = data
    got = index.search(queries, K)
    check_well_formed(*got, len(queries), K)
    check_results(kind, got, exact(vectors, ids, queries, K))
    check_scores(*got, vectors, ids, queries)


def test_k_zero_no_queries_and_each_vector_finds_itself(built, data):
    _, index = built
    vectors, ids, _ = data
    assert index.search(vectors[:3], 0)[0].shape == (3, 0)
    assert index.search(np.empty((0, DIM), np.float32), 5)[0].shape == (0, 5)
    got_ids, got_scores = index.search(vectors[:50], 1)
    assert (got_ids[:, 0] == ids[:50]).mean() >= 0.95
    np.testing.assert_allclose(got_scores[got_ids[:, 0] == ids[:50], 0], 1.0, atol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_k_larger_than_the_index_pads(kind):
    vectors, ids = clustered(20, seed=3), labels(20, seed=3)
    queries = near(vectors, 4, seed=9)
    index = make_index_kind(kind, DIM)
    index.build(vectors, ids)
    got_ids, got_scores = index.search(queries, 30)
    check_well_formed(got_ids, got_scores, 4, 30)
    want_ids, want_scores = exact(vectors, ids, queries, 20)
    np.testing.assert_array_equal(got_ids[:, :20], want_ids)  # 20 vectors: every kind is exact
    np.testing.assert_allclose(got_scores[:, :20], want_scores, rtol=1e-4, atol=1e-4)
    assert (got_ids[:, 20:] == -1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_build_add_remove_search_save_load(kind, data, tmp_path: Path):
    vectors, ids, queries = data
    index = make_index_kind(kind, DIM)
    index.build(vectors[:4000], ids[:4000])
    index.add(vectors[4000:], ids[4000:])
    assert len(index) == N

    rng = np.random.default_rng(11)
    gone = rng.choice(ids, 300, replace=False)
    exact_first = exact(vectors, ids, queries, 1)[0][:, 0]  # make sure some top hits go
    gone = np.union1d(gone, exact_first[:20])
    unknown = np.array([7, 8, 10**15], np.int64)
    assert index.remove(np.concatenate([gone, unknown])) == len(gone)
    assert index.remove(gone) == 0  # already gone: ignored
    assert len(index) == N - len(gone)

    live = ~np.isin(ids, gone)
    want = exact(vectors[live], ids[live], queries, K)
    got = index.search(queries, K)
    check_well_formed(*got, len(queries), K)
    assert not np.isin(got[0], gone).any(), "a removed id was returned"
    check_results(kind, got, want)

    index.save(tmp_path)
    manifest = json.loads((tmp_path / "index.json").read_text())
    assert manifest["kind"] == kind
    assert (manifest["dim"], manifest["count"]) == (DIM, N - len(gone))
    assert manifest["params"] == index.params
    loaded = load_index(tmp_path)
    assert type(loaded) is type(index)
    assert (loaded.kind, loaded.dim, len(loaded), loaded.params) == (
        kind,
        DIM,
        N - len(gone),
        index.params,
    )
    again = loaded.search(queries, K)
    assert not np.isin(again[0], gone).any(), "a removed id came back after load"
    np.testing.assert_array_equal(again[0], got[0])
    np.testing.assert_allclose(again[1], got[1], rtol=1e-5, atol=1e-6)

    # a removed id can come back with a new vector; its old vector stays gone
    back = gone[:1]
    fresh = near(vectors, 1, seed=77)
    loaded.add(fresh, back)
    hit_ids, hit_scores = loaded.search(fresh, 1)
    assert hit_ids[0, 0] == back[0] and hit_scores[0, 0] == pytest.approx(1.0, abs=1e-3)
    old_row = vectors[np.flatnonzero(ids == back[0])]
    for i, s in zip(*(a[0] for a in loaded.search(old_row, 5)), strict=True):
        if i == back[0]:  # if it shows up, it is scored by its new vector
            assert s == pytest.approx(float(old_row[0] @ fresh[0]), abs=1e-3)


def test_small_allowed_set_returns_only_allowed_ids(built, data):
    """< 1 % of the ids allowed: only they come back, the true top-k among them."""
    kind, index = built
    vectors, ids, queries = data
    rng = np.random.default_rng(3)
    rows = rng.choice(N, 50, replace=False)
    got = index.search(queries, K, allowed=ids[rows])
    check_well_formed(*got, len(queries), K)
    assert np.isin(got[0], ids[rows]).all()
    want = exact(vectors[rows], ids[rows], queries, K)
    if kind in EXACT_KINDS:
        np.testing.assert_array_equal(got[0], want[0])
    else:  # small sets are scored exactly by every kind, so this holds here too
        assert recall(got[0], want[0]) >= 0.95


@pytest.mark.parametrize("fraction", [0.3, 0.8])  # 0.8: past the exact-subset cut (4096 ids)
def test_large_allowed_set_fills_k_with_allowed_ids(built, data, fraction):
    kind, index = built
    vectors, ids, queries = data
    rows = np.flatnonzero(np.random.default_rng(4).random(N) < fraction)
    got = index.search(queries, K, allowed=ids[rows])
    check_well_formed(*got, len(queries), K)
    assert (got[0] >= 0).all(), "a filter keeping thousands of ids must still fill k slots"
    assert np.isin(got[0], ids[rows]).all()
    check_results(kind, got, exact(vectors[rows], ids[rows], queries, K), min_recall=0.9)


def test_excluded_ids_never_come_back(built, data):
    kind, index = built
    vectors, ids, queries = data
    top = exact(vectors, ids, queries, 3)[0].ravel()
    banned = np.union1d(top, np.random.default_rng(6).choice(ids, 200, replace=False))
    got = index.search(queries, K, excluded=banned)
    check_well_formed(*got, len(queries), K)
    assert not np.isin(got[0], banned).any()
    keep = ~np.isin(ids, banned)
    check_results(kind, got, exact(vectors[keep], ids[keep], queries, K))

    allowed = ids[np.random.default_rng(8).random(N) < 0.5]
    both = index.search(queries, K, allowed=allowed, excluded=banned)
    assert np.isin(both[0], allowed).all() and not np.isin(both[0], banned).any()


def test_allowed_edge_cases(built, data):
    _, index = built
    _, ids, queries = data
    nothing = index.search(queries[:3], K, allowed=np.empty(0, np.int64))
    assert (nothing[0] == -1).all() and np.isneginf(nothing[1]).all()
    strangers = index.search(queries[:3], K, allowed=np.array([1, 2, 3], np.int64))
    assert (strangers[0] == -1).all()
    two = ids[:2]
    got = index.search(queries[:3], K, allowed=np.concatenate([two, [1, 2, 3]]))
    assert set(got[0][:, :2].ravel()) == set(two) and (got[0][:, 2:] == -1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_is_refused_with_a_clear_error(kind, data):
    vectors, ids, queries = data
    index = make_index_kind(kind, DIM)
    with pytest.raises(ValueError, match="vectors must have shape"):
        index.build(np.zeros((3, DIM + 1), np.float32), np.arange(3))
    with pytest.raises(ValueError, match="ids must have shape"):
        index.build(vectors[:3], np.arange(2))
    with pytest.raises(ValueError, match="unique"):
        index.build(vectors[:3], np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="non-negative"):
        index.build(vectors[:3], np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="integers"):
        index.build(vectors[:3], np.array([0.5, 1.0, 2.0]))
    index.build(vectors[:30], ids[:30])
    with pytest.raises(ValueError, match=r"already in the .* index: \[" + str(ids[5])):
        index.add(vectors[30:32], np.array([ids[31], ids[5]]))
    assert len(index) == 30  # the refused add changed nothing
    with pytest.raises(ValueError, match="queries must have shape"):
        index.search(queries[0], 3)
    with pytest.raises(ValueError, match="k must be >= 0"):
        index.search(queries, -1)
    with pytest.raises(ValueError, match="k must be an integer"):
        index.search(queries, 2.5)
    with pytest.raises(ValueError, match="allowed must be a 1-D"):
        index.search(queries, 3, allowed=ids[:4].reshape(2, 2))
    with pytest.raises(ValueError, match="excluded must hold integer ids"):
        index.search(queries, 3, excluded=np.array([0.5]))
    with pytest.raises(ValueError, match="ids must be a 1-D"):
        index.remove(np.int64(ids[0]))
    with pytest.raises(ValueError, match="unknown parameter.*bogus"):
        make_index_kind(kind, DIM, bogus=1)
    with pytest.raises(ValueError, match="bogus"):
        index.set_search_params(bogus=1)


@pytest.mark.parametrize("kind", KINDS)
def test_params_reach_the_index_and_round_trip(kind, data, tmp_path: Path):
    vectors, ids, queries = data
    index = make_index_kind(kind, DIM, **NON_DEFAULT[kind])
    assert {k: index.params[k] for k in NON_DEFAULT[kind]} == NON_DEFAULT[kind]
    index.build(vectors, ids)
    knob = SEARCH_KNOB.get(kind, {})
    index.set_search_params(**knob)
    assert {k: index.params[k] for k in knob} == knob
    check_results(kind, index.search(queries, K), exact(vectors, ids, queries, K), 0.9)
    index.save(tmp_path)
    loaded = load_index(tmp_path)
    assert loaded.params == index.params
    for got, want in zip(loaded.search(queries, K), index.search(queries, K), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if not knob:  # exact kinds have nothing to tune
        with pytest.raises(ValueError, match="cannot be changed at search time"):
            loaded.set_search_params(nprobe=3)


@pytest.mark.gpu
@pytest.mark.skipif(not _GPU_OK, reason=f"needs a GPU: {_GPU_WHY}")
@_HNSWLIB
def test_cagra_graph_exported_to_hnswlib_is_served_on_the_cpu(data, tmp_path: Path):
    from docframe.index.cuvs_hnsw import HnswlibIndex, export_cagra_to_hnsw

    vectors, ids, queries = data
    cagra = make_index_kind("cuvs-cagra", DIM)
    cagra.build(vectors, ids)
    gone = ids[:100]
    cagra.remove(gone)
    export_cagra_to_hnsw(cagra, tmp_path)
    served = load_index(tmp_path)
    assert isinstance(served, HnswlibIndex) and len(served) == N - 100
    live = ~np.isin(ids, gone)
    got = served.search(queries, K)
    assert not np.isin(got[0], gone).any()
    assert recall(got[0], exact(vectors[live], ids[live], queries, K)[0]) >= 0.95
    check_scores(*got, vectors, ids, queries)
