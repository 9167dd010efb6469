"""Commands that put data into the lake: ``init``, ``ingest`` and ``run`` (a table job).

Their options become the connectors' option objects here; the work is the API's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from docframe.cli.app import open_lake
from docframe.cli.output import err, out
from docframe.errors import DocframeError

if TYPE_CHECKING:
    from docframe.pipelines.report import IngestReport


def init(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Option(help="Embedding model: default all-MiniLM-L6-v2 (bundled), or a local path."),
    ] = None,
) -> None:
    """Create an empty lake (ingest also creates one on first use)."""
    lake = open_lake(ctx, create=True, model=model)
    out.print(f"lake ready at {lake.root} (model {lake.model}; {lake.backend.describe()})")


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
    embed_backend: Annotated[
        str | None,
        typer.Option(
            help="What runs the embedding model: auto (ONNX int8 on the CPU where it meets "
            "the quality gates, torch fp16 on a GPU), torch, onnx (fp32) or onnx-int8. "
            "Default: the embed_backend setting (docframe.toml, DOCFRAME_EMBED_BACKEND)."
        ),
    ] = None,
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
    asr_model: Annotated[
        str,
        typer.Option(
            help="Speech model for audio and video: base (multilingual Whisper base, the "
            "default), tiny.en (English only, faster), or a local CTranslate2 Whisper folder."
        ),
    ] = "base",
    language: Annotated[
        str | None,
        typer.Option(
            help="Language of the speech (ISO code: en, de, ...); default: detect per file."
        ),
    ] = None,
    media_max_seconds: Annotated[
        float | None,
        typer.Option(
            help="Read at most this many seconds of each audio or video file (longer ones "
            "are cut, with a note on the file).",
            min=0.001,
        ),
    ] = None,
    media_timeout: Annotated[
        float, typer.Option(help="Seconds allowed per audio or video file.")
    ] = 3600.0,
    screen_ocr: Annotated[
        str,
        typer.Option(help="Video: auto reads text on screen if Tesseract exists; off."),
    ] = "auto",
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
    workers: Annotated[
        int | None,
        typer.Option(
            help="Read, chunk and embed on a local Dask cluster of N worker processes "
            "(dask-cuda's LocalCUDACluster, one worker per GPU, on a GPU lake); this "
            "process alone commits.",
            min=1,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Read, chunk and embed on an existing Dask cluster (tcp://host:8786); its "
            "workers must reach the lake at the same path.",
        ),
    ] = None,
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write the run's report as JSON: outcomes, and per stage (and per Dask "
            "worker) items, items/s, busy and waiting seconds, the stage that bounded it.",
        ),
    ] = None,
) -> None:
    """Add new and changed files to the lake; unchanged files are skipped.

    Documents (.txt .md .html .jsonl with _id/text, .pdf) are chunked and embedded;
    audio (.wav .mp3 .flac .ogg .m4a ...) and video (.mp4 .mkv .mov .webm ...) are
    transcribed (and video frames read on screen) into time-coded chunks; tables
    (.csv .tsv .parquet .json .jsonl records .xlsx .sqlite) become lake tables
    queryable with `docframe sql`. Files that fail are recorded (see
    `docframe sources`) and the rest go on; the exit code is 1 if any failed.
    Ctrl-C (SIGINT) or SIGTERM commits the files in hand and exits 130/143 (a second
    signal aborts at once); the same command again skips what was committed.
    A symbolic link met while walking a folder is skipped and reported unless
    --follow-symlinks.
    """
    from docframe.connectors.media.options import MediaOptions
    from docframe.connectors.pdf.options import PdfOptions
    from docframe.connectors.tables import TableOptions

    options = TableOptions(
        table=table,
        schema=_schema_overrides(schema or [], schema_file),
        delimiter=delimiter,
        encoding=encoding,
        header=header,
        on_bad_rows=on_bad_rows,
    )
    pdf = PdfOptions(
        password=pdf_password,
        passwords=_mapping_file(pdf_passwords, "--pdf-passwords") if pdf_passwords else {},
        ocr=ocr,
        ocr_lang=ocr_lang,
        timeout_s=pdf_timeout,
        memory_mb=pdf_memory_mb,
        tables=pdf_tables,
    )
    media = MediaOptions(
        asr_model=asr_model,
        language=language,
        max_seconds=media_max_seconds,
        timeout_s=media_timeout,
        screen_ocr=screen_ocr,
        ocr_lang=ocr_lang,
    )
    from docframe.pipelines.ingest import IngestInterrupted

    lake = open_lake(ctx, create=True, model=model, embed_backend=embed_backend)
    try:
        report = lake.ingest(
            paths, prune=prune, progress=progress and err.is_terminal, table_options=options,
            pdf_options=pdf, media_options=media, jobs=jobs, follow_symlinks=follow_symlinks,
            workers=workers, scheduler=scheduler,
        )  # fmt: skip
    except IngestInterrupted as stopped:  # the job has said what it committed (stderr)
        out.print(f"{stopped.report.summary()}; {stopped.report.n_chunks} new chunk(s)")
        _write_report(stopped.report, report_file)
        raise typer.Exit(stopped.code) from None
    _write_report(report, report_file)
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
    if vectors := report.vectors():  # embedded, reused from earlier versions, repeated
        err.print(f"[dim]{vectors}[/dim]")
    err.print(f"[dim]time: {report.timing()}[/dim]")
    if report.n_chunks or report.workers:  # where the time went, when there was work
        for line in report.stage_lines():
            err.print(f"[dim]  {line}[/dim]", highlight=False)
    if not report.ok:
        err.print(
            f"{len(report.failures)} input(s) failed; details: docframe sources --status error"
        )
        raise typer.Exit(1)


def _write_report(report: IngestReport, path: Path | None) -> None:
    """``--report FILE.json``: the whole report, written whole or not at all."""
    if path is None:
        return
    import json
    import os

    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise DocframeError(
            f"--report {path}: cannot write: {exc.strerror or exc}",
            help="name a file in a writable folder",
        ) from None


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

    # run_job refuses --workers with --scheduler, like every bad option
    report = run_job(
        open_lake(ctx).store, job, workers=workers, scheduler=scheduler,
        partition_size=partition_size,
    )  # fmt: skip
    out.print(report.summary())
