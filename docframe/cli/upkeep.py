"""Lake upkeep: ``gc`` (remove unreferenced files), ``verify`` (check segments against
their hashes), ``repair`` (re-ingest what damaged segments held) and ``reembed``
(make every vector again with another embedding backend)."""

from __future__ import annotations

from typing import Annotated

import typer

from docframe.cli.app import open_lake
from docframe.cli.output import err, out


def gc(ctx: typer.Context) -> None:
    """Remove files no snapshot references: crash leftovers and superseded indexes."""
    report = open_lake(ctx).gc()
    out.print(report.summary())


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
    report = open_lake(ctx).verify(full=not quick)
    for damage in report.lost:
        out.print(f"lost: {damage.message}", markup=False, style="dim")
    for damage in report.damaged:
        out.print(f"damaged: {damage.message}", markup=False)
    out.print(report.summary(), markup=False)
    if not report.ok:
        from docframe.lake.integrity import REPAIR_HELP

        err.print(f"help: {REPAIR_HELP}", style="dim", markup=False, highlight=False)
        raise typer.Exit(1)


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
    report = open_lake(ctx).repair(drop_missing=drop_missing, progress=progress and err.is_terminal)
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


def reembed(
    ctx: typer.Context,
    embed_backend: Annotated[
        str | None,
        typer.Option(
            help="torch | onnx | onnx-int8: the backend the lake's model runs with from now "
            "on (default: the configured one)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
) -> None:
    """Re-embed every chunk with another embedding backend, in committed batches.

    A lake holds one embedder's vectors (model, backend, precision), and ingest refuses
    another's. This makes them all again with the chosen backend and rebuilds the dense
    index. Interrupted (Ctrl-C, a crash), it keeps what it committed: run it again to
    finish the rest. Older snapshots keep their own vectors.
    """
    lake = open_lake(ctx)
    report = lake.reembed(embed_backend=embed_backend, progress=progress and err.is_terminal)
    out.print(report.summary(), markup=False)
    if report.index:
        out.print(f"index: {report.index}", markup=False)
    err.print(f"[dim]time: {report.seconds:.1f} s[/dim]")
