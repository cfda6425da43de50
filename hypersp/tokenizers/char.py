"""Character tokenizer: one token per Korean syllable (or any other character) plus space.

Vocabulary: ``<blank>``, ``" "`` (the word boundary, stored as a literal space), then every
non-space character seen in ``fit(texts)`` at least ``min_count`` times, sorted by code point
so the same texts always give the same ids. Text is NFC-normalized (decomposed Hangul from
macOS file names becomes syllables) and whitespace runs collapse to one space before
encoding. Characters not in the vocabulary are dropped and counted (``unknown_count``).
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, List

from hypersp.registry import register_tokenizer
from hypersp.text.hangul import normalize_spaces
from hypersp.tokenizers.base import BLANK, SPACE, Tokenizer, TokenizerConfig


@dataclass
class CharTokenizerConfig(TokenizerConfig):
    name: str = "char"
    min_count: int = 1  # characters seen fewer times in fit() stay out of the vocabulary


def normalize_text(text: str) -> str:
    return normalize_spaces(unicodedata.normalize("NFC", text))


@register_tokenizer("char", config=CharTokenizerConfig)
class CharTokenizer(Tokenizer):
    def __init__(self, cfg: Any = None):
        super().__init__(cfg if cfg is not None else CharTokenizerConfig())
        self._set_tokens([BLANK, SPACE])

    def fit(self, texts: Iterable[str]) -> None:
        counts: Counter = Counter()
        for text in texts:
            counts.update(normalize_text(text).replace(SPACE, ""))
        min_count = int(getattr(self.cfg, "min_count", 1))
        chars = sorted(c for c, n in counts.items() if n >= min_count)
        self._set_tokens([BLANK, SPACE] + chars)

    def split(self, text: str) -> List[str]:
        return list(normalize_text(text))

    def join(self, symbols: List[str]) -> str:
        return normalize_spaces("".join(symbols))
