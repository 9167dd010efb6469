"""The ``docframe`` command: a thin layer over the Python API.

Every command opens the lake through :func:`docframe.open` and prints what the
API returns; errors become one red line naming the input plus a hint, and a
non-zero exit code.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from docframe import config
from docframe.errors import DocframeError

app = typer.Typer(
    name="docframe",
    help=(
        "Ingest documents into a local lake, then search them and query them with SQL.\n\n"
        "Typical session:\n\n"
        "  docframe ingest ./docs                 # add or update files\n\n"
        '  docframe search "late delivery penalties" -k 5\n\n'
        '  docframe sql "SELECT source_uri, count(*) FROM chunks GROUP BY 1"'
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# piped output has no terminal width; 80 columns would fold every path
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


LakeOpt = Annotated[
    Path,
    typer.Option("--lake", envvar=config.LAKE_VAR, help="Lake directory.", show_default=True),
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="auto | cpu | gpu (env DOCFRAME_ENGINE). auto picks the GPU only if a device "
        "and the RAPIDS packages are present.",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
SnapshotOpt = Annotated[
    int | None,
    typer.Option(
        help="Read this older snapshot instead of the newest (see the snapshots relation)."
    ),
]


@app.callback()
def main(ctx: typer.Context, lake: LakeOpt = Path("lake"), engine: EngineOpt = None) -> None:
    ctx.obj = {"lake": lake, "engine": engine}


def _fail(exc: DocframeError) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {exc.message}", markup=True, highlight=False)
    if exc.help:  # continuation lines (a statement and its caret) stay aligned under "help: "
        text = exc.help.replace("\n", "\n      ")
        err.print(f"help: {text}", style="dim", markup=False, highlight=False)
    return typer.Exit(2)


def _open(ctx: typer.Context, *, create: bool = False, model: str | None = None):
    import docframe

    return docframe.open(ctx.obj["lake"], create=create, engine=ctx.obj["engine"], model=model)


def _cell(value: Any, width: int = 80) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list) and len(value) > 8:
        return f"[{len(value)} values]"
    text = str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _print(rows: list[dict[str, Any]], columns: list[str], fmt: Format, title: str = "") -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps([_jsonable(r) for r in rows], indent=2, ensure_ascii=False))
        sys.stdout.write("\n")
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    k: json.dumps(_jsonable(v)) if isinstance(v, (list, dict)) else v
                    for k, v in r.items()
                }
            )
    else:
        table = Table(title=title or None, show_lines=False)
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*(_cell(r[c]) for c in columns))
        out.print(table)


@app.command()
def init(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option(help="Embedding model: default all-MiniLM-L6-v2 (bundled), or a local path."),
    ] = None,
) -> None:
    """Create an empty lake (ingest also creates one on first use)."""
    try:
        lake = _open(ctx, create=True, model=model)
    except DocframeError as exc:
        raise _fail(exc) from None
    out.print(f"lake ready at {lake.root} (model {lake.model}; {lake.backend.describe()})")


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) or globs.")],
    prune: Annotated[
        bool, typer.Option(help="Remove chunks of files under PATHS that no longer exist.")
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Embedding model for a new lake (must match an old one).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
    table: Annotated[
        str | None,
        typer.Option(help="Lake table name for a tabular file (prefix for multi-table files)."),
    ] = None,
    schema: Annotated[
        list[str] | None,
        typer.Option(
            help="Column type override COL=TYPE, repeatable: --schema id=int64 "
            "--schema amount='decimal(12,2)' --schema ts='timestamp[tz=UTC]'."
        ),
    ] = None,
    schema_file: Annotated[
        Path | None, typer.Option(help="TOML or JSON file mapping column -> type.")
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: detect).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detect).")] = None,
    header: Annotated[
        bool | None,
        typer.Option("--header/--no-header", help="CSV has a header row (default: detect)."),
    ] = None,
    on_bad_rows: Annotated[
        str,
        typer.Option(
            help="error: a malformed row or JSON Lines document fails its file; skip: skip "
            "it and list it (table notes, or a note on the collection's source)."
        ),
    ] = "error",
    pdf_password: Annotated[
        str | None, typer.Option(help="Password tried for encrypted PDFs.")
    ] = None,
    pdf_passwords: Annotated[
        Path | None,
        typer.Option(help="TOML/JSON file mapping PDF file name (or path) -> password."),
    ] = None,
    ocr: Annotated[
        str,
        typer.Option(help="auto: OCR pages without a text layer if Tesseract exists; off; force."),
    ] = "auto",
    ocr_lang: Annotated[str, typer.Option(help="Tesseract language(s), e.g. eng+fra.")] = "eng",
    pdf_timeout: Annotated[float, typer.Option(help="Seconds allowed per PDF.")] = 120.0,
    pdf_memory_mb: Annotated[
        int,
        typer.Option(
            help="Memory limit per PDF worker, MB (includes ~400 MB of libraries).", min=768
        ),
    ] = 2048,
    pdf_tables: Annotated[
        bool, typer.Option(help="Extract tables found in PDFs as lake tables.")
    ] = True,
    jobs: Annotated[
        int | None, typer.Option(help="Documents extracted in parallel (default: CPU count).")
    ] = None,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            "--follow-symlinks",
            help="Read what symbolic links found inside folders point to (files and folders; "
            "each folder once, so loops end). Without it they are skipped and listed. "
            "Links named as PATHS are always followed.",
        ),
    ] = False,
) -> None:
    """Add new and changed files to the lake; unchanged files are skipped.

    Documents (.txt .md .html .jsonl with _id/text) are chunked and embedded;
    tables (.csv .tsv .parquet .json .jsonl records .xlsx .sqlite) become lake
    tables queryable with `docframe sql`. Files that fail are recorded (see
    `docframe sources`) and the rest go on; the exit code is 1 if any failed.
    A symbolic link met while walking a folder is skipped and reported unless
    --follow-symlinks.
    """
    try:
        from docframe.connectors.tables import TableOptions

        options = TableOptions(
            table=table,
            schema=_schema_overrides(schema or [], schema_file),
            delimiter=delimiter,
            encoding=encoding,
            header=header,
            on_bad_rows=on_bad_rows,
        )
        from docframe.connectors.pdf.options import PdfOptions

        pdf = PdfOptions(
            password=pdf_password,
            passwords=_mapping_file(pdf_passwords, "--pdf-passwords") if pdf_passwords else {},
            ocr=ocr,
            ocr_lang=ocr_lang,
            timeout_s=pdf_timeout,
            memory_mb=pdf_memory_mb,
            tables=pdf_tables,
        )
        lake = _open(ctx, create=True, model=model)
        report = lake.ingest(
            paths, prune=prune, progress=progress and err.is_terminal, table_options=options,
            pdf_options=pdf, jobs=jobs, follow_symlinks=follow_symlinks,
        )  # fmt: skip
    except DocframeError as exc:
        raise _fail(exc) from None
    for o in report.outcomes:
        if o.status == "skipped":
            err.print(f"[yellow]skipped[/yellow] {o.error}")
        for note in o.notes:  # e.g. bad lines skipped with --on-bad-rows skip
            err.print(f"[dim]note[/dim] {o.input}: {note}")
    for o in report.failures:
        err.print(f"[red]failed[/red] {o.error}")
    chunks = report.n_chunks
    out.print(f"{report.summary()}; {chunks} new chunk(s)")
    if report.index:
        out.print(f"index: {report.index}")
    err.print(f"[dim]time: {report.timing()}[/dim]")
    if not report.ok:
        err.print(
            f"{len(report.failures)} input(s) failed; details: docframe sources --status error"
        )
        raise typer.Exit(1)


def _mapping_file(path: Path, option: str) -> dict[str, str]:
    """A TOML or JSON file holding one flat key -> value mapping."""
    import tomllib

    from docframe.connectors import jsonread

    try:
        text = path.read_text()
        data = jsonread.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:  # JsonTooDeep is a ValueError
        raise DocframeError(
            f"{option} {path}: {exc}", help="a TOML/JSON map: key = value"
        ) from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise DocframeError(
            f"{option} {path}: nested too deeply", help="a TOML/JSON map: key = value"
        ) from None
    if not isinstance(data, dict):
        raise DocframeError(
            f"{option} {path}: expected a map of key = value, found a {type(data).__name__}",
            help='e.g. {"amount": "decimal(12,2)"}',
        )
    return {str(k): str(v) for k, v in data.items()}


def _schema_overrides(pairs: list[str], path: Path | None) -> dict[str, str] | None:
    """--schema COL=TYPE pairs and --schema-file, as one column -> type mapping."""
    mapping: dict[str, str] = _mapping_file(path, "--schema-file") if path else {}
    for pair in pairs:
        column, sep, type_name = pair.partition("=")
        if not sep or not column or not type_name:
            raise DocframeError(f"--schema {pair!r} is not COL=TYPE", help="e.g. --schema id=int64")
        mapping[column.strip()] = type_name.strip()
    return mapping or None


class Mode(StrEnum):
    dense = "dense"
    keyword = "keyword"
    hybrid = "hybrid"


@app.command()
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="Number of results.", min=1)] = 10,
    mode: Annotated[
        Mode,
        typer.Option(
            help="dense: embeddings (meaning); keyword: BM25 (exact words, codes, names); "
            "hybrid: both, fused by reciprocal rank."
        ),
    ] = Mode.dense,
    where: Annotated[
        str | None,
        typer.Option(
            help="SQL predicate on chunks columns, applied inside the index: "
            "\"modality = 'pdf' AND page <= 3\", \"doc_key LIKE 'report%'\", "
            "\"metadata->>'lang' = 'en'\".",
        ),
    ] = None,
    weights: Annotated[
        str, typer.Option(help="Hybrid weights, dense,keyword (e.g. 1,0.5).")
    ] = "1,1",
    fmt: FormatOpt = Format.table,
    snapshot: SnapshotOpt = None,
) -> None:
    """Search chunks, best first, with where each hit came from.

    Always returns k hits when at least k chunks are eligible; when fewer are,
    says so ("exhausted") with the true count.

    Examples:
      docframe search "late delivery penalties"
      docframe search "error E1234" --mode keyword
      docframe search "penalties" --mode hybrid --where "modality = 'pdf'" -k 5
    """
    try:
        pair = tuple(float(w) for w in weights.split(","))
    except ValueError:
        pair = ()
    if len(pair) != 2:
        raise _fail(DocframeError(f"--weights {weights!r}: give two numbers, e.g. 1,0.5"))
    try:
        result = _open(ctx).search(
            text, k=k, mode=mode.value, where=where, weights=pair, snapshot=snapshot
        )
    except DocframeError as exc:
        raise _fail(exc) from None
    rows = result.to_list()
    info = result.info
    if fmt is Format.table:
        columns = ["rank", "score", "doc_key", "page", "source_uri", "text"]
        for r in rows:
            r["source_uri"] = _short(r["source_uri"])
        _print(rows, columns, fmt, title=f"{mode.value}: top {len(rows)} for {text!r}")
        if info.get("exhausted"):
            err.print(f"[yellow]exhausted:[/yellow] {info.get('reason', '')}")
    else:
        _print(rows, result.columns, fmt)
        if info.get("exhausted"):
            err.print(f"exhausted: {info.get('reason', '')}")


class SqlFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    parquet = "parquet"


@app.command()
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
    try:
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
            from docframe.shell import run_interactive

            run_interactive(_open(ctx), snapshot=snapshot, fmt=fmt.value, max_rows=max_rows)
            return
        _run_statements(ctx, text, fmt.value, output, max_rows, snapshot)
    except DocframeError as exc:
        raise _fail(exc) from None


def _sql_text(query: str | None, file: Path | None) -> str | None:
    """The SQL to run: the argument, the file, or stdin; None means "open the shell"."""
    if query is not None and file is not None:
        raise DocframeError(
            f"both a statement and --file {file} given", help="give the SQL one way"
        )
    if file is not None:
        from docframe.shell import FORMATS

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
    from docframe.errors import QueryError
    from docframe.shell import is_blank, is_explain, split_statements, write_parquet, write_result

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
    lake = _open(ctx)
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


@app.command()
def sources(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status: ok | error.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Every input the lake knows: status, chunk count and the error if it failed."""
    try:
        rows = _open(ctx).sources().to_list()
    except DocframeError as exc:
        raise _fail(exc) from None
    if status:
        rows = [r for r in rows if r["status"] == status]
    columns = [
        "source_uri",
        "status",
        "connector",
        "n_documents",
        "n_chunks",
        "snapshot_id",
        "error",
    ]
    if fmt is Format.table:
        for r in rows:
            r["source_uri"] = _short(r["source_uri"])
    else:
        columns = list(rows[0]) if rows else columns
    _print(rows, columns, fmt)


