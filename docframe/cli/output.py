"""What the ``docframe`` commands print: rows as a table, JSON or CSV on stdout, and
problems as one line plus ``help:`` on stderr.

Values become text and JSON through :mod:`docframe.query.values`, as in ``docframe sql``
and the shell; this module only chooses the layout.
"""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from docframe.errors import DocframeError
from docframe.query.values import cell_text, json_value

# piped output has no terminal width; 80 columns would fold every path
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)
# a table cell never takes more than this many characters
CELL_WIDTH = 80


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


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


def print_rows(
    rows: list[dict[str, Any]], columns: list[str], fmt: Format, title: str = ""
) -> None:
    """Rows as one JSON array, CSV (lists and structs as JSON), or a table on the terminal."""
    if fmt is Format.json:
        sys.stdout.write(json.dumps([json_value(r) for r in rows], indent=2, ensure_ascii=False))
        sys.stdout.write("\n")
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    k: json.dumps(json_value(v)) if isinstance(v, (list, dict)) else v
                    for k, v in r.items()
                }
            )
    else:
        table = Table(title=title or None, show_lines=False)
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*(cell_text(r[c], float_format=".4f", width=CELL_WIDTH) for c in columns))
        out.print(table)


def print_record(record: dict[str, Any], fmt: Format) -> None:
    """One record (an index build, a recall check, an evaluation): JSON, or one
    ``key: value`` line per scalar field."""
    if fmt is Format.json:
        sys.stdout.write(json.dumps(json_value(record), indent=2) + "\n")
    else:
        for key, value in record.items():
            if not isinstance(value, list):
                out.print(f"{key:>16}: {value}", highlight=False)


def short(uri: str) -> str:
    """Paths under the working directory print relative to it."""
    try:
        return str(Path(uri).relative_to(Path.cwd()))
    except ValueError:
        return uri
