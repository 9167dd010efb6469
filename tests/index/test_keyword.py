"""KeywordIndex: real bm25s and PyStemmer, checked against BM25 computed by hand.

Scores are compared with the Lucene BM25 formula written out in the test (idf =
ln(1 + (N - df + 0.5) / (df + 0.5)), tf part = tf / (tf + k1 (1 - b + b dl / avgdl))),
both on a three-document corpus worked through by hand and on a seeded random corpus
against a numpy brute force, so mistakes in id mapping, top-k selection, tie order,
padding or filtering show up as mismatches.
"""

from __future__ import annotations

import json
import math
import pickle
import socket
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from docframe.index.keyword import KeywordIndex, fold

PLAIN = {"stemmer": None, "stopwords": None}  # tokens are exactly the lower-cased words
HAND = {**PLAIN, "k1": 1.5, "b": 0.75}  # the parameters the hand-worked scores use


def labels(n: int, seed: int = 1) -> np.ndarray:
    """Large, shuffled int64 labels: a search that returns row positions fails."""
    return np.random.default_rng(seed).permutation(n).astype(np.int64) + 10**12


# --- scores worked out by hand ------------------------------------------------------------

DOCS = ["apple banana apple", "banana cherry", "cherry date elderberry fig"]
LABELS = np.array([700, 500, 900], dtype=np.int64)


def test_scores_match_hand_computed_lucene_bm25():
    index = KeywordIndex(**HAND)
    index.build(DOCS, LABELS)
    assert len(index) == 3
    # N = 3, document lengths 3, 2, 4, avgdl = 3, k1 = 1.5, b = 0.75.
    # "apple": df 1, idf ln(1 + 2.5/1.5); doc 0 has tf 2, dl 3: 2 / (2 + 1.5 * 1) = 2/3.5.
    ids, scores = index.search(["apple"], 3)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert ids.tolist() == [[700, -1, -1]]
    assert scores[0, 0] == pytest.approx(math.log(1 + 2.5 / 1.5) * 2 / 3.5, rel=1e-6)
    assert np.isneginf(scores[0, 1:]).all()
    # "banana cherry": both df 2, idf ln(1.6).
    #   doc 1 (dl 2): both terms, each 1 / (1 + 1.5 (0.25 + 0.75 * 2/3)) = 1/2.125
    #   doc 0 (dl 3): banana, 1 / (1 + 1.5) = 1/2.5
    #   doc 2 (dl 4): cherry, 1 / (1 + 1.5 (0.25 + 1)) = 1/2.875
    ids, scores = index.search(["banana cherry"], 3)
    idf = math.log(1.6)
    assert ids.tolist() == [[500, 700, 900]]
    np.testing.assert_allclose(scores[0], [2 * idf / 2.125, idf / 2.5, idf / 2.875], rtol=1e-6)


def test_params_change_the_scores_as_the_formula_says():
    index = KeywordIndex(k1=1.2, b=0.0, **PLAIN)  # b = 0: no length normalisation
    index.build(DOCS, LABELS)
    _, scores = index.search(["apple"], 1)
    assert scores[0, 0] == pytest.approx(math.log(1 + 2.5 / 1.5) * 2 / (2 + 1.2), rel=1e-6)
    assert index.params == {
        "k1": 1.2,
        "b": 0.0,
        "method": "lucene",
        "stemmer": None,
        "stopwords": None,
        "token_pattern": r"(?u)\b\w+\b",
        "folding": "casefold+nfkd-strip-marks",
    }


def test_default_params_are_english():
    p = KeywordIndex().params
    assert (p["k1"], p["b"], p["method"], p["stemmer"], p["stopwords"]) == (
        0.9,
        0.4,
        "lucene",
        "english",
        "english",
    )
    assert KeywordIndex(stemmer="EN", stopwords="en").params["stemmer"] == "english"


# --- brute force on a random corpus ---------------------------------------------------------


