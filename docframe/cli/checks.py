"""Commands that measure and check rather than change: ``eval`` (retrieval quality on a
BEIR collection) and ``doctor`` (the installation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docframe.cli.app import FormatOpt, Mode, OutputOpt, open_lake
from docframe.cli.output import Format, check_destination, err, out, print_record
from docframe.errors import DocframeError


def eval_(
    ctx: typer.Context,
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl (_id, text).")],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels TSV: query-id, corpus-id, score.")],
    mode: Annotated[Mode, typer.Option(help="dense | keyword | hybrid.")] = Mode.dense,
    k: Annotated[int, typer.Option("-k", min=1, help="Cut-off for nDCG and recall.")] = 10,
    limit: Annotated[int | None, typer.Option(help="Only the first N judged queries.")] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
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

    check_destination(fmt, output)
    try:
        lake = open_lake(ctx)
        with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task(f"eval {mode.value}", total=None)
            record = lake.evaluate(
                queries,
                qrels,
                mode=mode.value,
                k=k,
                limit=limit,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except DocframeError:
        raise
    except OSError as exc:  # an unreadable queries or qrels file
        raise DocframeError(
            f"{exc.filename or queries}: cannot read: {exc.strerror or exc}",
            help="--queries is a BEIR queries.jsonl, --qrels its qrels TSV",
        ) from None
    except ValueError as exc:
        raise DocframeError(
            str(exc), help="--queries is a BEIR queries.jsonl, --qrels its qrels TSV"
        ) from None
    print_record(record, fmt, output)


def doctor(ctx: typer.Context) -> None:
    """Check the installation: Python, packages, GPU visibility, chosen engine and why."""
    from docframe.doctor import report

    problems = report(out, ctx.obj["lake"], ctx.obj["engine"])
    if problems:
        raise typer.Exit(1)
