"""Search by document (``per_document``): k distinct documents, each by its best chunk,
on a real lake where one long document's chunks dominate every chunk ranking; through
the API, SQL, the CLI and the agent tool."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import docframe
from docframe.cli import app
from docframe.errors import QueryError
from docframe.mcp.sandbox import Limits
from docframe.mcp.tools import LakeTools
from docframe.query.search import best_chunk_per_document

QUESTION = "glacier ice melting"
LONG = "glacier.txt"
SHORT = [f"short-{i}.txt" for i in range(5)]
OTHER = ["bread.txt", "violin.txt", "orbit.txt"]
N_DOCS = 1 + len(SHORT) + len(OTHER)
SHORT_TEXT = [
    "The orchard report: apples ripened early, and the glacier above the valley was quiet.",
    "Minutes of the harbour board; the ferry timetable changes in June near the glacier.",
    "A recipe for plum jam, written in the hut below the glacier by the guide.",
    "The choir rehearses on Tuesdays; last year they sang a song about a glacier.",
    "Road works on the pass: expect delays, the glacier viewpoint car park is closed.",
]
OTHER_TEXT = [
    "Sourdough bread needs a lively starter, flour, water and a long proof.",
    "A violin's sound post carries the vibration from the top plate to the back.",
    "A satellite in low orbit circles the earth about every ninety minutes.",
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> docframe.Lake:
    """One long document about glaciers melting (40 small chunks, each a strong match),
    five short ones that mention a glacier once, three about something else."""
    root = tmp_path_factory.mktemp("per-document")
    corpus = root / "corpus"
    corpus.mkdir()
    paragraphs = [
        f"Section {i}: the glacier ice is melting fast; meltwater from the glacier ice "
        f"runs off as the glacier retreats, measurement {i} of the ice melting."
        for i in range(40)
    ]
    (corpus / LONG).write_text("\n\n".join(paragraphs) + "\n")
    for name, text in zip(SHORT + OTHER, SHORT_TEXT + OTHER_TEXT, strict=True):
        (corpus / name).write_text(text + "\n")
    lake = docframe.open(root / "lake", chunk_tokens=32, chunk_overlap=0)
    report = lake.ingest(corpus)
    assert report.ok, report.failures
    return lake


def keys(result) -> list[str]:
    return [r["doc_key"] for r in result.to_list()]


def test_the_long_document_dominates_chunk_search(lake):
    """The corpus does what the tests below need: chunk search is mostly one document."""
    n_chunks = lake.sql(f"SELECT count(*) AS n FROM chunks WHERE doc_key = '{LONG}'").to_list()
    assert n_chunks[0]["n"] >= 20
    for mode in ("dense", "keyword", "hybrid"):
        assert keys(lake.search(QUESTION, 5, mode=mode)) == [LONG] * 5, mode


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_k_distinct_documents_each_by_its_best_chunk(lake, mode):
    result = lake.search(QUESTION, 6, mode=mode, per_document=True)
    rows = result.to_list()
    assert len({r["doc_id"] for r in rows}) == len(rows) == 6
    assert rows[0]["doc_key"] == LONG
    assert set(keys(result)) == {LONG, *SHORT}  # the six documents that mention a glacier
    assert [r["rank"] for r in rows] == list(range(1, 7))
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    info = result.info
    assert info["per_document"] is True and info["documents"] == info["returned"] == 6
    assert not info["exhausted"]
    if mode != "hybrid":  # each document's chunk is its first in the full chunk ranking
        everything = lake.search(QUESTION, 200, mode=mode).to_list()
        first: dict[str, str] = {}
        for r in everything:
            first.setdefault(r["doc_id"], r["chunk_id"])
        assert [r["chunk_id"] for r in rows] == [first[r["doc_id"]] for r in rows]


def test_deeper_rounds_reach_every_document(lake):
    """k = every document: the first round (3 chunks per document) holds mostly the long
    document's chunks, so the ranking is read deeper until all nine are in it."""
    result = lake.search(QUESTION, N_DOCS, per_document=True)
    assert sorted(keys(result)) == sorted([LONG, *SHORT, *OTHER])
    assert not result.info["exhausted"] and result.info["fetched"]["dense"] > 3 * N_DOCS


def test_exhausted_when_fewer_documents_exist(lake):
    dense = lake.search(QUESTION, 20, per_document=True)
    assert dense.info["exhausted"] and dense.info["documents"] == N_DOCS
    assert (
        dense.info["reason"]
        == f"the snapshot's {dense.info['candidates']} chunk(s) are in only 9 document(s)"
    )
    keyword = lake.search(QUESTION, 8, mode="keyword", per_document=True)
    assert keyword.info["exhausted"] and sorted(keys(keyword)) == sorted([LONG, *SHORT])
    assert "only 6 document(s) have a chunk sharing a term" in keyword.info["reason"]
    hybrid = lake.search(QUESTION, 20, mode="hybrid", per_document=True)
    assert hybrid.info["exhausted"] and hybrid.info["documents"] == N_DOCS


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_where_keeps_k_documents_whenever_k_match(lake, mode):
    where = f"doc_key IN ('{LONG}', 'short-1.txt', 'short-3.txt', 'bread.txt')"
    result = lake.search(QUESTION, 3, mode=mode, where=where, per_document=True)
    assert len(set(keys(result))) == 3 and set(keys(result)) <= {
        LONG,
        "short-1.txt",
        "short-3.txt",
        "bread.txt",
    }
    assert not result.info["exhausted"]
    if mode != "keyword":  # bread shares no term with the question
        found = lake.search(QUESTION, 5, mode=mode, where=where, per_document=True)
        assert found.info["exhausted"] and found.info["documents"] == 4
        assert "matching --where are in only 4 document(s)" in found.info["reason"]


