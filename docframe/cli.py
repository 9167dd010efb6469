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
    typer.Option("--lake", envvar="DOCFRAME_LAKE", help="Lake directory.", show_default=True),
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
    if exc.help:
        err.print(f"[dim]help: {exc.help}[/dim]")
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
        str, typer.Option(help="error: stop at a malformed row; skip: skip and report it.")
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
) -> None:
    """Add new and changed files to the lake; unchanged files are skipped.

    Documents (.txt .md .html .jsonl with _id/text) are chunked and embedded;
    tables (.csv .tsv .parquet .json .jsonl records .xlsx .sqlite) become lake
    tables queryable with `docframe sql`. Files that fail are recorded (see
    `docframe sources`) and the rest go on; the exit code is 1 if any failed.
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
            pdf_options=pdf, jobs=jobs,
        )  # fmt: skip
    except DocframeError as exc:
        raise _fail(exc) from None
    for o in report.failures:
        err.print(f"[red]failed[/red] {o.error}")
    chunks = report.n_chunks
    out.print(f"{report.summary()}; {chunks} new chunk(s)")
    if report.index:
        out.print(f"index: {report.index}")
    if not report.ok:
        err.print(
            f"{len(report.failures)} input(s) failed; details: docframe sources --status error"
        )
        raise typer.Exit(1)


def _mapping_file(path: Path, option: str) -> dict[str, str]:
    """A TOML or JSON file holding one flat key -> value mapping."""
    import tomllib

    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise DocframeError(
            f"{option} {path}: {exc}", help="a TOML/JSON map: key = value"
        ) from None
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


@app.command()
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="Number of results.", min=1)] = 10,
    fmt: FormatOpt = Format.table,
    snapshot: SnapshotOpt = None,
) -> None:
    """Semantic search over chunks, best first, with where each hit came from."""
    try:
        result = _open(ctx).search(text, k=k, snapshot=snapshot)
    except DocframeError as exc:
        raise _fail(exc) from None
    rows = result.to_list()
    if fmt is Format.table:
        columns = ["rank", "score", "doc_key", "source_uri", "text"]
        for r in rows:
            r["source_uri"] = _short(r["source_uri"])
        _print(rows, columns, fmt, title=f"top {len(rows)} for {text!r}")
    else:
        _print(rows, result.columns, fmt)


@app.command()
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A DuckDB SQL statement.")],
    fmt: FormatOpt = Format.table,
    max_rows: Annotated[int, typer.Option(help="Rows shown in table format.")] = 50,
    snapshot: SnapshotOpt = None,
) -> None:
    """Run DuckDB SQL over the newest snapshot.

    Relations: chunks (chunk_id, doc_id, doc_key, source_uri, modality, text,
    page, bbox, start_s, end_s, char_start, char_end, metadata JSON, embedding),
    documents, sources, snapshots.
    """
    try:
        result = _open(ctx).sql(query, snapshot=snapshot)
    except DocframeError as exc:
        raise _fail(exc) from None
    rows = result.to_list()
    if fmt is Format.table and len(rows) > max_rows:
        err.print(f"[dim]showing {max_rows} of {len(rows)} rows (--max-rows)[/dim]")
        rows = rows[:max_rows]
    _print(rows, result.columns, fmt)


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
def tables(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """The lake's tables: name, rows, columns and where they came from."""
    try:
        result = _open(ctx).tables()
    except DocframeError as exc:
        raise _fail(exc) from None
    rows = result.to_list()
    columns = ["name", "n_rows", "n_columns", "source_uri", "origin", "snapshot_id", "notes"]
    if fmt is Format.table:
        for r in rows:
            r["source_uri"] = _short(r["source_uri"])
    else:
        columns = result.columns
    _print(rows, columns, fmt)


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
            _open(ctx), job, workers=workers, scheduler=scheduler, partition_size=partition_size
        )
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
def doctor(ctx: typer.Context) -> None:
    """Check the installation: Python, packages, GPU visibility, chosen engine and why."""
    from docframe.doctor import report

    problems = report(out, ctx.obj["lake"], ctx.obj["engine"])
    if problems:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