def brute_force(token_docs, ids, query_terms, k, allowed=None, k1=1.5, b=0.75):
    """Lucene BM25 over pre-tokenized docs; positive scores only, ties by id."""
    n = len(token_docs)
    lengths = np.array([len(d) for d in token_docs], dtype=np.float64)
    avgdl = lengths.mean()
    counts = [Counter(d) for d in token_docs]
    df = Counter(t for c in counts for t in c)
    scores = np.zeros(n)
    for term in query_terms:
        if term not in df:
            continue
        idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
        for i, c in enumerate(counts):
            tf = c.get(term, 0)
            if tf:
                scores[i] += idf * tf / (tf + k1 * (1 - b + b * lengths[i] / avgdl))
    keep = scores > 0
    if allowed is not None:
        keep &= np.isin(ids, allowed)
    rows = [(-scores[i], ids[i]) for i in np.flatnonzero(keep)]
    rows.sort()
    rows = rows[:k]
    return [r[1] for r in rows], [-r[0] for r in rows]


@pytest.fixture(scope="module")
def random_corpus():
    rng = np.random.default_rng(0)
    vocab = [f"w{i:02d}" for i in range(60)]
    # Zipf-ish word choice so some words are common and many documents tie.
    p = 1.0 / np.arange(1, 61)
    p /= p.sum()
    token_docs = [list(rng.choice(vocab, size=rng.integers(1, 12), p=p)) for _ in range(400)]
    texts = [" ".join(d) for d in token_docs]
    queries = [" ".join(rng.choice(vocab, size=rng.integers(1, 4))) for _ in range(40)]
    queries += ["w00", "w59 w58", "zzz", ""]
    ids = labels(len(texts))
    index = KeywordIndex(**HAND)
    index.build(texts, ids)
    return index, token_docs, ids, queries


@pytest.mark.parametrize("k", [1, 5, 50, 1000])
def test_search_matches_brute_force(random_corpus, k):
    index, token_docs, ids, queries = random_corpus
    got_ids, got_scores = index.search(queries, k)
    assert got_ids.shape == got_scores.shape == (len(queries), k)
    for row, query in enumerate(queries):
        want_ids, want_scores = brute_force(token_docs, ids, query.split(), k)
        n = len(want_ids)
        assert got_ids[row, :n].tolist() == want_ids, query
        np.testing.assert_allclose(got_scores[row, :n], want_scores, rtol=1e-5)
        assert (got_ids[row, n:] == -1).all() and np.isneginf(got_scores[row, n:]).all()


def test_allowed_restricts_to_those_ids(random_corpus):
    index, token_docs, ids, queries = random_corpus
    allowed = ids[::3]
    got_ids, got_scores = index.search(queries, 10, allowed=allowed)
    for row, query in enumerate(queries):
        want_ids, want_scores = brute_force(token_docs, ids, query.split(), 10, allowed)
        assert got_ids[row, : len(want_ids)].tolist() == want_ids, query
        np.testing.assert_allclose(got_scores[row, : len(want_ids)], want_scores, rtol=1e-5)
        assert (got_ids[row, len(want_ids) :] == -1).all()
    assert np.isin(got_ids[got_ids >= 0], allowed).all()


def test_excluded_removes_ids_and_combines_with_allowed(random_corpus):
    index, token_docs, ids, queries = random_corpus
    excluded = ids[::2]
    got_ids, _ = index.search(queries, 10, excluded=excluded)
    for row, query in enumerate(queries):
        want_ids, _ = brute_force(token_docs, ids, query.split(), 10, ids[1::2])
        assert got_ids[row, : len(want_ids)].tolist() == want_ids, query
    allowed = ids[::3]
    got_ids, _ = index.search(queries, 10, allowed=allowed, excluded=excluded)
    both = np.setdiff1d(allowed, excluded)
    for row, query in enumerate(queries):
        want_ids, _ = brute_force(token_docs, ids, query.split(), 10, both)
        assert got_ids[row, : len(want_ids)].tolist() == want_ids, query
        assert (got_ids[row, len(want_ids) :] == -1).all()
    everything, _ = index.search(["w00"], 3, excluded=ids)
    assert (everything == -1).all()


