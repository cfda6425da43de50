"""Reading numbers as Korean speech: hypersp's one numeral reader and its one spacing convention.

Three users, one reading: the ``korean`` text normalizer (training targets and scoring,
:mod:`hypersp.text.normalize`) reads digits with :func:`read_numbers`; the synthetic sentence generator
(:mod:`hypersp.prepare.synthetic.korean_text`) writes its numbers with :func:`sino`, :func:`native`,
:func:`digit_by_digit` and :data:`MONTHS`; inverse normalization (:mod:`hypersp.text.itn`) writes digits
back and accepts exactly these readings. So ``korean(itn(x)) == x`` for generated text, and normalizing
generated text changes nothing.

Readings (the rules, because a transcript convention is a modelling choice):

- **Sino-Korean** cardinals in the 4-digit grouping of Korean, one space between 만/억/조/경 groups as Korean
  orthography spaces them (한글 맞춤법 제44항): ``35000 -> 삼만 오천``, ``1922 -> 천구백이십이``,
  ``10000 -> 만``, ``15700 -> 만 오천칠백``, ``100000000 -> 일억``. ``일`` is dropped before 십/백/천 and before
  a bare 만 (``만``, not ``일만``) and kept before 억/조/경. ``0`` alone is ``영``.
- **Native** numerals (1..99, attributive form) before native counters (:data:`NATIVE_COUNTERS`):
  ``3시 -> 세 시``, ``2명 -> 두 명``, ``20살 -> 스무 살``, ``24시간 -> 스물네 시간``, ``3번째 -> 세 번째``
  (``1번째 -> 첫 번째``). Clock hours are native only for 1..12 (``15시 -> 십오 시``); 100 and more are Sino
  (``100명 -> 백 명``), and so are decades (``20대 -> 이십 대``, but ``차 2대 -> 차 두 대``). Counters that
  digits cannot disambiguate are read Sino: ``3번`` is number three (``삼 번``, not ``세 번`` "three times"),
  ``3장`` chapter three (``삼 장``, not ``세 장`` "three sheets"), ``3분`` minutes (``삼 분``, not the
  honorific ``세 분``).
- **Counters are words**: one space between a number and the counter or unit noun after it (한글 맞춤법
  제43항): ``30분 -> 삼십 분``, ``5000원 -> 오천 원``, ``2026년 -> 이천이십육 년``, ``30% -> 삼십 퍼센트``.
  Month names are single words (``3월 -> 삼월``, ``6월 -> 유월``, ``10월 -> 시월``) and so is a day after a
  month (``6월 15일 -> 유월 십오일``). A counter is recognised only when what follows it in the word is
  particles or a copula (``3개월이에요``, ``3시부터``), so ``3개국`` stays ``삼개국``.
- **Digit by digit** with ``공`` for zero: digit groups joined by ``-`` (``010-1234-5678 -> 공일공 일이삼사
  오육칠팔``; an ISO date ``2026-03-02`` is read as a date), a numeral starting with ``0`` (``007 -> 공공칠``),
  3 or more digits right after a word that announces a number (:data:`NUMBER_CUES`: ``뒷자리 1234 -> 뒷자리
  일이삼사``), a group that follows such a reading after one space (``010 1234 5678``), and integers of more
  than 20 digits.
- Thousands separators are dropped (``1,000 -> 천``); digits followed by a unit (``3만``, ``5천``, ``1억``)
  are one number (``3만 5000원 -> 삼만 오천 원``); a decimal is ``삼 점 일사`` (``3.14``; zero as ``영``);
  ``%`` is ``퍼센트``. Digits inside Latin words are read the same way (``MP3 -> MP삼``).

Only ASCII digits are numerals here (full-width ones are folded by the normalizer first).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

DIGITS = "영일이삼사오육칠팔구"        # Sino digit syllables; 영 for zero in a value or after a decimal point
PHONE_DIGITS = "공일이삼사오육칠팔구"  # digit-by-digit reading: 공 for zero
_SMALL_UNITS = ("", "십", "백", "천")
_BIG_UNITS = ("", "만", "억", "조", "경")
_NATIVE_UNITS = ("", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
_ATTRIBUTIVE = {"하나": "한", "둘": "두", "셋": "세", "넷": "네", "스물": "스무"}

# 1..12; 6 and 10 drop a final consonant (유월, 시월), as every Korean speaker says them
MONTHS = ("일월", "이월", "삼월", "사월", "오월", "유월", "칠월", "팔월", "구월", "시월", "십일월", "십이월")

# Counters and unit nouns, longest first when matched. Native numerals go before NATIVE_COUNTERS (1..99);
# every other counter takes Sino numerals. 번, 장 and 분 are Sino on purpose (see the module docstring).
NATIVE_COUNTERS = ("번째", "시간", "가지", "마리", "그릇", "켤레", "송이", "군데", "사람", "방울", "자루",
                   "시", "명", "개", "살", "잔", "권", "대", "병", "곳", "배", "벌", "통", "달", "채", "척", "알")
SINO_COUNTERS = ("킬로미터", "센티미터", "밀리미터", "킬로그램", "영업일", "호선", "인치", "퍼센트", "페이지", "개월",
                 "학년", "교시", "단계", "미터", "그램", "리터", "킬로", "쪽", "원", "년", "월", "일", "분", "초",
                 "층", "호", "번", "장", "점", "주", "도", "세", "회", "차", "등", "위")
# words after which a run of digits is a number read digit by digit (phone, account, card numbers)
NUMBER_CUES = ("번호", "뒷자리", "앞자리", "연락처", "계좌", "전화", "휴대폰", "핸드폰", "비밀번호", "우편번호")

# What may follow a counter inside the same word: particles, then a copula ending
PARTICLES = ("에서는", "에서도", "에게는", "까지는", "부터는", "으로는", "이라도", "에서", "에게", "에는", "에도",
             "까지", "부터", "으로", "보다", "마다", "밖에", "이나", "정도", "짜리", "로", "은", "는", "이", "가",
             "을", "를", "에", "의", "도", "만", "씩", "쯤", "나", "과", "와", "당", "째", "뿐")
COPULA = ("이었습니다", "이었어요", "였습니다", "였어요", "입니다", "입니까", "이에요", "예요", "이라서", "이라고",
          "이지만", "인가요", "일까요", "이고", "이며", "이면", "인데", "이죠", "이야", "이다", "이라", "죠", "요")
SUFFIX = re.compile("(?:%s)*(?:%s)?$" % ("|".join(PARTICLES), "|".join(COPULA)))


@lru_cache(maxsize=None)
def _longest_first(counters: Tuple[str, ...]) -> Tuple[str, ...]:
    return tuple(sorted(counters, key=len, reverse=True))


def split_counter(word: str, counters: Sequence[str]) -> Optional[Tuple[str, str]]:
    """``word`` = one of ``counters`` + particles/copula -> ``(counter, rest)``; the longest counter wins."""
    for c in _longest_first(tuple(counters)):
        if word.startswith(c) and SUFFIX.match(word[len(c):]):
            return c, word[len(c):]
    return None


# --------------------------------------------------------------------------- readings of a value


def _group(n: int) -> str:
    """Sino reading of 0 < n < 10000 (one 4-digit group), 일 dropped before 십/백/천."""
    out = []
    for power in (3, 2, 1, 0):
        d = n // 10**power % 10
        if d:
            out.append(("" if d == 1 and power else DIGITS[d]) + _SMALL_UNITS[power])
    return "".join(out)


def sino(n: int) -> str:
    """Sino-Korean reading of ``0 <= n < 10**20``, 만/억/조/경 groups apart: 35000 -> ``삼만 오천``."""
    if not 0 <= n < 10**20:
        raise ValueError(f"sino: {n} is out of range 0..10**20-1")
    if n == 0:
        return DIGITS[0]
    parts = []
    for index in range(len(_BIG_UNITS) - 1, -1, -1):
        group = n // 10**(4 * index) % 10000
        if group:
            # 만 rather than 일만; 일억, 일조 keep their 일, as people say them
            parts.append(("" if group == 1 and index == 1 else _group(group)) + _BIG_UNITS[index])
    return " ".join(parts)


def native(n: int, attributive: bool = True) -> str:
    """Native Korean reading of ``1 <= n <= 99``; ``attributive`` is the form before a counter.

    ``native(3) -> 세`` (세 시), ``native(21) -> 스물한``, ``native(20) -> 스무``, ``native(3, False) -> 셋``.
    """
    if not 1 <= n <= 99:
        raise ValueError(f"native: {n} is out of range 1..99")
    tens, units = _NATIVE_TENS[n // 10], _NATIVE_UNITS[n % 10]
    if attributive:
        if units:
            units = _ATTRIBUTIVE.get(units, units)
        else:
            tens = _ATTRIBUTIVE.get(tens, tens)
    return tens + units


def digit_by_digit(digits: str, zero: str = "공") -> str:
    """Each ASCII digit as its syllable, ``zero`` for 0: ``"0107" -> 공일공칠`` (phone numbers, codes)."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"digit_by_digit expects ASCII digits, got {digits!r}")
    return "".join(zero if c == "0" else DIGITS[int(c)] for c in digits)


