"""The shared audio corpus (``../shared/corpus/audio``, next to the repository) and the
word error rate the audio tests measure against its reference transcripts."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
AUDIO = CORPUS / "audio"
VIDEO = CORPUS / "video"


def require(path: Path) -> Path:
    """``path``, or a skip that says where the corpus should be."""
    if not path.exists():
        pytest.skip(f"shared corpus file not found: {path} (it sits next to the repository in CI)")
    return path


@cache
def references() -> dict[str, dict[str, Any]]:
    """transcripts.json's items by file name relative to ``audio/`` (``fleurs/...ogg``)."""
    data = json.loads(require(AUDIO / "transcripts.json").read_text(encoding="utf-8"))
    return {item["file"].removeprefix("audio/"): item for item in data["items"]}


def _normalise() -> object:
    import jiwer

    return jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            # punctuation becomes a space: "whole-number" reads as "whole number", "3:2" as
            # "3 2" (jiwer's RemovePunctuation would make them "wholenumber" and "32")
            jiwer.SubstituteRegexes({r"[^\w\s]": " "}),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, reference words) after the light normalisation transcripts.json asks
    for: lower case, punctuation stripped (to a space), whitespace collapsed."""
    import jiwer

    normalise = _normalise()
    out = jiwer.process_words(
        reference, hypothesis, reference_transform=normalise, hypothesis_transform=normalise
    )
    errors = out.substitutions + out.deletions + out.insertions
    return errors, out.hits + out.substitutions + out.deletions


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate, normalised as :func:`word_errors` says."""
    errors, words = word_errors(reference, hypothesis)
    return errors / words
