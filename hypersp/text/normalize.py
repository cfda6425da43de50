"""Text normalizers: one for training targets, a separate one for scoring.

``get_text_normalizer(name)`` returns ``Callable[[str], str]`` used on manifest text to make
training targets; ``get_scoring_normalizer(name)`` returns the one applied to both reference
and hypothesis before CER/WER. Every score printed by hypersp names the scoring normalizer.

Training-target normalizers (``task.text_normalizer``):

- ``basic``: NFC, whitespace collapsed. Keeps every character.
- ``korean``: ETRI annotations resolved (spelling side, :mod:`hypersp.text.kspon`), digits read
  as Hangul by hypersp's one numeral reader (:mod:`hypersp.text.numbers`: ``3시`` -> ``세 시``,
  ``35000원`` -> ``삼만 오천 원``, ``6월`` -> ``유월``, ``010-1234-5678`` -> ``공일공 일이삼사 오육칠팔``; the
  synthetic generator writes numbers the same way, so generated text is left as it is), punctuation and
  symbols removed, Latin upper-cased, whitespace collapsed. Idempotent, so it is safe on text
  ``hypersp-prepare`` already normalized.
- ``korean_keep_digits``: the same, digits (and ``%``) kept as written.
- ``english``: lower-cased, only ``a-z``, apostrophe and space kept (LibriSpeech).

Scoring normalizers (``hypersp-eval --scoring-normalizer``; reference and hypothesis alike):

- ``basic``: NFC, whitespace collapsed.
- ``korean_cer``: as ``korean``: tags out, spelling side, digits read, punctuation out, NFC,
  Latin case folded. Reading digits on both sides makes ``70%`` and ``칠십 퍼센트`` score equal.
- ``korean_cer_keep_digits``: digits kept; closest to ESPnet's KsponSpeech scoring (spelling
  side, punctuation removed).
- ``english``: as the ``english`` target normalizer.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable, Dict

from hypersp.registry import (SCORING_NORMALIZERS as SCORING_NORMALIZER_REGISTRY, TEXT_NORMALIZERS as
                              TEXT_NORMALIZER_REGISTRY, register_scoring_normalizer, register_text_normalizer)

from hypersp.text.kspon import MalformedTranscript, clean_etri, fold_fullwidth
from hypersp.text.numbers import read_numbers

_SPACES = re.compile(r"\s+")
_BRACKETS = re.compile(r"[()]")

PUNCTUATION_POLICIES = ("remove", "keep")


def basic(text: str) -> str:
    """NFC, collapse whitespace, strip. Keeps every character."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _is_symbol(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PS"


def normalize_korean(text: str, keep_digits: bool = False, punctuation: str = "remove") -> str:
    """Numbers, punctuation, case and whitespace of annotation-free Korean text.

    - ``keep_digits=False``: numerals read as Hangul by :func:`hypersp.text.numbers.read_numbers`
      (``1922년 -> 천구백이십이 년``, ``3시 -> 세 시``, ``70% -> 칠십 퍼센트``); ``True`` keeps them (and
      keeps ``%`` after a digit).
    - ``punctuation="remove"``: every Unicode punctuation or symbol character (``.,?!'"~·…#``
      and the like) becomes a space; ``"keep"`` leaves them.
    - Latin letters are upper-cased (KsponSpeech mixes ``pc``/``PC``); full-width forms folded.
    """
    if punctuation not in PUNCTUATION_POLICIES:
        raise ValueError(f"punctuation={punctuation!r}; choose one of {', '.join(PUNCTUATION_POLICIES)}")
    text = fold_fullwidth(unicodedata.normalize("NFC", text))
    if not keep_digits:
        text = read_numbers(text)
    if punctuation == "remove":
        out = []
        for i, ch in enumerate(text):
            if _is_symbol(ch) and not (ch == "%" and keep_digits and i > 0 and text[i - 1].isdigit()):
                out.append(" ")
            else:
                out.append(ch)
        text = "".join(out)
    text = "".join(c.upper() if "a" <= c <= "z" else c for c in text)
    return _SPACES.sub(" ", text).strip()


def etri_to_text(
    raw: str,
    side: str = "spelling",
    keep_digits: bool = False,
    punctuation: str = "remove",
    unk: str = "",
    fluent: bool = False,
) -> str:
    """Raw ETRI-annotated transcript -> training text. Raises ``MalformedTranscript``."""
    text, _ = clean_etri(raw, side=side, keep_digits=keep_digits, unk=unk, fluent=fluent)
    return normalize_korean(text, keep_digits=keep_digits, punctuation=punctuation)


def _korean(keep_digits: bool) -> Callable[[str], str]:
    def normalize(text: str) -> str:
        try:
            return etri_to_text(text, keep_digits=keep_digits)
        except MalformedTranscript:
            # A normalizer must not stop training or scoring on one odd line: drop the brackets.
            return etri_to_text(_BRACKETS.sub(" ", text), keep_digits=keep_digits)

    normalize.__name__ = "korean_keep_digits" if keep_digits else "korean"
    return normalize


_ENGLISH_DROP = re.compile(r"[^a-z' ]+")


def english(text: str) -> str:
    """Lower-case; keep ``a-z``, apostrophe and space (LibriSpeech's alphabet)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACES.sub(" ", _ENGLISH_DROP.sub(" ", text)).strip()


korean = _korean(keep_digits=False)
korean_keep_digits = _korean(keep_digits=True)

# Normalizers are registered components (the one Registry class): a plugin task brings its own with
# ``@register_text_normalizer("mine")`` / ``@register_scoring_normalizer("mine_cer")`` on a ``str -> str`` function.
for _name, _fn in (("basic", basic), ("korean", korean), ("korean_keep_digits", korean_keep_digits),
                   ("english", english)):
    register_text_normalizer(_name)(_fn)
for _name, _fn in (("basic", basic), ("korean_cer", korean), ("korean_cer_keep_digits", korean_keep_digits),
                   ("english", english)):
    register_scoring_normalizer(_name)(_fn)

TEXT_NORMALIZERS = TEXT_NORMALIZER_REGISTRY
SCORING_NORMALIZERS = SCORING_NORMALIZER_REGISTRY


def get_text_normalizer(name: str) -> Callable[[str], str]:
    """The registered text normalizer ``name`` (training targets); an unknown name lists the choices."""
    return TEXT_NORMALIZER_REGISTRY.get(name)


def get_scoring_normalizer(name: str) -> Callable[[str], str]:
    """The registered scoring normalizer ``name`` (both sides before CER/WER)."""
    return SCORING_NORMALIZER_REGISTRY.get(name)
