"""The agent's ingest tool stays inside the folders the operator allowed, even when a
symbolic link inside them points elsewhere; bad path arguments are validation errors.
A real lake (a copy of the session's test lake), real files and links."""

from __future__ import annotations

from pathlib import Path

import pytest

from docframe.mcp.tools import LakeTools, ToolArgumentError


@pytest.fixture
def writer(lake_copy: Path, tmp_path: Path):
    """Tools with ingest allowed under tmp_path/inbox; a secret lies beside it."""
    import docframe

    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    (inbox / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("The launch code is zebra-umbrella-42.\n")
    (outside / "more").mkdir()
    (outside / "more" / "plans.txt").write_text("Hidden plans mention zebra-umbrella-42.\n")
    (inbox / "sub" / "notes.txt").write_text("Field notes about granite quarries.\n")
    (inbox / "sub" / "link.txt").symlink_to(outside / "secret.txt")
    (inbox / "sub" / "folder").symlink_to(outside / "more")
    (inbox / "sub" / "near.txt").symlink_to(inbox / "sub" / "notes.txt")  # stays inside
    tools = LakeTools(docframe.open(lake_copy, create=False), ingest_roots=[inbox])
    yield tools
    tools.close()


def test_links_out_of_the_allowed_folder_are_refused_by_name(writer):
    result = writer.call("ingest", {"paths": ["sub"]})
    by_input = {Path(o["input"]).name: o for o in result["outcomes"]}
    for name in ("link.txt", "folder"):
        assert by_input[name]["status"] == "failed"
        assert "outside the allowed folders" in by_input[name]["error"]
    assert by_input["notes.txt"]["status"] == "ingested"  # the rest of the call goes on
    assert by_input["notes.txt"]["notes"] == []
    assert by_input["near.txt"]["status"] == "ingested"  # a link that stays inside is fine
    leaked = writer.lake.sql("SELECT count(*) AS n FROM chunks WHERE text LIKE '%zebra%'")
    assert leaked.to_list() == [{"n": 0}]
    granite = writer.lake.sql("SELECT count(*) AS n FROM chunks WHERE text LIKE '%granite q%'")
    assert granite.to_list() == [{"n": 2}]  # notes.txt and near.txt


def test_naming_a_link_out_is_refused_before_anything_runs(writer):
    with pytest.raises(ToolArgumentError, match="outside the allowed folders"):
        writer.call("ingest", {"paths": ["sub/link.txt"]})


@pytest.mark.parametrize("bad", ["sub/\x00notes.txt", "\x00"])
def test_a_nul_byte_in_a_path_is_a_validation_error(writer, bad):
    with pytest.raises(ToolArgumentError, match=r"paths\[1\].*NUL"):
        writer.call("ingest", {"paths": ["sub", bad]})


def test_a_path_too_long_for_the_system_is_a_validation_error(writer):
    with pytest.raises(ToolArgumentError, match=r"paths\[0\]"):
        writer.call("ingest", {"paths": ["x" * 5000]})
