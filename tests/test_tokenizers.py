import json
import subprocess
import sys

import pytest

from hypersp.registry import TOKENIZERS
from hypersp.tokenizers.base import BLANK, Tokenizer
from hypersp.tokenizers.char import CharTokenizer, CharTokenizerConfig
from hypersp.tokenizers.english import EnglishCharTokenizer
from hypersp.tokenizers.jamo import JamoTokenizer, JamoTokenizerConfig

KOREAN = [
    "똠방각하 안녕하세요",
    "오늘은 날씨가 맑습니다",
    "KT 5G 요금제는 39000원입니다",
    "네 감사합니다",
]


def rebuild(tok):
    state = json.loads(json.dumps(tok.state_dict()))  # must be plain JSON
    fresh = TOKENIZERS.build(tok.cfg)
    fresh.load_state_dict(state)
    return fresh


def test_registered_and_no_torch_dependency():
    assert {"char", "jamo", "english_char"} <= set(TOKENIZERS.names())
    for name in ("char", "jamo", "english_char"):
        cls = TOKENIZERS.get(name)
        assert issubclass(cls, Tokenizer)
        assert TOKENIZERS.config_class(name)().name == name


def test_tokenizer_modules_do_not_import_torch():
    code = (
        "import sys, hypersp.tokenizers.char, hypersp.tokenizers.jamo, hypersp.tokenizers.english; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_char_fit_round_trip_and_rebuild():
    tok = CharTokenizer(CharTokenizerConfig())
    tok.fit(KOREAN)
    assert tok.tokens[0] == BLANK and tok.tokens[1] == " "
    assert tok.tokens[2:] == sorted(tok.tokens[2:])
    assert tok.vocab_size == 2 + len(set("".join(KOREAN).replace(" ", "")))
    for text in KOREAN:
        ids = tok.encode(text)
        assert 0 not in ids
        assert tok.decode(ids) == text
    assert tok.unknown_count == 0
    again = rebuild(tok)
    assert again.tokens == tok.tokens
    assert again.encode(KOREAN[0]) == tok.encode(KOREAN[0])


def test_char_deterministic_and_min_count():
    a, b = CharTokenizer(), CharTokenizer()
    a.fit(KOREAN)
    b.fit(list(reversed(KOREAN)))
    assert a.tokens == b.tokens
    rare = CharTokenizer(CharTokenizerConfig(min_count=2))
    rare.fit(["가가 나", "가"])
    assert rare.tokens == [BLANK, " ", "가"]


def test_char_unknown_dropped_and_counted_and_spaces_normalized():
    tok = CharTokenizer()
    tok.fit(["가나다"])
    ids = tok.encode("  가 \t라다  ")
    assert tok.decode(ids) == "가 다"
    assert tok.unknown_count == 1 and tok.unknown_symbols["라"] == 1
    # NFD input is normalized to syllables
    import unicodedata

    assert tok.encode(unicodedata.normalize("NFD", "가나")) == tok.encode("가나")
    tok.reset_unknown()
    assert tok.unknown_count == 0


def test_decode_skips_blank_and_rejects_out_of_range():
    tok = CharTokenizer()
    tok.fit(["가나"])
    ids = tok.encode("가나")
    assert tok.decode([0] + ids[:1] + [0, 0] + ids[1:] + [0]) == "가나"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([tok.vocab_size])


def test_jamo_fixed_vocab_and_round_trip():
    tok = JamoTokenizer(JamoTokenizerConfig())
    assert tok.vocab_size == 2 + 19 + 21 + 27 == 69
    tok.fit(KOREAN + ["ㅋㅋ 좋아요!"])
    extras = tok.tokens[69:]
    assert extras == sorted(extras)
    assert set("KT5G39000!ㅋ") <= set(extras)
    for text in KOREAN + ["똠방각하 ㅋㅋ 좋아요!"]:
        ids = tok.encode(text)
        assert 0 not in ids
        assert tok.decode(ids) == text
    # 똠 = 3 jamo, 하 = 2 jamo
    assert len(tok.encode("똠하")) == 5
    assert tok.unknown_count == 0
    tok.encode("가😀")
    assert tok.unknown_count == 1 and tok.unknown_symbols["😀"] == 1
    again = rebuild(tok)
    assert again.tokens == tok.tokens and again.decode(tok.encode("네 감사합니다")) == "네 감사합니다"


def test_jamo_decode_of_ill_formed_ctc_output_does_not_raise():
    tok = JamoTokenizer()
    vowel = tok.token_to_id("\u1161")
    final = tok.token_to_id("\u11a8")
    assert tok.decode([vowel, final]) == "\u1161\u11a8"


def test_english_char():
    tok = EnglishCharTokenizer()
    assert tok.vocab_size == 29
    assert tok.tokens == [BLANK, " "] + list("abcdefghijklmnopqrstuvwxyz") + ["'"]
    tok.fit(["ignored 123"])
    assert tok.vocab_size == 29
    ids = tok.encode("HELLO  World, it’s 42")
    assert 0 not in ids
    assert tok.decode(ids) == "hello world it's"
    assert tok.unknown_count == 3  # ",", "4", "2"
    again = rebuild(tok)
    assert again.tokens == tok.tokens


def test_load_state_dict_errors():
    tok = CharTokenizer()
    with pytest.raises(KeyError, match="tokens"):
        tok.load_state_dict({})
    with pytest.raises(ValueError, match="blank"):
        tok.load_state_dict({"tokens": [" ", "가"]})
    with pytest.raises(ValueError, match="duplicate"):
        tok.load_state_dict({"tokens": [BLANK, " ", "가", "가"]})
    with pytest.raises(ValueError, match="jamo"):
        JamoTokenizer().load_state_dict({"tokens": [BLANK, " ", "가"]})
