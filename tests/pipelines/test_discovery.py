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