def _short(uri: str) -> str:
    """Paths under the working directory print relative to it."""
    try:
        return str(Path(uri).relative_to(Path.cwd()))
    except ValueError:
        return uri


@app.command()
def tables(ctx: typer.Context, fmt: FormatOpt = Format.table, snapshot: SnapshotOpt = None) -> None:
    """What SQL can read: the built-in relations and the lake's tables, with row counts.

    kind is "relation" for chunks, documents, sources, snapshots, tables and
    pdf_tables, and "table" for lake tables (with their source and any repairs
    made on ingest, in notes).
    """
    from docframe.shell import list_relations

    try:
        result = list_relations(_open(ctx), snapshot)
    except DocframeError as exc:
        raise _fail(exc) from None
    rows = result.to_pylist()
    columns = ["name", "kind", "n_rows", "n_columns", "source_uri", "origin", "notes"]
    if fmt is Format.table:
        for r in rows:
            r["source_uri"] = _short(r["source_uri"]) if r["source_uri"] else ""
    else:
        columns = result.column_names
    _print(rows, columns, fmt)


@app.command()
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A relation (chunks, documents...) or lake table.")],
    fmt: FormatOpt = Format.table,
    snapshot: SnapshotOpt = None,
) -> None:
    """Columns and types of a relation or lake table, and its row count.

    The types are DuckDB's, as SQL sees them (DESCRIBE).
    """
    from docframe.shell import describe as describe_relation

    try:
        found = describe_relation(_open(ctx), name, snapshot)
    except DocframeError as exc:
        raise _fail(exc) from None
    rows = [{"column_name": n, "column_type": t} for n, t in found.columns]
    if fmt is Format.json:
        sys.stdout.write(json.dumps(found.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return
    if fmt is Format.table:
        origin = f", from {_short(found.source_uri)}" if found.source_uri else ""
        title = f"{found.name}: {found.kind}, {found.n_rows} row(s){origin}"
        _print(rows, ["column_name", "column_type"], fmt, title=title)
    else:
        _print(rows, ["column_name", "column_type"], fmt)


@app.command()
def run(
    ctx: typer.Context,
    job: Annotated[Path, typer.Argument(help="A job file (TOML); see examples/jobs/.")],
    workers: Annotated[
        int | None, typer.Option(help="Run on a local Dask cluster with N worker processes.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Run on an existing Dask cluster (tcp://host:8786).")
    ] = None,
    partition_size: Annotated[
        str | None, typer.Option(help="Dask partition size when reading tables, e.g. 64MiB.")
    ] = None,
) -> None:
    """Run a declarative table job: read lake tables, transform, write the output table.

    The steps run on the active engine (pandas on the CPU, cuDF on a GPU) or on
    Dask with --workers/--scheduler. An unchanged job over unchanged inputs is
    skipped.
    """
    from docframe.pipelines.tablejob import run_job

    try:  # run_job refuses --workers with --scheduler, like every bad option
        report = run_job(
            _open(ctx).store, job, workers=workers, scheduler=scheduler,
            partition_size=partition_size,
        )  # fmt: skip
    except DocframeError as exc:
        raise _fail(exc) from None
    out.print(report.summary())


@app.command()
def gc(ctx: typer.Context) -> None:
    """Remove files no snapshot references: crash leftovers and superseded indexes."""
    try:
        report = _open(ctx).gc()
    except DocframeError as exc:
        raise _fail(exc) from None
    out.print(report.summary())


@app.command()
def verify(
    ctx: typer.Context,
    quick: Annotated[
        bool, typer.Option(help="Size and Parquet footer only, no hashing (what readers check).")
    ] = False,
) -> None:
    """Check every segment against the SHA-256 recorded when it was committed.

    Prints one line per damaged segment (the file, why, what it holds and the
    snapshots that read it); the exit code is 1 if any is damaged. Repair with
    `docframe repair`.
    """
    try:
        report = _open(ctx).verify(full=not quick)
    except DocframeError as exc:
        raise _fail(exc) from None
    for damage in report.lost:
        out.print(f"lost: {damage.message}", markup=False, style="dim")
    for damage in report.damaged:
        out.print(f"damaged: {damage.message}", markup=False)
    out.print(report.summary(), markup=False)
    if not report.ok:
        from docframe.lake.integrity import REPAIR_HELP

        err.print(f"help: {REPAIR_HELP}", style="dim", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command()
def repair(
    ctx: typer.Context,
    drop_missing: Annotated[
        bool,
        typer.Option(
            help="Drop, in a new snapshot, what damaged segments hold and cannot be re-read "
            "from its files (gone or changed, a job's output)."
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
) -> None:
    """Replace what damaged segments hold: re-ingest their sources from the files.

    Runs a full verify first; sources whose files still hold the same content are
    ingested again into new segments. The rest is reported (exit code 1), or dropped
    with --drop-missing. Older snapshots that read a damaged segment stay unreadable
    for the relations it fed, and say so.
    """
    try:
        report = _open(ctx).repair(drop_missing=drop_missing, progress=progress and err.is_terminal)
    except DocframeError as exc:
        raise _fail(exc) from None
    for damage in report.damaged:
        out.print(f"damaged: {damage.message}", markup=False)
    for uri in report.reingested:
        out.print(f"re-ingested {uri}", markup=False)
    for uri in report.dropped:
        out.print(f"dropped {uri}", markup=False)
    for uri, why in report.missing.items():
        err.print(f"cannot re-read {uri}: {why}", markup=False)
    out.print(report.summary(), markup=False)
    if not report.ok:
        raise typer.Exit(1)


index_app = typer.Typer(
    help=(
        "Build, check and tune the search indexes.\n\n"
        "The dense index kind is chosen by size (faiss: exact flat below 50,000 chunks,\n"
        "HNSW below 5 million, IVF-PQ above; set index_kind in docframe.toml or\n"
        "DOCFRAME_INDEX_KIND to fix one). New chunks are searchable at once (an exact\n"
        "delta) and the index is rebuilt when the delta outgrows 10% of it."
    ),
    no_args_is_help=True,
)
app.add_typer(index_app, name="index")
QueriesOpt = Annotated[
    Path | None,
    typer.Option(
        "--queries",
        help="Questions to measure with: BEIR queries.jsonl, or a text file, one per line "
        "(default: synthetic queries between random chunks).",
    ),
]


def _question_texts(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    from docframe.query.evaluation import read_queries

    try:
        if path.suffix in (".jsonl", ".gz"):
            return list(read_queries(path).values())
        return [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    except (OSError, ValueError) as exc:
        raise _fail(DocframeError(f"--queries {path}: {exc}")) from None


def _print_record(record: dict[str, Any], fmt: Format) -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps(_jsonable(record), indent=2) + "\n")
    else:
        for key, value in record.items():
            if not isinstance(value, list):
                out.print(f"{key:>16}: {value}", highlight=False)


@index_app.command("build")
def index_build(
    ctx: typer.Context,
    kind: Annotated[
        str | None,
        typer.Option(
            help="Dense index kind for this build: faiss-flat, faiss-hnsw, faiss-ivfpq "
            "(CPU) or cuvs-brute-force, cuvs-cagra, cuvs-ivfpq (GPU). Default: by size."
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Rebuild the newest snapshot's dense and keyword indexes now (folds in any delta)."""

    try:
        record = _open(ctx).index_build(kind=kind)
    except DocframeError as exc:
        raise _fail(exc) from None
    _print_record(record, fmt)


@index_app.command("check")
def index_check(
    ctx: typer.Context,
    k: Annotated[int, typer.Option("-k", min=1, help="Recall at this depth.")] = 10,
    n: Annotated[int, typer.Option("--n", min=1, help="Number of queries.")] = 200,
    queries: QueriesOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Measure recall@k of the dense index against exact search, and its latency."""

    texts = _question_texts(queries)
    try:
        record = _open(ctx).index_check(k=k, n_queries=n, texts=texts)
    except DocframeError as exc:
        raise _fail(exc) from None
    _print_record(record, fmt)


@index_app.command("tune")
def index_tune(
    ctx: typer.Context,
    target_recall: Annotated[
        float, typer.Option(help="Smallest acceptable recall@k against exact search.")
    ] = 0.95,
    k: Annotated[int, typer.Option("-k", min=1, help="Recall at this depth.")] = 10,
    n: Annotated[int, typer.Option("--n", min=1, help="Number of queries.")] = 200,
    queries: QueriesOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Pick the fastest search setting that meets --target-recall, and keep it.

    Sweeps the index kind's knob (HNSW ef_search, IVF-PQ nprobe, CAGRA itopk_size)
    from cheap to thorough; the choice is saved in the lake and used from then on.
    """

    texts = _question_texts(queries)
    try:
        record = _open(ctx).index_tune(target=target_recall, k=k, n_queries=n, texts=texts)
    except DocframeError as exc:
        raise _fail(exc) from None
    if fmt is Format.table and "sweep" in record:
        name = next(iter(record["chosen"]))
        _print(record["sweep"], [name, "recall", "p50_ms", "p95_ms"], fmt, title=record["kind"])
        out.print(f"chosen: {name}={record['chosen'][name]} (saved to {record['saved_to']})")
    else:
        _print_record(record, fmt)


@app.command("eval")
def eval_(
    ctx: typer.Context,
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl (_id, text).")],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels TSV: query-id, corpus-id, score.")],
    mode: Annotated[Mode, typer.Option(help="dense | keyword | hybrid.")] = Mode.dense,
    k: Annotated[int, typer.Option("-k", min=1, help="Cut-off for nDCG and recall.")] = 10,
    limit: Annotated[int | None, typer.Option(help="Only the first N judged queries.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score retrieval on a BEIR collection ingested into the lake.

    The corpus's _id must be the documents' doc_key (docframe ingest corpus.jsonl
    does that). Prints nDCG@k, recall@k, recall@100 and MRR; chunk hits count for
    their document by the best score.

    Example:
      docframe ingest scifact/corpus.jsonl.gz
      docframe eval --queries scifact/queries.jsonl --qrels scifact/qrels/test.tsv --mode hybrid
    """
    from rich.progress import Progress

    try:
        lake = _open(ctx)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"eval {mode.value}", total=None)
            record = lake.evaluate(
                queries,
                qrels,
                mode=mode.value,
                k=k,
                limit=limit,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except DocframeError as exc:
        raise _fail(exc) from None
    except (OSError, ValueError) as exc:
        raise _fail(DocframeError(str(exc))) from None
    _print_record(record, fmt)


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check the installation: Python, packages, GPU visibility, chosen engine and why."""
    from docframe.doctor import report

    problems = report(out, ctx.obj["lake"], ctx.obj["engine"])
    if problems:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()


def _register_agent_commands() -> None:
    """`docframe serve` and `docframe tools` live with the MCP server (docframe.mcp)."""
    from docframe.mcp.cli import register

    register(app)


_register_agent_commands()