def test_allowed_empty_or_unknown_ids_give_padding(random_corpus):
    index, _, ids, _ = random_corpus
    for allowed in (np.array([], dtype=np.int64), np.array([-5, 3, 7])):
        got_ids, got_scores = index.search(["w00 w01"], 4, allowed=allowed)
        assert (got_ids == -1).all() and np.isneginf(got_scores).all()
    # Unknown ids beside known ones are ignored.
    got_ids, _ = index.search(["w00"], 4, allowed=np.array([ids[0], -7, 3]))
    assert set(got_ids[0].tolist()) <= {int(ids[0]), -1}


def test_allowed_must_be_integer_ids(random_corpus):
    index = random_corpus[0]
    with pytest.raises(ValueError, match="allowed must be a 1-D array of integer ids"):
        index.search(["w00"], 3, allowed=np.array([[1, 2]]))
    with pytest.raises(ValueError, match="float64"):
        index.search(["w00"], 3, allowed=np.array([1.5]))
    with pytest.raises(ValueError, match="excluded must be a 1-D array of integer ids"):
        index.search(["w00"], 3, excluded=np.array(["a"]))


def test_batch_equals_one_query_at_a_time(random_corpus):
    index, _, _, queries = random_corpus
    batch_ids, batch_scores = index.search(queries, 7)
    for row, query in enumerate(queries):
        one_ids, one_scores = index.search([query], 7)
        np.testing.assert_array_equal(one_ids[0], batch_ids[row])
        np.testing.assert_array_equal(one_scores[0], batch_scores[row])


def test_concurrent_searches_agree_with_serial_ones():
    # The stemmer must not be called concurrently: searches from threads are serialised.
    index = KeywordIndex()
    words = ["running", "runners", "stemming", "stemmed", "quickly", "quicker", "jumps"]
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(200)]
    index.build(texts, np.arange(200))
    queries = [" ".join(rng.choice(words, size=3)) for _ in range(64)]
    serial = [index.search([q], 5) for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda q: index.search([q], 5), queries))
    for (want_ids, want_scores), (got_ids, got_scores) in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(got_ids, want_ids)
        np.testing.assert_array_equal(got_scores, want_scores)


# --- matching rules -------------------------------------------------------------------------


def test_ties_are_broken_by_ascending_id_even_at_the_cut():
    index = KeywordIndex(**PLAIN)
    texts = ["same words here"] * 5 + ["other text"]
    ids = np.array([40, 10, 50, 30, 20, 60])
    index.build(texts, ids)
    got, scores = index.search(["words"], 3)
    assert got.tolist() == [[10, 20, 30]]
    assert scores[0, 0] == scores[0, 1] == scores[0, 2] > 0
    got, _ = index.search(["words"], 10)
    assert got[0].tolist() == [10, 20, 30, 40, 50] + [-1] * 5


def test_only_documents_containing_a_query_term_are_returned():
    index = KeywordIndex()
    index.build(["the cat sat on the mat", "dogs bark loudly", "a cat and a dog"], [1, 2, 3])
    ids, _ = index.search(["cat"], 10)
    assert ids[0].tolist() == [1, 3] + [-1] * 8 or ids[0].tolist() == [3, 1] + [-1] * 8
    ids, scores = index.search(["quantum chromodynamics"], 10)  # no term in the corpus
    assert (ids == -1).all() and np.isneginf(scores).all()


def test_empty_and_stopword_only_queries_return_padding():
    index = KeywordIndex()
    index.build(["the quick brown fox", "jumps over the lazy dog"], [0, 1])
    ids, scores = index.search(["", "   ", "the of and", "!!! ???", "a"], 3)
    assert ids.shape == (5, 3)
    assert (ids == -1).all() and np.isneginf(scores).all()


def test_zero_k_and_no_queries():
    index = KeywordIndex()
    index.build(["some text"], [0])
    ids, scores = index.search(["text"], 0)
    assert ids.shape == scores.shape == (1, 0)
    ids, scores = index.search([], 5)
    assert ids.shape == scores.shape == (0, 5)


