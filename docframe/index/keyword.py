"""BM25 keyword search over chunk text, built on bm25s.

Dense embeddings miss exact tokens: gene names, error codes, part numbers, rare
words. A BM25 index catches those, and fusing both rankings (``docframe.query.fusion``)
beats either alone. Why bm25s: it is maintained, computes every document's BM25
weight per term once at build time into a scipy-style sparse matrix (so a query only
adds up a few columns), saves and loads that matrix as plain ``.npy`` files, and
filters with a per-document ``weight_mask``. It needs numpy only (plus PyStemmer for
stemming); its optional jax/numba/torch extras are not used.

Text is case- and accent-folded (``casefold`` + NFKD without combining marks, so
"Café", "CAFE" and "café" are one token), split into words (one-character ones such
as "5" included), stripped of stopwords and stemmed with Snowball (PyStemmer).
Everything needed ships inside the two packages: tokenizing never downloads anything.

Like the vector indexes (``docframe.index.base``), documents are labelled with
caller-chosen int64 ids and results are padded with id -1 / score -inf. Unlike
them, a document is returned only when its BM25 score is positive, i.e. when at
least one query term occurs in it: keyword search has no "nearest" document for a
query whose words are nowhere in the corpus. Ties are broken by ascending id, so
results are reproducible. bm25s and PyStemmer are imported inside the functions so
that ``import docframe`` stays light.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from docframe.index.checks import missing_dependency
from docframe.index.manifest import MANIFEST, read_manifest
from docframe.index.topk import empty_results, row_top_k

KIND = "bm25"
# 2: the compact layout (``ids.parquet``, ``postings.parquet``, ``terms.parquet``);
# 1: bm25s' own files (``ids.npy``, ``bm25s/*.npy``, vocabulary as JSON), still read.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
IDS_FILE = "ids.parquet"
POSTINGS_FILE = "postings.parquet"
TERMS_FILE = "terms.parquet"
V1_IDS_FILE = "ids.npy"
BM25S_DIR = "bm25s"
ZSTD_LEVEL = 9
# what bm25s.BM25() was made with; recorded so that a load makes the same object
_BM25S_PARAMS = ("k1", "b", "delta", "method", "idf_method", "dtype", "int_dtype", "backend")

# Words of one or more word characters. bm25s' own pattern (scikit-learn's,
# ``(?u)\b\w\w+\b``, used until docframe 0.x) drops one-character tokens, so "5",
# "x" or "C" (vitamin C) could never be searched for and a filtered keyword search for
# a number came back short; keeping them is also better on SciFact train (see
# benchmarks/retrieval_experiments.py). An index records the pattern it was built with
# and keeps tokenizing its queries with it.
TOKEN_PATTERN = r"(?u)\b\w+\b"
TWO_CHAR_PATTERN = r"(?u)\b\w\w+\b"
TOKEN_PATTERNS = (TOKEN_PATTERN, TWO_CHAR_PATTERN)

# BM25's saturation and length normalisation: Anserini's defaults for BEIR-style
# collections (Lucene's own are 1.2 / 0.75; docframe used bm25s' 1.5 / 0.75 until now).
# Chunks are short and of similar length, so a repeated term should saturate early and
# length matters little; on SciFact train (809 queries, full corpus) 0.9 / 0.4 lifts
# hybrid (z-score fusion) nDCG@10 by +0.005 ± 0.002 and keyword alone by +0.004 (grid in
# benchmarks/README.md, retrieval_experiments.py; the prior was kept, not the grid's best).
K1 = 0.9
B = 0.4

# Scoring variants (bm25s' names) whose per-term weights are never negative and are
# zero only where a term is absent (or, for robertson and atire, so common that its
# idf is 0), so "score > 0" means "matched". bm25l and bm25+ add a non-occurrence
# bonus to every document, matching or not, and are therefore not offered.
METHODS = ("lucene", "robertson", "atire")

# Stopword lists bundled in bm25s.stopwords, by language name and ISO code.
_STOPWORD_LISTS = {
    "english": "STOPWORDS_EN",
    "english_plus": "STOPWORDS_EN_PLUS",
    "german": "STOPWORDS_GERMAN",
    "dutch": "STOPWORDS_DUTCH",
    "french": "STOPWORDS_FRENCH",
    "spanish": "STOPWORDS_SPANISH",
    "portuguese": "STOPWORDS_PORTUGUESE",
    "italian": "STOPWORDS_ITALIAN",
    "russian": "STOPWORDS_RUSSIAN",
    "swedish": "STOPWORDS_SWEDISH",
    "norwegian": "STOPWORDS_NORWEGIAN",
    "chinese": "STOPWORDS_CHINESE",
    "turkish": "STOPWORDS_TURKISH",
    "korean": "STOPWORDS_KOREAN",
    "danish": "STOPWORDS_DANISH",
}
_LANGUAGE_CODES = {
    "en": "english",
    "de": "german",
    "nl": "dutch",
    "fr": "french",
    "es": "spanish",
    "pt": "portuguese",
    "it": "italian",
    "ru": "russian",
    "sv": "swedish",
    "no": "norwegian",
    "zh": "chinese",
    "tr": "turkish",
    "ko": "korean",
    "da": "danish",
}


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        raise missing_dependency(
            "bm25s", "pip install bm25s PyStemmer (core dependencies of docframe)"
        ) from exc
    return bm25s


def _stemmer_module() -> Any:
    try:
        import Stemmer
    except ImportError as exc:
        raise missing_dependency(
            "PyStemmer", "pip install PyStemmer (a core dependency of docframe)"
        ) from exc
    return Stemmer


@functools.cache
def _combining_marks() -> dict[int, None]:
    """A ``str.translate`` table deleting every combining mark (built once, ~0.2 s)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


