"""The model's fast tokenizer through ``tokenizers`` alone (no transformers, no torch).

sentence-transformers tokenizes with transformers' fast tokenizer, which is this same
``tokenizer.json`` run by the same Rust library; transformers adds only the call
convention. :class:`FastTokenizer` gives that convention to the chunker (so chunk
boundaries, and with them chunk ids, do not depend on the backend) and batches for the
ONNX model truncated and padded exactly as sentence-transformers does (longest first at
``max_seq_length`` word pieces, padded to the longest text of the batch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class FastTokenizer:
    """``tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, ...)``,
    as :class:`docframe.pipelines.chunking.Chunker` calls it, plus :meth:`batch`."""

    def __init__(self, path: Path, max_length: int, *, lowercase: bool = False) -> None:
        from tokenizers import Tokenizer

        # two instances: truncation and padding are state of a Tokenizer, and the
        # chunker must see every word piece of a whole document
        self._plain = Tokenizer.from_file(str(path))
        self._plain.no_truncation()
        self._plain.no_padding()
        self._model = Tokenizer.from_file(str(path))
        self._model.enable_truncation(max_length, strategy="longest_first")
        pad_id = self._model.token_to_id("[PAD]")
        padding = self._model.padding or {}
        self._model.enable_padding(
            pad_id=padding.get("pad_id", pad_id or 0),
            pad_token=padding.get("pad_token", "[PAD]"),
            pad_type_id=padding.get("pad_type_id", 0),
            direction=padding.get("direction", "right"),
        )
        if lowercase:
            for tok in (self._plain, self._model):
                _lowercase_first(tok)
        self.max_length = max_length

    def __call__(
        self, text: str, *, add_special_tokens: bool = True, **_options: Any
    ) -> dict[str, list[Any]]:
        """One text's ``input_ids`` and ``offset_mapping`` (character spans), untruncated;
        the other keyword options of transformers' call are accepted and have no effect."""
        encoding = self._plain.encode(text, add_special_tokens=add_special_tokens)
        return {"input_ids": encoding.ids, "offset_mapping": encoding.offsets}

    def batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64, one row per text)."""
        encodings = self._model.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }


def _lowercase_first(tokenizer: Any) -> None:
    """sentence-transformers' ``do_lower_case``: a Lowercase normalizer before the model's
    own, unless it has one (the same rule, so the same word pieces and offsets)."""
    from tokenizers.normalizers import Lowercase, Sequence

    current = tokenizer.normalizer
    if isinstance(current, Lowercase) or (
        isinstance(current, Sequence) and any(isinstance(n, Lowercase) for n in current)
    ):
        return
    chain = [Lowercase()]
    if isinstance(current, Sequence):
        chain += list(current)
    elif current is not None:
        chain.append(current)
    tokenizer.normalizer = Sequence(chain)
