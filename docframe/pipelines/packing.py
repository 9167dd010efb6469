"""From a document's located elements to chunks, keeping exact provenance.

Two shapes of input:

* *flowing text* (no page: text, Markdown, HTML, JSON Lines) — each element is
  split by the token-aware chunker; chunks keep character offsets into it;
* *laid-out pages* (PDF blocks with page and bbox) — consecutive blocks of one
  page are packed up to the token budget; a heading or a new page starts a new
  chunk, so chunks never straddle pages and read as sections. A chunk's bbox is
  the union of its blocks' boxes; a block longer than the budget is split alone
  and keeps its own box.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from docframe.connectors.base import Element
from docframe.pipelines.chunking import Chunker


@dataclass
class Piece:
    """One chunk's text and where it came from, before ids and embeddings."""

    text: str
    n_tokens: int
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    start_s: float | None = None
    end_s: float | None = None
    char_start: int | None = None
    char_end: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _union(
    boxes: list[tuple[float, float, float, float]],
) -> tuple[float, float, float, float] | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _split(chunker: Chunker, element: Element) -> Iterator[Piece]:
    for span in chunker.split(element.text):
        yield Piece(
            text=element.text[span.start : span.end],
            n_tokens=span.n_tokens,
            page=element.page,
            bbox=element.bbox,
            start_s=element.start_s,
            end_s=element.end_s,
            char_start=span.start,
            char_end=span.end,
            metadata=dict(element.metadata),
        )


def pieces(chunker: Chunker, elements: list[Element]) -> Iterator[Piece]:
    """Chunks of a document's elements, in order."""
    pack: list[tuple[Element, int]] = []

    def flush() -> Iterator[Piece]:
        if pack:
            boxes = [e.bbox for e, _ in pack if e.bbox]
            blocks = [e.metadata.get("block") for e, _ in pack if "block" in e.metadata]
            kinds = sorted({str(e.metadata.get("kind", "text")) for e, _ in pack})
            yield Piece(
                text="\n\n".join(e.text.strip() for e, _ in pack),
                n_tokens=sum(n for _, n in pack),
                page=pack[0][0].page,
                bbox=_union(boxes),
                metadata={"blocks": blocks, "kinds": kinds},
            )
            pack.clear()

    for element in elements:
        if element.page is None:
            yield from flush()
            yield from _split(chunker, element)
            continue
        if not element.text.strip():
            continue
        n = len(chunker.offsets(element.text))
        heading = element.metadata.get("kind") == "heading"
        budget = sum(t for _, t in pack) + n
        if pack and (pack[0][0].page != element.page or heading or budget > chunker.max_tokens):
            yield from flush()
        if n > chunker.max_tokens:
            yield from _split(chunker, element)
        else:
            pack.append((element, n))
    yield from flush()
