import pytest

from hypersp.text.hangul import (
    CHOSEONG,
    JONGSEONG,
    JUNGSEONG,
    compose,
    decompose,
    is_choseong,
    is_jongseong,
    is_jungseong,
    normalize_spaces,
)

SENTENCES = [
    "똠방각하",
    "안녕하세요, 반갑습니다!",
    "ㄱ ㅋㅋㅋ ㅠㅠ",  # compatibility jamo pass through untouched
    "KT 5G 요금제 39,000원입니다",
    "오늘 날씨 맑음 ☀️ 😀 좋아요",
    "뷁 쀍 갃 힣 가",
    "",
    "   공백   여러 개\t탭\n줄바꿈 ",
]


def test_constants():
    assert len(CHOSEONG) == 19 and CHOSEONG[0] == "\u1100" and CHOSEONG[-1] == "\u1112"
    assert len(JUNGSEONG) == 21 and JUNGSEONG[0] == "\u1161" and JUNGSEONG[-1] == "\u1175"
    assert len(JONGSEONG) == 27 and JONGSEONG[0] == "\u11a8" and JONGSEONG[-1] == "\u11c2"
    assert len(set(CHOSEONG + JUNGSEONG + JONGSEONG)) == 67


def test_decompose_known_values():
    assert decompose("가") == "\u1100\u1161"
    assert decompose("각") == "\u1100\u1161\u11a8"
    assert decompose("힣") == "\u1112\u1175\u11c2"
    assert decompose("똠") == "\u1104\u1169\u11b7"
    assert decompose("a1ㄱ") == "a1ㄱ"


@pytest.mark.parametrize("text", SENTENCES)
def test_round_trip(text):
    jamo = decompose(text)
    assert not any(0xAC00 <= ord(c) <= 0xD7A3 for c in jamo)
    assert compose(jamo) == text


def test_every_syllable_round_trips():
    syllables = "".join(chr(c) for c in range(0xAC00, 0xD7A4))
    jamo = decompose(syllables)
    assert all(is_choseong(c) or is_jungseong(c) or is_jongseong(c) for c in jamo)
    assert compose(jamo) == syllables


def test_compose_ill_formed_never_raises():
    stray_vowel = "\u1161"
    stray_final = "\u11a8"
    lone_initial = "\u1100"
    assert compose(stray_vowel + stray_final) == stray_vowel + stray_final
    assert compose(lone_initial + " ") == lone_initial + " "
    assert compose(stray_final + "\u1100\u1161") == stray_final + "가"
    # initial, initial, vowel, final, final -> initial kept, one syllable, final kept
    assert compose("\u1100\u1102\u1161\u11a8\u11a8") == "\u1100" + "낙" + "\u11a8"
    assert compose(lone_initial) == lone_initial


def test_normalize_spaces():
    assert normalize_spaces("  a \t b\n\nc \u00a0 d ") == "a b c d"
    assert normalize_spaces("") == ""
