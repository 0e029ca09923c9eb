"""Report tokenisation for the text encoder: WordPiece via the `tokenizers` package, fixed length, and
truncation that keeps the END of a long report (the impression) rather than its beginning.

Training and the plugin both call this, so the token ids a model was trained on are the ones it gets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer


@dataclass(frozen=True)
class Tokens:
    """Token ids and attention mask, both int64 (batch, max_tokens)."""

    ids: np.ndarray
    mask: np.ndarray


class ReportTokenizer:
    """A `tokenizer.json` (BERT-style, [CLS] ... [SEP]) padded/truncated to ``max_tokens``."""

    def __init__(self, tokenizer_json: str | os.PathLike, max_tokens: int) -> None:
        self.max_tokens = int(max_tokens)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.enable_truncation(self.max_tokens, direction="left")
        self._tokenizer.enable_padding(length=self.max_tokens, pad_id=0, pad_token="[PAD]")

    def __call__(self, texts: list[str]) -> Tokens:
        """Tokenise ``texts``; an empty string (a missing report) gives just [CLS] [SEP]."""
        encodings = self._tokenizer.encode_batch([text.strip() for text in texts])
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        return Tokens(ids=ids, mask=mask)
