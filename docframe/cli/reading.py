"""Commands that read the lake: ``search``, ``sources``, ``tables`` and ``describe``."""

from __future__ import annotations

from typing import Annotated

import typer

from docframe.cli.app import FormatOpt, Mode, OutputOpt, SnapshotOpt, open_lake
from docframe.cli.output import Format, check_destination, emit, err, print_json, print_rows, short
from docframe.errors import DocframeError
from docframe.shell.catalog import describe as describe_relation
from docframe.shell.catalog import list_relations


def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="Number of results.", min=1)] = 10,
    mode: Annotated[
        Mode,
        typer.Option(
            help="dense: embeddings (meaning); keyword: BM25 (exact words, codes, names); "
            "hybrid: both, fused by standardised (z) score."
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
    per_document: Annotated[
        bool,
        typer.Option(
            "--per-document",
            help="k distinct documents, each shown by its best chunk, instead of k chunks "
            "(one long document cannot fill the list).",
        ),
    ] = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Search chunks, best first, with where each hit came from.

    Always returns k hits when at least k chunks are eligible; when fewer are,
    says so ("exhausted") with the true count. With --per-document: k documents
    whenever k documents have an eligible chunk.

    Examples:
      docframe search "late delivery penalties"
      docframe search "error E1234" --mode keyword
      docframe search "penalties" --mode hybrid --where "modality = 'pdf'" -k 5
      docframe search "penalties" --per-document -k 5
    """
    try:
        pair = tuple(float(w) for w in weights.split(","))
    except ValueError:
        pair = ()
    if len(pair) != 2:
        raise DocframeError(
            f"--weights {weights!r}: give two numbers", help="dense,keyword, e.g. --weights 1,0.5"
        )
    check_destination(fmt, output)
    result = open_lake(ctx).search(
        text,
        k=k,
        mode=mode.value,
        where=where,
        weights=pair,
        snapshot=snapshot,
        per_document=per_document,
    )
    info = result.info
    if fmt is Format.table:
        rows = result.to_list()
        columns = ["rank", "score", "doc_key", "page", "source_uri", "text"]
        for r in rows:
            r["source_uri"] = short(r["source_uri"])
        unit = " documents" if per_document else ""
        title = f"{mode.value}: top {len(rows)}{unit} for {text!r}"
        print_rows(rows, columns, title=title)
        if info.get("exhausted"):
            err.print(f"[yellow]exhausted:[/yellow] {info.get('reason', '')}")
    else:
        emit(result.to_arrow(), fmt, output)
        if info.get("exhausted"):
            err.print(f"exhausted: {info.get('reason', '')}")


def sources(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status: ok | error.")] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Every input the lake knows: status, chunk count and the error if it failed."""
    import pyarrow.compute as pc

    check_destination(fmt, output)
    table = open_lake(ctx).sources().to_arrow()
    if status:
        table = table.filter(pc.equal(table["status"], status))
    if fmt is not Format.table:
        emit(table, fmt, output)
        return
    rows = table.to_pylist()
    for r in rows:
        r["source_uri"] = short(r["source_uri"])
    columns = ["source_uri", "status", "connector", "n_documents", "n_chunks", "snapshot_id"]
    print_rows(rows, [*columns, "error"])


def tables(
    ctx: typer.Context,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """What SQL can read: the built-in relations and the lake's tables, with row counts.

    kind is "relation" for chunks, documents, sources, snapshots, tables and
    pdf_tables, and "table" for lake tables (with their source and any repairs
    made on ingest, in notes).
    """
    check_destination(fmt, output)
    result = list_relations(open_lake(ctx), snapshot)
    if fmt is not Format.table:
        emit(result, fmt, output)
        return
    rows = result.to_pylist()
    for r in rows:
        r["source_uri"] = short(r["source_uri"]) if r["source_uri"] else ""
    print_rows(rows, ["name", "kind", "n_rows", "n_columns", "source_uri", "origin", "notes"])


def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A relation (chunks, documents...) or lake table.")],
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Columns and types of a relation or lake table, and its row count.

    The types are DuckDB's, as SQL sees them (DESCRIBE). --format json gives the whole
    description (name, kind, rows, source, columns); the other formats one row per column.
    """
    import pyarrow as pa

    check_destination(fmt, output)
    found = describe_relation(open_lake(ctx), name, snapshot)
    rows = [{"column_name": n, "column_type": t} for n, t in found.columns]
    if fmt is Format.json:
        print_json(found.to_dict(), output)
    elif fmt is Format.table:
        origin = f", from {short(found.source_uri)}" if found.source_uri else ""
        title = f"{found.name}: {found.kind}, {found.n_rows} row(s){origin}"
        print_rows(rows, ["column_name", "column_type"], title=title)
    else:
        schema = pa.schema([("column_name", pa.string()), ("column_type", pa.string())])
        emit(pa.Table.from_pylist(rows, schema=schema), fmt, output)
