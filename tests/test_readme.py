"""The README's shell examples run as shown, so the README cannot drift from the code.

A fenced ``console`` or ``bash`` block in README.md is run when the line before its
fence is ``<!-- runnable -->`` (invisible on GitHub), or ``<!-- runnable: no-gpu -->``
for an example that shows what happens on a machine without a GPU. Every marked block
runs, in README order, in one temporary folder that holds what the examples name from
the repository (``examples/`` and the ``Makefile``), offline, with ``docframe`` on
``PATH`` running this checkout and the lake at its default ``./lake``: the first example
ingests the sample corpus into a fresh lake and the later ones read it.

- ``console``: each ``$ command`` runs in bash; the lines up to the next ``$`` are its
  output (stdout and stderr together, as a terminal shows them), compared as
  ``doctest`` compares, with ``...`` standing for any text (timings, a plan's boxes).
- ``bash``: the whole block runs with ``set -euo pipefail`` and must exit 0.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from docframe.backend import gpu_device_visible
from tests.conftest import REPO

README = REPO / "README.md"
MARKER = re.compile(r"^(?P<indent>\s*)<!-- runnable(?:: (?P<when>[a-z-]+))? -->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\w*)\s*$")
CONDITIONS = ("no-gpu",)


@dataclass
class Command:
    line: int  # the README line of its ``$``
    text: str
    want: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int  # the README line of its opening fence
    lang: str
    when: str | None
    body: list[str]

    def commands(self) -> list[Command]:
        """A console block's ``$`` commands (``\\`` continues one) and their outputs."""
        commands: list[Command] = []
        for offset, text in enumerate(self.body, start=self.line + 1):
            if commands and commands[-1].text.endswith("\\") and not commands[-1].want:
                commands[-1].text += "\n" + text
            elif text.startswith("$ "):
                commands.append(Command(offset, text[2:]))
            elif commands:
                commands[-1].want.append(text)
            else:
                raise AssertionError(f"README.md:{offset}: output before any '$ ' command")
        return commands


def runnable_blocks(text: str) -> list[Block]:
    """The marked blocks of a Markdown text, in order; a marker that does not sit right
    above a console or bash fence is an error, not a silently skipped example."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        mark = MARKER.match(line)
        if not mark:
            continue
        fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        where = f"README.md:{i + 1}"
        assert fence and fence["lang"] in ("console", "bash"), (
            f"{where}: a runnable marker must sit right above a ```console or ```bash fence"
        )
        assert mark["when"] in (None, *CONDITIONS), f"{where}: unknown condition {mark['when']!r}"
        indent = fence["indent"]
        body = []
        for j in range(i + 2, len(lines)):
            if lines[j].strip() == "```":
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
        else:
            raise AssertionError(f"{where}: the block is never closed")
        blocks.append(Block(i + 2, fence["lang"], mark["when"], body))
    return blocks


def shell_env(bin_dir: Path) -> dict[str, str]:
    """What a user's shell would have: ``docframe`` on PATH, nothing of the test suite's
    own settings, the CPU engine (whose output the README shows), no downloads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFRAME_")}
    # and not a make's: under `make test`, a `make` in a block would print "Entering directory"
    for var in ("COLUMNS", "LINES", "PYTEST_CURRENT_TEST", "MAKELEVEL", "MAKEFLAGS", "MFLAGS"):
        env.pop(var, None)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",  # stdout and stderr in the order they were written
        HF_HUB_OFFLINE="1",
        DOCFRAME_ENGINE="cpu",
    )
    return env


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """A folder like a fresh clone's for the examples, and a function running one
    command there."""
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "examples", work / "examples")
    shutil.copy(REPO / "Makefile", work / "Makefile")
    bin_dir = work.parent / f"{work.name}-bin"
    bin_dir.mkdir()
    docframe = bin_dir / "docframe"  # what pip's console script does, on this checkout
    docframe.write_text(
        f"#!{sys.executable}\nimport sys\nfrom docframe.cli import app\nsys.exit(app())\n"
    )
    docframe.chmod(0o755)
    env = shell_env(bin_dir)

    def run(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{script}"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )

    return run


def mismatch(command: Command, got: str) -> str | None:
    """None when ``got`` is what the README shows, else a diff naming the line."""
    want = "".join(line.rstrip() + "\n" for line in command.want)
    got = "".join(line.rstrip() + "\n" for line in got.splitlines())
    checker = doctest.OutputChecker()
    if checker.check_output(want, got, doctest.ELLIPSIS):
        return None
    example = doctest.Example(command.text, want)
    diff = checker.output_difference(example, got, doctest.ELLIPSIS | doctest.REPORT_NDIFF)
    return f"README.md:{command.line}: $ {command.text}\n{diff}"


def test_the_marked_examples_are_found():
    blocks = runnable_blocks(README.read_text(encoding="utf-8"))
    langs = {b.lang for b in blocks}
    assert len(blocks) >= 5 and langs == {"console", "bash"}, blocks
    first = blocks[0].commands()[0]
    assert first.text == "docframe ingest examples/sample-corpus"  # the fresh lake comes first


def test_the_runner_reports_a_wrong_output_and_an_unmarked_fence():
    text = (
        "<!-- runnable -->\n```console\n$ echo one\none\n$ echo two\nthree\n```\n"
        "<!-- runnable -->\nplain text\n"
    )
    with pytest.raises(AssertionError, match="README.md:8: a runnable marker"):
        runnable_blocks(text)
    (block,) = runnable_blocks(text.split("<!-- runnable -->\nplain")[0])
    one, two = block.commands()
    assert mismatch(one, "one\n") is None
    assert mismatch(Command(1, "x", ["took ... s"]), "took 1.5 s\n") is None
    report = mismatch(two, "two\n")
    assert report and report.startswith("README.md:5: $ echo two")


def test_readme_examples_run_as_shown(shell):
    gpu, _ = gpu_device_visible()
    failures = []
    ran = 0
    for block in runnable_blocks(README.read_text(encoding="utf-8")):
        if block.when == "no-gpu" and gpu:
            continue
        if block.lang == "bash":
            out = shell("\n".join(block.body))
            ran += 1
            if out.returncode != 0:
                failures.append(f"README.md:{block.line}: exit {out.returncode}\n{out.stdout}")
            continue
        for command in block.commands():
            out = shell(command.text)
            ran += 1
            problem = mismatch(command, out.stdout)
            if problem:
                failures.append(problem)
    assert ran >= 8
    assert not failures, "\n\n".join(failures)
