"""What the ``docframe`` commands print: results as a table on the terminal, or CSV,
JSON, JSON lines or Parquet on stdout or in a file (``--format``, ``--output``); problems
as one line plus ``help:`` on stderr.

Every command that prints results takes the same formats, :data:`Format`, made from
:data:`docframe.shell.output.FORMATS` (the list ``docframe sql`` and the shell use), and
writes the machine formats through that module too, so a value is written the same way
by ``search``, ``sources`` or ``sql``. Values become text and JSON through
:mod:`docframe.query.values`; this module only chooses the layout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from docframe.errors import DocframeError
from docframe.query.values import cell_text, json_value
from docframe.shell.output import FORMATS, write_parquet, write_result

if TYPE_CHECKING:
    import pyarrow as pa

# piped output has no terminal width; 80 columns would fold every path
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)
# a table cell never takes more than this many characters
CELL_WIDTH = 80


# table, csv, json, jsonl, parquet: one list for every command (and the shell's, less parquet)
Format = StrEnum("Format", {name: name for name in FORMATS})
FORMAT_HELP = (
    "table (fits the terminal), csv, json (one array), jsonl (one object a line) or "
    "parquet (needs --output)."
)


def report_error(exc: DocframeError) -> None:
    """``error: <message>`` in bold red, then ``help: <hint>`` when the error has one."""
    _report("error", "bold red", exc.message, exc.help)


def report_warning(message: str, help: str | None = None) -> None:
    """``warning: <message>`` in bold yellow, then ``help: <hint>`` when given: what a
    Python warning looks like to a CLI user."""
    _report("warning", "bold yellow", message, help)


def _report(label: str, style: str, message: str, help: str | None) -> None:
    err.print(f"[{style}]{label}:[/{style}] {escape(message)}", markup=True, highlight=False)
    if help:  # continuation lines (a statement and its caret) stay aligned under "help: "
        text = help.replace("\n", "\n      ")
        err.print(f"help: {text}", style="dim", markup=False, highlight=False)


def check_destination(fmt: Format, output: Path | None) -> None:
    """Refuse, before any work, what cannot be written: Parquet on a terminal, a
    terminal table in a file."""
    if fmt is Format.parquet and output is None:
        raise DocframeError(
            "--format parquet needs --output FILE",
            help="add --output result.parquet, or use --format csv, json or jsonl on stdout",
        )
    if fmt is Format.table and output is not None:
        raise DocframeError(
            f"--output {output}: the table format is for the terminal",
            help="use --format csv, json, jsonl or parquet with --output",
        )


def print_rows(rows: list[dict[str, Any]], columns: list[str], title: str = "") -> None:
    """Rows as a table on the terminal (``--format table``)."""
    table = Table(title=title or None, show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(cell_text(r[c], float_format=".4f", width=CELL_WIDTH) for c in columns))
    out.print(table)


def emit(table: pa.Table, fmt: Format, output: Path | None = None) -> None:
    """A result in a machine format (csv, json, jsonl, parquet), on stdout or in
    ``output`` (then ``wrote N row(s) to FILE`` on stderr), written as ``docframe sql``
    writes it. Call :func:`check_destination` first."""
    if output is None:
        write_result(table, fmt.value, stream=sys.stdout)
    elif fmt is Format.parquet:
        write_parquet(table, output)
        _wrote(table.num_rows, output)
    else:
        _write_file(output, lambda stream: write_result(table, fmt.value, stream=stream))
        _wrote(table.num_rows, output)


def _write_file(output: Path, write: Callable[[TextIO], None]) -> None:
    try:
        with output.open("w", encoding="utf-8", newline="") as stream:
            write(stream)
    except OSError as exc:
        raise DocframeError(
            f"--output {output}: {exc.strerror or exc}", help="choose a writable path"
        ) from None


def _wrote(rows: int, output: Path) -> None:
    err.print(f"wrote {rows} row(s) to {output}", markup=False, highlight=False)


def print_record(record: dict[str, Any], fmt: Format, output: Path | None = None) -> None:
    """One record (an index build, a recall check, an evaluation): one ``key: value``
    line per scalar field on the terminal, the JSON object for json (indented) and jsonl
    (one line), and one row for csv and parquet (nested fields as JSON text)."""
    check_destination(fmt, output)
    if fmt is Format.table:
        for key, value in record.items():
            if not isinstance(value, list):
                out.print(f"{key:>16}: {value}", highlight=False)
    elif fmt in (Format.json, Format.jsonl):  # the record itself, not an array of one
        print_json(record, output, indent=2 if fmt is Format.json else None)
    else:
        emit(_one_row(record), fmt, output)


def print_json(value: dict[str, Any], output: Path | None = None, indent: int | None = 2) -> None:
    """One JSON object (a record, a description) on stdout or in ``output``."""
    text = json.dumps(json_value(value), indent=indent, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        _write_file(output, lambda stream: stream.write(text))
        _wrote(1, output)


def _one_row(record: dict[str, Any]) -> pa.Table:
    """``record`` as a one-row Arrow table, its nested fields (a sweep, parameters) as
    JSON text: Parquet cannot hold an empty struct, and CSV writes them as JSON anyway."""
    import pyarrow as pa

    flat = {
        k: json.dumps(json_value(v), ensure_ascii=False) if isinstance(v, (list, dict)) else v
        for k, v in record.items()
    }
    return pa.Table.from_pylist([flat])


def short(uri: str) -> str:
    """Paths under the working directory print relative to it."""
    try:
        return str(Path(uri).relative_to(Path.cwd()))
    except ValueError:
        return uri
