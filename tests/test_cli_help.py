"""Every command's --help shows its text as written.

Typer renders help as rich markup, where ``[job]`` or ``[tz=UTC]`` reads as a style tag
and vanishes: ``run --help`` once said "a table job ( and []) or an ingest job ()".
"""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from docframe.cli import app

BRACKETED = re.compile(r"\[[^\]\s]+\]")


def commands(command, path: list[str]):
    """The command and its subcommands, each with the words that invoke it (typer
    vendors its own click, so groups are known by their ``commands``)."""
    yield command, path
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, [*path, name])


def test_bracketed_words_in_help_texts_are_shown():
    runner = CliRunner()
    checked = 0
    for command, path in commands(typer.main.get_command(app), []):
        texts = [command.help or ""]
        texts += [getattr(p, "help", None) or "" for p in command.params]
        words = {w for t in texts for w in BRACKETED.findall(t.replace("\\[", "["))}
        if not words:
            continue
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        missing = sorted(w for w in words if w not in result.output)
        assert not missing, f"docframe {' '.join(path)} --help drops {missing}"
        checked += len(words)
    assert checked >= 3  # [job], [[steps]] and [ingest] of run; timestamp[tz=UTC] of ingest
