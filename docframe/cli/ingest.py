"""Commands that put data into the lake: ``init``, ``ingest`` and ``run`` (a table or
ingest job).

``ingest``'s flags are the quick form of an ingest job: they become the job's dict
form here and are loaded by :mod:`docframe.pipelines.ingest_spec`, the one place that
turns either form into the connectors' option objects; the work is the API's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from docframe.cli.app import open_lake
from docframe.cli.output import err, out, report_warning, short
from docframe.errors import DocframeError

if TYPE_CHECKING:
    from docframe.pipelines.ingest_spec import IngestSpec
    from docframe.pipelines.report import IngestReport, Outcome

DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="List what would be ingested, skipped, failed and pruned, and why; write "
        "nothing (not even a new lake).",
    ),
]

ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write the ingest's report as JSON: outcomes, and per stage (and per Dask "
        "worker) items, items/s, busy and waiting seconds, the stage that bounded it.",
    ),
]


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
            "--schema amount='decimal(12,2)' --schema ts='timestamp\\[tz=UTC]'."
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
    include: Annotated[
        list[str] | None,
        typer.Option(
            help="Keep only files matching this pattern, repeatable: '*.pdf' (a name) or "
            "'reports/*.pdf' (a path under the folder given)."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Leave out files matching this pattern, repeatable: 'drafts/**'."),
    ] = None,
    dry_run: DryRunOpt = False,
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
    report_file: ReportOpt = None,
) -> None:
    """Add new and changed files to the lake; unchanged files are skipped.

    Documents (.txt .md .html .jsonl with _id/text, .pdf) are chunked and embedded;
    audio (.wav .mp3 .flac .ogg .m4a ...) and video (.mp4 .mkv .mov .webm ...) are
    transcribed (and video frames read on screen) into time-coded chunks; tables
    (.csv .tsv .parquet .json .jsonl records .xlsx .sqlite) become lake tables
    queryable with `docframe sql`. Files that fail are recorded (see
    `docframe sources`) and the rest go on; the exit code is 1 if any failed.
    Files of other types are listed with what would read them; PDF pages that need
    OCR (no Tesseract, or --ocr off) are noted and counted, and read once OCR can run.
    Ctrl-C (SIGINT) or SIGTERM commits the files in hand and exits 130/143 (a second
    signal aborts at once); the same command again skips what was committed.
    A symbolic link met while walking a folder is skipped and reported unless
    --follow-symlinks. The same ingest written as a TOML job runs with `docframe run`.

    --workers N (a local Dask cluster) or --scheduler ADDRESS (yours) reads, chunks and
    embeds on Dask workers that write into the lake; this process alone commits, so the
    lake is what a single-process ingest makes. Every run ends with a table of where the
    time went per stage (--report FILE.json writes it, per worker on Dask).
    """
    from docframe.pipelines.ingest_spec import load_ingest_spec

    # the flags in the job file's form (README: Ingest jobs); unset flags stay unset
    spec = load_ingest_spec({"ingest": _given({
        "sources": paths, "prune": prune, "follow_symlinks": follow_symlinks, "jobs": jobs,
        "include": include, "exclude": exclude, "workers": workers, "scheduler": scheduler,
        "embedding": {"model": model, "backend": embed_backend},
        "tables": {
            "table": table, "schema": _schema_pairs(schema or []), "schema_file": schema_file,
            "delimiter": delimiter, "encoding": encoding, "header": header,
            "on_bad_rows": on_bad_rows,
        },
        "pdf": {
            "password": pdf_password, "passwords_file": pdf_passwords, "ocr": ocr,
            "ocr_lang": ocr_lang, "timeout": pdf_timeout, "memory_mb": pdf_memory_mb,
            "tables": pdf_tables,
        },
        "media": {
            "asr_model": asr_model, "language": language, "max_seconds": media_max_seconds,
            "timeout": media_timeout, "screen_ocr": screen_ocr,
        },
    })})  # fmt: skip
    run_ingest_spec(ctx, spec, dry_run=dry_run, progress=progress, report_file=report_file)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the flags left unset (None, or an empty list or table)."""
    kept = {k: _given(v) if isinstance(v, dict) else v for k, v in values.items()}
    return {k: v for k, v in kept.items() if v is not None and v != [] and v != {}}


