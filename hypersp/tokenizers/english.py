"""English character tokenizer: the classic 29-symbol LibriSpeech CTC vocabulary.

``<blank>``, ``" "``, ``a``..``z``, ``'`` — fixed, so ``fit`` does nothing. Input is lowercased,
typographic apostrophes (’ ‘) become ``'``, whitespace runs collapse to one space; any other
character (digits, punctuation) is dropped and counted in ``unknown_count``.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, List

from hypersp.registry import register_tokenizer
from hypersp.text.hangul import normalize_spaces
from hypersp.tokenizers.base import BLANK, SPACE, Tokenizer, TokenizerConfig

ENGLISH_TOKENS: List[str] = [BLANK, SPACE] + list(string.ascii_lowercase) + ["'"]


@dataclass
class EnglishCharTokenizerConfig(TokenizerConfig):
    name: str = "english_char"


@register_tokenizer("english_char", config=EnglishCharTokenizerConfig)
class EnglishCharTokenizer(Tokenizer):
    def __init__(self, cfg: Any = None):
        super().__init__(cfg if cfg is not None else EnglishCharTokenizerConfig())
        self._set_tokens(ENGLISH_TOKENS)

    def split(self, text: str) -> List[str]:
        text = text.replace("\u2019", "'").replace("\u2018", "'")
        return list(normalize_spaces(text.lower()))

    def join(self, symbols: List[str]) -> str:
        return normalize_spaces("".join(symbols))
