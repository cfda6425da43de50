"""Korean text normalization: numbers, ETRI (KsponSpeech) rules, target and scoring normalizers."""
import pytest

from hypersp.text.kspon import MalformedTranscript, clean_etri, fold_fullwidth
from hypersp.text.normalize import (
    SCORING_NORMALIZERS,
    TEXT_NORMALIZERS,
    etri_to_text,
    get_scoring_normalizer,
    get_text_normalizer,
    normalize_korean,
)
from hypersp.text.numbers import MONTHS, digit_by_digit, native, read_integer, read_number, read_numbers, sino


@pytest.mark.parametrize("digits,reading", [
    ("0", "영"), ("7", "칠"), ("10", "십"), ("11", "십일"), ("20", "이십"), ("100", "백"), ("101", "백일"),
    ("1000", "천"), ("1922", "천구백이십이"), ("10000", "만"), ("10001", "만 일"), ("20500", "이만 오백"),
    ("35000", "삼만 오천"), ("110000", "십일만"), ("100000000", "일억"),
    ("123456789", "일억 이천삼백사십오만 육천칠백팔십구"), ("1000000000000", "일조"), ("010", "공일공"),
    ("007", "공공칠"),
])
def test_sino_korean_integers(digits, reading):
    # one spacing convention, Korean orthography's: 만/억/조 groups apart (삼만 오천)
    assert read_integer(digits) == reading


def test_value_readings():
    assert sino(2024) == "이천이십사" and sino(15700) == "만 오천칠백" and sino(0) == "영"
    assert native(3) == "세" and native(20) == "스무" and native(21) == "스물한" and native(4, attributive=False) == "넷"
    assert digit_by_digit("0107") == "공일공칠" and MONTHS[5] == "유월" and MONTHS[9] == "시월"
    for bad in (lambda: sino(-1), lambda: native(0), lambda: native(100), lambda: digit_by_digit("1a")):
        with pytest.raises(ValueError):
            bad()


def test_decimals_separators_percent_and_mixed_text():
    assert read_number("3", "14") == "삼 점 일사"
    assert read_number("1,000") == "천"
    assert read_numbers("1,500원과 3.5% 그리고 70 %") == "천오백 원과 삼 점 오 퍼센트 그리고 칠십 퍼센트"
    assert read_numbers("1922년 5월") == "천구백이십이 년 오월"
    assert read_numbers("숫자 없음") == "숫자 없음"
    assert read_numbers("버전 1.2.3") == "버전 일 점 이.삼"      # no digit survives
    assert read_numbers("MP3를") == "MP삼를"
    assert read_numbers("٣") == "٣"                             # only ASCII digits are numerals here
    with pytest.raises(ValueError):
        read_integer("12a")


