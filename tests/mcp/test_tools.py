"""The tools as plain Python on a real lake: schemas, argument checks, results and
their provenance (no MCP involved; test_server.py covers the protocol)."""

from __future__ import annotations

import json

import pytest

from docframe.errors import QueryError
from docframe.mcp.sandbox import Limits
from docframe.mcp.tools import (
    LakeTools,
    ToolArgumentError,
    check_arguments,
    citation,
    export_tools,
    filters_to_where,
    format_seconds,
    tool_specs,
)
from tests.conftest import write_topics
from tests.mcp.conftest import fingerprint

TOOLS = ["list_tables", "describe_table", "sql", "search", "get_context"]


@pytest.fixture(scope="module")
def tools(mcp_lake):
    box = LakeTools(mcp_lake, limits=Limits(timeout_s=5))
    yield box
    box.close()


def pdf_chunk(lake, page: int) -> str:
    rows = lake.sql(f"SELECT chunk_id FROM chunks WHERE modality = 'pdf' AND page = {page}")
    return rows.to_list()[0]["chunk_id"]


# -- schemas ---------------------------------------------------------------------------


def test_tool_schemas_are_valid_and_name_the_issue_arguments():
    from jsonschema import Draft202012Validator

    specs = {s.name: s for s in tool_specs()}
    assert list(specs) == TOOLS  # no write tool unless the operator enables one
    for spec in specs.values():
        Draft202012Validator.check_schema(spec.input_schema)
        assert spec.input_schema["type"] == "object" and spec.read_only
        assert spec.input_schema["additionalProperties"] is False
    assert specs["describe_table"].input_schema["required"] == ["name"]
    assert specs["sql"].input_schema["required"] == ["query"]
    assert specs["get_context"].input_schema["required"] == ["chunk_id"]
    search = specs["search"].input_schema["properties"]
    assert {"text", "mode", "k", "filters", "per_document"} <= set(search)
    assert (
        search["per_document"]["type"] == "boolean" and search["per_document"]["default"] is False
    )
    assert "which documents" in specs["search"].description  # when an agent should use it
    assert search["mode"]["enum"] == ["dense", "keyword", "hybrid"]
    assert set(search["filters"]["properties"]) >= {
        "modality", "source", "page_from", "page_to", "time_from_s", "time_to_s", "metadata"
    }  # fmt: skip
    for name in ("describe_table", "sql", "search", "get_context"):
        assert "untrusted" in specs[name].description and "never follow" in specs[name].description
    with_ingest = tool_specs(allow_ingest=True)
    assert [s.name for s in with_ingest][-1] == "ingest" and not with_ingest[-1].read_only


def test_sql_description_states_the_limits():
    text = {s.name: s for s in tool_specs(limits=Limits(max_rows=77, timeout_s=3))}["sql"]
    assert "77 rows" in text.description and "3 s per statement" in text.description


def test_export_formats():
    openai = export_tools("openai")
    assert [t["function"]["name"] for t in openai] == TOOLS
    assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object"
               for t in openai)  # fmt: skip
    anthropic = export_tools("anthropic")
    assert [t["name"] for t in anthropic] == TOOLS
    assert anthropic[2]["input_schema"] == openai[2]["function"]["parameters"]
    mcp = export_tools("mcp")
    assert mcp[0]["inputSchema"] == anthropic[0]["input_schema"]
    assert mcp[0]["annotations"]["readOnlyHint"] is True
    json.dumps([openai, anthropic, mcp])  # plain JSON all the way down
    with pytest.raises(Exception, match="unknown tool format 'xml'"):
        export_tools("xml")


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("search", {}, "missing required argument 'text'"),
        ("search", {"text": "x", "k": "ten"}, "k must be integer"),
        ("search", {"text": "x", "k": True}, "k must be integer"),
        ("search", {"text": "x", "k": 0}, "k must be at least 1"),
        ("search", {"text": "x", "mode": "fuzzy"}, "mode must be one of dense, keyword, hybrid"),
        ("search", {"text": "x", "filters": {"colour": "red"}}, "unknown argument 'colour'"),
        (
            "search",
            {"text": "x", "filters": {"page_from": 0}},
            "filters.page_from must be at least 1",
        ),
        (
            "search",
            {"text": "x", "filters": {"metadata": {"a": [1]}}},
            "filters.metadata.a must be",
        ),
        ("sql", {"query": "SELECT 1", "limit": 5}, "unknown argument 'limit'"),
        ("get_context", {"chunk_id": 12}, "chunk_id must be string"),
        ("list_tables", {"x": 1}, "unknown argument 'x'"),
    ],
)
def test_arguments_are_checked_against_the_schema(name, arguments, message):
    spec = {s.name: s for s in tool_specs()}[name]
    with pytest.raises(ToolArgumentError, match=message.replace("(", r"\(")):
        check_arguments(spec, arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"text": "x", "zzz": 1, "k": 0}, "unknown argument 'zzz'"),
        ({"k": 0, "text": "x", "zzz": 1}, "k must be at least 1"),
        ({"filters": {"page_from": 0}, "k": "ten"}, "missing required argument 'text'"),
        ({"text": "x", "filters": {"page_to": 0, "page_from": "1"}}, "filters.page_to"),
    ],
)
def test_of_several_wrong_arguments_the_first_given_is_named(arguments, message):
    """One call always gets the same message: the first problem met walking the
    arguments in the order given, a value's own checks before what is inside it."""
    spec = {s.name: s for s in tool_specs()}["search"]
    with pytest.raises(ToolArgumentError, match=message):
        check_arguments(spec, arguments)


