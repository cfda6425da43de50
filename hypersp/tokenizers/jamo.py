"""Jamo tokenizer: Hangul syllables are written as conjoining jamo (initial/vowel/final).

Fixed vocabulary: ``<blank>``, ``" "``, 19 choseong (U+1100..), 21 jungseong (U+1161..),
27 jongseong (U+11A8..) — 69 tokens. Initial and final consonants are distinct symbols,
so :func:`~hypersp.text.hangul.compose` rebuilds syllables unambiguously at decode time.
``fit(texts)`` appends, sorted, every other character seen in the training text (digits,
Latin letters, punctuation, compatibility jamo such as ``ㅋ``) at least ``min_count`` times.
Text is NFC-normalized and whitespace collapsed before encoding; unknown characters are
dropped and counted (``unknown_count``).
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, List

from hypersp.registry import register_tokenizer
from hypersp.text.hangul import CHOSEONG, JONGSEONG, JUNGSEONG, compose, decompose, normalize_spaces
from hypersp.tokenizers.base import BLANK, SPACE, Tokenizer, TokenizerConfig

JAMO_TOKENS: List[str] = [BLANK, SPACE] + CHOSEONG + JUNGSEONG + JONGSEONG


@dataclass
class JamoTokenizerConfig(TokenizerConfig):
    name: str = "jamo"
    min_count: int = 1  # extra (non-jamo) characters seen fewer times in fit() are left out


@register_tokenizer("jamo", config=JamoTokenizerConfig)
class JamoTokenizer(Tokenizer):
    def __init__(self, cfg: Any = None):
        super().__init__(cfg if cfg is not None else JamoTokenizerConfig())
        self._set_tokens(JAMO_TOKENS)

    @staticmethod
    def _normalize(text: str) -> str:
        # NFC first so decomposed input (NFD) becomes syllables and then canonical jamo
        return decompose(normalize_spaces(unicodedata.normalize("NFC", text)))

    def fit(self, texts: Iterable[str]) -> None:
        fixed = set(JAMO_TOKENS)
        counts: Counter = Counter()
        for text in texts:
            counts.update(c for c in self._normalize(text) if c not in fixed)
        min_count = int(getattr(self.cfg, "min_count", 1))
        extras = sorted(c for c, n in counts.items() if n >= min_count)
        self._set_tokens(JAMO_TOKENS + extras)

    def load_state_dict(self, state):
        if "tokens" in state and list(state["tokens"][: len(JAMO_TOKENS)]) != JAMO_TOKENS:
            raise ValueError("JamoTokenizer.load_state_dict: the saved tokens do not start with the fixed jamo vocabulary")
        super().load_state_dict(state)

    def split(self, text: str) -> List[str]:
        return list(self._normalize(text))

    def join(self, symbols: List[str]) -> str:
        return normalize_spaces(compose("".join(symbols)))