def test_stemming_joins_word_forms_and_can_be_turned_off():
    texts = ["The runner was running fast", "A quiet afternoon"]
    stemmed = KeywordIndex()
    stemmed.build(texts, [0, 1])
    assert stemmed.search(["runs"], 2)[0][0].tolist() == [0, -1]
    plain = KeywordIndex(stemmer=None)
    plain.build(texts, [0, 1])
    assert plain.search(["runs"], 2)[0][0].tolist() == [-1, -1]
    assert plain.search(["running"], 2)[0][0].tolist() == [0, -1]
    assert stemmed.tokenize(["Running runners run"]) == [["run", "runner", "run"]]


def test_stopwords_are_removed_unless_turned_off():
    texts = ["to be or not to be", "question everything"]
    with_stop = KeywordIndex()
    with_stop.build(texts, [0, 1])
    assert (with_stop.search(["to be"], 2)[0] == -1).all()
    without = KeywordIndex(stopwords=None)
    without.build(texts, [0, 1])
    assert without.search(["to be"], 2)[0][0].tolist() == [0, -1]


def test_numbers_and_one_character_tokens_are_kept():
    # "5", "C" and "x" are words of their own; an analyzer that drops one-character
    # tokens could never find the chunk about 5 mg of vitamin C.
    index = KeywordIndex()
    texts = ["Take 5 mg of vitamin C daily", "Take 50 mg of vitamin D daily", "x marks it"]
    index.build(texts, [10, 20, 30])
    assert index.tokenize(["Take 5 mg of vitamin C"]) == [["take", "5", "mg", "vitamin", "c"]]
    assert index.search(["5"], 3)[0].tolist() == [[10, -1, -1]]
    assert index.search(["vitamin c"], 1)[0].tolist() == [[10]]
    assert index.search(["X"], 3)[0].tolist() == [[30, -1, -1]]
    assert index.search(["a"], 3)[0].tolist() == [[-1, -1, -1]]  # "a" is a stopword


def test_the_two_character_pattern_is_still_available_and_recorded(tmp_path: Path):
    from docframe.index.keyword import TWO_CHAR_PATTERN

    old = KeywordIndex(token_pattern=TWO_CHAR_PATTERN)
    old.build(["Take 5 mg of vitamin C daily", "vitamin D"], [1, 2])
    assert old.tokenize(["5 mg vitamin C"]) == [["mg", "vitamin"]]
    assert (old.search(["5"], 2)[0] == -1).all()
    old.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")  # queries keep the build's tokenization
    assert loaded.params == old.params
    assert loaded.params["token_pattern"] == TWO_CHAR_PATTERN
    assert loaded.tokenize(["5 mg"]) == [["mg"]]
    assert KeywordIndex().params["token_pattern"] != TWO_CHAR_PATTERN


def test_case_and_accents_are_folded():
    assert fold("Ångström CAFÉ Straße ﬁsh naïve") == "angstrom cafe strasse fish naive"
    index = KeywordIndex()
    index.build(["Le café de Zoë", "Straße in München", "plain english text"], [0, 1, 2])
    assert index.search(["CAFE"], 1)[0].tolist() == [[0]]
    assert index.search(["zoe"], 1)[0].tolist() == [[0]]
    assert index.search(["strasse munchen"], 1)[0].tolist() == [[1]]
    assert index.search(["MÜNCHEN"], 1)[0].tolist() == [[1]]


def test_accented_stopwords_are_folded_like_the_text():
    # "été" and "où" are French stopwords; folded text reads "ete" and "ou".
    index = KeywordIndex(stemmer="french", stopwords="fr")
    index.build(["il a été où", "les montagnes enneigées"], [0, 1])
    assert (index.search(["été où"], 2)[0] == -1).all()
    assert index.search(["montagne"], 2)[0][0].tolist() == [1, -1]


# --- empty corpora ---------------------------------------------------------------------------


@pytest.mark.parametrize("texts", [[], ["", "the and of", "!!!"]])
def test_corpus_without_terms_searches_to_padding_and_round_trips(tmp_path: Path, texts):
    index = KeywordIndex()
    index.build(texts, np.arange(len(texts)))
    assert len(index) == len(texts)
    ids, scores = index.search(["anything at all"], 3)
    assert (ids == -1).all() and np.isneginf(scores).all()
    index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert len(loaded) == len(texts)
    assert (loaded.search(["anything"], 2)[0] == -1).all()