def test_tool_errors_live_in_the_error_tree():
    from docframe import errors
    from docframe.mcp import sandbox, tools

    assert tools.ToolArgumentError is errors.ToolArgumentError
    assert sandbox.SandboxViolation is errors.SandboxViolation
    assert sandbox.QueryTimeout is errors.QueryTimeout
    assert issubclass(errors.SandboxViolation, errors.QueryError)


def test_defaults_are_filled_in():
    spec = {s.name: s for s in tool_specs()}["search"]
    assert check_arguments(spec, {"text": "x", "k": 5.0}) == {
        "text": "x",
        "k": 5.0,
        "mode": "hybrid",
        "per_document": False,
    }
    with pytest.raises(ToolArgumentError, match="per_document must be boolean, got 1"):
        check_arguments(spec, {"text": "x", "per_document": 1})


# -- catalog tools -------------------------------------------------------------------------


def test_list_tables(tools, mcp_lake):
    result = tools.call("list_tables")
    by_name = {r["name"]: r for r in result["relations"]}
    assert list(by_name)[:6] == [
        "chunks",
        "documents",
        "sources",
        "snapshots",
        "tables",
        "pdf_tables",
    ]
    expected = {
        r["modality"]: r["n"]
        for r in mcp_lake.sql("SELECT modality, count(*) AS n FROM chunks GROUP BY 1").to_list()
    }
    assert by_name["chunks"]["modalities"] == expected == {"text": 27, "pdf": 2}
    assert by_name["chunks"]["rows"] == sum(expected.values())
    assert {"name": "page", "type": "INTEGER"} in by_name["chunks"]["columns"]
    shipments = by_name["shipments"]
    assert shipments["kind"] == "table" and shipments["rows"] == 40
    assert shipments["source_uri"].endswith("shipments.csv")
    assert {"name": "promised_date", "type": "DATE"} in shipments["columns"]
    assert by_name["sources"]["rows"] == 7 and result["snapshot"] == mcp_lake.snapshot().snapshot_id


def test_describe_table(tools):
    chunks = tools.call("describe_table", {"name": "chunks", "sample_rows": 2})
    assert chunks["rows"] == 29 and chunks["modalities"]["pdf"] == 2
    assert len(chunks["sample_rows"]) == 2 and "embedding" not in chunks["sample_rows"][0]
    assert any(c["name"] == "embedding" for c in chunks["columns"])
    assert "content_notice" in chunks
    table = tools.call("describe_table", {"name": "shipments", "sample_rows": 1})
    assert table["source_uri"].endswith("shipments.csv") and table["rows"] == 40
    assert table["sample_rows"][0]["shipment_id"] == "S0001"
    assert tools.call("describe_table", {"name": "tables"})["rows"] == 1
    with pytest.raises(QueryError, match="no relation 'shipment'.*did you mean 'shipments'"):
        tools.call("describe_table", {"name": "shipment"})


# -- SQL -------------------------------------------------------------------------------------


