"""A broad pool of Korean sentences from real text and real lexicons that PyPI packages ship.

Why. The template generator of :mod:`hypersp.prepare.synthetic.korean_text` knows about 3,300 distinct words,
so a model trained on it learns how those words sound, not how unseen words are written (issue
13). This module builds a sentence pool of real breadth (more than 100,000 distinct
space-separated words) from text that is installed with ordinary packages; nothing is downloaded
at run time. The packages are an optional extra: ``pip install hypersp[broadtext]``.

Sources (``SOURCES``; each one can be left out with ``sources=``):

==========  ====================================================  ===============================
name        what is used                                          licence
==========  ====================================================  ===============================
kolaw       KoNLPy's ``kolaw/constitution.txt``: the              text: the Constitution is not
            Constitution of the Republic of Korea, as             protected by copyright (Korean
            real sentences                                        Copyright Act, art. 7); package
                                                                  KoNLPy: GPL-3.0-or-later
kobill      KoNLPy's ``kobill/*.txt``: ten National Assembly      text: public works of a state
            bills (2010), as real sentences                       organ, free to use (Copyright
                                                                  Act, art. 24-2); package GPL-3+
hannanum    KoNLPy's JHannanum system dictionary                  GPL-3.0 (JHannanum, (C) KAIST
            (``java/data/kE/dic_system.txt``): common and         1995-2010, bundled by KoNLPy);
            action/state nouns, verbs, adjectives, adverbs,       only words are read, no code
            other proper nouns, with their part of speech         is run
wordfreq    ``wordfreq.top_n_list("ko", ...)``: the ~30,000       code Apache-2.0; data
            most frequent Korean tokens (Wikipedia, subtitles,    CC-BY-SA 4.0 (attribution:
            news, web); marks common words and supplies a         wordfreq, Robyn Speer and
            "read these words" register                           contributors)
kiwi        kiwipiepy-model's ``default.dict`` and                Apache-2.0 (Kiwi, Minchul Lee);
            ``multi.dict``: proper nouns (people, places,         the entries come from Wikidata
            works) with Kiwi's frequency score                    (CC0)
==========  ====================================================  ===============================

The GPL licence of KoNLPy covers its code and the JHannanum dictionary; hypersp does not link
or ship either: it reads the installed files as data. A user who wants no GPL-licensed input
uses ``sources=("kobill", "kolaw", "wordfreq", "kiwi")`` minus ``hannanum`` — the law texts
themselves are outside copyright — and gets a smaller pool (see ``pool_report``).

How sentences are made. Two kinds, both returned as Hangul words separated by single spaces,
passing :func:`hypersp.prepare.synthetic.korean_text.is_clean_sentence`:

1. *Real sentences* (kolaw, kobill). Hard line wraps of the bill files are undone, parenthesized
   asides (references such as ``(안 제3조)``) and item marks (``①``, ``가.``) removed, the text is
   split at sentence ends and line breaks, normalized with hypersp's ``korean`` text normalizer
   (numbers read as Sino-Korean words: ``제1조`` -> ``제일조``, punctuation out), and anything
   still holding a non-Hangul character (Hanja, Latin, jamo) is dropped. A sentence longer than
   ``MAX_WORDS`` words is cut at commas, and a clause still too long into nearly equal runs of at
   most ``MAX_WORDS`` words; pieces shorter than ``MIN_WORDS`` are dropped.
2. *Lexicon sentences*. Hand-written frames (``FRAMES``: lecture, meeting, customer service,
   call center and everyday talk) whose slots take words of the right part of speech from the
   lexicons: nouns with the case particle their final consonant needs
   (:func:`~hypersp.prepare.synthetic.korean_text.josa`), action nouns with 하다, verb and adjective stems
   with endings that never change the stem (``-습니다/-ㅂ니다``, ``-고``, ``-기``, ``-지``),
   proper nouns, and numbers read out. Half of the slot words are drawn from words that are also
   in wordfreq's list (common words), half uniformly from the whole lexicon (breadth). A fifth
   frame family reads out lists of wordfreq tokens, which brings inflected forms
   (``몰라서``, ``한다던데``) no frame could build.

The real sentences are few (about 900, with 3,300 distinct words: the packages ship little running
Korean text); the default pool's 123,000 distinct words come mostly from the 100,000 lexicon
sentences, so most of the breadth is vocabulary in frames, not running text (``pool_report`` gives
the split). The frames are grammatical, but a random noun in a frame often makes odd sense
("이 관찰자는 가격이 이만 오천팔백 원입니다"): good for learning how words are spelled, weak as a
model of what people say. Sentences of :mod:`hypersp.prepare.synthetic.open_test_text` are never in the pool: that
text is reserved for the open-vocabulary test.

Determinism: ``broad_sentences(sources, n_lexicon, seed)`` depends only on its arguments and the
installed versions of the packages (``source_versions()``; part of the synthetic corpus's config
hash when it uses this pool).
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import re
import unicodedata
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from hypersp.prepare.synthetic.korean_text import MAX_WORDS, final_consonant, is_clean_sentence, josa
from hypersp.text.numbers import MONTHS, digit_by_digit, native, sino

MIN_WORDS = 3  # real-text pieces shorter than this are fragments (item marks, headings)
# Enters the hash of a text=broad corpus: bump it when the pool's text changes for the same packages.
# 2: numbers read by hypersp.text.numbers (1948년 -> 천구백사십팔 년, month slots 유월/시월).
POOL_VERSION = 2

# name -> (python package that holds the data, distribution name on PyPI, licence summary)
SOURCES: Dict[str, Tuple[str, str, str]] = {
    "kolaw": ("konlpy", "konlpy", "Constitution of Korea: not copyrighted (Copyright Act art. 7); KoNLPy GPL-3.0+"),
    "kobill": ("konlpy", "konlpy", "National Assembly bills: public works (Copyright Act art. 24-2); KoNLPy GPL-3.0+"),
    "hannanum": ("konlpy", "konlpy", "JHannanum dictionary (C) KAIST, GPL-3.0, bundled by KoNLPy GPL-3.0+"),
    "wordfreq": ("wordfreq", "wordfreq", "wordfreq: code Apache-2.0, data CC-BY-SA 4.0"),
    "kiwi": ("kiwipiepy_model", "kiwipiepy-model", "kiwipiepy-model: Apache-2.0 (entries from Wikidata, CC0)"),
}
DEFAULT_SOURCES = tuple(SOURCES)
DEFAULT_LEXICON_SENTENCES = 100000
INSTALL_HINT = "pip install hypersp[broadtext]"

_HANGUL_WORD = re.compile(r"^[가-힣]+$")


class BroadTextUnavailable(ImportError):
    """A package that holds a requested source is not installed."""


def _package_dir(source: str) -> Path:
    module = SOURCES[source][0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise BroadTextUnavailable(
            f"broad text source {source!r} needs the package {SOURCES[source][1]!r}, which is not installed; "
            f"install the optional extra: {INSTALL_HINT}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _check_sources(sources: Iterable[str]) -> Tuple[str, ...]:
    out = tuple(dict.fromkeys(sources))
    unknown = [s for s in out if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown broad text sources {unknown}; choose from {', '.join(SOURCES)}")
    if not out:
        raise ValueError(f"no broad text sources; choose from {', '.join(SOURCES)}")
    return out


def source_versions(sources: Iterable[str] = DEFAULT_SOURCES) -> Dict[str, str]:
    """Installed version of the distribution behind each source (the pool depends on them)."""
    out = {}
    for s in _check_sources(sources):
        dist = SOURCES[s][1]
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            raise BroadTextUnavailable(
                f"broad text source {s!r} needs {dist!r}, which is not installed; {INSTALL_HINT}") from None
    return out


# --------------------------------------------------------------------------- real sentences

_CIRCLED = re.compile(r"[\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]")
_DOTTED_DIGITS = re.compile(r"\d+(?:[·ㆍ․]\d+)+")
_PAREN = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|<[^<>]*>|「[^」]*」")
_PAGE_MARK = re.compile(r"^\s*-\s*\d+\s*-\s*$")
_ITEM_MARK = re.compile(r"^\s*(?:[가-하]\.|\d+\.|\d+\)|[가-하]\))\s+")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+|\n+")
_KOREAN = None


def _normalizer() -> Callable[[str], str]:
    global _KOREAN
    if _KOREAN is None:
        from hypersp.text.normalize import get_text_normalizer

        _KOREAN = get_text_normalizer("korean")
    return _KOREAN


def _unwrap_bill(text: str) -> str:
    """Undo the fixed-width wrapping of a kobill file: blank lines and page marks out, a line that
    does not start indented continues the previous one (the wrap may fall inside a word; a space
    at the wrap is kept on the previous line in these files). The header (bill number, sponsors)
    before 제안이유 and the two-column old/new comparison table (대비표, up to the cost estimate
    비용추계 if any) are left out: their wrapping cannot be undone line by line."""
    start = text.find("제안이유")
    text = text[start:] if start >= 0 else text
    table = text.find("대비표")
    if table >= 0:
        end = text.find("비용추계", table)
        text = text[:table] + ("\n" + text[end:] if end >= 0 else "")
    lines = [ln for ln in text.splitlines() if ln.strip() and not _PAGE_MARK.match(ln)]
    out: List[str] = []
    for ln in lines:
        if out and not ln[:1].isspace() and not _ITEM_MARK.match(ln):
            out[-1] += ln
        else:
            out.append(ln)
    return "\n".join(out)


def _pieces(words: List[str]) -> List[List[str]]:
    """Nearly equal runs of at most MAX_WORDS words."""
    k = -(-len(words) // MAX_WORDS)
    size = -(-len(words) // k)
    return [words[i:i + size] for i in range(0, len(words), size)]


def speakable_sentences(text: str) -> List[str]:
    """Running Korean text -> clean sentences of MIN_WORDS..MAX_WORDS Hangul words (see module doc)."""
    normalize = _normalizer()
    text = unicodedata.normalize("NFC", text)
    text = _CIRCLED.sub(" ", text)
    # Digits joined by a middle dot name events and are read digit by digit: 3·1 -> 삼일, 4·19 -> 사일구.
    text = _DOTTED_DIGITS.sub(lambda m: digit_by_digit(re.sub(r"\D", "", m.group(0))), text)
    for _ in range(2):  # nested brackets
        text = _PAREN.sub(" ", text)
    out = []
    for sentence in _SENTENCE_END.split(text):
        sentence = _ITEM_MARK.sub("", sentence)
        for clause in re.split(r"(?<=,)\s+|(?<=;)\s+", sentence) if len(sentence.split()) > MAX_WORDS else [sentence]:
            clean = normalize(clause)
            words = clean.split()
            if not words or not all(_HANGUL_WORD.match(w) for w in words):
                continue
            for piece in _pieces(words):
                if len(piece) >= MIN_WORDS:
                    out.append(" ".join(piece))
    return out


def real_sentences(sources: Iterable[str] = ("kolaw", "kobill")) -> List[str]:
    """Clean sentences of the running-text sources among ``sources``, in file order, deduplicated."""
    out: List[str] = []
    for s in _check_sources(sources):
        if s == "kolaw":
            base = _package_dir(s) / "data" / "corpus" / "kolaw"
            out += speakable_sentences((base / "constitution.txt").read_text(encoding="utf-8"))
        elif s == "kobill":
            base = _package_dir(s) / "data" / "corpus" / "kobill"
            for path in sorted(base.glob("*.txt")):
                out += speakable_sentences(_unwrap_bill(path.read_text(encoding="utf-8")))
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- lexicons

# JHannanum (KAIST tag set) -> the slot kinds of FRAMES
_HANNANUM_KINDS = {"ncn": "noun", "ncr": "noun", "ncpa": "action", "ncps": "state", "pvg": "verb",
                   "paa": "adj", "mag": "adverb", "nqq": "proper", "nqpc": "name"}
_MAX_SYLLABLES = {"noun": 6, "action": 6, "state": 5, "verb": 5, "adj": 5, "adverb": 5, "proper": 7, "name": 4}


def _hannanum_lexicon() -> Dict[str, List[str]]:
    path = _package_dir("hannanum") / "java" / "data" / "kE" / "dic_system.txt"
    lex: Dict[str, set] = {k: set() for k in set(_HANNANUM_KINDS.values())}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            word = fields[0]
            if not _HANGUL_WORD.match(word):
                continue
            for tag in fields[1:]:
                kind = _HANNANUM_KINDS.get(tag.split(".")[0])
                if kind and (len(word) >= 2 or kind in ("verb", "adj")) and len(word) <= _MAX_SYLLABLES[kind]:
                    lex[kind].add(word)
    # Action/state nouns are nouns too.
    lex["noun"] |= lex["action"] | lex["state"]
    return {k: sorted(v) for k, v in lex.items()}


def _kiwi_proper_nouns(min_score: float = -20.0) -> List[str]:
    """Kiwi's proper nouns (one or more Hangul words) scored at least ``min_score`` (log-frequency)."""
    base = _package_dir("kiwi")
    out = set()
    for name in ("default.dict", "multi.dict"):
        path = base / name
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                if "\tNNP\t" not in line or line.startswith("#"):
                    continue
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 3 or fields[1] != "NNP":
                    continue
                try:
                    score = float(fields[2])
                except ValueError:
                    continue
                words = fields[0].split(" ")
                if score >= min_score and len(words) <= 3 and all(
                        _HANGUL_WORD.match(w) and len(w) <= 7 for w in words):
                    out.add(fields[0])
    return sorted(out)


