"""``docframe sql``: run SQL statements from an argument, a file or stdin and print each
result, or open the interactive shell (:mod:`docframe.shell`) on a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from docframe.cli.app import OutputOpt, SnapshotOpt, open_lake
from docframe.cli.output import FORMAT_HELP, Format, check_destination, emit, err, out
from docframe.errors import DocframeError, QueryError
from docframe.shell.output import FORMATS, write_result
from docframe.shell.statements import is_blank, is_explain, split_statements
from docframe.shell.terminal import run_interactive


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
    # -f is --file here (every other command's -f is --format)
    fmt: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
    output: OutputOpt = None,
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
    check_destination(fmt, output)
    if text is None:  # a terminal and nothing to run: the shell
        if output is not None:
            raise DocframeError(
                f"--output {output}: the interactive shell prints on the terminal",
                help="give the statement: docframe sql 'SELECT ...' --output FILE",
            )
        run_interactive(open_lake(ctx), snapshot=snapshot, fmt=fmt.value, max_rows=max_rows)
        return
    _run_statements(ctx, text, fmt, output, max_rows, snapshot)


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
    fmt: Format,
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
        if output is not None:
            emit(table, fmt, output)
        else:
            if i and fmt is Format.table:
                sys.stdout.write("\n")
            write_result(
                table,
                fmt.value,
                stream=sys.stdout,
                console=out,
                max_rows=max_rows,
                explain=is_explain(statement),
                notes=lambda note: err.print(f"[dim]{note}[/dim]"),
            )
