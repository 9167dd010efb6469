"""The SQL shell (``docframe sql`` on a terminal) and how SQL results are printed.

The shell's logic lives in :class:`Shell`, which takes input lines and returns
the text to show, so it is tested without a terminal; :func:`run_interactive`
only adds a terminal around it (line editing, history and tab completion by the
standard library's ``readline``).

The printing half is shared with the one-shot ``docframe sql`` command:
:func:`write_result` renders a result as a width-aware table, CSV, JSON (one
array) or JSON lines, and :func:`write_parquet` writes one to a file. Both the
relation listing (:func:`list_relations`) and ``describe`` (:func:`describe`)
are here too, because ``.tables`` and ``.schema`` in the shell are the same
thing as ``docframe tables`` and ``docframe describe``.
"""

from __future__ import annotations

import csv
import decimal
import difflib
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from docframe.errors import DocframeError, QueryError

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.console import Console

    from docframe.api import Lake

FORMATS = ("table", "csv", "json", "jsonl", "parquet")
SHELL_FORMATS = ("table", "csv", "json", "jsonl")  # parquet needs a file: docframe sql --output
SEARCH_FUNCTIONS = ("search", "keyword_search", "hybrid_search")
DEFAULT_HISTORY = Path("~/.docframe_history")
# the relations' own columns in duckdb_columns(): views over the snapshot, wherever
# sql.connect puts them (temp or main), not DuckDB's catalog views in "system"
_OURS = "database_name <> 'system' AND schema_name = 'main'"
# a column never takes more than this many characters of a table's width
MAX_COLUMN_WIDTH = 60

# --------------------------------------------------------------------------- statements


def split_statements(text: str) -> tuple[list[str], str]:
    """(complete statements, unfinished rest) of ``text``.

    A statement ends with a ``;`` that is not inside a string, a quoted
    identifier, a comment or a dollar-quoted block, so ``SELECT ';'`` is one
    statement and a ``;`` in ``-- a comment;`` ends nothing. Empty statements
    (``;;``) are dropped; statements keep their text as typed, without the ``;``.
    """
    statements: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in ("'", '"'):
            end = text.find(ch, i + 1)
            while end != -1 and end + 1 < n and text[end + 1] == ch:  # '' and "" escape
                end = text.find(ch, end + 2)
            if end == -1:
                break
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            if end == -1:
                break
            i = end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                break
            i = end + 2
        elif ch == "$" and (tag := _DOLLAR.match(text, i)):
            end = text.find(tag.group(0), tag.end())
            if end == -1:
                break
            i = end + len(tag.group(0))
        elif ch == ";":
            statement = text[start:i].strip()
            if statement and not is_blank(statement):
                statements.append(statement)
            start = i = i + 1
        else:
            i += 1
    return statements, text[start:]


_DOLLAR = re.compile(r"\$[A-Za-z_]*\$")