def run_ingest_spec(
    ctx: typer.Context,
    spec: IngestSpec,
    *,
    dry_run: bool = False,
    progress: bool = True,
    label: str = "",
    report_file: Path | None = None,
) -> None:
    """Run (or dry-run) an ingest job, from flags or a file, and print what it did:
    `ingest` and `run` share every line of it. ``label``: the job's name, before the
    summary line."""
    from docframe.pipelines.ingest import IngestInterrupted

    lake = open_lake(ctx, create=True, model=spec.model, dry_run=dry_run, **spec.settings)
    if dry_run:
        plan = lake.ingest(**spec.arguments(), dry_run=True)
        for line in plan.lines():
            out.print(escape(line))
        out.print(f"{label}{plan.summary()}")
        return
    shown = progress and err.is_terminal  # the bars print each failure as it happens
    try:
        report = lake.ingest(**spec.arguments(), progress=shown)
    except IngestInterrupted as stopped:  # the job has said what it committed (stderr)
        out.print(f"{label}{stopped.report.summary()}; {stopped.report.n_chunks} new chunk(s)")
        _write_report(stopped.report, report_file)
        raise typer.Exit(stopped.code) from None
    _write_report(report, report_file)
    for o in report.outcomes:
        if o.status == "skipped":
            err.print(f"[yellow]skipped[/yellow] {o.error}")
        for note in o.notes:  # e.g. bad lines skipped with --on-bad-rows skip
            err.print(f"[dim]note[/dim] {o.input}: {note}")
    if report.n_need_ocr:  # scanned pages left unread: each file's note says which
        from docframe.connectors.pdf.needs_ocr import help_text

        report_warning(
            f"{report.n_need_ocr} file(s) have pages that need OCR (noted above)", help_text()
        )
    for line in report.unsupported_lines(short):  # named, with what would read them
        err.print(line, style="yellow", markup=False, highlight=False)
    for o in [] if shown else report.failures:  # with bars, printed above them already
        err.print(f"[red]failed[/red] {o.error}")
    chunks = report.n_chunks
    out.print(f"{label}{report.summary()}; {chunks} new chunk(s)")
    if report.index:
        out.print(f"index: {report.index}")
    if vectors := report.vectors():  # embedded, reused from earlier versions, repeated
        err.print(f"[dim]{vectors}[/dim]")
    err.print(f"[dim]time: {report.timing()}[/dim]")
    if report.n_chunks or report.workers:  # where the time went, when there was work
        for line in report.stage_lines():
            err.print(f"[dim]  {line}[/dim]", highlight=False)
    if not report.ok:
        err.print(_failed_line(report.failures), markup=False, highlight=False)
        raise typer.Exit(1)


def _failed_line(failures: list[Outcome]) -> str:
    """The last line of an ingest that failed somewhere: how many, and where to read why.

    Each failure was printed above in full. A file's failure is also kept in ``sources``
    (``docframe sources --status error``); a path that names nothing on disk (a typo, a
    glob matching nothing, a broken link) is not a source, so the hint names that command
    only for the failures it lists."""
    files = sum(1 for o in failures if Path(o.input).exists())  # as commits._add_failure
    if files == len(failures):
        return f"{len(failures)} input(s) failed; details: docframe sources --status error"
    if not files:
        return (
            f"{len(failures)} input(s) failed, each named above (none exists on disk, so "
            "the lake keeps no record of them)"
        )
    return (
        f"{len(failures)} input(s) failed, each named above; the {files} file(s) among "
        "them are also in: docframe sources --status error"
    )


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


def _schema_pairs(pairs: list[str]) -> dict[str, str]:
    """--schema COL=TYPE pairs as one column -> type mapping (--schema-file's entries
    come first; these win, as a job's schema table wins over its schema_file)."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, type_name = pair.partition("=")
        if not sep or not column or not type_name:
            raise DocframeError(f"--schema {pair!r} is not COL=TYPE", help="e.g. --schema id=int64")
        mapping[column.strip()] = type_name.strip()
    return mapping


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
    dry_run: DryRunOpt = False,
    report_file: ReportOpt = None,
) -> None:
    """Run a job file: a table job (\\[job] and \\[\\[steps]]) or an ingest job (\\[ingest]).

    A table job reads lake tables, transforms them and writes its output table; the
    steps run on the active engine (pandas on the CPU, cuDF on a GPU) or on Dask with
    --workers/--scheduler. An ingest job is `docframe ingest` written down: sources,
    patterns and reading options (--workers/--scheduler replace its own). Either kind,
    unchanged and over unchanged inputs, commits nothing.
    """
    from docframe.pipelines.ingest_spec import is_ingest_job, load_ingest_spec
    from docframe.pipelines.tablejob import JobSpec, run_job
    from docframe.pipelines.tablejob.spec import read_job_file

    data = read_job_file(job)
    if is_ingest_job(data):
        if partition_size is not None:
            raise DocframeError(
                f"{job}: --partition-size applies to table jobs", help="drop --partition-size"
            )
        spec = load_ingest_spec(data, path=job).with_cluster(workers, scheduler)
        run_ingest_spec(ctx, spec, dry_run=dry_run, label=f"{spec.name}: ", report_file=report_file)
        return
    if dry_run:
        raise DocframeError(
            f"{job}: --dry-run lists the files of an ingest job; this is a table job",
            help="run it: a table job is checked before any data is read, and an unchanged "
            "one does nothing",
        )
    if report_file is not None:
        raise DocframeError(
            f"{job}: --report writes an ingest job's stage report; this is a table job",
            help="drop --report: a table job prints its steps' timings",
        )
    # run_job refuses --workers with --scheduler, like every bad option
    report = run_job(
        open_lake(ctx).store, JobSpec.from_dict(data, path=job.absolute()), workers=workers,
        scheduler=scheduler, partition_size=partition_size,
    )  # fmt: skip
    out.print(report.summary())