def _wordfreq_words() -> List[str]:
    _package_dir("wordfreq")
    import wordfreq

    return [w for w in wordfreq.top_n_list("ko", 10**6) if _HANGUL_WORD.match(w)]


_SSANG_SIOT = 20  # final ㅆ: a token ending in it (했, 찍혔, 흘러갔) is a cut-off stem, not a word


def _readable_tokens(freq: Sequence[str], stems: set) -> List[str]:
    """wordfreq tokens that stand as words: 2+ syllables, not a bare verb/adjective stem, not cut
    off after a past-tense ㅆ."""
    return [w for w in freq if len(w) >= 2 and w not in stems and final_consonant(w) != _SSANG_SIOT]


@functools.lru_cache(maxsize=4)
def lexicon(sources: Tuple[str, ...] = DEFAULT_SOURCES) -> Dict[str, Tuple[str, ...]]:
    """Slot words by kind (noun, action, state, verb, adj, adverb, proper, name, token) and the
    ``common_*`` subsets that wordfreq also lists; kinds whose source is left out are empty."""
    sources = _check_sources(sources)
    lex: Dict[str, List[str]] = {k: [] for k in ("noun", "action", "state", "verb", "adj", "adverb",
                                                 "proper", "name", "token")}
    if "hannanum" in sources:
        for k, words in _hannanum_lexicon().items():
            lex[k] += words
    if "kiwi" in sources:
        lex["proper"] = sorted(set(lex["proper"]) | set(_kiwi_proper_nouns()))
    freq: List[str] = _wordfreq_words() if "wordfreq" in sources else []
    if freq:
        lex["token"] = _readable_tokens(freq, set(lex["verb"]) | set(lex["adj"]))
        if not lex["noun"]:  # without a POS lexicon, frequent tokens of 2+ syllables stand in for nouns
            lex["noun"] = sorted(set(lex["token"]))
    common = set(freq)
    out = {k: tuple(v) for k, v in lex.items()}
    for k in ("noun", "action", "state", "verb", "adj", "adverb", "proper"):
        out["common_" + k] = tuple(w for w in lex[k] if w in common)
    return out


