"""Re-embedding a lake: every live chunk's vector made again by another embedder.

A lake holds one embedder's vectors (``docframe.lake.embedders``); changing the
backend or precision the lake's model runs with (torch fp32 to ONNX int8, say) means
embedding every chunk again. This job does it in batches, each committed on its own,
so a lake of a million chunks is never one all-or-nothing transaction:

- **Versions, not rewrites.** Rows belong to source versions, and a snapshot reads
  the versions live at it. A batch writes, for each source version it takes, the
  same chunk rows (same ``chunk_id``, text, locations) with the new vectors and the
  same documents rows, under a *new version* of the source with the same content;
  one catalog transaction (:func:`docframe.lake.commits.reembed`) retires the old
  version and makes the new one live (it keeps the old one's lake tables: their
  segments are shared). No row is ever live twice, older snapshots keep their own
  vectors, and readers go on reading whatever snapshot they pinned.
- **Resumable.** Each chunk segment records the identity of its vectors' embedder, so
  what is left is the live versions whose segments another embedder made
  (:func:`docframe.lake.catalog.versions_not_embedded_by`). A crash or Ctrl-C loses at
  most the batch in flight (its files are unreferenced; ``docframe gc`` removes them),
  and running ``reembed`` again does the rest, never a committed batch twice.
- **One identity at the end.** The lake's recorded embedder (what ingest must use and
  what a search encodes its question with) changes in the transaction of the last
  batch. Until then the lake's embedder is the old one, which ingest may still add to:
  the next ``reembed`` takes those versions too. Vectors of one model run two ways are
  close (cosine >= 0.97), so a search of a lake part-way through still finds its
  passages. The dense index is rebuilt for the final snapshot: a base built from the
  old vectors is never reused (its manifest names the old embedder).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docframe.errors import ModelMismatchError
from docframe.lake import catalog, commits, embedders, integrity
from docframe.lake.commits import SegmentRecord
from docframe.lake.segments import Written, chunk_schema, write_segment
from docframe.pipelines.progress import IngestProgress
from docframe.pipelines.vectors import embed_batch, embed_text, identity_of, progress_step

if TYPE_CHECKING:
    import sqlite3

    import pyarrow as pa

    from docframe.lake.store import LakeStore
    from docframe.pipelines.embedding import Embedder


@dataclass
class ReembedReport:
    """What one ``reembed`` run did."""

    embedder: str  # the identity the lake's vectors now come from
    previous: str | None  # the lake's identity before (None: no vectors yet)
    snapshot_id: int = 0
    versions: int = 0  # source versions re-embedded by this run
    chunks: int = 0
    embedded: int = 0  # texts the model ran on (identical texts of a batch once)
    batches: int = 0
    index: str | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.versions > 0 or self.previous != self.embedder

    def summary(self) -> str:
        if not self.changed:
            return f"snapshot {self.snapshot_id}: the lake's vectors are already {self.embedder}"
        if not self.versions:
            return f"snapshot {self.snapshot_id}: the lake now embeds with {self.embedder}"
        return (
            f"snapshot {self.snapshot_id}: re-embedded {self.chunks} chunk(s) of "
            f"{self.versions} source version(s) with {self.embedder} in {self.batches} "
            f"batch(es) ({self.embedded} text(s) embedded)"
        )


def reembed(
    store: LakeStore,
    embedder: Embedder,
    *,
    progress: bool = False,
    batch_chunks: int | None = None,
) -> ReembedReport:
    """Re-embed every live chunk of ``store`` whose vectors ``embedder`` did not make, in
    committed batches of about ``batch_chunks`` chunks (default: the lake's
    ``commit_chunks``), then make ``embedder`` the lake's and rebuild the dense index."""
    from docframe.lake.lock import WriterLock

    start = time.perf_counter()
    target = identity_of(embedder)
    with WriterLock(store.root):
        con = store.connect()
        try:
            catalog.upgrade(con)
            integrity.refuse_if_damaged(store.root, con)  # never build on damage
            meta = catalog.read_meta(con)
            _check_model(store, meta, embedder, target)
            report = ReembedReport(target, catalog.lake_embedder(meta))
            with IngestProgress(enabled=progress) as shown:
                _run(store, con, embedder, report, shown, batch_chunks)
            report.snapshot_id = catalog.latest_snapshot(con)
        finally:
            con.close()
    if report.changed:
        report.index = _refresh_index(store, rebuild=report.versions > 0)
    report.seconds = time.perf_counter() - start
    return report


def _check_model(store: LakeStore, meta: dict[str, str], embedder: Embedder, target: str) -> None:
    """Re-embedding changes how the lake's model runs, never the model: another model
    is another lake (its vectors mean other things, its dimension may differ)."""
    model = meta["embedding_model"]
    if embedders.split(target)[0] != model:
        raise ModelMismatchError(
            f"lake {store.root} holds vectors of model {model!r}; reembed runs that model "
            f"with another backend, not another model ({embedder.name!r})",
            help="drop --model, or ingest into a new lake for another model",
        )


