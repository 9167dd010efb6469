import gzip
import json
from pathlib import Path

import pytest

from docframe.connectors import connector_for
from docframe.connectors.jsonl import JsonlConnector
from docframe.connectors.tables import TableOptions
from docframe.errors import ConnectorError, UnsupportedInputError
from tests.conftest import SAMPLE


def extract(path: Path):
    """Read ``path`` with whichever connector claims it, to the last row."""
    connector = connector_for(path)
    if getattr(connector, "kind", "documents") == "table":
        return [list(t.batches) for t in connector.read_tables(path, TableOptions())]
    return list(connector.extract(path))


def test_plain_text_is_one_document_keyed_by_file_name():
    (doc,) = extract(SAMPLE / "beekeeping.txt")
    assert doc.doc_key == "beekeeping.txt"
    assert doc.elements[0].text == (SAMPLE / "beekeeping.txt").read_text()


def test_markdown_title_is_the_first_heading():
    (doc,) = extract(SAMPLE / "sourdough.md")
    first_heading = next(
        line[2:].strip()
        for line in (SAMPLE / "sourdough.md").read_text().splitlines()
        if line.startswith("# ")
    )
    assert doc.title == first_heading


def test_html_keeps_visible_text_only():
    (doc,) = extract(SAMPLE / "volcanoes.html")
    text = doc.elements[0].text
    raw = (SAMPLE / "volcanoes.html").read_text()
    assert "SCRIPT_SHOULD_NOT_BE_INDEXED" in raw  # the page does carry a script...
    assert "SCRIPT_SHOULD_NOT_BE_INDEXED" not in text  # ...that is not indexed
    assert "<p>" not in text and "{" not in text  # no markup, no CSS
    assert doc.title and doc.title in raw
    assert "volcan" in text.lower()


def test_html_hidden_elements_are_dropped(tmp_path):
    page = tmp_path / "p.html"
    page.write_text(
        "<html><body><p>shown words</p><div hidden>secret one</div>"
        "<span style='display: none'>secret two</span><nav>Home | About</nav>"
        "<ul role='navigation'><li>Menu</li></ul></body></html>"
    )
    (doc,) = extract(page)
    assert doc.elements[0].text == "shown words"


def test_jsonl_beir_collection_keeps_ids_titles_and_extra_fields(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [
        {"_id": "d1", "title": "One", "text": "first text", "year": 2020},
        {"_id": "d2", "text": "second text"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    docs = extract(path)
    assert [d.doc_key for d in docs] == ["d1", "d2"]
    assert docs[0].title == "One" and docs[1].title is None
    assert docs[0].metadata == {"year": 2020}
    gz = tmp_path / "c.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert [d.doc_key for d in extract(gz)] == ["d1", "d2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n', r"c\.jsonl:2: invalid JSON"),
        ('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n', "duplicate _id 'a'"),
        ('{"id": "a", "body": "x"}\n', "expected an object with '_id' and 'text'"),
        ("\n\n", "no documents"),
    ],
)
def test_jsonl_problems_name_the_line(tmp_path, content, message):
    path = tmp_path / "c.jsonl"
    path.write_text(content)
    with pytest.raises(ConnectorError, match=message):
        list(JsonlConnector().extract(path))


def test_jsonl_routes_documents_and_records_apart(tmp_path):
    docs, records = tmp_path / "docs.jsonl", tmp_path / "rows.jsonl"
    docs.write_text('{"_id": "d1", "text": "a document"}\n')
    records.write_text('{"id": 1, "amount": 2.5}\n')
    assert connector_for(docs).name == "jsonl"
    assert getattr(connector_for(docs), "kind", "documents") == "documents"
    assert connector_for(records).kind == "table"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "latin1.txt",
            "caf\u00e9 cr\u00e8me".encode("latin-1"),
            r"not valid UTF-8 \(byte 0xe9 at offset 3\)",
        ),
        ("empty.md", b"  \n\n", "empty file"),
        ("blob.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary content"),
        ("broken.jsonl.gz", b"not gzip at all", "cannot read"),
    ],
)
def test_bad_files_get_one_line_errors_naming_the_file(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ConnectorError, match=message) as info:
        extract(path)
    assert str(path) in info.value.message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "message", "advice"),
    [
        ("photo.png", "no connector for file type '.png'", "put it in one"),
        ("letter.docx", "no connector for file type '.docx'", "as PDF"),
        ("notes.rst", "no connector for file type '.rst'", "rename it to .txt"),
        ("backup.7z", "no connector for file type '.7z'", "unpack it"),
        ("blob.xyz", "no connector for file type '.xyz'", "no connector reads this type"),
        ("README", "no connector for files without a suffix", "no connector reads this type"),
    ],
)
def test_unknown_file_type_says_what_would_read_it(tmp_path, name, message, advice):
    with pytest.raises(UnsupportedInputError) as info:
        connector_for(tmp_path / name)
    assert info.value.message == f"{tmp_path / name}: {message}"
    assert advice in info.value.help