@pytest.mark.parametrize("written,spoken", [
    # native numerals before native counters; counters are words (one space before them)
    ("3시", "세 시"), ("오후 3시 30분", "오후 세 시 삼십 분"), ("3시30분", "세 시 삼십 분"), ("2명이", "두 명이"),
    ("사과 3개를", "사과 세 개를"), ("20살", "스무 살"), ("24시간", "스물네 시간"), ("1번째", "첫 번째"),
    ("3번째", "세 번째"), ("15시", "십오 시"), ("100명", "백 명"), ("3 시", "세 시"), ("차 2대", "차 두 대"),
    ("20대 고객", "이십 대 고객"),
    # Sino counters, and the ambiguous ones read Sino
    ("30분", "삼십 분"), ("5000원", "오천 원"), ("3번 문제", "삼 번 문제"), ("교재 7장을", "교재 칠 장을"),
    ("3개월이에요", "삼 개월이에요"), ("3개국", "삼개국"), ("30도", "삼십 도"), ("3일 동안", "삼 일 동안"),
    # money: 만 groups apart, digits + unit as one number
    ("35000원", "삼만 오천 원"), ("3만 5000원", "삼만 오천 원"), ("5만 원", "오만 원"), ("15,700원", "만 오천칠백 원"),
    ("5천원", "오천 원"), ("1만 원", "만 원"), ("2142만 8571원", "이천백사십이만 팔천오백칠십일 원"),
    # dates: month names, a day after a month is one word
    ("6월", "유월"), ("10월", "시월"), ("2026년 3월 2일에", "이천이십육 년 삼월 이일에"), ("6월 15일", "유월 십오일"),
    ("2024-01-15", "이천이십사 년 일월 십오일"), ("2026년3월2일", "이천이십육 년 삼월 이일"),
    # digit by digit
    ("010-1234-5678", "공일공 일이삼사 오육칠팔"), ("010 1234 5678", "공일공 일이삼사 오육칠팔"),
    ("뒷자리 1234 맞으십니까", "뒷자리 일이삼사 맞으십니까"), ("계좌 번호 003-456-7890", "계좌 번호 공공삼 사오육 칠팔구공"),
    ("1234명", "천이백삼십사 명"),
    # decimals and percent
    ("9.8입니다", "구 점 팔입니다"), ("30%입니다", "삼십 퍼센트입니다"), ("3.5%", "삼 점 오 퍼센트"),
])
def test_counter_aware_reading(written, spoken):
    assert read_numbers(written) == spoken
    assert normalize_korean(written) == normalize_korean(spoken) == spoken.replace(".", " ").strip()


def test_dual_notation_sides_and_digit_rule():
    raw = "(70%)/(칠 십 퍼센트) 확률 (3가지)/(세 가지) (뭐+ 뭔)/(모+ 몬) 소리"
    assert clean_etri(raw, side="spelling", keep_digits=True)[0] == "70% 확률 3가지 뭐 뭔 소리"
    assert clean_etri(raw, side="pronunciation")[0] == "칠 십 퍼센트 확률 세 가지 모 몬 소리"
    # reading digits: a spelling side with digits takes the transcriber's reading, others stay spelled
    assert clean_etri(raw, side="spelling", keep_digits=False)[0] == "칠 십 퍼센트 확률 세 가지 뭐 뭔 소리"
    with pytest.raises(ValueError):
        clean_etri(raw, side="phonetic")


def test_tags_fillers_repetition_unclear():
    raw = "b/ 아/ 그 PC/ 방에서 u/ 전+ 전처럼 l/ 뭐*라고 o/ n/"
    assert clean_etri(raw)[0] == "아 그 PC 방에서 전 전처럼 뭐라고"
    assert clean_etri(raw, unk="<unk>")[0] == "아 그 PC 방에서 <unk> 전 전처럼 뭐라고"
    assert clean_etri(raw, fluent=True)[0] == "그 방에서 전처럼 뭐라고"
    # tags only at token start: the last letter of a Latin word before '/' survives
    assert clean_etri("MP3를 bob/ 봤어")[0] == "MP3를 bob 봤어"


def test_dual_resolved_before_tags():
    # ")/(" must not be mistaken for a tag, and a tag letter inside a dual form is kept
    assert clean_etri("(o)/(오) 형")[0] == "o 형"
    assert clean_etri("(b)/(비) 형", side="pronunciation")[0] == "비 형"


def test_repairs_are_reported():
    text, repairs = clean_etri("(100%)(백 프로)가 (60)/)육십) (A) / (에이) 뭐 +뭔 뭐+뭔")
    assert text == "100%가 60 A 뭐 뭔 뭐 뭔"
    assert set(repairs) == {"missing_dual_slash", "flipped_dual_bracket", "spaces_around_dual_slash",
                            "space_before_plus", "mid_word_plus"}


@pytest.mark.parametrize("raw", ["(그러니까 잘 모르겠어", "그러니까) 잘", "((a)/(b))/(c)", "(a)/(b"])
def test_unresolvable_brackets_raise(raw):
    with pytest.raises(MalformedTranscript) as err:
        clean_etri(raw)
    assert "column" in str(err.value)


