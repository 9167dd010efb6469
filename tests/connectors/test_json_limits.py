"""JSON input at its limits: nesting deeper than the parser's recursion, bad lines in a
JSON Lines document collection (--on-bad-rows applies there too), and the wording of
invalid-JSON errors. Real files through the real connectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docframe.connectors import connector_for
from docframe.connectors.json_tables import JsonlTableConnector, JsonTableConnector
from docframe.connectors.jsonl import JsonlConnector
from docframe.connectors.jsonread import MAX_DEPTH
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError

DEEP = 10_000  # far past Python's recursion limit


def nested(depth: int) -> str:
    """A JSON value ``depth`` levels deep: [[...[1]...]] (``depth`` brackets)."""
    return "[" * depth + "1" + "]" * depth


def record(depth: int, **fields) -> str:
    """An object holding a list that brings the record to ``depth`` levels in all."""
    return json.dumps(fields)[:-1] + ', "deep": ' + nested(depth - 1) + "}"


def table_rows(path: Path, **options):
    connector = JsonlTableConnector() if path.suffix == ".jsonl" else JsonTableConnector()
    (table,) = connector.read_tables(path, TableOptions(**options))
    return table, [row for batch in table.batches for row in batch.to_pylist()]


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "RecursionError" not in text
    return text


# -- nesting -----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, DEEP])
def test_a_json_table_nested_too_deep_names_the_file_and_line(tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_text('[\n{"id": 1},\n' + record(depth, id=2) + "\n]\n")
    with pytest.raises(ConnectorError) as info:
        table_rows(path)
    assert f"deep.json: line 3: JSON nested deeper than {MAX_DEPTH} levels" in one_line(info)


def test_nesting_up_to_the_limit_is_read(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(record(MAX_DEPTH, id=1) + "\n")
    _, rows = table_rows(path)
    assert rows[0]["id"] == 1


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, DEEP])
def test_a_jsonl_table_line_nested_too_deep_is_a_bad_record(tmp_path, depth):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n' + record(depth, id=2) + '\n{"id": 3}\n')
    with pytest.raises(ConnectorError) as info:
        table_rows(path)
    assert f"rows.jsonl: line 2: JSON nested deeper than {MAX_DEPTH} levels" in one_line(info)
    table, rows = table_rows(path, on_bad_rows="skip")
    assert [r["id"] for r in rows] == [1, 3]
    assert "line 2" in table.notes[0] and "nested deeper" in table.notes[0]


def test_a_deep_first_line_does_not_break_choosing_the_connector(tmp_path):
    # deciding documents vs. table reads the first record: it must not raise RecursionError
    path = tmp_path / "first.jsonl"
    path.write_text('{"_id": "1", "text": "x", "m": ' + nested(DEEP) + "}\n")
    connector = connector_for(path)
    with pytest.raises(ConnectorError) as info:
        table_rows(path) if connector.name == "jsonl-table" else list(connector.extract(path))
    assert "first.jsonl" in one_line(info) and "nested deeper" in str(info.value)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, DEEP])
def test_a_document_line_nested_too_deep_names_the_line(tmp_path, depth):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"_id": "a", "text": "first"}\n' + record(depth, _id="b", text="deep") + "\n")
    with pytest.raises(ConnectorError) as info:
        list(JsonlConnector().extract(path))
    assert f"docs.jsonl:2: JSON nested deeper than {MAX_DEPTH} levels" in one_line(info)


# -- bad lines in a document collection ----------------------------------------------------


BAD_COLLECTION = (
    '{"_id": "a", "text": "alpha"}\n'
    '["not", "an", "object"]\n'
    '{"_id": "a", "text": "a second a"}\n'
    '{"_id": "c", "text": "gamma"}\n'
    '{"_id": "d", "text": "cut off'  # the last line, truncated: no closing quote
)


def test_by_default_a_bad_document_line_is_an_error_naming_it(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(BAD_COLLECTION)
    with pytest.raises(ConnectorError) as info:
        list(JsonlConnector().extract(path))
    text = one_line(info)
    assert "c.jsonl:2: expected an object with '_id' and 'text'" in text
    assert "--on-bad-rows skip" in text


def test_an_unterminated_string_reads_once_at(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"_id": "a", "text": "ok"}\n{"_id": "b", "text": "cut off')
    with pytest.raises(ConnectorError) as info:
        list(JsonlConnector().extract(path))
    text = one_line(info)
    assert "c.jsonl:2: invalid JSON (Unterminated string starting at column 22)" in text
    assert "at at" not in text


def test_skip_keeps_the_good_documents_and_lists_the_bad_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(BAD_COLLECTION)
    connector = JsonlConnector().with_table_options(TableOptions(on_bad_rows="skip"))
    docs = list(connector.extract(path))
    assert [d.doc_key for d in docs] == ["a", "c"]
    assert connector.notes == [
        "skipped 3 bad record(s): lines 2, 3, 5 (first: expected an object with '_id' and 'text')"
    ]
    assert JsonlConnector().notes == []  # the registry's connector is not changed


def test_skip_still_refuses_a_collection_with_no_good_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"_id": "a", "text": \n')
    connector = JsonlConnector().with_table_options(TableOptions(on_bad_rows="skip"))
    with pytest.raises(ConnectorError, match="no documents"):
        list(connector.extract(path))


def test_table_errors_have_no_doubled_at(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n{"id": "open')
    with pytest.raises(ConnectorError) as info:
        table_rows(path)
    text = one_line(info)
    assert "line 2: invalid JSON (Unterminated string starting at column 8)" in text
    assert "at at" not in text
