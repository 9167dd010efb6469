"""``docframe sql``: run SQL statements from an argument, a file or stdin and print each
result, or open the interactive shell (:mod:`docframe.shell`) on a terminal."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from docframe.cli.app import SnapshotOpt, open_lake
from docframe.cli.output import err, out
from docframe.errors import DocframeError, QueryError
from docframe.shell.output import FORMATS, write_parquet, write_result
from docframe.shell.statements import is_blank, is_explain, split_statements
from docframe.shell.terminal import run_interactive


class SqlFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    parquet = "parquet"


def sql(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(
            help="DuckDB SQL (several statements: separate them with ';'). '-' reads stdin; "
            "none reads piped stdin, or opens the interactive shell on a terminal.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the SQL from this file.")
    ] = None,
    fmt: Annotated[
        SqlFormat,
        typer.Option(
            "--format",
            help="table (fits the terminal), csv, json (one array), jsonl (one object a line) "
            "or parquet (needs --output).",
        ),
    ] = SqlFormat.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the result to this file (csv/json/jsonl/parquet)."
        ),
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows shown in table format.", min=1)] = 50,
    snapshot: SnapshotOpt = None,
) -> None:
    """Run DuckDB SQL over the newest snapshot (or --snapshot N), or open the SQL shell.

    Relations: chunks, documents, sources, snapshots, tables, pdf_tables and every
    lake table by name (docframe tables; docframe describe NAME). Search runs as
    table functions: search('text', k => 10, where => '...'), keyword_search(...),
    hybrid_search(..., weights => [1, 0.5]). EXPLAIN [ANALYZE] shows what a search
    did and DuckDB's plan.

    Examples:
      docframe sql "SELECT modality, count(*) FROM chunks GROUP BY 1"
      docframe sql -f report.sql --format csv > report.csv
      docframe sql "SELECT * FROM orders" --format parquet --output orders.parquet
      docframe sql          # the interactive shell (on a terminal)
    """
    text = _sql_text(query, file)
    if fmt is SqlFormat.parquet and output is None:
        raise DocframeError(
            "--format parquet needs --output FILE",
            help="e.g. docframe sql 'SELECT ...' --format parquet --output result.parquet",
        )
    if fmt is SqlFormat.table and output is not None:
        raise DocframeError(
            f"--output {output}: the table format is for the terminal",
            help="use --format csv, json, jsonl or parquet with --output",
        )
    if text is None:  # a terminal and nothing to run: the shell
        if fmt is SqlFormat.parquet:
            raise DocframeError("the shell cannot print parquet", help="use --output")
        run_interactive(open_lake(ctx), snapshot=snapshot, fmt=fmt.value, max_rows=max_rows)
        return
    _run_statements(ctx, text, fmt.value, output, max_rows, snapshot)


def _sql_text(query: str | None, file: Path | None) -> str | None:
    """The SQL to run: the argument, the file, or stdin; None means "open the shell"."""
    if query is not None and file is not None:
        raise DocframeError(
            f"both a statement and --file {file} given", help="give the SQL one way"
        )
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            hint = (
                f"-f is the SQL file; the output format is --format {file}"
                if str(file) in FORMATS
                else "give a readable UTF-8 file of SQL statements"
            )
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise DocframeError(f"--file {file}: {reason}", help=hint) from None
    if query == "-" or (query is None and not sys.stdin.isatty()):
        return sys.stdin.read()
    return query


def _run_statements(
    ctx: typer.Context,
    text: str,
    fmt: str,
    output: Path | None,
    max_rows: int,
    snapshot: int | None,
) -> None:
    """Run each statement of ``text`` over one pinned snapshot and print its result."""
    statements, rest = split_statements(text)
    if not is_blank(rest):
        statements.append(rest.strip())
    if not statements:
        raise QueryError("empty SQL statement", help="try: SELECT count(*) FROM chunks")
    if output is not None and len(statements) > 1:
        raise QueryError(
            f"--output {output} takes one statement, got {len(statements)}",
            help="run them one at a time, or combine them into one query",
        )
    lake = open_lake(ctx)
    pinned = lake.snapshot(snapshot).snapshot_id if len(statements) > 1 else snapshot
    for i, statement in enumerate(statements):
        table = lake.sql(statement, snapshot=pinned).to_arrow()
        if output is not None and fmt == "parquet":
            write_parquet(table, output)
            err.print(f"wrote {table.num_rows} row(s) to {output}")
        elif output is not None:
            try:
                with output.open("w", encoding="utf-8", newline="") as stream:
                    write_result(table, fmt, stream=stream)
            except OSError as exc:
                raise QueryError(f"--output {output}: {exc.strerror}") from None
            err.print(f"wrote {table.num_rows} row(s) to {output}")
        else:
            if i and fmt == "table":
                sys.stdout.write("\n")
            write_result(
                table,
                fmt,
                stream=sys.stdout,
                console=out,
                max_rows=max_rows,
                explain=is_explain(statement),
                notes=lambda note: err.print(f"[dim]{note}[/dim]"),
            )
