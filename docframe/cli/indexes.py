"""``docframe index build|check|tune|export``: the search indexes, rebuilt, measured
against exact search, tuned to a recall target, and a GPU-built graph exported for CPUs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from docframe.cli.app import FormatOpt, OutputOpt, open_lake
from docframe.cli.output import Format, check_destination, out, print_record, print_rows
from docframe.errors import DocframeError

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
        raise DocframeError(
            f"--queries {path}: {exc}",
            help="give BEIR queries.jsonl, or a UTF-8 text file with one question a line",
        ) from None


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
    output: OutputOpt = None,
) -> None:
    """Rebuild the newest snapshot's dense and keyword indexes now (folds in any delta)."""
    check_destination(fmt, output)
    record = open_lake(ctx).index_build(kind=kind)
    print_record(record, fmt, output)


def index_check(
    ctx: typer.Context,
    k: Annotated[int, typer.Option("-k", min=1, help="Recall at this depth.")] = 10,
    n: Annotated[int, typer.Option("--n", min=1, help="Number of queries.")] = 200,
    queries: QueriesOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Measure recall@k of the dense index against exact search, and its latency."""
    check_destination(fmt, output)
    texts = _question_texts(queries)
    record = open_lake(ctx).index_check(k=k, n_queries=n, texts=texts)
    print_record(record, fmt, output)


def index_tune(
    ctx: typer.Context,
    target_recall: Annotated[
        float, typer.Option(help="Smallest acceptable recall@k against exact search.")
    ] = 0.95,
    k: Annotated[int, typer.Option("-k", min=1, help="Recall at this depth.")] = 10,
    n: Annotated[int, typer.Option("--n", min=1, help="Number of queries.")] = 200,
    queries: QueriesOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Measure every setting (the whole recall/latency curve).")
    ] = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Pick the fastest search setting that meets --target-recall, and keep it.

    Sweeps the index kind's knob (HNSW ef_search, IVF-PQ nprobe, CAGRA itopk_size)
    from cheap to thorough; the choice is saved in the lake and used from then on.
    """
    check_destination(fmt, output)
    texts = _question_texts(queries)
    lake = open_lake(ctx)
    record = lake.index_tune(target=target_recall, k=k, n_queries=n, texts=texts, full=full)
    if fmt is Format.table and "sweep" in record:
        name = next(iter(record["chosen"]))
        print_rows(record["sweep"], [name, "recall", "p50_ms", "p95_ms"], title=record["kind"])
        out.print(f"chosen: {name}={record['chosen'][name]} (saved to {record['saved_to']})")
    else:
        print_record(record, fmt, output)


class ExportTarget(StrEnum):
    hnswlib = "hnswlib"


def index_export(
    ctx: typer.Context,
    to: Annotated[
        ExportTarget,
        typer.Option("--to", help="Format CPU-only machines serve: hnswlib."),
    ] = ExportTarget.hnswlib,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Export the lake's GPU-built CAGRA index so CPU-only machines serve that graph.

    Run it on the GPU machine after `docframe --engine gpu index build --kind cuvs-cagra`:
    cuVS converts the graph to hnswlib's format (pip install 'docframe\\[hnswlib]' where it is
    read), and it is recorded as the lake's CPU index at the same snapshot.
    """
    check_destination(fmt, output)
    print_record(open_lake(ctx).index_export(to=to.value), fmt, output)
