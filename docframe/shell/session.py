"""The SQL shell without a terminal: :class:`Shell` takes input lines and returns the
text to show, so it is tested without one (:mod:`docframe.shell.terminal` adds the
terminal: line editing, history and tab completion)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from docframe.errors import DocframeError, QueryError, did_you_mean
from docframe.shell.catalog import describe, list_relations, relation_columns, relation_names
from docframe.shell.completion import (
    DOT_COMMANDS,
    Names,
    complete,
    complete_dot_command,
    keywords,
)
from docframe.shell.messages import problem_text, showing_warnings
from docframe.shell.output import SHELL_FORMATS, write_result, write_rows
from docframe.shell.statements import is_blank, is_explain, split_statements

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.console import Console

    from docframe.api import Lake

HELP = """\
Statements end with ';' and may span lines. Each statement runs on its own over the
pinned snapshot (no session state: CREATE TEMP TABLE does not outlive its statement).

  SELECT * FROM chunks LIMIT 5;
  SELECT c.doc_key, s.score FROM search('late delivery', k => 5) s JOIN chunks c USING (chunk_id);
  SELECT * FROM hybrid_search('E1234', k => 10, where => 'page < 5', weights => [1, 0.5]);
  EXPLAIN ANALYZE SELECT * FROM keyword_search('penalty', k => 3);

.tables               relations and lake tables, with row counts
.schema [NAME]        columns and types of NAME (of every relation without NAME)
.format FMT           output format: table, csv, json or jsonl
.timer on|off         print each statement's run time
.snapshot [N|latest]  show or change the pinned snapshot
.help                 this text
.quit                 leave (also Ctrl-D)

