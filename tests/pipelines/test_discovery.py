"""Finding inputs: folders walked, symbolic links skipped and reported unless followed
(with loop protection), and the allowed folders of the agent's ingest tool enforced on
every file found, not only on the paths named. Real files and links on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docframe.pipelines.discovery import discover


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """inbox/ with a plain file, a file link and a folder link to outside, a loop."""
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    (inbox / "sub").mkdir(parents=True)
    (outside / "deep").mkdir(parents=True)
    (inbox / "plain.txt").write_text("inside")
    (outside / "secret.txt").write_text("the secret")
    (outside / "deep" / "more.txt").write_text("more secrets")
    (inbox / "sub" / "link.txt").symlink_to(outside / "secret.txt")
    (inbox / "sub" / "dirlink").symlink_to(outside / "deep")
    (inbox / "sub" / "loop").symlink_to(inbox)  # back to the top: a cycle when followed
    return {"inbox": inbox, "outside": outside, "lake": tmp_path / "lake"}


def _names(found) -> set[str]:
    return {p.name for p, _ in found.files}


def test_links_found_in_a_folder_are_skipped_and_reported(tree):
    found = discover([str(tree["inbox"])], tree["lake"])
    assert _names(found) == {"plain.txt"}
    assert found.problems == []
    skipped = dict(found.skipped)
    for name in ("link.txt", "dirlink", "loop"):
        message = skipped[str(tree["inbox"] / "sub" / name)]
        assert "symbolic link" in message and "--follow-symlinks" in message


def test_follow_symlinks_reads_linked_files_and_folders_once(tree):
    found = discover([str(tree["inbox"])], tree["lake"], follow_symlinks=True)
    inbox = tree["inbox"]
    assert {p for p, _ in found.files} == {
        inbox / "plain.txt",
        inbox / "sub" / "link.txt",
        inbox / "sub" / "dirlink" / "more.txt",
    }
    # the loop back to the top is walked once, then reported instead of walked again
    assert [k for k, _ in found.skipped] == [str(inbox / "sub" / "loop")]
    assert "already" in found.skipped[0][1]


def test_a_link_named_on_the_command_line_is_followed(tree):
    link = tree["inbox"] / "sub" / "link.txt"
    found = discover([str(link), str(tree["inbox"] / "sub" / "dirlink")], tree["lake"])
    assert found.files == [
        (tree["inbox"] / "sub" / "dirlink" / "more.txt", False),
        (link, True),
    ]
    assert found.skipped == [] and found.problems == []


def test_allowed_roots_refuse_every_file_whose_real_path_is_outside(tree):
    inbox = tree["inbox"]
    (inbox / "sub" / "inner.txt").symlink_to(inbox / "plain.txt")  # stays inside: fine
    found = discover(
        [str(inbox / "sub")], tree["lake"], follow_symlinks=True, allowed_roots=[inbox.resolve()]
    )
    assert _names(found) == {"inner.txt", "plain.txt"}  # plain.txt through sub/loop
    refused = dict(found.problems)
    for name in ("link.txt", "dirlink"):
        message = refused[str(inbox / "sub" / name)]
        assert name in message and "outside the allowed folders" in message
        assert str(tree["outside"]) not in message  # the link's target is not revealed
    # a path named directly that resolves outside is refused the same way
    direct = discover(
        [str(inbox / "sub" / "link.txt")], tree["lake"], allowed_roots=[inbox.resolve()]
    )
    assert direct.files == [] and "outside the allowed folders" in direct.problems[0][1]


def test_a_link_to_the_lake_is_never_walked(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    lake = tmp_path / "lake"
    (lake / "segments").mkdir(parents=True)
    (lake / "segments" / "x.txt").write_text("lake internals")
    (data / "lake-link").symlink_to(lake)
    found = discover([str(data)], lake, follow_symlinks=True)
    assert _names(found) == {"a.txt"}


def test_broken_links_and_special_files_are_reported_not_read(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "gone.txt").symlink_to(tmp_path / "missing.txt")
    os.mkfifo(data / "pipe.txt")  # reading it would block forever
    found = discover([str(data)], tmp_path / "lake", follow_symlinks=True)
    assert found.files == []
    skipped = dict(found.skipped)
    assert "broken symbolic link" in skipped[str(data / "gone.txt")]
    assert "not a regular file" in skipped[str(data / "pipe.txt")]


# -- include / exclude patterns ----------------------------------------------------------
@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """docs/ with notes, a draft folder, a temp file and a nested report."""
    root = tmp_path / "docs"
    for rel in ("a.md", "b.txt", "c.tmp", "drafts/d.md", "reports/2024/q1.md", "reports/r.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def _rel(found, root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p, _ in found.files}


def test_exclude_by_name_and_by_path_and_each_leaves_out_a_reported_file(docs, tmp_path):
    found = discover([str(docs)], tmp_path / "lake", exclude=["*.tmp", "drafts/**"])
    assert _rel(found, docs) == {"a.md", "b.txt", "reports/2024/q1.md", "reports/r.txt"}
    assert found.excluded == [
        (str(docs / "c.tmp"), f"{docs / 'c.tmp'}: excluded by pattern '*.tmp'"),
        (str(docs / "drafts/d.md"), f"{docs / 'drafts/d.md'}: excluded by pattern 'drafts/**'"),
    ]
    assert found.problems == [] and found.skipped == []


def test_include_keeps_matches_and_exclude_wins(docs, tmp_path):
    found = discover([str(docs)], tmp_path / "lake", include=["*.md"], exclude=["drafts"])
    assert _rel(found, docs) == {"a.md", "reports/2024/q1.md"}
    why = dict(found.excluded)
    assert why[str(docs / "b.txt")].endswith("matches no include pattern ('*.md')")
    assert why[str(docs / "drafts/d.md")].endswith("excluded by pattern 'drafts'")
    # a pattern with "/" matches the path under the source, or a folder on it
    under = discover([str(docs)], tmp_path / "lake", include=["reports/*"])
    assert _rel(under, docs) == {"reports/2024/q1.md", "reports/r.txt"}
    nested = discover([str(docs)], tmp_path / "lake", include=["**/q1.md"])
    assert _rel(nested, docs) == {"reports/2024/q1.md"}


def test_patterns_apply_below_a_globs_fixed_folders_and_to_named_files(docs, tmp_path):
    found = discover([str(docs / "reports" / "**" / "*.md")], tmp_path / "lake",
                     exclude=["2024/**"])  # fmt: skip
    assert found.files == [] and [p for p, _ in found.excluded] == [
        str(docs / "reports/2024/q1.md")
    ]
    named = discover([str(docs / "c.tmp"), str(docs / "a.md")], tmp_path / "lake",
                     exclude=["*.tmp"])  # fmt: skip
    assert _rel(named, docs) == {"a.md"} and len(named.excluded) == 1


def test_a_file_another_source_takes_is_not_reported_excluded(docs, tmp_path):
    found = discover([str(docs), str(docs / "drafts" / "d.md")], tmp_path / "lake",
                     exclude=["drafts/**"])  # fmt: skip
    assert "drafts/d.md" in _rel(found, docs) and found.excluded == []