def test_hybrid_with_one_weight_zero_is_that_ranking_per_document(lake):
    """Hybrid fuses the document rankings: with one weight 0 it is the other ranking,
    documents and the chunk shown for each."""

    def ids(result):
        return [r["chunk_id"] for r in result.to_list()]

    dense = lake.search(QUESTION, 7, mode="dense", per_document=True)
    assert ids(lake.search(QUESTION, 7, mode="hybrid", weights=(1, 0), per_document=True)) == ids(
        dense
    )
    keyword = lake.search(QUESTION, 6, mode="keyword", per_document=True)
    assert ids(lake.search(QUESTION, 6, mode="hybrid", weights=(0, 1), per_document=True)) == ids(
        keyword
    )


def test_best_chunk_per_document_keeps_each_documents_first_chunk():
    doc_of = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
    ranking = [("a2", 0.9), ("a1", 0.8), ("b1", 0.7), ("c1", 0.5)]
    assert best_chunk_per_document(ranking, doc_of) == [
        ("A", "a2", 0.9),
        ("B", "b1", 0.7),
        ("C", "c1", 0.5),
    ]
    assert best_chunk_per_document([], doc_of) == []


def test_sql_per_document_argument(lake):
    rows = lake.sql(
        f"SELECT c.doc_key, s.rank FROM search('{QUESTION}', k => 5, per_document => true) s "
        "JOIN chunks c USING (chunk_id) ORDER BY s.rank"
    ).to_list()
    assert [r["doc_key"] for r in rows] == keys(lake.search(QUESTION, 5, per_document=True))
    assert len({r["doc_key"] for r in rows}) == 5
    hybrid = lake.sql(
        f"SELECT count(DISTINCT c.doc_id) AS n FROM hybrid_search('{QUESTION}', 4, "
        "'doc_id IS NOT NULL', [1, 1], true) s JOIN chunks c USING (chunk_id)"
    )
    assert hybrid.to_list() == [{"n": 4}]
    plain = lake.sql(
        f"SELECT count(DISTINCT c.doc_id) AS n FROM keyword_search('{QUESTION}', k => 4, "
        "per_document => false) s JOIN chunks c USING (chunk_id)"
    )
    assert plain.to_list() == [{"n": 1}]
    explain = lake.sql(f"EXPLAIN SELECT * FROM search('{QUESTION}', k => 3, per_document => true)")
    assert "per_document => true" in explain.to_list()[0]["detail"]
    with pytest.raises(QueryError, match="per_document must be true or false, got 'yes'") as info:
        lake.sql(f"SELECT * FROM search('{QUESTION}', per_document => 'yes')")
    assert "\n" not in info.value.message


def test_sql_group_by_document_is_per_document(lake):
    """The issue's spelling: ``group_by => 'document'`` is ``per_document => true``."""
    grouped = lake.sql(
        f"SELECT c.doc_key FROM search('{QUESTION}', k => 5, group_by => 'document') s "
        "JOIN chunks c USING (chunk_id) ORDER BY s.rank"
    ).to_list()
    assert [r["doc_key"] for r in grouped] == keys(lake.search(QUESTION, 5, per_document=True))
    chunks = lake.sql(
        f"SELECT count(DISTINCT c.doc_id) AS n FROM keyword_search('{QUESTION}', k => 4, "
        "group_by => 'chunk') s JOIN chunks c USING (chunk_id)"
    )
    assert chunks.to_list() == [{"n": 1}]  # the long document's chunks, as without it
    for bad in ("'page'", "'document', per_document => true"):
        with pytest.raises(QueryError, match="group_by must be 'document' or 'chunk'"):
            lake.sql(f"SELECT * FROM search('{QUESTION}', group_by => {bad})")


def test_cli_per_document(lake):
    runner = CliRunner()
    base = ["--lake", str(lake.root), "search", QUESTION, "-k", "5"]
    out = runner.invoke(app, [*base, "--per-document", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert len({r["doc_key"] for r in rows}) == 5 and rows[0]["doc_key"] == LONG
    out = runner.invoke(app, [*base, "--format", "json"])
    assert {r["doc_key"] for r in json.loads(out.stdout)} == {LONG}
    out = runner.invoke(
        app, ["--lake", str(lake.root), "search", QUESTION, "-k", "12", "--mode", "keyword",
              "--per-document"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "top 6 documents" in out.stdout and "only 6 document(s)" in out.stderr


def test_agent_tool_per_document(lake):
    tools = LakeTools(lake, limits=Limits(timeout_s=30))
    try:
        chunks = tools.call("search", {"text": QUESTION, "k": 5})
        docs = tools.call("search", {"text": QUESTION, "k": 5, "per_document": True})
        sql = tools.call(
            "sql",
            {
                "query": f"SELECT c.doc_key FROM hybrid_search('{QUESTION}', k => 5, "
                "per_document => true) s JOIN chunks c USING (chunk_id)"
            },
        )
    finally:
        tools.close()
    assert {h["doc_key"] for h in chunks["hits"]} == {LONG}
    assert not chunks["info"]["per_document"]
    assert len({h["doc_key"] for h in docs["hits"]}) == 5 and docs["info"]["per_document"]
    assert docs["info"]["returned"] == 5 and not docs["info"]["exhausted"]
    assert len({r["doc_key"] for r in sql["rows"]}) == 5
    assert sql["searches"][0]["per_document"] is True