# --------------------------------------------------------------------------- frames

def conjugate(stem: str, ending: str) -> str:
    """Verb/adjective stem + an ending that leaves every stem as it is (regular and irregular alike).

    ``습니다`` becomes ``ㅂ니다`` after a vowel and replaces a final ㄹ (만들 -> 만듭니다);
    ``고``, ``기``, ``지``, ``게`` attach unchanged.
    """
    if ending == "습니다":
        final = final_consonant(stem)
        if final in (0, 8):  # vowel or ㄹ: ㄹ drops, ㅂ (final index 17) takes its place
            last = chr(ord(stem[-1]) - final + 17)
            return stem[:-1] + last + "니다"
        return stem + "습니다"
    if ending in ("고", "기", "지", "게"):
        return stem + ending
    raise ValueError(f"conjugate: unsupported ending {ending!r}")


Rng = np.random.Generator


def _day(rng: Rng) -> str:
    kind = int(rng.integers(3))
    if kind == 0:
        return ["오늘", "내일", "모레", "이번 주말", "다음 주"][int(rng.integers(5))]
    if kind == 1:
        return f"{MONTHS[int(rng.integers(1, 13)) - 1]} {sino(int(rng.integers(1, 29)))}일"  # 유월, 시월
    return ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"][int(rng.integers(7))]