def _run(
    store: LakeStore,
    con: sqlite3.Connection,
    embedder: Embedder,
    report: ReembedReport,
    shown: IngestProgress,
    batch_chunks: int | None,
) -> None:
    todo = catalog.versions_not_embedded_by(con, report.embedder)
    if not todo:
        if report.previous != report.embedder:  # nothing to redo (no vectors, or done)
            commits.adopt_embedder(con, report.embedder)
        return
    limit = max(1, batch_chunks or store.settings.commit_chunks)
    batches: list[list[int]] = [[]]
    size = 0
    for row in todo:
        if batches[-1] and size + row["n_chunks"] > limit:
            batches.append([])
            size = 0
        batches[-1].append(row["version_id"])
        size += row["n_chunks"]
    shown.start_files(len(todo))
    for number, versions in enumerate(batches, start=1):
        _batch(store, con, embedder, report, shown, versions, final=number == len(batches))


def _batch(
    store: LakeStore,
    con: sqlite3.Connection,
    embedder: Embedder,
    report: ReembedReport,
    shown: IngestProgress,
    versions: list[int],
    *,
    final: bool,
) -> None:
    """One batch: read the versions' rows, embed their texts, write them under new
    versions, commit."""
    import pyarrow as pa

    chunks, documents = _read_rows(store, con, versions)
    titles = dict(
        zip(documents.column("doc_id").to_pylist(), documents.column("title").to_pylist(),
            strict=True)
    )  # fmt: skip
    texts = [
        embed_text(titles.get(doc_id), text)
        for doc_id, text in zip(
            chunks.column("doc_id").to_pylist(), chunks.column("text").to_pylist(), strict=True
        )
    ]
    dim = embedder.dim
    step = progress_step(embedder)
    result = embed_batch(
        texts, report.embedder, dim, lambda todo: shown.embed(embedder, todo, step=step)
    )
    new_ids = dict(zip(versions, commits.next_version_ids(con, len(versions)), strict=True))
    renumber = _renumbered(new_ids)
    schema = chunk_schema(dim)
    flat = pa.array(result.vectors.reshape(-1), type=pa.float32())
    kept = [name for name in schema.names if name not in ("embedding", "version_id")]
    columns = {name: chunks.column(name) for name in kept}
    columns["embedding"] = pa.FixedSizeListArray.from_arrays(flat, dim)
    columns["version_id"] = renumber(chunks.column("version_id"))
    table = pa.table({n: columns[n] for n in schema.names}, schema=schema)
    new = sorted(new_ids.values())
    written = write_segment(store.root, "chunks", table)
    segments = [_record("chunks", written, new, report.embedder)]
    if documents.num_rows:
        documents = documents.set_column(
            documents.schema.get_field_index("version_id"),
            "version_id",
            renumber(documents.column("version_id")),
        )
        written = write_segment(store.root, "documents", documents)
        segments.append(_record("documents", written, new, None))
    commits.failpoint("segments-written")
    commits.reembed(
        con, store.root, replaced=new_ids, segments=segments, dim=dim,
        embedder=report.embedder, final=final,
    )  # fmt: skip
    report.versions += len(versions)
    report.chunks += chunks.num_rows
    report.embedded += result.embedded
    report.batches += 1
    for _ in versions:
        shown.advance_file()


def _read_rows(
    store: LakeStore, con: sqlite3.Connection, versions: list[int]
) -> tuple[pa.Table, pa.Table]:
    """The chunks and documents rows of ``versions``, from the segments holding them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from docframe.lake.segments import DOCUMENT_SCHEMA

    paths: dict[str, str] = {}  # path -> kind, in segment order
    for version_id in versions:
        for row in catalog.version_segments(con, version_id):
            paths.setdefault(row["path"], row["kind"])
    only = [("version_id", "in", versions)]
    found: dict[str, list[pa.Table]] = {"chunks": [], "documents": []}
    for path, kind in paths.items():
        found[kind].append(pq.read_table(store.root / path, filters=only))
    dim = int(catalog.read_meta(con)["embedding_dim"])
    chunks = pa.concat_tables(found["chunks"]) if found["chunks"] else None
    documents = pa.concat_tables(found["documents"]) if found["documents"] else None
    return (
        chunks if chunks is not None else chunk_schema(dim).empty_table(),
        documents if documents is not None else DOCUMENT_SCHEMA.empty_table(),
    )


def _renumbered(new_ids: dict[int, int]) -> Any:
    """A function mapping a ``version_id`` column to the new versions' ids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    old = pa.array(list(new_ids), pa.int64())
    new = pa.array(list(new_ids.values()), pa.int64())

    def renumber(column: pa.ChunkedArray) -> pa.Array:
        return pc.take(new, pc.index_in(column, value_set=old))

    return renumber


def _record(
    kind: str, written: Written, versions: list[int], embedder: str | None
) -> SegmentRecord:
    return SegmentRecord(kind, None, written.path, written.size, written.rows,
                         written.checksum, versions, embedder)  # fmt: skip


def _refresh_index(store: LakeStore, *, rebuild: bool) -> str | None:
    """The dense index of the newest snapshot, built from the new vectors: every row of
    an older base is masked now (its versions were retired), so a new base is built
    rather than left to the delta."""
    from docframe.index.store import ensure_index

    snapshot = store.snapshot()
    if snapshot.is_empty:
        return None
    return ensure_index(store, snapshot, rebuild=rebuild).describe()
