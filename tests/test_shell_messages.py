"""Problems as users read them, in the shell and the CLI: ``error:``/``warning:`` plus
``help:``, and Python warnings turned into that line instead of ``file.py:N: UserWarning``."""

from __future__ import annotations

import pickle
import shutil
import warnings

import docframe
from docframe.cli.output import report_warning
from docframe.errors import DocframeWarning
from docframe.shell import Shell
from docframe.shell.messages import problem_text, showing_warnings


def test_problem_text_is_one_line_plus_help():
    assert problem_text("error", "no table 'x'", None) == "error: no table 'x'\n"
    assert problem_text("warning", "slow", "add an index") == "warning: slow\nhelp: add an index\n"
    coloured = problem_text("warning", "slow", "add an index", color=True)
    assert coloured == "\x1b[1;33mwarning:\x1b[0m slow\n\x1b[2mhelp: add an index\x1b[0m\n"


def test_warnings_reach_the_callback_with_their_help_once():
    seen: list[tuple[str, str | None]] = []
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with showing_warnings(lambda message, hint: seen.append((message, hint))):
            warnings.warn(DocframeWarning("index unusable", help="nothing to do"), stacklevel=1)
            warnings.warn(DocframeWarning("index unusable", help="nothing to do"), stacklevel=1)
            warnings.warn("a library's own warning", stacklevel=1)
    assert seen == [("index unusable", "nothing to do"), ("a library's own warning", None)]
    assert warnings.showwarning is before


def test_docframe_warnings_pickle_with_their_help():
    back = pickle.loads(pickle.dumps(DocframeWarning("could not save", help="free space")))
    assert isinstance(back, UserWarning)
    assert (back.message, back.help) == ("could not save", "free space")
    assert str(back) == "could not save (help: free space)"  # as Python shows it


def test_the_cli_prints_a_warning_like_an_error(capsys):
    report_warning("could not save index to /lake/indexes/x: disk full", "free space")
    assert capsys.readouterr().err == (
        "warning: could not save index to /lake/indexes/x: disk full\nhelp: free space\n"
    )


def test_the_shell_shows_a_damaged_index_as_a_warning_then_the_result(sample_lake, tmp_path):
    root = tmp_path / "lake"
    shutil.copytree(sample_lake.root, root)
    # a flat base keeps its rows' versions (its vectors are the segments'); other kinds a .faiss
    damaged = sorted((root / "indexes").glob("dense-*/*/versions.npy")) + sorted(
        (root / "indexes").glob("dense-*/*/index/*.faiss")
    )
    assert damaged, "the ingest saved a dense index"
    data = bytearray(damaged[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged[0].write_bytes(bytes(data))
    shell = Shell(docframe.open(root), width=80)
    with warnings.catch_warnings():
        warnings.simplefilter("default", DocframeWarning)  # shown, as outside the tests
        out = shell.feed("SELECT count(*) AS n FROM search('bees in winter', k => 2);")
    first, *rest = out.splitlines()
    assert first.startswith("warning: index ") and "is unusable" in first
    assert "UserWarning" not in out and any(" 2 " in line for line in rest)