_NUMBERS: Dict[str, Callable[[Rng], str]] = {
    "day": _day,
    "hour": lambda rng: f"{native(int(rng.integers(1, 13)))} 시",
    "count": lambda rng: native(int(rng.integers(2, 20))),
    "money": lambda rng: sino(int(rng.integers(1, 500)) * 100),
    "page": lambda rng: sino(int(rng.integers(2, 400))),
    "year": lambda rng: sino(int(rng.integers(1900, 2031))),
    "percent": lambda rng: sino(int(rng.integers(2, 100))),
}

# Frames: "{kind}" a word of that kind, "{kind:을}" with a particle in the right form, "{kind+습니다}"
# a stem with an ending, "{kind2}" a second, different word of the same kind; {action}하다 forms are
# written out. Kinds: noun action state verb adj adverb proper name token, and the _NUMBERS.
FRAMES: Dict[str, List[str]] = {
    "lecture": [
        "오늘은 {noun}에 대해 배워 보겠습니다",
        "{noun:과} {noun2}의 차이를 설명해 보세요",
        "{noun:은} 교재 {page} 쪽에 자세히 나옵니다",
        "이 문제에서 {noun:이} 왜 중요한지 생각해 봅시다",
        "다음 시간에는 {action}에 대해 이야기하겠습니다",
        "{noun:을} 이해하려면 먼저 {noun2:을} 알아야 합니다",
        "{proper}에 대해 들어 본 적이 있나요",
        "{noun}의 예를 {count} 가지 들어 보세요",
        "{year} 년에 처음 {action}된 {noun:을} 살펴보겠습니다",
        "여러분 {noun:이} 무엇인지 아는 사람 있나요",
        "그럼 {noun:과} {noun2:을} 비교해 볼까요",
        "학생들이 가장 어려워하는 부분이 바로 {noun}입니다",
    ],
    "meeting": [
        "{noun} 관련 자료를 {day}까지 보내 주세요",
        "{action} 건은 다음 회의에서 다시 논의하겠습니다",
        "{proper}에서 온 {noun} 담당자와 통화했습니다",
        "이번 주 안에 {action:을} 마무리해야 합니다",
        "{noun:이} 부족해서 일정이 조금 늦어졌습니다",
        "{noun} 비용이 지난달보다 {percent} 퍼센트 늘었습니다",
        "{name} 님이 {action:을} 맡아 주시기로 했습니다",
        "{noun:과} {noun2} 문제를 같이 검토해 봅시다",
        "우선 {action}부터 시작하는 게 좋겠습니다",
        "{day} {hour}에 {noun} 회의를 하겠습니다",
        "그 부분은 {noun:을} 다시 확인하고 말씀드리겠습니다",
    ],
    "customer_service": [
        "{noun:을} 사고 싶은데 어디에 있나요",
        "{noun:은} 지금 할인 중입니다",
        "이 {noun:은} 가격이 {money} 원입니다",
        "{noun:이} 고장 나서 수리를 맡기고 싶어요",
        "{noun:으로} 교환해 드릴까요",
        "{noun:과} {noun2:을} 함께 포장해 드릴까요",
        "{proper}에 있는 매장에서도 {noun:을} 파나요",
        "{noun} 재고가 {count} 개 남아 있습니다",
        "손님 {noun:은} 이쪽에 있습니다",
        "{noun:을} 찾으시면 직원에게 말씀해 주세요",
    ],
    "call_center": [
        "{noun} 문제로 전화드렸습니다",
        "{action} 신청은 어떻게 하나요",
        "{proper}에 사시는 {name} 고객님 맞으십니까",
        "{name} 고객님 {action} 접수가 완료되었습니다",
        "{noun:이} 확인되면 바로 연락드리겠습니다",
        "{noun} 때문에 불편을 드려 죄송합니다",
        "말씀하신 {noun:은} 저희 쪽에서 처리해 드리겠습니다",
        "{day}까지 {action:을} 해 주셔야 합니다",
        "{noun:과} {noun2} 중에서 어느 쪽이 문제인가요",
        "상담원이 {noun}에 대해 다시 안내해 드리겠습니다",
    ],
    "everyday": [
        "{noun:은} 정말 {adj+습니다}",
        "요즘은 {noun:이} {adj+지} 않나요",
        "{adverb} {noun:을} {verb+고} 싶습니다",
        "아이들이 {noun:을} {verb+기} 시작했습니다",
        "그 사람은 매일 {noun:을} {verb+습니다}",
        "여기서는 {noun:을} {verb+지} 마세요",
        "{noun:이} 생각보다 {state}합니다",
        "어제 친구와 {action:을} 했습니다",
        "저는 {noun:과} {noun2:을} 좋아합니다",
        "{name} 씨는 {proper}에서 {action:을} 하고 있습니다",
        "{noun:이} {adverb} {adj+습니다}",
        "우리는 {noun}에 대해 {adverb} 이야기했습니다",
        "그 {noun:은} {proper}에서 처음 만들었습니다",
        "{noun:이나} {noun2:을} 준비해 오세요",
        "누가 {noun:을} {verb+고} 있나요",
        "{proper:은} {noun:으로} 유명합니다",
        "{noun}하고 {noun2:은} 잘 {verb+지} 않습니다",
        "내일은 {action}하러 갑니다",
        "이 {noun:은} 너무 {adj+고} {adj2+습니다}",
        "{noun:이라고} 들어 보셨나요",
    ],
    "word_list": [
        "다음 낱말을 읽어 보세요 {token} {token2} {token3}",
        "{token} {token2} {token3} {token4}",
        "받아쓰기 문제입니다 {token} {token2}",
        "받아 적어 보세요 {token} {token2} {token3}",
        "{token} 다음에는 {token2}",
    ],
}
_FRAME_WEIGHTS = {"lecture": 1.0, "meeting": 1.0, "customer_service": 1.0, "call_center": 1.0,
                  "everyday": 2.0, "word_list": 1.0}