def test_rebuild_replaces_the_contents():
    index = KeywordIndex()
    index.build(["alpha beta"], [1])
    index.build(["gamma delta", "epsilon"], [7, 8])
    assert len(index) == 2
    assert (index.search(["alpha"], 2)[0] == -1).all()
    assert index.search(["gamma"], 1)[0].tolist() == [[7]]
    assert index.ids.tolist() == [7, 8]
    with pytest.raises(ValueError):
        index.ids[0] = 3  # read-only view


# --- persistence ----------------------------------------------------------------------------


def test_save_load_round_trip_keeps_results_and_params(tmp_path: Path, random_corpus):
    index, _, ids, queries = random_corpus
    index.save(tmp_path / "kw")
    manifest = json.loads((tmp_path / "kw" / "index.json").read_text())
    assert (manifest["kind"], manifest["count"]) == ("bm25", len(ids))
    assert manifest["params"]["stemmer"] is None
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.params == index.params and len(loaded) == len(index)
    for allowed in (None, ids[::2]):
        want = index.search(queries, 9, allowed=allowed)
        got = loaded.search(queries, 9, allowed=allowed)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_loaded_index_tokenizes_queries_like_the_build(tmp_path: Path):
    index = KeywordIndex(k1=1.3, b=0.6, stemmer="english", stopwords="english")
    index.build(["Mitochondrial DNA mutations accumulate", "Unrelated sentence"], [3, 4])
    index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.params["k1"] == 1.3 and loaded.params["b"] == 0.6
    np.testing.assert_array_equal(
        loaded.search(["the mutation of mitochondria"], 2)[1],
        index.search(["the mutation of mitochondria"], 2)[1],
    )
    assert loaded.search(["the mutation of mitochondria"], 2)[0].tolist() == [[3, -1]]


def test_pickle_round_trip(random_corpus):
    # Indexes may travel to Dask workers or subprocesses.
    index, _, _, queries = random_corpus
    index.search(queries[:1], 1)  # stemmer and lock exist now
    stemmed = KeywordIndex()
    stemmed.build(["The runners were running"], [5])
    stemmed.search(["run"], 1)
    for original in (index, stemmed):
        clone = pickle.loads(pickle.dumps(original))
        want, got = original.search(queries, 5), clone.search(queries, 5)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert pickle.loads(pickle.dumps(stemmed)).search(["runs"], 1)[0].tolist() == [[5]]


def test_load_refuses_other_directories(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="index.json"):
        KeywordIndex.load(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"kind": "faiss-flat", "dim": 4, "count": 0}))
    with pytest.raises(ValueError, match="faiss-flat"):
        KeywordIndex.load(tmp_path)


def test_load_detects_mismatched_files(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = KeywordIndex()
    index.build(["one document", "two documents"], [0, 1])
    index.save(tmp_path / "kw")
    pq.write_table(
        pa.table({"id": pa.array(range(3), pa.int64())}), tmp_path / "kw" / "ids.parquet"
    )
    with pytest.raises(ValueError, match="ids.parquet"):
        KeywordIndex.load(tmp_path / "kw")
    index.save(tmp_path / "kw")
    post = pq.read_table(tmp_path / "kw" / "postings.parquet")
    pq.write_table(post.slice(1), tmp_path / "kw" / "postings.parquet")
    with pytest.raises(ValueError, match="postings"):
        KeywordIndex.load(tmp_path / "kw")


def test_saved_matrix_is_bm25s_matrix_exactly(tmp_path: Path, random_corpus):
    # The compact files must give back bm25s' CSC arrays bit for bit (float32 weights,
    # not float16): rankings and scores of a loaded index are those of the built one.
    index = random_corpus[0]
    index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    for name in ("data", "indices", "indptr"):
        want, got = index._bm25.scores[name], loaded._bm25.scores[name]
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want)
    assert loaded._bm25.vocab_dict == index._bm25.vocab_dict
    assert sorted(p.name for p in (tmp_path / "kw").iterdir()) == [
        "ids.parquet", "index.json", "postings.parquet", "terms.parquet"
    ]  # fmt: skip


