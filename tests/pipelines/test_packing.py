import pytest

from docframe.connectors.base import Element
from docframe.pipelines.chunking import Chunker
from docframe.pipelines.embedding import Embedder
from docframe.pipelines.packing import pieces


@pytest.fixture(scope="module")
def chunker():
    return Chunker(Embedder().tokenizer, max_tokens=40, overlap=4)


def block(text, page, y, kind="text", i=0):
    return Element(
        text, page=page, bbox=(50.0, y, 300.0, y + 20), metadata={"block": i, "kind": kind}
    )


def test_blocks_of_a_page_pack_together_with_the_union_of_their_boxes(chunker):
    els = [block("First short paragraph.", 1, 100, i=0), block("Second one.", 1, 130, i=1)]
    (piece,) = pieces(chunker, els)
    assert piece.text == "First short paragraph.\n\nSecond one."
    assert piece.page == 1 and piece.bbox == (50.0, 100.0, 300.0, 150.0)
    assert piece.metadata["blocks"] == [0, 1]
    assert piece.char_start is None  # located by page and box, not offsets


def test_pages_and_headings_start_new_chunks(chunker):
    els = [
        block("Intro text.", 1, 100, i=0),
        block("Methods", 1, 140, kind="heading", i=1),
        block("We measured things.", 1, 170, i=2),
        block("Page two text.", 2, 100, i=3),
    ]
    got = [(p.page, p.text) for p in pieces(chunker, els)]
    assert got == [
        (1, "Intro text."),
        (1, "Methods\n\nWe measured things."),
        (2, "Page two text."),
    ]


def test_budget_splits_packs_and_long_blocks_split_alone(chunker):
    sentence = "Tokens fill the budget quickly here. "
    els = [block(sentence * 2, 1, 100, i=0), block(sentence * 2, 1, 130, i=1),
           block(sentence * 12, 1, 160, i=2)]  # fmt: skip
    out = list(pieces(chunker, els))
    assert all(p.n_tokens <= 40 for p in out)
    assert len(out) >= 4
    assert out[-1].bbox == (50.0, 160.0, 300.0, 180.0)  # a split block keeps its own box


def test_flowing_text_keeps_character_offsets(chunker):
    text = "Plain text without pages. " * 10
    out = list(pieces(chunker, [Element(text)]))
    assert len(out) > 1
    assert all(text[p.char_start : p.char_end] == p.text for p in out)


def segment(text, start, end, **meta):
    return Element(text, start_s=start, end_s=end, metadata=meta)


def test_timed_segments_pack_up_to_the_budget_and_end_at_segment_boundaries(chunker):
    words = "one two three four five six seven eight nine ten"
    els = [segment(f"{words} {i}.", 2.0 * i, 2.0 * i + 1.5, stream="speech") for i in range(8)]
    out = list(pieces(chunker, els))
    assert len(out) > 1 and all(p.n_tokens <= 40 for p in out)
    # every chunk starts at one segment's start and ends at one segment's end, in order
    starts = {e.start_s for e in els}
    ends = {e.end_s for e in els}
    assert all(p.start_s in starts and p.end_s in ends for p in out)
    assert [p.start_s for p in out] == sorted(p.start_s for p in out)
    assert " ".join(p.text for p in out) == " ".join(e.text for e in els)
    assert all(p.metadata["stream"] == "speech" and p.char_start is None for p in out)


def test_streams_and_channels_never_share_a_chunk(chunker):
    els = [
        segment("Hello from the left.", 0.0, 1.0, stream="speech", channel=0),
        segment("Slide: Quarterly Revenue", 0.5, 9.0, stream="screen", thumbnail="f1.jpg"),
        segment("Hello from the right.", 1.2, 2.0, stream="speech", channel=1),
        segment("Still the left speaker.", 2.5, 3.0, stream="speech", channel=0),
    ]
    got = [(p.start_s, p.end_s, p.metadata.get("stream"), p.metadata.get("channel"), p.text)
           for p in pieces(chunker, els)]  # fmt: skip
    assert got == [
        (0.0, 3.0, "speech", 0, "Hello from the left. Still the left speaker."),
        (0.5, 9.0, "screen", None, "Slide: Quarterly Revenue"),
        (1.2, 2.0, "speech", 1, "Hello from the right."),
    ]
    screen = [p for p in pieces(chunker, els) if p.metadata.get("stream") == "screen"]
    assert screen[0].metadata["thumbnail"] == "f1.jpg"


def ocr_block(text, y, confidence, words, i=0):
    meta = {"block": i, "kind": "ocr", "confidence": confidence, "words": words, "dpi": 300}
    return Element(text, page=1, bbox=(50.0, y, 300.0, y + 20), metadata=meta)


def test_ocr_confidence_reaches_the_chunk_weighted_by_words(chunker):
    """Tesseract's mean word confidence per paragraph becomes the chunk's, so a query
    can find (or leave out) text that was read badly."""
    els = [
        ocr_block("Invoice number 4711 was paid.", 100, 90.0, 5, i=0),
        ocr_block("Smudged line.", 130, 40.0, 2, i=1),
        block("A line from the text layer.", 1, 160, i=2),
    ]
    (piece,) = pieces(chunker, els)
    assert piece.metadata["kinds"] == ["ocr", "text"]
    assert piece.metadata["confidence"] == pytest.approx((90.0 * 5 + 40.0 * 2) / 7, abs=0.05)
    assert piece.metadata["ocr_words"] == 7
    (plain,) = pieces(chunker, [block("No OCR here.", 1, 100)])
    assert "confidence" not in plain.metadata


def test_screen_text_confidence_reaches_its_chunk(chunker):
    els = [
        segment("Quarterly revenue", 0.0, 4.0, stream="screen", confidence=92.0),
        segment("grew by ten percent", 4.0, 8.0, stream="screen", confidence=62.0),
        segment("Hello everyone.", 0.0, 2.0, stream="speech"),
    ]
    out = {p.metadata["stream"]: p for p in pieces(chunker, els)}
    # weighted by words read: 2 at 92, 4 at 62
    assert out["screen"].metadata["confidence"] == pytest.approx(72.0)
    assert "confidence" not in out["speech"].metadata
