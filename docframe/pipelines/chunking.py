"""Token-aware chunking with overlap, using the embedding model's own tokenizer.

Counting characters or words guesses at what the model sees; counting its word
pieces guarantees each chunk fits the model's window and nothing is truncated
silently. Windows end at the best natural break (paragraph, then sentence, then
line) in their last 40%, so chunks read as whole thoughts, and overlap by a few
tokens so a sentence cut at a boundary is still found whole in one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Span:
    start: int  # character offsets into the element text
    end: int
    n_tokens: int


def _break_strength(text: str, prev_end: int, next_start: int) -> int:
    gap = text[prev_end:next_start]
    if "\n\n" in gap or "\n\r\n" in gap:
        return 3
    if text[prev_end - 1 : prev_end] in (".", "!", "?", ":", ";") and gap:
        return 2
    if "\n" in gap:
        return 1
    return 0


class Chunker:
    def __init__(self, tokenizer: Any, max_tokens: int = 200, overlap: int = 32) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap = overlap

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self.tokenizer(
            text,
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            verbose=False,
        )
        return [tuple(o) for o in enc["offset_mapping"] if o[1] > o[0]]

    def split(self, text: str) -> list[Span]:
        offs = self.offsets(text)
        n = len(offs)
        if n == 0:
            return []
        spans: list[Span] = []
        i = 0
        while i < n:
            j = min(i + self.max_tokens, n)
            if j < n:
                j = self._best_break(text, offs, i, j)
            spans.append(Span(offs[i][0], offs[j - 1][1], j - i))
            if j >= n:
                break
            i = max(j - self.overlap, i + 1)
        return spans

    def _best_break(self, text: str, offs: list[tuple[int, int]], i: int, j: int) -> int:
        """Latest token boundary in the window's tail with the strongest break."""
        floor = i + max(1, int(self.max_tokens * 0.6))
        best, best_strength = j, 0
        for t in range(j, floor, -1):  # boundary between token t-1 and t
            strength = _break_strength(text, offs[t - 1][1], offs[t][0])
            if strength > best_strength:
                best, best_strength = t, strength
                if strength == 3:
                    break
        return best
