"""Inverse text normalization (ITN) for Korean: the spoken form hypersp's models write -> written form.

``교재 삼십이 쪽을 펴 주세요`` -> ``교재 32쪽을 펴 주세요``, ``오후 세 시 삼십 분`` -> ``오후 3시 30분``,
``공일공 일이삼사 오육칠팔`` -> ``010-1234-5678``, ``오만 원입니다`` -> ``5만 원입니다``.

It inverts hypersp's one numeral reader (:mod:`hypersp.text.numbers`), which the ``korean`` normalizer reads
digits with and the sentence generator (:mod:`hypersp.prepare.synthetic.korean_text`) writes numbers with:

- Sino-Korean cardinals (canonical readings only: ``삼십이``, ``천오백``, ``만``, ``일억``; ``일십`` or
  ``이사`` are not numbers) are converted **only before a counter or unit** (쪽, 원, 년, 월, 일, 분, 초,
  층, 호, 번, 장, 점, 주, 도, 세, 개월, 영업일, 퍼센트, 킬로미터 ...), with the particles and copula that
  follow kept: ``삼 년입니다`` -> ``3년입니다``. A numeral without a counter stays a word.
- Groups of 만/억, spoken apart (``삼만 오천 원``), are one number. Below 10,000 a number is written in
  digits (``3500원``); from 10,000 on, 만/억 stay as words (``3만 5000원``, ``5만 원``) as Korean
  newspapers write amounts; ``large_numbers="digits"`` writes ``35,000원`` instead.
- Native numerals before native counters (시, 시간, 명, 개, 가지, 살, 잔, 권, 대, 마리, 병, 곳, 배):
  ``세 시`` -> ``3시``, ``두 명`` -> ``2명``, ``스무 살`` -> ``20살``. ``한 번``/``두 번`` (times, an idiom)
  and ordinals (``첫 번째``, ``두 번째``) are left as words: Korean prose writes them so.
  ``세 분`` (honorific persons) stays: ``3분`` would read as minutes.
- Dates: ``이천이십육 년 삼월 이일`` -> ``2026년 3월 2일`` (유월 -> 6월, 시월 -> 10월). A month converts
  before a day or after a year; a day (``이일``) only after a month. Times: ``오후 세 시 삼십 분`` ->
  ``오후 3시 30분``, ``세 시 반`` -> ``3시 반``.
- Phone and account numbers read digit by digit: a run of digit-syllable words (공/영 = 0) converts when it
  starts with 공 and has at least 7 digits (``010-1234-5678``, groups joined by ``-``), or right after a
  word that announces a number (번호, 뒷자리, 앞자리, 연락처, 계좌 ...): ``뒷자리 일이삼사`` -> ``뒷자리 1234``.
- Percent: ``삼십 퍼센트`` -> ``30%``; decimals: ``삼 점 오`` -> ``3.5`` (``점`` as its own word, followed by a
  word of digit syllables).

Ambiguity: where a word is also an ordinary word, it is left alone. ``이`` (this) is not converted before
counters that can follow a demonstrative (``이 쪽``, ``이 번``, ``이 분``, ``이 점``, ``이 장``, ``이 일``,
``이 주``, ``이 층`` ...), except ``이 분`` right after an hour; a single-syllable Sino numeral is never read
before a native counter (``사 명``), and a counter glued to its numeral (``삼십이쪽``, as the ``korean``
normalizer writes it) converts only when the numeral has two or more syllables (``이쪽``, ``사원``, ``구분``
stay). So ``이 문제는``, ``일을 했습니다``, ``사 측에서`` are unchanged.

Round trip: the ``korean`` normalizer reads the written form back with the same reader, so
``korean(itn(x)) == x``, spaces included, on every generated sentence (``3시`` -> ``세 시``, ``6월`` -> ``유월``,
``010-1234-5678`` -> ``공일공 일이삼사 오육칠팔``, ``3만 5000원`` -> ``삼만 오천 원``). Readings ITN accepts but
the reader does not write come back in the reader's form: ``삼십 명`` -> ``30명`` -> ``서른 명``, and ``육월``
(accepted for 6월) -> ``유월``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import List, Optional, Tuple

from hypersp.registry import ITNS, register_itn
from hypersp.text.numbers import MONTHS, NUMBER_CUES, SINO_COUNTERS, SUFFIX as _SUFFIX, sino
from hypersp.text.numbers import split_counter as _split_counter

# --------------------------------------------------------------------------- numerals

_SINO_DIGIT = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9}
_SINO_SMALL = {"십": 10, "백": 100, "천": 1000}
_SINO_BIG = {"만": 10**4, "억": 10**8, "조": 10**12}
_SINO_CHARS = set(_SINO_DIGIT) | set(_SINO_SMALL) | set(_SINO_BIG)
_DIGIT_SYLLABLE = {"공": "0", "영": "0", **{k: str(v) for k, v in _SINO_DIGIT.items()}}

_NATIVE_UNITS = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9}
_NATIVE_TENS = {"열": 10, "스물": 20, "서른": 30, "마흔": 40, "쉰": 50, "예순": 60, "일흔": 70, "여든": 80,
                "아흔": 90}


def parse_sino(word: str) -> Optional[int]:
    """The value of a canonical Sino-Korean reading (``삼십이`` -> 32, ``만`` -> 10000), else None.

    Canonical means exactly what :func:`hypersp.text.numbers.sino` writes (its 만/억 groups spoken together
    or apart), so ``일십``, ``이사`` and ``만만`` are not numbers. ``영`` (0) is not accepted here (see the
    decimal rule).
    """
    if not word or any(c not in _SINO_CHARS for c in word):
        return None
    total, group, digit = 0, 0, None
    for c in word:
        if c in _SINO_DIGIT:
            if digit is not None:
                return None
            digit = _SINO_DIGIT[c]
        elif c in _SINO_SMALL:
            group += (1 if digit is None else digit) * _SINO_SMALL[c]
            digit = None
        else:
            group += digit or 0
            digit = None
            total += (group or 1) * _SINO_BIG[c]
            group = 0
    value = total + group + (digit or 0)
    return value if value and sino(value).replace(" ", "") == word else None


def parse_native(word: str) -> Optional[int]:
    """Attributive native numeral 1..99 (``세`` 3, ``스무`` 20, ``스물한`` 21, ``열두`` 12), else None."""
    if word == "스무":
        return 20
    if word in _NATIVE_UNITS:
        return _NATIVE_UNITS[word]
    for tens, value in _NATIVE_TENS.items():
        if word == tens and tens != "스물":
            return value
        if word.startswith(tens) and word[len(tens):] in _NATIVE_UNITS:
            return value + _NATIVE_UNITS[word[len(tens):]]
    return None


def _is_digit_word(word: str) -> bool:
    return bool(word) and all(c in _DIGIT_SYLLABLE for c in word)


def _digit_prefix(word: str) -> Optional[Tuple[str, str]]:
    """``word`` = digit syllables + particles/copula -> (digits, rest); the longest digit run wins."""
    for k in range(len(word), 0, -1):
        if _is_digit_word(word[:k]) and _SUFFIX.match(word[k:]):
            return word[:k], word[k:]
    return None


# --------------------------------------------------------------------------- counters and particles

# counters a large Sino number may also take (삼십 명, 백 개, 이십사 시간): 2+ syllables or >= 100
SINO_LARGE_COUNTERS = ("시간", "명", "개", "가지", "살", "대", "권", "마리", "병", "곳", "잔")
# the native counters ITN writes in digits: a subset of the reader's NATIVE_COUNTERS (ordinals such as
# 두 번째 and the rarer counters stay words)
ITN_NATIVE_COUNTERS = ("시간", "가지", "마리", "시", "명", "개", "살", "잔", "권", "대", "병", "곳", "배")
# after 이 (two / this) these counters read as "this ...": 이 쪽, 이 번, 이 분, 이 점
_THIS_COUNTERS = {"쪽", "번", "장", "점", "분", "주", "일", "도", "세", "층", "호", "월", "초", "차", "등", "위",
                  "회", "단계", "페이지"}


_MONTH_WORDS = {word: i + 1 for i, word in enumerate(MONTHS)}
_MONTH_WORDS.update({"육월": 6, "십월": 10})  # misreadings of 6월/10월 (older text, model output): accepted too


# --------------------------------------------------------------------------- configuration


@dataclass
class KoreanITNConfig:
    """Settings of the ``korean`` ITN (see the module docstring for each rule family)."""

    name: str = "korean"
    native: bool = True              # 세 시 -> 3시, 두 명 -> 2명
    irregular_months: bool = True    # 유월 -> 6월, 시월 -> 10월
    digit_sequences: bool = True     # 공일공 일이삼사 오육칠팔 -> 010-1234-5678
    percent_sign: bool = True        # 삼십 퍼센트 -> 30% (False: 30퍼센트)
    decimals: bool = True            # 삼 점 오 -> 3.5
    large_numbers: str = "mixed"     # mixed: 3만 5000원 | digits: 35,000원

    def __post_init__(self) -> None:
        if self.large_numbers not in ("mixed", "digits"):
            raise ValueError(f"large_numbers={self.large_numbers!r}; choose mixed or digits")


def _write_number(n: int, style: str) -> str:
    if n < 10**4:
        return str(n)
    if style == "digits" or n < 2 * 10**4:  # 1만 would read back 일만; 15,700 reads 만 오천칠백
        return f"{n:,}"
        return f"{n:,}"
    parts = []
    for value, unit in ((10**8, "억"), (10**4, "만"), (1, "")):
        group = n // value % 10000
        if group:
            parts.append(f"{group}{unit}")
    return " ".join(parts)


@register_itn("korean", config=KoreanITNConfig)
class KoreanITN:
    """Rule-based Korean ITN; ``KoreanITN(cfg)(text)`` -> written form. Words not matched are kept as is."""

    def __init__(self, cfg: Optional[KoreanITNConfig] = None):
        self.cfg = cfg or KoreanITNConfig()

    def __call__(self, text: str) -> str:
        words = text.split()
        out: List[str] = []
        i = 0
        while i < len(words):
            step, repl = self._match(words, i, out)
            if step:
                out.extend(repl)
                i += step
            else:
                out.append(words[i])
                i += 1
        return " ".join(out)

    # each matcher: (words consumed, replacement words) or (0, [])
    def _match(self, w: List[str], i: int, out: List[str]) -> Tuple[int, List[str]]:
        for m in (self._date, self._digits, self._decimal, self._sino, self._native):
            step, repl = m(w, i, out)
            if step:
                return step, repl
        return 0, []

    def _counter_text(self, number: str, counter: str, rest: str) -> str:
        if counter == "퍼센트" and self.cfg.percent_sign:
            return f"{number}%{rest}"
        if not number[-1].isdigit():  # 5만 원: a counter after a unit word is written apart
            return f"{number} {counter}{rest}"
        return f"{number}{counter}{rest}"

    # --- sino numbers (spoken groups joined) + counter
    def _sino_number(self, w: List[str], i: int) -> Tuple[int, Optional[int], str]:
        """Longest canonical Sino number starting at word i: (words used, value, last word's tail)."""
        if parse_sino(w[i]) is None:
            return 0, None, ""
        j, text = i + 1, w[i]
        # 만 육 세 (age "full 6") is not 10006: a lone digit does not join a 만/억 group
        while j < len(w) and text[-1] in "만억" and len(w[j]) > 1 and parse_sino(text + w[j]) is not None:
            text += w[j]
            j += 1
        return j - i, parse_sino(text), text

    def _sino(self, w: List[str], i: int, out: List[str]) -> Tuple[int, List[str]]:
        n_words, value, spoken = self._sino_number(w, i)
        if n_words and i + n_words < len(w):
            hit = _split_counter(w[i + n_words], SINO_COUNTERS)
            large = None if hit else _split_counter(w[i + n_words], SINO_LARGE_COUNTERS)
            if hit and hit == ("점", "") and i + n_words + 1 < len(w) and _digit_prefix(w[i + n_words + 1]):
                return 0, []  # 구 점 팔...: a decimal the decimal rule did not take; leave it
            if hit and not self._ambiguous(spoken, hit[0], out):
                return n_words + 1, [self._counter_text(_write_number(value, self.cfg.large_numbers), *hit)]
            if large and (len(spoken) >= 2 or value >= 100):
                return n_words + 1, [self._counter_text(_write_number(value, self.cfg.large_numbers), *large)]
            return 0, []
        # counter glued to a numeral of 2+ syllables: 삼십이쪽을 (the korean normalizer's spacing)
        for k in range(len(w[i]) - 1, 1, -1):
            value = parse_sino(w[i][:k])
            hit = value is not None and _split_counter(w[i][k:], SINO_COUNTERS)
            if hit and hit[0] not in ("월", "일") and not (k == 2 and w[i][0] in "만억"):  # 만육세: age
                # (dates have their own rule)
                return 1, [self._counter_text(_write_number(value, self.cfg.large_numbers), *hit)]
        return 0, []

    def _ambiguous(self, spoken: str, counter: str, out: List[str]) -> bool:
        if spoken == "이" and counter in _THIS_COUNTERS:
            # 세 시 이 분: after an hour, 이 분 is two minutes
            return not (counter == "분" and out and re.fullmatch(r"\d+시", out[-1]))
        if counter in ("월", "일"):
            return len(spoken) < 2 and counter == "월"  # 삼 월 alone is handled by the date rule
        return False

    # --- native numeral + native counter
    def _native(self, w: List[str], i: int, out: List[str]) -> Tuple[int, List[str]]:
        if not self.cfg.native or i + 1 >= len(w):
            return 0, []
        value = parse_native(w[i])
        hit = value is not None and _split_counter(w[i + 1], ITN_NATIVE_COUNTERS)
        if not hit:
            return 0, []
        return 2, [f"{value}{hit[0]}{hit[1]}"]

    # --- dates: [year 년] month [day 일]
    def _month(self, w: List[str], i: int) -> Tuple[int, Optional[int], str]:
        """Month at word i (``삼월``, ``삼 월``, ``유월에``): (words used, month, rest)."""
        for word, month in _MONTH_WORDS.items():
            if w[i].startswith(word) and _SUFFIX.match(w[i][len(word):]):
                if month in (6, 10) and not self.cfg.irregular_months:
                    return 0, None, ""
                return 1, month, w[i][len(word):]
        value = parse_sino(w[i])
        if value is not None and 1 <= value <= 12 and i + 1 < len(w):
            hit = _split_counter(w[i + 1], ("월",))
            if hit and (value not in (6, 10)):
                return 2, value, hit[1]
        return 0, None, ""

    def _day(self, w: List[str], i: int) -> Tuple[int, Optional[int], str]:
        for k in range(len(w[i]) - 1, 0, -1):
            value = parse_sino(w[i][:k])
            hit = value is not None and 1 <= value <= 31 and _split_counter(w[i][k:], ("일",))
            if hit:
                return 1, value, hit[1]
        value = parse_sino(w[i])
        if value is not None and 1 <= value <= 31 and i + 1 < len(w):
            hit = _split_counter(w[i + 1], ("일",))
            if hit:
                return 2, value, hit[1]
        return 0, None, ""

    def _date(self, w: List[str], i: int, out: List[str]) -> Tuple[int, List[str]]:
        used, repl = 0, []
        # a year: a 4-digit Sino number + 년, followed by a month (else the counter rule handles it)
        n_words, value, _ = self._sino_number(w, i)
        if n_words and i + n_words < len(w):
            hit = _split_counter(w[i + n_words], ("년",))
            if hit and not hit[1] and i + n_words + 1 < len(w) and self._month(w, i + n_words + 1)[0]:
                used, repl = n_words + 1, [f"{value}년"]
        m_words, month, m_rest = self._month(w, i + used) if i + used < len(w) else (0, None, "")
        if not m_words:
            return 0, []
        d_words, day, d_rest = (0, None, "")
        if not m_rest and i + used + m_words < len(w):
            d_words, day, d_rest = self._day(w, i + used + m_words)
        if not used and not d_words and month in (1, 2):
            return 0, []  # 일월 (sun and moon), 이월 (carry-over) need a day or a year
        repl.append(f"{month}월{m_rest}")
        if d_words:
            repl.append(f"{day}일{d_rest}")
        return used + m_words + d_words, repl

    # --- digit by digit
    def _digits(self, w: List[str], i: int, out: List[str]) -> Tuple[int, List[str]]:
        if not self.cfg.digit_sequences or not _digit_prefix(w[i]):
            return 0, []
        j, tail = i, ""
        while j < len(w) and len(w[j]) >= 3:
            split = _digit_prefix(w[j])  # 오육칠팔입니다: the last group may carry particles or copula
            if not split or len(split[0]) < 3:
                break
            j += 1
            if split[1]:
                tail = split[1]
                break
        if j == i:
            return 0, []
        groups = ["".join(_DIGIT_SYLLABLE[c] for c in _digit_prefix(word)[0]) for word in w[i:j]]
        total = sum(len(g) for g in groups)
        cued = bool(out) and any(out[-1].endswith(c) or out[-1].startswith(c) for c in NUMBER_CUES)
        if (w[i][0] == "공" and total >= 7 and j - i >= 2) or (cued and total >= 3):
            return j - i, ["-".join(groups) + tail]
        return 0, []

    # --- decimals: N 점 D [counter]
    def _decimal(self, w: List[str], i: int, out: List[str]) -> Tuple[int, List[str]]:
        if not self.cfg.decimals or i + 2 >= len(w) or w[i + 1] != "점":
            return 0, []
        value = 0 if w[i] == "영" else parse_sino(w[i])
        split = _digit_prefix(w[i + 2])  # 구 점 팔입니다: the digits, then particles or copula
        if value is None or not split or "공" in split[0]:
            return 0, []
        frac, rest = split
        number = f"{value}.{''.join(_DIGIT_SYLLABLE[c] for c in frac)}"
        if rest:
            return 3, [number + rest]
        if i + 3 < len(w):
            hit = _split_counter(w[i + 3], SINO_COUNTERS)
            if hit:
                return 4, [self._counter_text(number, *hit)]
        return 3, [number]


# --------------------------------------------------------------------------- functional API

_DEFAULT: Optional[KoreanITN] = None


def get_itn(name: str = "korean", **overrides) -> "KoreanITN":
    """The registered ITN ``name`` built from its config with ``overrides`` (unknown keys raise)."""
    cls = ITNS.get(name)
    cfg_cls = ITNS.config_class(name)
    known = {f.name for f in fields(cfg_cls)} if cfg_cls else set()
    bad = set(overrides) - known
    if bad:
        raise TypeError(f"itn {name!r} has no setting(s) {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
    return cls(cfg_cls(name=name, **overrides)) if cfg_cls else cls()


def itn(text: str, cfg: Optional[KoreanITNConfig] = None) -> str:
    """Spoken -> written form with the ``korean`` ITN (default settings unless ``cfg``)."""
    global _DEFAULT
    if cfg is not None:
        return KoreanITN(cfg)(text)
    if _DEFAULT is None:
        _DEFAULT = KoreanITN()
    return _DEFAULT(text)