def read_integer(digits: str) -> str:
    """A string of ASCII digits read on its own: Sino value, or digit by digit when it starts with 0
    (``010 -> 공일공``) or has more than 20 digits."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"read_integer expects ASCII digits, got {digits!r}")
    if len(digits) > 1 and digits[0] == "0":
        return digit_by_digit(digits)
    if len(digits) > 20:
        return digit_by_digit(digits, zero=DIGITS[0])
    return sino(int(digits))


def read_number(integer: str, fraction: str = "") -> str:
    """``integer`` may hold thousands separators; ``fraction`` is the digits after the point (``삼 점 일사``)."""
    text = read_integer(integer.replace(",", ""))
    if fraction:
        text += " 점 " + digit_by_digit(fraction, zero=DIGITS[0])
    return text


# --------------------------------------------------------------------------- numbers in running text

_NUMERAL = re.compile(r"""(?<![0-9.,])(?:
    (?P<seq>[0-9]+(?:-[0-9]+)+)                                   # 010-1234-5678
  | (?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)
    (?:(?P<unit>[십백천]?[만억조]|[십백천])|\.(?P<frac>[0-9]+))?    # 3만, 5천, 3.14
    (?P<pct>[ ]?%)?
)""", re.X)
_ISO_DATE = re.compile(r"((?:19|20)[0-9]{2})-(0?[1-9]|1[0-2])-(0?[1-9]|[12][0-9]|3[01])$")
_TAIL = re.compile(r"( ?)([가-힣]+)")
_UNIT_VALUE = {"십": 10, "백": 100, "천": 1000, "만": 10**4, "억": 10**8, "조": 10**12}
_AFTER_MONTH = re.compile("(?:%s) ?$" % "|".join(MONTHS))
_WORD_BEFORE = re.compile(r"([가-힣]+)[ ]?[:：]?[ ]?$")
_DIGIT_RUN = re.compile(r"[0-9]+")


def _counter_reading(value: int, counter: str) -> str:
    """The reading of ``value`` before ``counter`` (native or Sino, see the module docstring)."""
    if counter == "대" and value % 10 == 0:
        return sino(value)  # 20대 is mostly an age decade (이십 대), not twenty vehicles (스무 대)
    if counter in NATIVE_COUNTERS and 1 <= value <= 99 and not (counter == "시" and value > 12):
        return "첫" if counter == "번째" and value == 1 else native(value)
    return sino(value)


def _is_cued(before: str) -> bool:
    m = _WORD_BEFORE.search(before)
    return bool(m) and any(m.group(1).startswith(c) or m.group(1).endswith(c) for c in NUMBER_CUES)


def read_numbers(text: str) -> str:
    """Every numeral in ``text`` replaced by its reading (see the module docstring); other text unchanged."""
    out: List[str] = []
    pos = 0
    after_sequence = False  # the previous numeral was read digit by digit and only one space separates them
    counter_end = -1        # where the last counter read (with its particles) ends: 3시30분 -> 세 시 삼십 분
    for m in _NUMERAL.finditer(text):
        start, end = m.span()
        out.append(text[pos:start] + (" " if start == counter_end else ""))
        gap, pos = text[pos:start], end
        if m.group("seq"):
            date = _ISO_DATE.match(m.group("seq"))
            if date:
                y, mo, d = (int(g) for g in date.groups())
                out.append(f"{sino(y)} 년 {MONTHS[mo - 1]} {sino(d)}일")
            else:
                out.append(" ".join(digit_by_digit(g) for g in m.group("seq").split("-")))
            after_sequence = True
            continue
        digits = m.group("int").replace(",", "")
        unit, frac, pct = m.group("unit") or "", m.group("frac"), m.group("pct")
        tail = _TAIL.match(text, end)
        counter = split_counter(tail.group(2), NATIVE_COUNTERS + SINO_COUNTERS) if tail and not pct else None
        if counter is None and not unit and not frac and not pct and (
                (len(digits) > 1 and digits[0] == "0") or len(digits) > 20
                or (len(digits) >= 3 and (_is_cued(text[:start]) or (after_sequence and gap == " ")))):
            out.append(read_integer(digits) if len(digits) > 20 or digits[0] == "0" else digit_by_digit(digits))
            after_sequence = True
            continue
        after_sequence = False
        value = int(digits)
        for u in unit:  # 3천만 = 3 x 1000 x 10000
            value *= _UNIT_VALUE[u]
        if frac:
            reading = read_number(digits, frac)
        elif counter and not unit:
            word, rest = counter
            if word == "월" and 1 <= value <= 12:
                out.append(MONTHS[value - 1] + rest)
                pos = counter_end = tail.end()
                continue
            if word == "일" and _AFTER_MONTH.search("".join(out)) and 1 <= value <= 31:
                out.append(sino(value))  # 유월 십오일: a day after a month is one word
                pos, counter_end = end + len(tail.group(1)), tail.end()
                continue
            reading = _counter_reading(value, word)
        else:
            reading = sino(value) if value < 10**20 else read_integer(digits) + unit
        if pct:
            out.append(reading + " 퍼센트")
        elif counter:
            out.append(reading + " ")
            pos = end + len(tail.group(1))  # the counter itself is copied as written
            counter_end = tail.end()
        else:
            out.append(reading)
    out.append(text[pos:])
    # leftovers such as the "3" of "1.2.3" (a version, not a decimal): read on their own
    return _DIGIT_RUN.sub(lambda d: read_integer(d.group()), "".join(out))
