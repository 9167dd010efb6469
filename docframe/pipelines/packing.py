"""From a document's located elements to chunks, keeping exact provenance.

Three shapes of input:

* *flowing text* (no page: text, Markdown, HTML, JSON Lines) — each element is
  split by the token-aware chunker; chunks keep character offsets into it;
* *laid-out pages* (PDF blocks with page and bbox) — consecutive blocks of one
  page are packed up to the token budget; a heading or a new page starts a new
  chunk, so chunks never straddle pages and read as sections. A chunk's bbox is
  the union of its blocks' boxes; a block longer than the budget is split alone
  and keeps its own box;
* *timed media* (elements with ``start_s``: Whisper's speech segments, text seen on
  screen) — each stream (``metadata.stream``, and ``channel`` for one speaker per
  channel) is packed on its own: consecutive segments up to the token budget, a
  chunk always ending at a segment boundary, so its ``start_s``/``end_s`` are exact
  (the first segment's start, the last one's end). Chunks come out in time order.
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


def _ocr_confidence(elements: list[Element]) -> dict[str, Any]:
    """``confidence``: Tesseract's mean word confidence (0-100) over the OCR text of a
    chunk's elements (scanned-page paragraphs, text read on screen), weighted by the
    words each read, and ``ocr_words``; empty when none was read by OCR. Kept so that
    a query can find, or leave out, text that was read badly."""
    words = total = 0.0
    for e in elements:
        confidence = e.metadata.get("confidence")
        if isinstance(confidence, int | float):
            n = e.metadata.get("words")  # a PDF paragraph's count; a screen reading has none
            n = n if isinstance(n, int) else len(e.text.split())
            words += n
            total += float(confidence) * n
    if not words:
        return {}
    return {"confidence": round(total / words, 1), "ocr_words": int(words)}


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
    if elements and all(e.start_s is not None and e.page is None for e in elements):
        yield from _timed(chunker, elements)
        return
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
                metadata={
                    "blocks": blocks,
                    "kinds": kinds,
                    **_ocr_confidence([e for e, _ in pack]),
                },
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


_STREAM_KEYS = ("stream", "channel")  # what makes a separate stream of timed elements


def _timed(chunker: Chunker, elements: list[Element]) -> Iterator[Piece]:
    """Each stream packed on its own up to the token budget, ending at element
    boundaries; then every chunk in order of its start."""
    streams: dict[tuple, list[Element]] = {}
    for element in elements:
        if element.text.strip():
            key = tuple(element.metadata.get(k) for k in _STREAM_KEYS)
            streams.setdefault(key, []).append(element)
    out: list[Piece] = []
    for stream in streams.values():
        out.extend(_pack_timed(chunker, stream))
    out.sort(key=lambda p: (p.start_s, p.end_s))
    yield from out


def _pack_timed(chunker: Chunker, elements: list[Element]) -> Iterator[Piece]:
    pack: list[tuple[Element, int]] = []

    def flush() -> Iterator[Piece]:
        if pack:
            first = pack[0][0]
            meta = {k: first.metadata[k] for k in _STREAM_KEYS if k in first.metadata}
            thumbnails = [e.metadata["thumbnail"] for e, _ in pack if "thumbnail" in e.metadata]
            if thumbnails:
                meta["thumbnail"] = thumbnails[0]  # what the passage looked like when it began
            meta["segments"] = len(pack)
            meta.update(_ocr_confidence([e for e, _ in pack]))
            yield Piece(
                text=" ".join(e.text.strip() for e, _ in pack),
                n_tokens=sum(n for _, n in pack),
                start_s=first.start_s,
                end_s=max(e.end_s if e.end_s is not None else e.start_s for e, _ in pack),
                metadata=meta,
            )
            pack.clear()

    for element in elements:
        n = len(chunker.offsets(element.text))
        if pack and sum(t for _, t in pack) + n > chunker.max_tokens:
            yield from flush()
        if n > chunker.max_tokens:  # one very long segment: split alone, its own times
            for piece in _split(chunker, element):
                piece.char_start = piece.char_end = None
                yield piece
        else:
            pack.append((element, n))
    yield from flush()