def test_aihub_markers_and_fullwidth():
    assert fold_fullwidth("３／ ｌ／　하") == "3/ l/ 하"
    assert clean_etri("@이름1 님 @김철수 씨 @웃음 안녕 /(noise) 하세요")[0] == "님 김철수 씨 안녕 하세요"
    assert clean_etri("ｌ／ 네 ／ 맞아요")[0] == "네 맞아요"


def test_normalize_korean_policies():
    assert normalize_korean("안녕하세요. 반가워요! (진짜?) 50%요", keep_digits=False) == "안녕하세요 반가워요 진짜 오십 퍼센트요"
    assert normalize_korean("50%요, 정말~", keep_digits=True) == "50%요 정말"
    assert normalize_korean("안녕, 정말?", punctuation="keep") == "안녕, 정말?"
    assert normalize_korean("pc랑 Mp3  \t 파일", keep_digits=True) == "PC랑 MP3 파일"
    assert normalize_korean("Mp3") == "MP삼"  # digits next to Latin are read Sino-Korean too (documented)
    with pytest.raises(ValueError):
        normalize_korean("x", punctuation="some")


SAMPLES = [
    "b/ (70%)/(칠 십 퍼센트) 확률이라니 아/ (뭐+ 뭔)/(모+ 몬) 소리야 진짜 (100%)(백 프로)가 왜 안돼? n/",
    "그럼 (20년)/(이십 년) 전+ 전처럼 이메일로 l/ 소통하면 되잖아. l/",
    "n/ 하/ 뭘 확인하기 어려워요. 그냥 오늘 결제된 부분에 있어서 빨리 일처리 해주세요.",
    "pc방 1,500원 (그러니까 잘",
]


@pytest.mark.parametrize("name", sorted(TEXT_NORMALIZERS))
def test_target_normalizers_are_idempotent(name):
    norm = get_text_normalizer(name)
    for s in SAMPLES:
        once = norm(s)
        assert norm(once) == once


def test_korean_normalizer_matches_preparer_and_never_raises():
    assert get_text_normalizer("korean")(SAMPLES[1]) == etri_to_text(SAMPLES[1]) == "그럼 이십 년 전 전처럼 이메일로 소통하면 되잖아"
    assert get_text_normalizer("korean")(SAMPLES[3]) == "PC방 천오백 원 그러니까 잘"


def test_scoring_normalizers():
    cer = get_scoring_normalizer("korean_cer")
    assert cer("70% 확률이라니.") == cer("칠십 퍼센트 확률이라니") == "칠십 퍼센트 확률이라니"
    assert cer("n/ 네, 맞아요?") == "네 맞아요"
    keep = get_scoring_normalizer("korean_cer_keep_digits")
    assert keep("70% 확률이라니.") == "70% 확률이라니"
    assert get_scoring_normalizer("english")("Mister Quilter's, GOSPEL!") == "mister quilter's gospel"
    assert set(SCORING_NORMALIZERS) >= {"basic", "korean_cer", "korean_cer_keep_digits", "english"}


def test_unknown_normalizer_lists_choices():
    with pytest.raises(KeyError) as err:
        get_text_normalizer("koreann")
    assert "korean" in str(err.value)
    with pytest.raises(KeyError) as err:
        get_scoring_normalizer("cer")
    assert "korean_cer" in str(err.value)


def test_a_plugin_registers_its_own_normalizers():
    from hypersp.registry import TEXT_NORMALIZERS, register_scoring_normalizer, register_text_normalizer

    @register_text_normalizer("test_shout")
    def shout(text: str) -> str:
        return text.upper()

    register_scoring_normalizer("test_shout_cer")(shout)
    assert get_text_normalizer("test_shout")("abc") == "ABC" == get_scoring_normalizer("test_shout_cer")("abc")
    assert TEXT_NORMALIZERS.entry("test_shout").module == __name__ and "korean" in TEXT_NORMALIZERS
