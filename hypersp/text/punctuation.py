"""Sentence-final punctuation for display, from Korean sentence endings.

``punctuate(text) -> text`` adds ``?`` after a question ending and ``.`` after any other complete
sentence; text that already ends in a mark, or does not end in a recognizable final ending
(a fragment, a live partial, a bare noun), is returned unchanged. Only the end of ``text`` is looked at: a
transcript segment is taken to be one sentence.

Questions: ``…까요`` (할까요), ``…나요`` (있나요), ``…ㅂ니까`` (맞으십니까, 합니까; not 하니까), ``…가요``
(있으신가요), ``…는지요``, ``…시겠어요`` (a polite request: 말씀해 주시겠어요), ``…냐``, and a sentence
with a question word (어떻게, 왜, 언제, 몇, 혹시 ...) before a ``…요`` ending (``어떻게 해야 돼요``).
Statements: ``…니다``, ``…세요``, ``…어요/아요/해요/에요/예요``, ``…다``, ``…죠``, ``…네요``, ``…게요``, ``…시오``.

The rules are a registered component (``@register_punctuator("korean_endings")``) so that a trained
punctuation model can replace them by name, with the same ``__call__(text) -> text``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from hypersp.registry import PUNCTUATORS, register_punctuator

_QUESTION = re.compile(r"(까요|나요|니까|가요|는지요|시겠어요|냐)$")
_STATEMENT = re.compile(r"(니다|세요|시오|어요|아요|해요|에요|예요|돼요|워요|와요|네요|게요|고요|라요|죠|다|요|음|함|임)$")
_QUESTION_WORDS = ("어떻게", "어떤", "무엇", "뭐", "뭘", "왜", "언제", "어디", "어디서", "어디로", "누가", "누구",
                   "몇", "얼마", "얼마나", "혹시")
_MARK = re.compile(r"[.?!…。？！]$")


@dataclass
class EndingPunctuatorConfig:
    name: str = "korean_endings"
    question_words: bool = True   # 어떻게 해야 돼요 -> ? (a question word and a polite 요 ending)


@register_punctuator("korean_endings", config=EndingPunctuatorConfig)
class EndingPunctuator:
    """Rule-based sentence-final marks from Korean endings."""

    def __init__(self, cfg: Optional[EndingPunctuatorConfig] = None):
        self.cfg = cfg or EndingPunctuatorConfig()

    def mark(self, text: str) -> str:
        """The mark the sentence ``text`` should end with: ``?``, ``.`` or ``''`` (none: not a sentence end)."""
        text = text.strip()
        if not text or _MARK.search(text):
            return ""
        last = text.split()[-1]
        if _QUESTION.search(last):
            # 니까 is a question after ㅂ (합니까, 습니까, 십니까); 하니까/있으니까 end a reason clause
            if last.endswith("니까") and not (len(last) >= 3 and _hangul_b_final(last[-3])):
                return "."
            return "?"
        if self.cfg.question_words and last.endswith("요") and (
                any(w in _QUESTION_WORDS for w in text.split()[:-1])
                or last.startswith(("언제", "어디", "누구", "얼마", "무엇", "뭐"))):  # 언제세요, 얼마예요
            return "?"
        if _STATEMENT.search(last):
            return "."
        return ""

    def __call__(self, text: str) -> str:
        mark = self.mark(text)
        return text.rstrip() + mark if mark else text


def _hangul_b_final(ch: str) -> bool:
    """True if the syllable ``ch`` ends in ㅂ (십, 합, 입: the 니까 of a formal question follows it)."""
    return "가" <= ch <= "힣" and (ord(ch) - 0xAC00) % 28 == 17


_DEFAULT: Optional[EndingPunctuator] = None


def get_punctuator(name: str = "korean_endings", **overrides):
    """The registered punctuator ``name`` built from its config with ``overrides``."""
    cfg_cls = PUNCTUATORS.config_class(name)
    return PUNCTUATORS.get(name)(cfg_cls(name=name, **overrides))


def punctuate(text: str) -> str:
    """Add the sentence-final mark with the default ``korean_endings`` punctuator."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = EndingPunctuator()
    return _DEFAULT(text)