_SLOT = re.compile(r"\{([a-z_]+?)(\d*)(?::([가-힣]+)|\+([가-힣]+))?\}")


def _frame_kinds(frame: str) -> List[str]:
    return [m.group(1) for m in _SLOT.finditer(frame)]


def render_frame(frame: str, rng: Rng, lex: Dict[str, Tuple[str, ...]]) -> str:
    """Fill one frame's slots (see FRAMES). Half the words come from the common subset, if any."""
    used: Dict[str, List[str]] = {}

    def draw(kind: str) -> str:
        if kind in _NUMBERS:
            return _NUMBERS[kind](rng)
        common = lex.get("common_" + kind, ())
        pool = common if common and rng.random() < 0.5 else lex[kind]
        return pool[int(rng.integers(len(pool)))]

    def fill(match: "re.Match[str]") -> str:
        kind, _index, particle, ending = match.groups()
        for _ in range(10):
            word = draw(kind)
            if word not in used.get(kind, []):
                break
        used.setdefault(kind, []).append(word)
        if particle:
            return josa(word, particle)
        if ending:
            return conjugate(word, ending)
        return word

    return " ".join(_SLOT.sub(fill, frame).split())


def lexicon_sentences(n: int, seed: int = 0, sources: Sequence[str] = DEFAULT_SOURCES) -> List[str]:
    """``n`` distinct lexicon sentences (fewer if the frames run out), deterministic in the arguments."""
    lex = lexicon(_check_sources(sources))
    usable = []
    for family, frames in FRAMES.items():
        for frame in frames:
            if all(kind in _NUMBERS or lex.get(kind) for kind in _frame_kinds(frame)):
                usable.append((family, frame))
    if not usable:
        return []
    weights = np.array([_FRAME_WEIGHTS[f] / len(FRAMES[f]) for f, _ in usable], dtype=np.float64)
    weights /= weights.sum()
    rng = np.random.default_rng([seed, 13])
    reserved = _reserved()
    seen, out = set(), []
    attempts = 0
    choices: List[int] = []
    while len(out) < n and attempts < 20 * n + 1000:
        attempts += 1
        if not choices:  # frames drawn in batches: one numpy call per 4096 sentences
            choices = rng.choice(len(usable), size=4096, p=weights).tolist()[::-1]
        _family, frame = usable[choices.pop()]
        text = render_frame(frame, rng, lex)
        if text in seen or text in reserved or not is_clean_sentence(text):
            continue
        seen.add(text)
        out.append(text)
    return out


