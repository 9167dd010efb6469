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
