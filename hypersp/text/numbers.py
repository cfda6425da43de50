"""Reading Arabic numerals as Hangul (Sino-Korean), for training targets and scoring.

Rules (documented because a transcript convention is a modelling choice):

- A plain integer is read in Sino-Korean with the 4-digit grouping of Korean:
  ``1922 -> 천구백이십이``, ``10000 -> 만``, ``20500 -> 이만오백``, ``100000000 -> 일억``.
  As in speech, ``일`` is dropped before 십/백/천 and before a bare 만 (``만`` not ``일만``), kept
  before 억/조/경.
- ``0`` alone is ``영``. A numeral that starts with ``0`` and has more digits (phone numbers,
  codes: ``010``, ``007``) is read digit by digit with ``공`` for zero: ``공일공``.
- Thousands separators are removed first (``1,000 -> 천``); a decimal is read
  ``integer + 점 + digits``: ``3.14 -> 삼점일사``.
- Integers of more than 20 digits are read digit by digit.
- ``%`` right after a number is ``퍼센트``.
- Digits inside Latin words are read the same way (``MP3 -> MP삼``); the dual notation
  ``(MP3)/(엠피 쓰리)`` gives the spoken form where the transcriber wrote one.

Native Korean numerals (세 가지, 두 잔, 한 번) depend on the counter and cannot be inferred
reliably from digits. The KsponSpeech/AIHub dual notation ``(3가지)/(세 가지)`` carries the
transcriber's reading; :mod:`hypersp.text.kspon` uses that pronunciation side when digits are
converted, and this module only handles digits that have no such reading.
"""
from __future__ import annotations

import re

DIGITS = "영일이삼사오육칠팔구"
_PHONE_DIGITS = "공일이삼사오육칠팔구"
_SMALL_UNITS = ["", "십", "백", "천"]
_BIG_UNITS = ["", "만", "억", "조", "경"]

# 1,234,567 (thousands separators) | 3.14 | 1922 ; optional % sign after
_NUMBER = re.compile(r"(?<![0-9.,])([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?(\s*%)?")
_DIGIT_RUN = re.compile(r"[0-9]+")


def _read_group(n: int) -> str:
    """Read 0 < n < 10000 (one 4-digit group)."""
    out = []
    for power in (3, 2, 1, 0):
        d = (n // 10**power) % 10
        if d == 0:
            continue
        if power > 0 and d == 1:
            out.append(_SMALL_UNITS[power])          # 십, 백, 천 without 일
        else:
            out.append(DIGITS[d] + _SMALL_UNITS[power])
    return "".join(out)


def read_integer(digits: str) -> str:
    """Sino-Korean reading of a string of ASCII digits (see module rules)."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"read_integer expects ASCII digits, got {digits!r}")
    if len(digits) > 1 and digits[0] == "0":
        return "".join(_PHONE_DIGITS[int(c)] for c in digits)
    if len(digits) > 20:
        return "".join(DIGITS[int(c)] for c in digits)
    n = int(digits)
    if n == 0:
        return DIGITS[0]
    out = []
    group_index = 0
    while n > 0:
        n, group = divmod(n, 10000)
        if group:
            word = _read_group(group)
            if group_index == 1 and group == 1:
                word = ""                              # 만, not 일만
            out.append(word + _BIG_UNITS[group_index])
        group_index += 1
    return "".join(reversed(out))


def read_number(integer: str, fraction: str = "") -> str:
    """``integer`` may contain thousands separators; ``fraction`` is the digits after the point."""
    text = read_integer(integer.replace(",", ""))
    if fraction:
        text += "점" + "".join(DIGITS[int(c)] for c in fraction)
    return text


def read_numbers(text: str) -> str:
    """Replace every numeral in ``text`` by its Hangul reading (``%`` -> 퍼센트)."""

    def repl(m: re.Match) -> str:
        word = read_number(m.group(1), m.group(2) or "")
        if m.group(3):
            word += "퍼센트"
        return word

    text = _NUMBER.sub(repl, text)
    # leftovers such as the "3" of "1.2.3" (a version, not a decimal): plain integer reading
    return _DIGIT_RUN.sub(lambda m: read_integer(m.group()), text)