def _reserved() -> frozenset:
    from hypersp.prepare.synthetic.open_test_text import open_test_sentences

    return frozenset(open_test_sentences())


# --------------------------------------------------------------------------- the pool

@functools.lru_cache(maxsize=4)
def _pool(sources: Tuple[str, ...], n_lexicon: int, seed: int) -> Tuple[str, ...]:
    reserved = _reserved()
    real = [s for s in real_sentences([s for s in sources if s in ("kolaw", "kobill")]
                                      if {"kolaw", "kobill"} & set(sources) else [])
            if s not in reserved] if {"kolaw", "kobill"} & set(sources) else []
    lexical = lexicon_sentences(n_lexicon, seed=seed, sources=sources) if n_lexicon > 0 else []
    pool = list(dict.fromkeys(real + lexical))
    order = np.random.default_rng([seed, 17]).permutation(len(pool))
    return tuple(pool[i] for i in order)


def broad_sentences(sources: Sequence[str] = DEFAULT_SOURCES, seed: int = 0,
                    n_lexicon: int = DEFAULT_LEXICON_SENTENCES) -> List[str]:
    """The broad pool: every real sentence of the running-text sources plus ``n_lexicon`` lexicon
    sentences, deduplicated and shuffled by ``seed``. Same arguments and package versions -> same
    list. Raises :class:`BroadTextUnavailable` (an ImportError) naming ``pip install
    hypersp[broadtext]`` when a package is missing. Never contains an open-test sentence."""
    sources = _check_sources(sources)
    for s in sources:
        _package_dir(s)
    return list(_pool(sources, int(n_lexicon), int(seed)))


