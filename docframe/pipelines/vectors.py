"""Chunk vectors for one commit batch: reuse what the lake holds, embed each text once.

The model is most of an ingest's time, so it runs on as little as it must:

- **reuse**: a changed file usually keeps most of its text. A chunk whose embedded
  text is the same as one of the file's previous live version, made by the same
  embedder, takes that stored vector (the same float32 bytes). Vectors are
  content-addressed by :func:`text_key`, a hash of the embedder identity and the
  text the model saw (:func:`embed_text`);
- **dedupe**: identical texts within the batch (boilerplate pages, repeated headers,
  the same file under two names) are embedded once;
- **length order**: the texts left are embedded shortest first, so each model batch
  holds texts of about one length and pads little; the vectors go back to the rows'
  order afterwards.

``docframe reembed`` embeds with the same functions, so a re-embedded chunk's text is
exactly what an ingest would have embedded.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from docframe.lake import catalog, embedders


def identity_of(embedder: Any) -> str:
    """The embedder's identity (``<model>@<backend>-<precision>``); an embedder that does
    not name one is the torch fp32 of the time before identities."""
    found = getattr(embedder, "identity", None)
    return str(found) if found else embedders.legacy(str(embedder.name))


def embed_text(title: str | None, text: str) -> str:
    """What the model sees of a chunk: its document's title on a line of its own before
    the text (it places a passage), unless the text already holds the title."""
    return f"{title}\n{text}" if title and title not in text else text


def text_key(identity: str, text: str) -> bytes:
    """The address of the vector ``identity`` makes of ``text``."""
    return hashlib.blake2b(f"{identity}\0{text}".encode(), digest_size=16).digest()


def stored_vectors(
    root: Path, con: sqlite3.Connection, version_ids: Sequence[int], identity: str
) -> dict[bytes, np.ndarray]:
    """The vectors that ``identity`` made of the committed versions ``version_ids``, by
    :func:`text_key` of their embedded text. A version whose segments hold another
    embedder's vectors, or are damaged, gives none; unreadable files give none at all:
    embedding again is always right. Each segment is read once, whatever it holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    legacy = embedders.legacy(catalog.read_meta(con)["embedding_model"])
    paths: dict[str, str] = {}  # path -> kind, of the usable versions
    usable: list[int] = []
    for version_id in version_ids:
        rows = catalog.version_segments(con, version_id)
        chunks = [r for r in rows if r["kind"] == "chunks"]
        if (
            chunks
            and not any(r["damage"] for r in rows)
            and all((r["embedder"] or legacy) == identity for r in chunks)
        ):
            usable.append(version_id)
            paths.update((r["path"], r["kind"]) for r in rows)
    if not usable:
        return {}
    only = [("version_id", "in", usable)]
    titles: dict[str, str | None] = {}
    found: dict[bytes, np.ndarray] = {}
    try:
        for path in (p for p, kind in paths.items() if kind == "documents"):
            docs = pq.read_table(root / path, columns=["doc_id", "title"], filters=only)
            ids, names = docs.column("doc_id").to_pylist(), docs.column("title").to_pylist()
            titles.update(zip(ids, names, strict=True))
        for path in (p for p, kind in paths.items() if kind == "chunks"):
            table = pq.read_table(root / path, columns=["doc_id", "text", "embedding"],
                                  filters=only)  # fmt: skip
            emb = table.column("embedding").combine_chunks()
            vectors = emb.flatten().to_numpy().reshape(table.num_rows, emb.type.list_size)
            for doc_id, text, vector in zip(
                table.column("doc_id").to_pylist(), table.column("text").to_pylist(), vectors,
                strict=True,
            ):  # fmt: skip
                found[text_key(identity, embed_text(titles.get(doc_id), text))] = vector
    except (OSError, pa.ArrowException):
        return {}
    return found


def progress_step(embedder: Any) -> int:
    """Texts per progress step: a whole number of the embedder's batches, about 256."""
    batch = max(1, int(getattr(embedder, "batch_size", None) or 64))
    return max(1, 256 // batch) * batch


@dataclass
class Embedded:
    """A batch's vectors, one per text in order, and how they were had."""

    vectors: np.ndarray  # (n, dim) float32
    embedded: int = 0  # texts the model ran on
    reused: int = 0  # rows that took a stored vector
    repeated: int = 0  # rows whose text another row of the batch had (embedded once)


def embed_batch(
    texts: Sequence[str],
    identity: str,
    dim: int,
    encode: Callable[[list[str]], np.ndarray],
    known: dict[bytes, np.ndarray] | None = None,
) -> Embedded:
    """Vectors for ``texts``: ``known`` ones (by :func:`text_key`) as stored, the others
    from ``encode`` (the embedder), called once on the distinct texts, shortest first."""
    known = known or {}
    out = np.empty((len(texts), dim), dtype=np.float32)
    distinct: dict[bytes, int] = {}  # key -> position among the texts to embed
    todo: list[str] = []
    targets: list[tuple[int, int]] = []  # (row, position among the texts to embed)
    reused = 0
    for row, text in enumerate(texts):
        key = text_key(identity, text)
        stored = known.get(key)
        if stored is not None:
            out[row] = stored
            reused += 1
            continue
        position = distinct.setdefault(key, len(todo))
        if position == len(todo):
            todo.append(text)
        targets.append((row, position))
    if todo:
        order = sorted(range(len(todo)), key=lambda i: len(todo[i]))
        vectors = np.empty((len(todo), dim), dtype=np.float32)
        vectors[order] = encode([todo[i] for i in order])
        rows, positions = zip(*targets, strict=True)
        out[list(rows)] = vectors[list(positions)]
    return Embedded(out, len(todo), reused, len(targets) - len(todo))
