"""The shell on a terminal (``docframe sql`` with nothing to run): the standard
library's ``readline`` adds line editing, history and tab completion around
:class:`~docframe.shell.session.Shell`, which does the rest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from docframe.shell.session import Shell

if TYPE_CHECKING:
    from docframe.api import Lake


def history_path() -> Path:
    """Where the shell keeps its history: ``$DOCFRAME_HISTORY`` or ``~/.docframe_history``."""
    from docframe.config import history_file

    return history_file()


def run_interactive(
    lake: Lake,
    *,
    snapshot: int | None = None,
    fmt: str = "table",
    max_rows: int = 100,
    history: Path | None = None,
) -> None:  # pragma: no cover - runs in a subprocess on a pseudo-terminal in the tests
    """The shell on a terminal: readline editing, history and tab completion."""
    import sys

    try:
        import readline
    except ImportError:  # Windows without pyreadline: still a working shell
        readline = None  # type: ignore[assignment]

    shell = Shell(lake, snapshot=snapshot, fmt=fmt, max_rows=max_rows, width=None, color=True)
    path = history or history_path()
    if readline is not None:
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        readline.set_history_length(5000)
        readline.set_completer_delims(" \t\n()[]{},;=<>!+-*/%|&'\"")
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")
        matches: list[str] = []

        def completer(text: str, state: int) -> str | None:
            nonlocal matches
            if state == 0:
                line = readline.get_line_buffer()
                matches = shell.complete(line, readline.get_begidx(), readline.get_endidx())
            return matches[state] if state < len(matches) else None

        readline.set_completer(completer)
    sys.stdout.write(
        f"docframe SQL shell: lake {lake.root}, snapshot {shell.snapshot_id}. "
        "End statements with ';'. .help for help, .quit to leave.\n"
    )
    lines_in_statement = 0
    try:
        while not shell.done:
            try:
                line = input(shell.prompt)
            except EOFError:
                sys.stdout.write("\n")
                break
            except KeyboardInterrupt:
                shell.cancel()
                lines_in_statement = 0
                sys.stdout.write("^C\n")
                continue
            lines_in_statement += 1
            try:
                text = shell.feed(line)
            except KeyboardInterrupt:
                shell.cancel()
                text = "interrupted\n"
            if readline is not None and not shell.buffer and lines_in_statement > 1:
                _collapse_history(readline, lines_in_statement)
            if not shell.buffer:
                lines_in_statement = 0
            sys.stdout.write(text)
            sys.stdout.flush()
    finally:
        if readline is not None:
            try:
                readline.write_history_file(path)
            except OSError:
                pass


def _collapse_history(readline: Any, n: int) -> None:  # pragma: no cover - terminal only
    """A statement typed over ``n`` lines becomes one history entry, recalled whole."""
    length = readline.get_current_history_length()
    if length < n:
        return
    lines = [readline.get_history_item(i) for i in range(length - n + 1, length + 1)]
    for _ in range(n):
        readline.remove_history_item(readline.get_current_history_length() - 1)
    readline.add_history(" ".join(line.strip() for line in lines if line))