def test_sql_with_a_search_join(tools):
    answer = tools.call(
        "sql",
        {
            "query": "SELECT c.doc_key, c.page, s.score FROM hybrid_search('tiltmeters record "
            "the ground rising', k => 3) s JOIN chunks c USING (chunk_id) ORDER BY s.score DESC"
        },
    )
    assert answer["columns"][0] == {"name": "doc_key", "type": "VARCHAR"}
    assert answer["row_count"] == 3 and not answer["truncated"]
    assert answer["rows"][0]["doc_key"] == "report.pdf" and answer["rows"][0]["page"] == 1
    assert answer["searches"][0]["function"] == "hybrid_search"


def test_sql_refusals_are_errors_with_reasons(tools, mcp_lake):
    before = fingerprint(mcp_lake.root)
    with pytest.raises(QueryError, match="DELETE statements are not allowed"):
        tools.call("sql", {"query": "DELETE FROM chunks"})
    with pytest.raises(QueryError, match="/etc/passwd"):
        tools.call("sql", {"query": "SELECT * FROM read_csv('/etc/passwd')"})
    assert fingerprint(mcp_lake.root) == before


def test_sql_truncation_is_reported(mcp_lake):
    small = LakeTools(mcp_lake, limits=Limits(max_rows=5))
    try:
        answer = small.call("sql", {"query": "SELECT chunk_id FROM chunks"})
    finally:
        small.close()
    assert answer["row_count"] == 5 and answer["truncated"] and answer["truncated_by"] == "max_rows"


# -- search ------------------------------------------------------------------------------------


def test_search_returns_provenance_and_citations(tools):
    result = tools.call("search", {"text": "how do scientists know a volcano will erupt", "k": 3})
    assert result["info"]["returned"] == 3 and not result["info"]["exhausted"]
    top = result["hits"][0]
    assert top["doc_key"] == "volcanoes.html" and top["rank"] == 1
    assert top["citation"] == f"volcanoes.html, chars {top['char_start']}–{top['char_end']}"
    assert top["title"].startswith("Watching the Mountain") and top["text"]
    assert result["content_notice"].startswith("Text, titles")


def test_search_filters_are_applied_inside_the_index(tools):
    pdf = tools.call(
        "search", {"text": "volcano", "k": 5, "filters": {"modality": "pdf", "page_from": 2}}
    )
    assert [h["page"] for h in pdf["hits"]] == [2]
    assert pdf["info"]["exhausted"] and "1 chunk(s) match the filters" in pdf["info"]["reason"]
    assert pdf["hits"][0]["citation"].startswith("report.pdf, p. 2, bbox [72, 72,")
    by_file = tools.call("search", {"text": "lava", "k": 5, "filters": {"source": "report.pdf"}})
    assert {h["doc_key"] for h in by_file["hits"]} == {"report.pdf"}
    by_glob = tools.call("search", {"text": "bread", "k": 3, "filters": {"source": "*.md"}})
    assert {h["doc_key"] for h in by_glob["hits"]} == {"sourdough.md"}
    meta = tools.call(
        "search",
        {
            "text": "volcano",
            "k": 5,
            "mode": "dense",
            "filters": {"metadata": {"parser": "pymupdf"}},
        },
    )
    assert {h["modality"] for h in meta["hits"]} == {"pdf"} and meta["info"]["returned"] == 2
    # guaranteed k: a filter keeping many chunks still yields k hits
    text = tools.call("search", {"text": "volcano", "k": 6, "filters": {"modality": "text"}})
    assert text["info"]["returned"] == 6 and not text["info"]["exhausted"]
    keyword = tools.call("search", {"text": "tiltmeters", "mode": "keyword", "k": 3})
    assert keyword["hits"][0]["doc_key"] == "report.pdf" and keyword["info"]["exhausted"]


def test_search_per_document_returns_distinct_documents(tools):
    """per_document: k distinct documents (each by its best chunk), inside the filters."""
    answer = tools.call(
        "search",
        {"text": "volcano eruption", "k": 3, "per_document": True, "filters": {"modality": "text"}},
    )
    doc_keys = [h["doc_key"] for h in answer["hits"]]
    assert len(set(doc_keys)) == len(doc_keys) == 3 and answer["info"]["per_document"]
    assert {h["modality"] for h in answer["hits"]} == {"text"}
    assert [h["rank"] for h in answer["hits"]] == [1, 2, 3]
    assert "volcanoes.html" in doc_keys and not answer["info"]["exhausted"]


