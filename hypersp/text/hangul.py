"""Hangul syllables <-> conjoining jamo, by Unicode arithmetic (no tables, no dependencies).

A precomposed syllable U+AC00..U+D7A3 is ``0xAC00 + (L * 21 + V) * 28 + T`` with choseong
index L (19), jungseong index V (21) and jongseong index T (0 = none, 1..27).
:func:`decompose` writes it as conjoining jamo — choseong U+1100..U+1112, jungseong
U+1161..U+1175 and, when present, jongseong U+11A8..U+11C2 — and :func:`compose` reverses it.
These three blocks are distinct code points, so a jamo sequence composes unambiguously
(initial ㄱ U+1100 is not final ㄱ U+11A8).

Everything else passes through unchanged, including compatibility jamo such as ``ㄱ``
(U+3131, as typed in "ㅋㅋ"), Latin, digits and emoji. ``compose(decompose(s)) == s`` for any
``s`` that does not itself contain conjoining-jamo sequences (which would be composed).
"""
from __future__ import annotations

import re
from typing import List

SYLLABLE_BASE = 0xAC00
SYLLABLE_LAST = 0xD7A3
CHOSEONG_BASE = 0x1100
JUNGSEONG_BASE = 0x1161
JONGSEONG_BASE = 0x11A7  # index 0 = "no final"; 0x11A8 is the first real jongseong

NUM_CHOSEONG = 19
NUM_JUNGSEONG = 21
NUM_JONGSEONG = 27  # excluding "none"

CHOSEONG: List[str] = [chr(CHOSEONG_BASE + i) for i in range(NUM_CHOSEONG)]
JUNGSEONG: List[str] = [chr(JUNGSEONG_BASE + i) for i in range(NUM_JUNGSEONG)]
JONGSEONG: List[str] = [chr(JONGSEONG_BASE + 1 + i) for i in range(NUM_JONGSEONG)]



def is_choseong(ch: str) -> bool:
    return CHOSEONG_BASE <= ord(ch) < CHOSEONG_BASE + NUM_CHOSEONG


def is_jungseong(ch: str) -> bool:
    return JUNGSEONG_BASE <= ord(ch) < JUNGSEONG_BASE + NUM_JUNGSEONG


def is_jongseong(ch: str) -> bool:
    return JONGSEONG_BASE < ord(ch) <= JONGSEONG_BASE + NUM_JONGSEONG


def decompose(text: str) -> str:
    """Replace every precomposed Hangul syllable by its 2 or 3 conjoining jamo."""
    out = []
    for ch in text:
        code = ord(ch) - SYLLABLE_BASE
        if 0 <= code <= SYLLABLE_LAST - SYLLABLE_BASE:
            lead, rest = divmod(code, NUM_JUNGSEONG * (NUM_JONGSEONG + 1))
            vowel, tail = divmod(rest, NUM_JONGSEONG + 1)
            out.append(chr(CHOSEONG_BASE + lead))
            out.append(chr(JUNGSEONG_BASE + vowel))
            if tail:
                out.append(chr(JONGSEONG_BASE + tail))
        else:
            out.append(ch)
    return "".join(out)


def compose(text: str) -> str:
    """Compose choseong + jungseong (+ jongseong) runs into syllables; never raises.

    Ill-formed input (a choseong without a vowel, a stray jungseong or jongseong — as a CTC
    model may emit) is kept as the conjoining jamo it is.
    """
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if is_choseong(ch) and i + 1 < n and is_jungseong(text[i + 1]):
            code = SYLLABLE_BASE + ((ord(ch) - CHOSEONG_BASE) * NUM_JUNGSEONG + ord(text[i + 1]) - JUNGSEONG_BASE) * (
                NUM_JONGSEONG + 1
            )
            i += 2
            if i < n and is_jongseong(text[i]):
                code += ord(text[i]) - JONGSEONG_BASE
                i += 1
            out.append(chr(code))
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_SPACES = re.compile(r"\s+")


def normalize_spaces(text: str) -> str:
    """Collapse every run of whitespace (spaces, tabs, newlines, NBSP, ...) to one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()
