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
from hypersp.text.numbers import read_integer, read_number, read_numbers


@pytest.mark.parametrize("digits,reading", [
    ("0", "영"), ("7", "칠"), ("10", "십"), ("11", "십일"), ("20", "이십"), ("100", "백"), ("101", "백일"),
    ("1000", "천"), ("1922", "천구백이십이"), ("10000", "만"), ("10001", "만일"), ("20500", "이만오백"),
    ("110000", "십일만"), ("100000000", "일억"), ("123456789", "일억이천삼백사십오만육천칠백팔십구"),
    ("1000000000000", "일조"), ("010", "공일공"), ("007", "공공칠"),
])
def test_sino_korean_integers(digits, reading):
    assert read_integer(digits) == reading


def test_decimals_separators_percent_and_mixed_text():
    assert read_number("3", "14") == "삼점일사"
    assert read_number("1,000") == "천"
    assert read_numbers("1,500원과 3.5% 그리고 70 %") == "천오백원과 삼점오퍼센트 그리고 칠십퍼센트"
    assert read_numbers("1922년 5월") == "천구백이십이년 오월"
    assert read_numbers("숫자 없음") == "숫자 없음"
    assert read_numbers("버전 1.2.3") == "버전 일점이.삼"        # no digit survives
    assert read_numbers("٣") == "٣"                             # only ASCII digits are numerals here
    with pytest.raises(ValueError):
        read_integer("12a")


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
    assert normalize_korean("안녕하세요. 반가워요! (진짜?) 50%요", keep_digits=False) == "안녕하세요 반가워요 진짜 오십퍼센트요"
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
    assert get_text_normalizer("korean")(SAMPLES[3]) == "PC방 천오백원 그러니까 잘"


def test_scoring_normalizers():
    cer = get_scoring_normalizer("korean_cer")
    assert cer("70% 확률이라니.").replace(" ", "") == cer("칠십 퍼센트 확률이라니").replace(" ", "")
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