def test_filters_become_quoted_predicates():
    where = filters_to_where(
        {"source": "it's.pdf", "page_from": 2, "page_to": 3, "time_from_s": 1.5,
         "metadata": {"lang": "en", "ok": True, "n": 3}}
    )  # fmt: skip
    assert "'it''s.pdf'" in where and "page >= 2" in where and "page <= 3" in where
    assert "end_s >= 1.5" in where
    assert "json_extract_string(metadata, '$.\"lang\"') = 'en'" in where
    assert "= 'true'" in where and "= '3'" in where
    assert filters_to_where({}) is None
    with pytest.raises(ToolArgumentError, match="metadata key"):
        filters_to_where({"metadata": {"a'b": 1}})
    with pytest.raises(ToolArgumentError, match="page_from 5 is after page_to 2"):
        filters_to_where({"page_from": 5, "page_to": 2})


def test_search_answers_stay_under_the_byte_limit(mcp_lake):
    small = LakeTools(mcp_lake, limits=Limits(max_bytes=3000))
    try:
        result = small.call("search", {"text": "volcano", "k": 10, "mode": "keyword"})
    finally:
        small.close()
    assert len(json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()) <= 3000
    assert result["info"]["truncated"] == "max_bytes" and result["info"]["returned"] < 10


# -- context ------------------------------------------------------------------------------------


def test_get_context_of_a_pdf_chunk(tools, mcp_lake):
    result = tools.call("get_context", {"chunk_id": pdf_chunk(mcp_lake, 2)})
    assert result["citation"].startswith("report.pdf, p. 2, bbox [")
    chunk = result["chunk"]
    assert chunk["page"] == 2 and len(chunk["bbox"]) == 4 and chunk["source_uri"].endswith(".pdf")
    assert chunk["text"].startswith("Page two covers lava flows")
    assert [n["page"] for n in result["before"]] == [1] and result["after"] == []
    assert result["document"]["title"] == "Annual Report on Volcanoes"
    assert result["document"]["n_chunks"] == 2


def test_get_context_of_a_text_chunk_has_neighbours_both_sides(tools, mcp_lake):
    rows = mcp_lake.sql(
        "SELECT chunk_id, ordinal FROM chunks WHERE doc_key = 'sourdough.md' ORDER BY ordinal"
    ).to_list()
    middle = rows[3]
    result = tools.call("get_context", {"chunk_id": middle["chunk_id"], "window": 2})
    assert [n["ordinal"] for n in result["before"]] == [1, 2]
    assert [n["ordinal"] for n in result["after"]] == [4, 5]
    assert result["citation"].startswith("sourdough.md, chars ")
    assert all(n["citation"].startswith("sourdough.md, chars ") for n in result["after"])
    none = tools.call("get_context", {"chunk_id": middle["chunk_id"], "window": 0})
    assert none["before"] == none["after"] == []
    with pytest.raises(QueryError, match="no chunk 'nope'"):
        tools.call("get_context", {"chunk_id": "nope"})


def test_citation_formats():
    talk = {"source_uri": "/data/talk.mp3", "doc_key": "talk.mp3", "start_s": 62.4, "end_s": 74.2}
    assert citation(talk) == "talk.mp3 01:02–01:15"  # the span covers the passage
    film = {"source_uri": "s3://b/film.mp4", "start_s": 3725.0, "end_s": 3730.0}
    assert citation(film) == "film.mp4 1:02:05–1:02:10"
    page = {"source_uri": "/d/report.pdf", "doc_key": "report.pdf", "page": 3,
            "bbox": [72.0, 90.25, 540.0, 150.0]}  # fmt: skip
    assert citation(page) == "report.pdf, p. 3, bbox [72, 90.2, 540, 150]"
    member = {"source_uri": "/d/articles.jsonl", "doc_key": "a7", "char_start": 0, "char_end": 693}
    assert citation(member) == "articles.jsonl [a7], chars 0–693"
    assert format_seconds(59.9, up=True) == "01:00" and format_seconds(59.9) == "00:59"


# -- ingest (off unless enabled) -------------------------------------------------------------------


