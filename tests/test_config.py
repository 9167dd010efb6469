"""config.py is the one reader of docframe's environment, and lists every variable it reads.

The scan treats a string that is wholly a variable name (``"DOCFRAME_LAKE"``) or its
prefix (``"DOCFRAME_MCP_"``) as a read: that is how code names what it looks up, in
``os.environ.get(...)``, ``getenv`` or click's ``envvar=``. Prose that mentions a
variable (help texts, docstrings) is not a read.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from docframe import config
from docframe.errors import DocframeError

PACKAGE = Path(config.__file__).parent
README = PACKAGE.parent / "README.md"
NAME = re.compile(r"DOCFRAME_[A-Z0-9_]*")

# Modules that still read their own DOCFRAME_* variable. Each moves to config.py's
# accessors (named in the comment), and then leaves this list; a stale entry fails.
NOT_YET_MOVED: dict[str, str] = {}  # every module reads DOCFRAME_* through config.py


def variable_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every string in ``source`` that is wholly a DOCFRAME_ name."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and NAME.fullmatch(node.value)
    ]


def readers() -> dict[str, list[tuple[int, str]]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative != "config.py" and (names := variable_names(path.read_text())):
            found[relative] = names
    return found


def test_the_scan_sees_reads_and_ignores_prose():
    source = '''
import os
PREFIX = "DOCFRAME_MCP_"
a = os.environ.get("DOCFRAME_X")
b = os.getenv(f"DOCFRAME_{a}")
c = typer.Option(envvar="DOCFRAME_LAKE", help="lake directory (env DOCFRAME_LAKE)")
def f():
    """Reads $DOCFRAME_Y, documented."""
'''
    got = [name for _, name in variable_names(source)]
    assert got == ["DOCFRAME_MCP_", "DOCFRAME_X", "DOCFRAME_", "DOCFRAME_LAKE"]


def test_only_config_reads_docframe_variables():
    found = readers()
    unexpected = {path: names for path, names in found.items() if path not in NOT_YET_MOVED}
    assert not unexpected, (
        f"DOCFRAME_* variables read outside docframe/config.py: {unexpected}; "
        "add an accessor to config.py (and a row to ENVIRONMENT and the README) instead"
    )
    stale = sorted(set(NOT_YET_MOVED) - set(found))
    assert not stale, f"{stale} no longer read DOCFRAME_* variables: remove them from NOT_YET_MOVED"


def test_every_variable_is_listed_once_and_in_the_readme():
    names = [var.name for var in config.ENVIRONMENT]
    assert len(names) == len(set(names))
    assert set(config.ENV) <= set(names) and set(config.MCP_LIMITS.values()) <= set(names)
    text = README.read_text()
    section = text[text.index("\n## Configuration\n") + 1 :]
    section = section[: section.index("\n#")]
    documented = set(re.findall(r"^\| `(DOCFRAME_[A-Z0-9_]+)`", section, flags=re.MULTILINE))
    assert documented == set(names)
    for var in config.ENVIRONMENT:
        row = section.split(f"| `{var.name}` |")[1].split("\n")[0]
        assert var.default in row and var.meaning in row, var.name


def test_listed_defaults_are_the_real_ones():
    sandbox = pytest.importorskip("docframe.mcp.sandbox")
    listed = {var.name: var.default for var in config.ENVIRONMENT}
    for var, field in config.ENV.items():
        assert listed[var] == str(getattr(config.Settings(), field)), var
    limits = dataclasses.asdict(sandbox.Limits())
    for field, var in config.MCP_LIMITS.items():
        assert listed[var] == str(limits[field]), var


def test_accessors_read_the_environment_when_called(monkeypatch):
    for var in config.ENVIRONMENT:
        monkeypatch.delenv(var.name, raising=False)
    assert config.requested_engine() is None and not config.allow_download()
    assert config.failpoint() is None and config.mcp_limit_values() == {}
    assert config.history_file() == Path("~/.docframe_history").expanduser()
    monkeypatch.setenv("DOCFRAME_ENGINE", "cpu")
    monkeypatch.setenv("DOCFRAME_ALLOW_DOWNLOAD", "1")
    monkeypatch.setenv("DOCFRAME_HISTORY", "~/h")
    monkeypatch.setenv("DOCFRAME_FAILPOINT", "after-commit")
    monkeypatch.setenv("DOCFRAME_MCP_MAX_ROWS", " 12 ")
    monkeypatch.setenv("DOCFRAME_MCP_TIMEOUT_S", "  ")
    assert config.requested_engine() == "cpu" and config.allow_download()
    assert config.history_file() == Path("~/h").expanduser()
    assert config.failpoint() == ("after-commit", 1)
    assert config.mcp_limit_values() == {"max_rows": " 12 "}
    assert config.mcp_limit_values({"DOCFRAME_MCP_MEMORY_LIMIT": "2GB"}) == {"memory_limit": "2GB"}
    monkeypatch.setenv("DOCFRAME_FAILPOINT", "before-commit:3")
    assert config.failpoint() == ("before-commit", 3)
    monkeypatch.setenv("DOCFRAME_ALLOW_DOWNLOAD", "yes")
    assert not config.allow_download()  # only 1 opts in


def test_a_bad_failpoint_and_an_unlisted_name_are_refused(monkeypatch):
    monkeypatch.setenv("DOCFRAME_FAILPOINT", "after-commit:two")
    with pytest.raises(DocframeError, match="DOCFRAME_FAILPOINT='after-commit:two'"):
        config.failpoint()
    with pytest.raises(KeyError, match="DOCFRAME_NOPE"):
        config.env_value("DOCFRAME_NOPE")