def distinct_words(sentences: Iterable[str]) -> int:
    """Number of distinct space-separated words."""
    return len({w for s in sentences for w in s.split()})


def pool_report(sources: Sequence[str] = DEFAULT_SOURCES, seed: int = 0,
                n_lexicon: int = DEFAULT_LEXICON_SENTENCES) -> Dict[str, object]:
    """Sizes of the pool and of its parts, the source licences and package versions (for model cards)."""
    sources = _check_sources(sources)
    pool = broad_sentences(sources, seed=seed, n_lexicon=n_lexicon)
    real = [s for s in real_sentences([s for s in sources if s in ("kolaw", "kobill")])] \
        if {"kolaw", "kobill"} & set(sources) else []
    lex = lexicon(sources)
    return {
        "sentences": len(pool),
        "distinct_words": distinct_words(pool),
        "real_sentences": len(real),
        "real_distinct_words": distinct_words(real),
        "lexicon_sentences": len(pool) - len(set(real) & set(pool)),
        "lexicon_sizes": {k: len(v) for k, v in lex.items() if not k.startswith("common_")},
        "sources": {s: SOURCES[s][2] for s in sources},
        "versions": source_versions(sources),
        "seed": seed,
        "n_lexicon": n_lexicon,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m hypersp.prepare.synthetic.broad_text [--out pool.txt] [--report]``: write or describe the pool."""
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m hypersp.prepare.synthetic.broad_text", description=main.__doc__)
    p.add_argument("--out", help="write the pool here, one sentence per line")
    p.add_argument("--sources", default=",".join(DEFAULT_SOURCES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-lexicon", type=int, default=DEFAULT_LEXICON_SENTENCES)
    args = p.parse_args(argv)
    sources = tuple(s for s in args.sources.split(",") if s)
    if args.out:
        pool = broad_sentences(sources, seed=args.seed, n_lexicon=args.n_lexicon)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(pool) + "\n", encoding="utf-8")
    print(json.dumps(pool_report(sources, seed=args.seed, n_lexicon=args.n_lexicon), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