Tab completes relation, column and search function names, SQL keywords and dot commands."""


class Shell:
    """The SQL shell without a terminal: ``feed`` it lines, print what it returns.

    Statements are gathered until one ends with ``;`` and then run over the
    snapshot pinned when the shell started (``.snapshot`` moves it), so
    everything in a session sees the same data while ingestion goes on. Errors
    come back as their one-line message plus help, and the shell goes on;
    warnings come back the same way, before the output they concern.
    """

    def __init__(
        self,
        lake: Lake,
        *,
        snapshot: int | None = None,
        fmt: str = "table",
        max_rows: int = 100,
        width: int | None = 100,
        color: bool = False,
    ) -> None:
        if fmt not in SHELL_FORMATS:
            raise QueryError(f"unknown format {fmt!r}", help=f"one of {', '.join(SHELL_FORMATS)}")
        self.lake = lake
        self.snapshot_id = lake.snapshot(snapshot).snapshot_id
        self.fmt = fmt
        self.max_rows = max_rows
        self.width = width  # None: the terminal's width, read at each statement
        self.color = color
        self.timer = False
        self.done = False
        self.buffer = ""
        self._names: Names | None = None
        self._columns: dict[str, list[tuple[str, str]]] | None = None

    # -- input

    @property
    def prompt(self) -> str:
        return "docframe> " if not self.buffer else "     ...> "

    def feed(self, line: str) -> str:
        """Take one input line; return what to print (possibly nothing)."""
        if not self.buffer.strip() and line.strip().startswith("."):
            return self._dot(line.strip())
        self.buffer += line + "\n"
        statements, self.buffer = split_statements(self.buffer)
        if is_blank(self.buffer):
            self.buffer = ""
        return "".join(self.execute(s) for s in statements)

    def cancel(self) -> None:
        """Drop a statement being typed (Ctrl-C)."""
        self.buffer = ""

    def execute(self, statement: str) -> str:
        """Run one statement and return its rendered result, or its error."""
        start = time.perf_counter()
        with self._noting_warnings() as warned:
            try:
                result = self.lake.sql(statement, snapshot=self.snapshot_id)
                text = self._render(result.to_arrow(), explain=is_explain(statement))
            except DocframeError as exc:
                return "".join(warned) + self._error(exc)
        if self.timer:
            text += f"Run Time: {time.perf_counter() - start:.3f} s\n"
        return "".join(warned) + text

    def complete(self, line: str, begin: int, end: int | None = None) -> list[str]:
        """Candidates for the word ``line[begin:end]``, given the whole line (and what
        came before in a multi-line statement) for context: see
        :mod:`docframe.shell.completion`."""
        end = len(line) if end is None else end
        if not self.buffer.strip() and line.lstrip().startswith("."):
            return complete_dot_command(
                line, begin, end, lambda: self._completion_names().relations
            )
        before = (self.buffer + line[:begin]).rstrip()
        return complete(self._completion_names(), line, begin, end, before=before)

    # -- output

    def _console(self, stream: io.StringIO) -> Console:
        import shutil

        from rich.console import Console

        width = self.width or shutil.get_terminal_size().columns
        return Console(
            file=stream,
            width=width,
            force_terminal=self.color,
            color_system="standard" if self.color else None,
            highlight=False,
        )

    def _render(self, table: pa.Table, *, explain: bool = False) -> str:
        stream = io.StringIO()
        notes: list[str] = []
        write_result(
            table,
            self.fmt,
            stream=stream,
            console=self._console(stream),
            max_rows=self.max_rows,
            explain=explain,
            notes=notes.append,
        )
        for note in notes:
            stream.write(f"({note.replace('--max-rows', 'shell shows at most this many')})\n")
        return stream.getvalue()

    def _error(self, exc: DocframeError) -> str:
        return problem_text("error", exc.message, exc.help, color=self.color)

    @contextmanager
    def _noting_warnings(self) -> Iterator[list[str]]:
        """The warnings raised within, as shell text (the terminal gets no Python lines)."""
        warned: list[str] = []
        with showing_warnings(
            lambda message, hint: warned.append(
                problem_text("warning", message, hint, color=self.color)
            )
        ):
            yield warned

    # -- dot commands

    def _dot(self, line: str) -> str:
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        handler = {
            ".tables": self._tables,
            ".schema": self._schema,
            ".format": self._format,
            ".timer": self._timer,
            ".snapshot": self._snapshot,
            ".help": lambda _: HELP + "\n",
            ".quit": self._quit,
            ".exit": self._quit,
        }.get(command.lower())
        with self._noting_warnings() as warned:
            try:
                if handler is None:
                    raise QueryError(
                        f"unknown command {command!r}{did_you_mean(command.lower(), DOT_COMMANDS)}",
                        help="see .help",
                    )
                text = handler(arg)
            except DocframeError as exc:
                text = self._error(exc)
        return "".join(warned) + text

    def _tables(self, arg: str) -> str:
        table = list_relations(self.lake, self.snapshot_id)
        stream = io.StringIO()
        columns = ["name", "kind", "n_rows", "n_columns", "source_uri"]
        write_rows(
            table.select(columns).to_pylist(),
            columns,
            "table" if self.fmt == "table" else self.fmt,
            stream=stream,
            console=self._console(stream),
            numeric=("n_rows", "n_columns"),
        )
        return stream.getvalue()

    def _schema(self, arg: str) -> str:
        if not arg:
            names = self._completion_names()
            return "".join(f"{rel}({', '.join(self._types(rel))})\n" for rel in names.relations)
        d = describe(self.lake, arg, self.snapshot_id)
        stream = io.StringIO()
        rows = [{"column_name": n, "column_type": t} for n, t in d.columns]
        if self.fmt == "table":
            stream.write(f"{d.name}: {d.kind}, {d.n_rows} rows\n")
        write_rows(
            rows,
            ["column_name", "column_type"],
            self.fmt,
            stream=stream,
            console=self._console(stream),
        )
        return stream.getvalue()

    def _format(self, arg: str) -> str:
        if not arg:
            return f"format: {self.fmt}\n"
        if arg not in SHELL_FORMATS:
            extra = (
                "; parquet needs a file: docframe sql --format parquet --output FILE"
                if arg == "parquet"
                else ""
            )
            raise QueryError(
                f".format {arg!r}: not a shell format{extra}",
                help=f"one of {', '.join(SHELL_FORMATS)}",
            )
        self.fmt = arg
        return ""

    def _timer(self, arg: str) -> str:
        if arg.lower() not in ("on", "off"):
            raise QueryError(f".timer {arg!r}: say on or off", help="e.g. .timer on")
        self.timer = arg.lower() == "on"
        return ""

    def _snapshot(self, arg: str) -> str:
        if arg:
            if arg.lower() == "latest":
                wanted = None
            elif arg.isdigit():
                wanted = int(arg)
            else:
                raise QueryError(
                    f".snapshot {arg!r}: give a number or latest", help="e.g. .snapshot 3"
                )
            self.snapshot_id = self.lake.snapshot(wanted).snapshot_id
            self._names = None
            self._columns = None
        return f"snapshot {self.snapshot_id}\n"

    def _quit(self, arg: str) -> str:
        self.done = True
        return ""

    # -- names, read once per pinned snapshot

    def _relation_columns(self) -> dict[str, list[tuple[str, str]]]:
        if self._columns is None:
            self._columns = relation_columns(self.lake, self.snapshot_id)
        return self._columns

    def _types(self, relation: str) -> list[str]:
        return [f"{n} {t}" for n, t in self._relation_columns().get(relation, [])]

    def _completion_names(self) -> Names:
        if self._names is None:
            relations = relation_names(self.lake, self.snapshot_id)
            found = self._relation_columns()
            columns = {r: [n for n, _ in found.get(r, [])] for r in relations}
            self._names = Names(relations, columns, keywords())
        return self._names