def test_ingest_is_off_by_default(tools):
    with pytest.raises(ToolArgumentError, match="unknown tool 'ingest'"):
        tools.call("ingest", {"paths": ["/tmp"]})


def test_ingest_only_inside_the_allowed_folders(lake_copy, tmp_path):
    import docframe

    inbox = tmp_path / "inbox"
    write_topics(inbox, 2)
    (tmp_path / "elsewhere.txt").write_text("not for the agent")
    lake = docframe.open(lake_copy, create=False)
    writer = LakeTools(lake, ingest_roots=[inbox])
    try:
        assert "ingest" in writer.specs
        with pytest.raises(ToolArgumentError, match="outside the allowed folders"):
            writer.call("ingest", {"paths": [str(tmp_path / "elsewhere.txt")]})
        with pytest.raises(ToolArgumentError, match="outside the allowed folders"):
            writer.call("ingest", {"paths": ["../elsewhere.txt"]})
        result = writer.call("ingest", {"paths": ["."]})
        assert result["snapshot"] == 2 and "2 ingested" in result["summary"]
        hits = writer.call("search", {"text": "river", "k": 1, "mode": "keyword"})["hits"]
        assert hits[0]["doc_key"] == "note-000.txt" and hits[0]["citation"].startswith("note-000")
    finally:
        writer.close()


# -- the commands ------------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None):
    from typer.testing import CliRunner

    from docframe.mcp.cli import _standalone

    return CliRunner().invoke(_standalone(), list(args), env=env)


def test_tools_command_prints_the_schemas():
    result = cli("tools", "--format", "anthropic")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == export_tools("anthropic")
    openai = json.loads(cli("tools", "--with-ingest").stdout)  # openai is the default
    assert [t["function"]["name"] for t in openai] == [*TOOLS, "ingest"]
    limited = json.loads(cli("tools", env={"DOCFRAME_MCP_MAX_ROWS": "12"}).stdout)
    assert "12 rows" in limited[2]["function"]["description"]


def test_serve_command_errors(tmp_path):
    result = cli("--lake", str(tmp_path / "none"), "serve")
    assert result.exit_code == 2 and "needs --mcp" in result.output
    result = cli("--lake", str(tmp_path / "none"), "serve", "--mcp")
    assert result.exit_code == 2 and "is not a docframe lake" in result.output
    assert not (tmp_path / "none").exists()  # serving never creates a lake
    bad = cli("--lake", str(tmp_path), "serve", "--mcp", env={"DOCFRAME_MCP_TIMEOUT_S": "soon"})
    assert bad.exit_code == 2 and "DOCFRAME_MCP_TIMEOUT_S='soon'" in bad.output
    help_text = cli("serve", "--help").output
    for option in ("--mcp", "--http", "--port", "--max-rows", "--timeout", "--allow-ingest"):
        assert option in help_text


def test_a_damaged_segment_fails_only_what_reads_it_in_one_line(lake_copy):
    """Agents get the lake's one-line damage error (its location shown as ``<lake>``),
    and what does not read the damaged file keeps answering."""
    import os

    import docframe
    from docframe.errors import DamagedSegmentError

    lake = docframe.open(lake_copy, create=False)
    segment = lake.snapshot().chunk_files[0]
    os.truncate(segment, os.path.getsize(segment) // 2)
    box = LakeTools(lake, limits=Limits(timeout_s=5))
    try:
        for name, arguments in (
            ("sql", {"query": "SELECT count(*) AS n FROM chunks"}),
            ("search", {"text": "lava"}),
        ):
            with pytest.raises(DamagedSegmentError) as caught:
                box.call(name, arguments)
            message = caught.value.message
            assert "chunks-" in message and "truncated" in message and "\n" not in message
            assert str(lake_copy) not in message and "docframe repair" in caught.value.help
        rows = box.call("sql", {"query": "SELECT count(*) AS n FROM shipments"})["rows"]
        assert rows == [{"n": 40}]
        listed = {r["name"]: r for r in box.call("list_tables", {})["relations"]}
        assert listed["shipments"]["rows"] == 40 and listed["documents"]["rows"] > 0
        assert listed["chunks"]["rows"] is None and "truncated" in listed["chunks"]["error"]
        assert listed["chunks"]["columns"]  # the damaged relation still describes itself
    finally:
        box.close()