def is_blank(text: str) -> bool:
    """Nothing but whitespace and finished comments: not a statement to run or wait for."""
    stripped = re.sub(r"--[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)
    return not stripped.strip()


def is_explain(statement: str) -> bool:
    """True for ``EXPLAIN`` and ``EXPLAIN ANALYZE``: their rows are printed as plain text."""
    return re.match(r"\s*explain\b", statement, re.IGNORECASE) is not None


# --------------------------------------------------------------------------- values


def text_value(value: Any) -> str:
    """One value as CSV text, as DuckDB's CSV writer has it (NULL empty, ``true``, ``nan``,
    BLOBs as ``\\xAB``), except lists and structs, which are JSON: parseable anywhere."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest exact form; nan and inf as DuckDB writes them
    if isinstance(value, bytes):
        return _blob_text(value)
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(json_value(value), ensure_ascii=False)
    return str(value)


def json_value(value: Any) -> Any:
    """One value as JSON: numbers stay numbers (DECIMAL too, as DuckDB's JSON does),
    NaN and infinities become null, dates and times their SQL text, BLOBs DuckDB's
    ``\\xAB`` text, nested lists and structs recursively."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        return _blob_text(value)
    return str(value)  # dates, times, UUIDs, intervals: their SQL text


def _blob_text(value: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02X}" for b in value)


def _cell(value: Any) -> str:
    """A table cell: one line; floats to 10 significant digits; long vectors summarised."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.10g}"
    if isinstance(value, list) and len(value) > 8:
        return f"[{len(value)} values]"
    if isinstance(value, bytes):
        return _blob_text(value[:64]) + ("…" if len(value) > 64 else "")
    return text_value(value).replace("\r", " ").replace("\n", " ")


# --------------------------------------------------------------------------- output


def write_rows(
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    fmt: str,
    *,
    stream: TextIO,
    console: Console | None = None,
    title: str = "",
    numeric: Iterable[str] = (),
) -> None:
    """Rows (dicts) in ``fmt``: table (on ``console``), csv, json or jsonl (on ``stream``)."""
    if fmt == "json":
        separator = "\n  "
        stream.write("[")
        for row in rows:
            stream.write(separator + json.dumps(json_value(row), ensure_ascii=False))
            separator = ",\n  "
        stream.write("]\n" if separator == "\n  " else "\n]\n")
    elif fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps(json_value(row), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([text_value(row.get(c)) for c in columns])
    elif fmt == "table":
        if console is None:
            raise ValueError("table format needs a console")
        console.print(
            _rich_table(rows, columns, title=title, numeric=set(numeric), width=console.width)
        )
    else:
        raise QueryError(f"unknown output format {fmt!r}", help=f"formats: {', '.join(FORMATS)}")


def _rich_table(
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    *,
    title: str,
    numeric: set[str],
    width: int,
) -> Any:
    """A table that fits ``width``: each cell one line, cut with … when too long, and
    when even narrow columns do not fit, the middle columns elided (shown as one …
    column, like DuckDB's own shell), never squeezed to nothing.

    The widths are decided here rather than by rich, whose last resort for a table
    too wide is to shrink every column evenly, down to zero characters.
    """
    from rich.table import Table

    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    natural = [
        min(MAX_COLUMN_WIDTH, max([len(c), *(len(r[i]) for r in cells)]))
        for i, c in enumerate(columns)
    ]
    narrow = [min(n, max(6, min(len(c), 12))) for n, c in zip(natural, columns, strict=True)]
    shown = _columns_that_fit(narrow, width)
    hidden = len(columns) - len(shown) + (1 if -1 in shown else 0)
    real = [i for i in shown if i != -1]
    room = width - 1 - 3 * len(shown) - (1 if -1 in shown else 0)
    widths = _share(room, [narrow[i] for i in real], [natural[i] for i in real])
    caption = None
    if hidden:
        caption = (
            f"{hidden} of {len(columns)} columns not shown (…): select fewer, "
            "or use --format csv / json"
        )
    table = Table(title=title or None, show_lines=False, caption=caption)
    for i in shown:
        if i == -1:
            table.add_column("…", no_wrap=True, width=1)
            continue
        table.add_column(
            columns[i],
            overflow="ellipsis",
            no_wrap=True,
            width=widths[real.index(i)],
            justify="right" if columns[i] in numeric else "left",
        )
    for r in cells:
        table.add_row(*("…" if i == -1 else r[i] for i in shown))
    return table


def _columns_that_fit(widths: list[int], width: int) -> list[int]:
    """Indexes of the columns to show: all if their narrow widths fit, else as many
    from both ends as fit, with -1 marking where the elided middle goes."""
    cost = [w + 3 for w in widths]  # a border and a space either side
    if sum(cost) + 1 <= width or len(widths) <= 2:
        return list(range(len(widths)))
    budget = width - 1 - 4  # the outer border and the … column
    left: list[int] = []
    right: list[int] = []
    lo, hi = 0, len(widths) - 1
    while lo <= hi:
        take_left = len(left) <= len(right)
        i = lo if take_left else hi
        if cost[i] > budget:
            break
        budget -= cost[i]
        if take_left:
            left.append(i)
            lo += 1
        else:
            right.insert(0, i)
            hi -= 1
    if not left:  # not even one column fits: show the first, cut
        left = [0]
    return [*left, -1, *right]


def _share(room: int, low: list[int], high: list[int]) -> list[int]:
    """Column widths from ``low`` up to ``high``, the spare ``room`` shared out evenly."""
    widths = list(low)
    spare = room - sum(widths)
    while spare > 0:
        growing = [i for i, w in enumerate(widths) if w < high[i]]
        if not growing:
            break
        step = max(1, spare // len(growing))
        for i in growing:
            add = min(step, high[i] - widths[i], spare)
            widths[i] += add
            spare -= add
            if spare == 0:
                break
    return [max(1, w) for w in widths]


def _numeric_columns(table: pa.Table) -> list[str]:
    import pyarrow.types as pt

    return [
        f.name
        for f in table.schema
        if pt.is_integer(f.type) or pt.is_floating(f.type) or pt.is_decimal(f.type)
    ]


def _batches(table: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows one Arrow batch at a time, so a large CSV/JSON export is not held as dicts."""
    for batch in table.to_batches(max_chunksize=8192):
        yield from batch.to_pylist()


def write_result(
    table: pa.Table,
    fmt: str,
    *,
    stream: TextIO,
    console: Console | None = None,
    max_rows: int | None = None,
    explain: bool = False,
    notes: Callable[[str], None] | None = None,
) -> None:
    """One SQL result in ``fmt`` (table, csv, json, jsonl; parquet: :func:`write_parquet`).

    ``explain``: the statement was EXPLAIN [ANALYZE], whose rows are plans, so a
    table-format request prints their text plainly (a box around a box helps no
    one). ``max_rows`` caps table output only; ``notes`` receives the "showing N
    of M rows" line.
    """
    if fmt == "table" and explain and table.num_columns == 2:
        _write_explain(table, stream)
        return
    if fmt == "table":
        shown = table if max_rows is None else table.slice(0, max_rows)
        if shown.num_rows < table.num_rows and notes is not None:
            notes(f"showing {shown.num_rows} of {table.num_rows} rows (--max-rows)")
        write_rows(
            shown.to_pylist(),
            table.column_names,
            fmt,
            stream=stream,
            console=console,
            numeric=_numeric_columns(table),
        )
        return
    write_rows(_batches(table), table.column_names, fmt, stream=stream, console=console)


def _write_explain(table: pa.Table, stream: TextIO) -> None:
    """docframe's EXPLAIN rows (stage, detail) under a heading each; DuckDB's (explain_key,
    explain_value) as the plan alone, like DuckDB's own shell prints them."""
    key, value = table.column_names
    for row in table.to_pylist():
        detail = str(row[value] or "").rstrip("\n")
        if key == "explain_key":
            stream.write(detail + "\n")
        elif "\n" in detail:
            stream.write(f"{row[key]}:\n{detail}\n")
        else:
            stream.write(f"{row[key]}: {detail}\n")


def write_parquet(table: pa.Table, path: Path) -> None:
    """The result as one Parquet file (types kept exactly: DECIMAL stays decimal)."""
    import pyarrow.parquet as pq

    try:
        pq.write_table(table, path)
    except OSError as exc:
        raise QueryError(f"--output {path}: {exc}", help="choose a writable path") from None


# --------------------------------------------------------------------------- catalog


def list_relations(lake: Lake, snapshot: int | None = None) -> pa.Table:
    """The built-in relations and every lake table at one snapshot, with row counts.

    Columns: name, kind (``relation`` or ``table``), n_rows, n_columns, columns
    (``name TYPE, ...``), source_uri, origin, snapshot_id, notes. Relations
    first, in a fixed order; then the lake's tables by name.
    """
    from docframe.lake.relations import RELATIONS

    counts = " UNION ALL ".join(
        f"SELECT '{name}' AS name, {i} AS pos, (SELECT count(*) FROM {name}) AS n_rows"
        for i, name in enumerate(RELATIONS)
    )
    query = f"""
        WITH cols AS (
            SELECT table_name AS name, count(*)::INTEGER AS n_columns,
                   string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index)
                       AS columns
            FROM duckdb_columns() WHERE {_OURS} GROUP BY table_name
        ), counts AS ({counts})
        SELECT name, 'relation' AS kind, n_rows, n_columns, columns,
               NULL::VARCHAR AS source_uri, NULL::VARCHAR AS origin,
               NULL::BIGINT AS snapshot_id, NULL::VARCHAR AS notes, pos
        FROM counts JOIN cols USING (name)
        UNION ALL
        SELECT name, 'table', n_rows, n_columns, columns, source_uri, origin, snapshot_id,
               notes, 1000
        FROM tables
        ORDER BY pos, name
    """
    table = lake.sql(query, snapshot=snapshot).to_arrow()
    return table.drop_columns(["pos"])


@dataclass
class Description:
    """What ``docframe describe NAME`` shows: a relation's columns, types and size."""

    name: str
    kind: str  # relation | table
    n_rows: int
    columns: list[tuple[str, str]]  # (column, DuckDB type)
    source_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "n_rows": self.n_rows,
            "source_uri": self.source_uri,
            "columns": [{"name": n, "type": t} for n, t in self.columns],
        }


def relation_names(lake: Lake, snapshot: int | None = None) -> list[str]:
    """Every name a query can read at the snapshot: built-in relations, then lake tables."""
    from docframe.lake.relations import RELATIONS

    return [*RELATIONS, *sorted(lake.snapshot(snapshot).tables)]


def resolve_name(name: str, names: list[str]) -> str:
    """``name`` as the lake spells it (SQL names are case-insensitive); a one-line error
    with the closest match when there is none."""
    by_lower = {n.lower(): n for n in names}
    wanted = name.strip().strip('"').lower()
    if wanted in by_lower:
        return by_lower[wanted]
    close = difflib.get_close_matches(wanted, list(by_lower), n=1)
    hint = f"; did you mean {by_lower[close[0]]!r}?" if close else ""
    raise QueryError(
        f"no relation or table named {name!r}{hint}",
        help="list them with: docframe tables",
    )


def describe(lake: Lake, name: str, snapshot: int | None = None) -> Description:
    """Columns and DuckDB types of a relation or lake table, with its row count."""
    pinned = lake.snapshot(snapshot)
    resolved = resolve_name(name, relation_names(lake, pinned.snapshot_id))
    quoted = '"' + resolved.replace('"', '""') + '"'
    literal = "'" + resolved.replace("'", "''") + "'"
    result = lake.sql(
        f"SELECT column_name, data_type, (SELECT count(*) FROM {quoted}) AS n_rows "
        f"FROM duckdb_columns() WHERE {_OURS} AND table_name = {literal} "
        "ORDER BY column_index",
        snapshot=pinned.snapshot_id,
    ).to_list()
    info = pinned.tables.get(resolved)
    return Description(
        name=resolved,
        kind="table" if info is not None else "relation",
        n_rows=int(result[0]["n_rows"]) if result else 0,
        columns=[(r["column_name"], r["data_type"]) for r in result],
        source_uri=info.source_uri if info is not None else None,
    )


# --------------------------------------------------------------------------- the shell

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

DOT_COMMANDS = (".tables", ".schema", ".format", ".timer", ".snapshot", ".help", ".quit")


@dataclass
class _Names:
    """What tab completion offers, read once per pinned snapshot."""

    relations: list[str]
    columns: dict[str, list[str]]  # relation -> columns
    keywords: list[str] = field(default_factory=list)


class Shell:
    """The SQL shell without a terminal: ``feed`` it lines, print what it returns.

    Statements are gathered until one ends with ``;`` and then run over the
    snapshot pinned when the shell started (``.snapshot`` moves it), so
    everything in a session sees the same data while ingestion goes on. Errors
    come back as their one-line message plus help, and the shell goes on.
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
        self._names: _Names | None = None
        self._types_cache: dict[str, list[str]] | None = None

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
        try:
            result = self.lake.sql(statement, snapshot=self.snapshot_id)
            text = self._render(result.to_arrow(), explain=is_explain(statement))
        except DocframeError as exc:
            return self._error(exc)
        if self.timer:
            text += f"Run Time: {time.perf_counter() - start:.3f} s\n"
        return text

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
        red, dim, reset = ("\x1b[1;31m", "\x1b[2m", "\x1b[0m") if self.color else ("", "", "")
        text = f"{red}error:{reset} {exc.message}\n"
        if exc.help:
            text += f"{dim}help: {exc.help}{reset}\n"
        return text

    # -- dot commands

    def _dot(self, line: str) -> str:
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        try:
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
            if handler is None:
                close = difflib.get_close_matches(command.lower(), DOT_COMMANDS, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise QueryError(f"unknown command {command!r}{hint}", help="see .help")
            return handler(arg)
        except DocframeError as exc:
            return self._error(exc)

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

    def _types(self, relation: str) -> list[str]:
        if self._types_cache is None:
            rows = self.lake.sql(
                "SELECT table_name, column_name, data_type FROM duckdb_columns() "
                f"WHERE {_OURS} ORDER BY table_name, column_index",
                snapshot=self.snapshot_id,
            ).to_list()
            cache: dict[str, list[str]] = {}
            for r in rows:
                cache.setdefault(r["table_name"], []).append(f"{r['column_name']} {r['data_type']}")
            self._types_cache = cache
        return self._types_cache.get(relation, [])

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
                raise QueryError(f".snapshot {arg!r}: give a number or latest")
            self.snapshot_id = self.lake.snapshot(wanted).snapshot_id
            self._names = None
            self._types_cache = None
        return f"snapshot {self.snapshot_id}\n"

    def _quit(self, arg: str) -> str:
        self.done = True
        return ""

    # -- completion

    def _completion_names(self) -> _Names:
        if self._names is None:
            from docframe.lake.relations import RELATIONS

            tables = sorted(self.lake.snapshot(self.snapshot_id).tables)
            relations = [*RELATIONS, *tables]
            rows = self.lake.sql(
                "SELECT table_name, column_name FROM duckdb_columns() "
                f"WHERE {_OURS} ORDER BY table_name, column_index",
                snapshot=self.snapshot_id,
            ).to_list()
            columns: dict[str, list[str]] = {r: [] for r in relations}
            for r in rows:
                if r["table_name"] in columns:
                    columns[r["table_name"]].append(r["column_name"])
            self._names = _Names(relations, columns, _keywords())
        return self._names

    def complete(self, line: str, begin: int, end: int | None = None) -> list[str]:
        """Candidates for the word ``line[begin:end]``, given the whole line (and what
        came before in a multi-line statement) for context: dot commands and their
        arguments, relations after FROM/JOIN, ``rel.column`` after a relation name, and
        otherwise columns, relations, search functions and SQL keywords."""
        end = len(line) if end is None else end
        word = line[begin:end]
        before = (self.buffer + line[:begin]).rstrip()
        if not self.buffer.strip() and line.lstrip().startswith("."):
            head = line.lstrip()
            if " " not in head[: end - (len(line) - len(head))]:
                return [c for c in DOT_COMMANDS if c.startswith(word.lower())]
            command = head.split()[0].lower()
            options: list[str] = {
                ".schema": self._completion_names().relations,
                ".format": list(SHELL_FORMATS),
                ".timer": ["on", "off"],
                ".snapshot": ["latest"],
            }.get(command, [])
            return [o for o in options if o.startswith(word)]
        names = self._completion_names()
        if "." in word:
            relation, _, prefix = word.rpartition(".")
            cols = names.columns.get(relation, [])
            if not cols:  # an alias: offer every column
                cols = sorted({c for cs in names.columns.values() for c in cs})
            return [f"{relation}.{c}" for c in cols if c.startswith(prefix)]
        previous = before.split()[-1].lower() if before.split() else ""
        functions = [f"{f}(" for f in SEARCH_FUNCTIONS]
        if previous in ("from", "join", "describe", "table", "into", "update"):
            pool = [*names.relations, *functions]
        else:
            all_columns = sorted({c for cs in names.columns.values() for c in cs})
            keywords = [k.upper() if word.isupper() else k for k in names.keywords]
            pool = [*all_columns, *names.relations, *functions, *keywords]
        lowered = word.lower()
        seen: set[str] = set()
        out = []
        for candidate in pool:
            if candidate.lower().startswith(lowered) and candidate not in seen:
                seen.add(candidate)
                out.append(candidate)
        return out


_KEYWORDS: list[str] | None = None


def _keywords() -> list[str]:
    """DuckDB's reserved and unreserved keywords, lower case (asked of DuckDB itself)."""
    global _KEYWORDS
    if _KEYWORDS is None:
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            rows = con.execute(
                "SELECT DISTINCT lower(keyword_name) FROM duckdb_keywords() ORDER BY 1"
            ).fetchall()
        finally:
            con.close()
        _KEYWORDS = [r[0] for r in rows]
    return _KEYWORDS


# --------------------------------------------------------------------------- terminal


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