def save_format_1(index: KeywordIndex, directory: Path) -> None:
    """What docframe wrote before the compact layout: bm25s' own files, ids.npy."""
    directory.mkdir(parents=True)
    np.save(directory / "ids.npy", index._ids, allow_pickle=False)
    index._bm25.save(directory / "bm25s", show_progress=False)
    manifest = {"kind": "bm25", "count": len(index), "format_version": 1,
                "params": index.params, "has_terms": True, "bm25s_version": "0.3.16"}  # fmt: skip
    (directory / "index.json").write_text(json.dumps(manifest))


def test_an_index_saved_in_format_1_still_loads(tmp_path: Path, random_corpus):
    index, _, ids, queries = random_corpus
    save_format_1(index, tmp_path / "old")
    loaded = KeywordIndex.load(tmp_path / "old")
    for allowed in (None, ids[::3]):
        want, got = (
            index.search(queries, 7, allowed=allowed),
            loaded.search(queries, 7, allowed=allowed),
        )
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


# --- input checks ---------------------------------------------------------------------------


def test_bad_build_inputs_are_named():
    index = KeywordIndex()
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        index.build(["a b", "c d"], [1])
    with pytest.raises(ValueError, match=r"unique; repeated: \[1\]"):
        index.build(["a b", "c d"], [1, 1])
    with pytest.raises(ValueError, match="non-negative .*got -1"):
        index.build(["a b", "c d"], [1, -1])
    with pytest.raises(ValueError, match="ids must be integers, got dtype float64"):
        index.build(["a b", "c d"], [1.0, 2.0])
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, got NoneType"):
        index.build(["fine", None], [1, 2])
    with pytest.raises(TypeError, match="not a single str"):
        index.build("a whole string", [0])


def test_bad_search_inputs_are_named():
    index = KeywordIndex()
    index.build(["some text"], [0])
    with pytest.raises(TypeError, match="queries must be a sequence of strings"):
        index.search("text", 3)
    with pytest.raises(TypeError, match=r"queries\[0\] must be str, got int"):
        index.search([42], 3)
    for k in (-1, 2.5, True):
        with pytest.raises(ValueError, match="k must be an integer"):
            index.search(["text"], k)


def test_bad_params_are_named():
    with pytest.raises(ValueError, match="unknown BM25 method 'bm25l'"):
        KeywordIndex(method="bm25l")
    with pytest.raises(ValueError, match="unknown stemmer language 'klingon'"):
        KeywordIndex(stemmer="klingon")
    with pytest.raises(ValueError, match="unknown stopwords language 'elvish'"):
        KeywordIndex(stopwords="elvish")
    with pytest.raises(ValueError, match="b must be between 0 and 1"):
        KeywordIndex(b=1.5)
    with pytest.raises(ValueError, match="k1 must be"):
        KeywordIndex(k1=-1)
    with pytest.raises(ValueError, match="unknown token pattern 'words'"):
        KeywordIndex(token_pattern="words")


@pytest.mark.parametrize("method", ["robertson", "atire"])
def test_other_methods_return_positive_scores_only(method):
    index = KeywordIndex(method=method, **PLAIN)
    # "common" is in every document: idf 0 under robertson/atire, so it matches nothing.
    index.build(["common rare", "common", "common other"], [0, 1, 2])
    ids, scores = index.search(["common rare"], 3)
    assert ids[0].tolist() == [0, -1, -1]
    assert scores[0, 0] > 0


# --- environment ----------------------------------------------------------------------------


def test_tokenize_and_search_need_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("keyword indexing tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    index = KeywordIndex(stemmer="german", stopwords="german")  # a language not loaded yet
    index.build(["Die Häuser sind groß", "Ein kleines Boot"], [0, 1])
    assert index.search(["Haus"], 1)[0].tolist() == [[0]]


def test_import_docframe_does_not_import_bm25s():
    code = (
        "import sys, docframe, docframe.index.keyword; "
        "heavy = [m for m in ('bm25s', 'Stemmer', 'scipy') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
