"""The ``docframe`` app: its global options, how a command opens the lake, and the one
place where docframe's problems become what a user reads.

Every command runs inside :meth:`DocframeGroup.invoke`, so commands just raise: a
:class:`~docframe.errors.DocframeError` becomes ``error: <message>`` and ``help:
<hint>`` on stderr with exit code 2, and a Python warning becomes ``warning:
<message>`` instead of Python's ``file.py:302: UserWarning: ...`` line.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from docframe import config
from docframe.cli.output import FORMAT_HELP, Format, report_error, report_warning
from docframe.errors import DocframeError
from docframe.shell.messages import showing_warnings

if TYPE_CHECKING:
    import click

    from docframe.api import Lake


class DocframeGroup(TyperGroup):
    """The app's command group: runs the chosen command with docframe's errors and
    Python's warnings shown as one line plus ``help:`` (errors exit with code 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        with showing_warnings(report_warning):
            try:
                return super().invoke(ctx)
            except DocframeError as exc:
                report_error(exc)
                raise typer.Exit(2) from None


app = typer.Typer(
    cls=DocframeGroup,
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
index_app = typer.Typer(
    help=(
        "Build, check, tune and export the search indexes.\n\n"
        "The dense index kind is chosen by size (faiss: exact flat below 50,000 chunks,\n"
        "HNSW below 5 million, IVF-PQ above; set index_kind in docframe.toml or\n"
        "DOCFRAME_INDEX_KIND to fix one). New chunks are searchable at once (an exact\n"
        "delta) and the index is rebuilt when the delta outgrows 10% of it."
    ),
    no_args_is_help=True,
)


class Mode(StrEnum):
    dense = "dense"
    keyword = "keyword"
    hybrid = "hybrid"


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
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the result to this file (csv, json, jsonl or parquet)."
    ),
]
SnapshotOpt = Annotated[
    int | None,
    typer.Option(
        help="Read this older snapshot instead of the newest (see the snapshots relation)."
    ),
]


@app.callback()
def main(ctx: typer.Context, lake: LakeOpt = Path("lake"), engine: EngineOpt = None) -> None:
    ctx.obj = {"lake": lake, "engine": engine}


def open_lake(
    ctx: typer.Context, *, create: bool = False, model: str | None = None, **settings: Any
) -> Lake:
    """The lake named by the global ``--lake`` and ``--engine`` options; ``settings`` are
    a command's own setting flags (``embed_backend=``), None where not given."""
    import docframe

    return docframe.open(
        ctx.obj["lake"], create=create, engine=ctx.obj["engine"], model=model, **settings
    )
