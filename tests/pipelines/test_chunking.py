import pytest

from docframe.pipelines.chunking import Chunker
from docframe.pipelines.embedding import Embedder
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def tokenizer():
    return Embedder().tokenizer


def test_chunks_fit_the_window_overlap_and_cover_the_text(tokenizer):
    text = (SAMPLE / "sourdough.md").read_text()
    chunker = Chunker(tokenizer, max_tokens=64, overlap=8)
    spans = chunker.split(text)
    assert len(spans) > 3
    for span in spans:
        n_real = len(tokenizer(text[span.start : span.end], add_special_tokens=False)["input_ids"])
        assert span.n_tokens <= 64
        assert n_real <= 64 + 2  # re-tokenising a slice may merge at most the edge pieces
    for a, b in zip(spans, spans[1:], strict=False):
        assert b.start < a.end, "consecutive chunks overlap"
        assert b.start > a.start, "chunks advance"
    assert spans[0].start == len(text) - len(text.lstrip())
    assert spans[-1].end == len(text.rstrip())


def test_chunks_prefer_paragraph_breaks(tokenizer):
    para = "This sentence has several plain words in it. " * 6
    text = "\n\n".join([para.strip()] * 6)
    spans = Chunker(tokenizer, max_tokens=120, overlap=0).split(text)
    assert len(spans) > 1
    for span in spans[:-1]:
        assert text[span.end : span.end + 2] == "\n\n"


def test_short_and_blank_text(tokenizer):
    chunker = Chunker(tokenizer, max_tokens=50, overlap=5)
    assert chunker.split("   ") == []
    (only,) = chunker.split("a few words")
    assert (only.start, only.end) == (0, len("a few words"))