def fold(text: str) -> str:
    """Case- and accent-fold ``text``: "Ångström Café" -> "angstrom cafe".

    ``casefold`` handles ß -> ss and similar; NFKD splits accented letters into base
    letter + combining mark (and ligatures such as "ﬁ" into "fi"), and the marks are
    dropped. ASCII text, the common case, skips the Unicode work.
    """
    text = text.casefold()
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_combining_marks())


def _resolve_language(value: str | None, what: str, valid: Sequence[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a language name or None, got {value!r}")
    name = _LANGUAGE_CODES.get(value.lower(), value.lower())
    if name not in valid:
        raise ValueError(f"unknown {what} language {value!r}; valid: {', '.join(sorted(valid))}")
    return name


class KeywordIndex:
    """BM25 over texts labelled by int64 ids; ``search`` returns matching ids only.

    Parameters are recorded in the saved manifest and restored by ``load``, so a
    query is always tokenized exactly like the documents were.
    """

    kind = KIND

    def __init__(
        self,
        *,
        k1: float = K1,
        b: float = B,
        method: str = "lucene",
        stemmer: str | None = "english",
        stopwords: str | None = "english",
        token_pattern: str = TOKEN_PATTERN,
    ) -> None:
        if token_pattern not in TOKEN_PATTERNS:
            raise ValueError(
                f"unknown token pattern {token_pattern!r}; valid: {', '.join(TOKEN_PATTERNS)}"
            )
        if not (np.isfinite(k1) and k1 >= 0):
            raise ValueError(f"k1 must be a finite number >= 0, got {k1!r}")
        if not (np.isfinite(b) and 0 <= b <= 1):
            raise ValueError(f"b must be between 0 and 1, got {b!r}")
        if method not in METHODS:
            raise ValueError(f"unknown BM25 method {method!r}; valid: {', '.join(METHODS)}")
        algorithms = _stemmer_module().algorithms() if stemmer is not None else ()
        self._params: dict[str, Any] = {
            "k1": float(k1),
            "b": float(b),
            "method": method,
            "stemmer": _resolve_language(stemmer, "stemmer", algorithms),
            "stopwords": _resolve_language(stopwords, "stopwords", tuple(_STOPWORD_LISTS)),
            "token_pattern": token_pattern,
            "folding": "casefold+nfkd-strip-marks",
        }
        self._ids = np.empty(0, dtype=np.int64)
        self._bm25: Any = None  # None: no document has a single token
        # A PyStemmer Stemmer "must not be called concurrently"; searches may come from
        # several threads (an agent server), so tokenizing is serialised.
        self._tokenize_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Locks and Snowball stemmers do not pickle; both are rebuilt on first use.
        state = dict(self.__dict__)
        for name in ("_tokenize_lock", "_stemmer", "_stopword_list"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tokenize_lock = threading.Lock()

    # --- tokenization ---------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        """k1, b, method, stemmer and stopwords language (None = off), token pattern, folding.

        ``docframe.index.keyword_store`` compares them with today's defaults: an index
        built with other parameters is stale and is rebuilt, never searched."""
        return dict(self._params)

    @functools.cached_property
    def _stopword_list(self) -> list[str]:
        language = self._params["stopwords"]
        if language is None:
            return []
        words = getattr(_bm25s().stopwords, _STOPWORD_LISTS[language])
        return sorted({fold(w) for w in words})  # folded like the text they are matched against

    @functools.cached_property
    def _stemmer(self) -> Any:
        language = self._params["stemmer"]
        return None if language is None else _stemmer_module().Stemmer(language)

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """The terms BM25 sees for each text: folded, split, stopwords removed, stemmed.

        Everything comes from the installed bm25s and PyStemmer packages; nothing is
        downloaded. Useful to explain why a query does or does not match.
        """
        texts = _check_texts(texts, "texts")
        if not texts:
            return []
        bm25s = _bm25s()
        folded = [fold(t) for t in texts]
        with self._tokenize_lock:
            return bm25s.tokenize(
                folded,
                lower=False,  # already case-folded
                token_pattern=self._params["token_pattern"],
                stopwords=self._stopword_list,
                stemmer=self._stemmer,
                return_ids=False,
                show_progress=False,
            )

    # --- build and search ------------------------------------------------------------------

    def build(self, texts: Sequence[str], ids: np.ndarray) -> None:
        """Replace the contents with ``texts``, the i-th labelled by ``ids[i]`` (int64, unique)."""
        texts = _check_texts(texts, "texts")
        ids = np.asarray(ids)
        if ids.size and ids.dtype.kind not in "iu":
            raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.shape != (len(texts),):
            raise ValueError(f"ids must have shape ({len(texts)},), one per text, got {ids.shape}")
        if ids.size and ids.min() < 0:
            raise ValueError(
                f"ids must be non-negative (-1 marks a missing result), got {ids.min()}"
            )
        ordered = np.sort(ids)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if repeated.size:
            raise ValueError(f"ids must be unique; repeated: {repeated[:5].tolist()}")
        tokens = self.tokenize(texts)
        bm25 = None
        if any(tokens):  # bm25s cannot index a corpus without a single token
            bm25s = _bm25s()
            bm25 = bm25s.BM25(
                k1=self._params["k1"], b=self._params["b"], method=self._params["method"]
            )
            bm25.index(tokens, show_progress=False)
        self._ids, self._bm25 = ids, bm25

    def __len__(self) -> int:
        return int(self._ids.size)

    @property
    def ids(self) -> np.ndarray:
        """The document labels, in build order (a read-only view)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def search(
        self,
        queries: Sequence[str],
        k: int,
        *,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` documents per query by BM25: (ids (q, k) int64, scores (q, k) float32).

        Only documents containing at least one query term (score > 0) are returned,
        best first, ties by ascending id; the remaining slots are id -1, score -inf.
        With ``allowed`` (an array of ids) only those documents can be returned, and
        ids in ``excluded`` never are (as in the vector indexes: a SQL filter and
        deleted chunks); ids not in the index are ignored.
        """
        queries = _check_texts(queries, "queries")
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ValueError(f"k must be an integer >= 0, got {k!r}")
        k = int(k)
        out_ids, out_scores = empty_results(len(queries), k)
        if k == 0 or not queries or self._bm25 is None:
            return out_ids, out_scores
        mask = None
        if allowed is not None or excluded is not None:
            keep = np.ones(len(self), dtype=bool)
            if allowed is not None:
                keep &= np.isin(self._ids, _id_filter("allowed", allowed))
            if excluded is not None:
                keep &= ~np.isin(self._ids, _id_filter("excluded", excluded))
            if not keep.any():
                return out_ids, out_scores
            mask = keep.astype(np.float32)  # bm25s multiplies scores by it: 0 removes a doc
        bm25 = self._bm25
        for row, terms in enumerate(self.tokenize(queries)):
            term_ids = bm25.get_tokens_ids(terms)
            if not term_ids:
                continue  # no query term occurs in the corpus
            scores = bm25.get_scores_from_ids(term_ids, weight_mask=mask)
            hits = np.flatnonzero(scores > 0)  # a document sharing no term is no result
            hit_ids, hit_scores = row_top_k(scores[hits], self._ids[hits], k)
            out_ids[row, : hit_ids.size] = hit_ids
            out_scores[row, : hit_ids.size] = hit_scores
        return out_ids, out_scores

    # --- persistence -----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write ``index.json`` (kind, count, params) and the compact files.

        bm25s' own ``save`` writes its CSC matrix as raw ``.npy`` arrays and the
        vocabulary as JSON: on SciFact-1000 1.4 MB, a quarter of the lake. The same
        matrix is kept here as Parquet (zstd): ``postings.parquet`` holds per posting
        the gap to the previous document of its term (uint16 while the index holds
        fewer than 65,536 documents) and the BM25 weight (float32, dictionary-encoded:
        weights repeat), ``terms.parquet`` the vocabulary in id order with each term's
        posting count, ``ids.parquet`` the labels (delta-encoded: usually 0..n-1).
        The weights stay float32 and are stored exactly, so a loaded index scores
        exactly as the built one (float16 would merge near scores and reorder ties).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _write(directory / IDS_FILE, {"id": _arrow(self._ids)}, delta=("id",))
        matrix = None
        if self._bm25 is not None:
            matrix = _save_matrix(self._bm25, directory)
        manifest = {
            "kind": KIND,
            "count": len(self),
            "format_version": FORMAT_VERSION,
            "params": self._params,
            "has_terms": self._bm25 is not None,
            "matrix": matrix,
            "bm25s_version": _bm25s().__version__,
        }
        # Written last: a directory with a manifest is a complete index.
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        """Read an index written by ``save`` (this layout or format 1, bm25s' own files),
        with the parameters it was built with."""
        directory = Path(directory)
        manifest = read_manifest(directory, expect_kind=KIND)
        version = manifest.get("format_version")
        if version not in READABLE_FORMATS:
            raise ValueError(
                f"{directory}: keyword index format {version!r}, this docframe reads "
                f"{', '.join(map(str, READABLE_FORMATS))}"
            )
        params = manifest["params"]
        if params.get("token_pattern") not in TOKEN_PATTERNS:
            raise ValueError(
                f"{directory}: built with token pattern {params.get('token_pattern')!r}"
            )
        self = cls(
            k1=params["k1"],
            b=params["b"],
            method=params["method"],
            stemmer=params["stemmer"],
            stopwords=params["stopwords"],
            token_pattern=params["token_pattern"],
        )
        if version == 1:
            ids_file = V1_IDS_FILE
            ids = np.load(directory / V1_IDS_FILE, allow_pickle=False)
        else:
            ids_file = IDS_FILE
            ids = _read(directory / IDS_FILE).column("id").to_numpy()
        if ids.dtype != np.int64 or ids.shape != (manifest["count"],):
            raise ValueError(
                f"{directory}: {ids_file} holds {ids.dtype} {ids.shape}, "
                f"manifest says {manifest['count']} int64 ids"
            )
        bm25 = None
        if manifest["has_terms"]:
            if version == 1:
                bm25 = _bm25s().BM25.load(directory / BM25S_DIR, show_progress=False)
            else:
                bm25 = _load_matrix(directory, manifest["matrix"])
            if bm25.scores["num_docs"] != ids.size:
                raise ValueError(
                    f"{directory}: bm25s matrix has {bm25.scores['num_docs']} documents, "
                    f"manifest says {ids.size}"
                )
        self._ids, self._bm25 = ids, bm25
        return self


def _arrow(values: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.array(values)


def _write(
    path: Path,
    columns: dict[str, Any],
    *,
    delta: Sequence[str] = (),
    dictionary: Sequence[str] = (),
) -> None:
    """One zstd Parquet file; ``delta`` columns (sorted ints) delta-encoded,
    ``dictionary`` ones dictionary-encoded (values that repeat), the rest plain (a
    vocabulary: unique strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table(columns),
        path,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        use_dictionary=list(dictionary),
        column_encoding={c: "DELTA_BINARY_PACKED" for c in delta} or None,
    )


def _read(path: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _save_matrix(bm25: Any, directory: Path) -> dict[str, Any]:
    """Write bm25s' CSC matrix (one column per term, its documents ascending) and its
    vocabulary compactly; returns what :func:`_load_matrix` needs besides the files."""
    scores = bm25.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    counts = np.diff(indptr)
    gaps = indices.astype(np.int64)
    gaps[1:] -= indices[:-1]
    starts = indptr[:-1][counts > 0]
    gaps[starts] = indices[starts]  # a term's first document is stored as it is
    if gaps.size and gaps.min() < 0:
        raise ValueError("bm25s matrix has a term whose documents are not ascending")
    gap_dtype = np.uint16 if not gaps.size or gaps.max() <= np.iinfo(np.uint16).max else np.uint32
    terms: list[str | None] = [None] * len(bm25.vocab_dict)
    for term, term_id in bm25.vocab_dict.items():
        terms[term_id] = term
    if any(t is None for t in terms):
        raise ValueError("bm25s vocabulary ids are not 0..n-1")
    postings = np.zeros(len(terms), dtype=np.uint32)  # bm25s' "" token may have no column
    postings[: counts.size] = counts
    _write(
        directory / POSTINGS_FILE,
        {"doc_gap": _arrow(gaps.astype(gap_dtype)), "score": _arrow(data)},
        dictionary=("doc_gap", "score"),  # both repeat: 13 KB smaller on SciFact-1000
    )
    _write(directory / TERMS_FILE, {"term": _arrow(np.array(terms, dtype=object)),
                                    "postings": _arrow(postings)})  # fmt: skip
    return {
        "num_docs": int(scores["num_docs"]),
        "columns": int(counts.size),
        "postings": int(data.size),
        "bm25s": {name: getattr(bm25, name) for name in _BM25S_PARAMS},
    }


def _load_matrix(directory: Path, matrix: dict[str, Any]) -> Any:
    """A bm25s.BM25 searching exactly as the one :func:`_save_matrix` wrote."""
    bm25 = _bm25s().BM25(**matrix["bm25s"])
    post, vocab = _read(directory / POSTINGS_FILE), _read(directory / TERMS_FILE)
    gaps = post.column("doc_gap").to_numpy().astype(np.int64)
    data = post.column("score").to_numpy().astype(bm25.dtype, copy=False)
    terms = vocab.column("term").to_pylist()
    counts = vocab.column("postings").to_numpy()[: matrix["columns"]].astype(np.int64)
    if gaps.size != matrix["postings"] or int(counts.sum()) != gaps.size:
        raise ValueError(
            f"{directory}: {POSTINGS_FILE} holds {gaps.size} postings, "
            f"{TERMS_FILE} counts {int(counts.sum())}, manifest says {matrix['postings']}"
        )
    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    running = np.cumsum(gaps)
    base = np.zeros(counts.size, dtype=np.int64)  # per term: the running sum before it
    filled = counts > 0
    starts = indptr[:-1][filled]
    base[filled] = running[starts] - gaps[starts]
    indices = running - np.repeat(base, counts)
    if indices.size and (indices.min() < 0 or indices.max() >= matrix["num_docs"]):
        raise ValueError(f"{directory}: {POSTINGS_FILE} points past {matrix['num_docs']} documents")
    bm25.vocab_dict = dict(zip(terms, range(len(terms)), strict=True))
    bm25.unique_token_ids_set = set(range(len(terms)))
    bm25.nonoccurrence_array = None  # only lucene, robertson and atire are offered
    bm25.scores = {
        "data": data,
        "indices": indices.astype(bm25.int_dtype),
        "indptr": indptr,
        "num_docs": matrix["num_docs"],
    }
    return bm25


def _id_filter(name: str, ids: np.ndarray) -> np.ndarray:
    """A search filter as an int64 array; anything but a 1-D integer array is refused."""
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(
            f"{name} must be a 1-D array of integer ids, got shape {arr.shape} dtype {arr.dtype}"
        )
    return arr.astype(np.int64, copy=False)


def _check_texts(texts: Sequence[str], what: str) -> list[str]:
    """A list of str; a bare string (which would iterate as characters) is refused."""
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"{what} must be a sequence of strings, not a single {type(texts).__name__}"
        )
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] must be str, got {type(text).__name__}: {text!r:.80}")
    return texts
