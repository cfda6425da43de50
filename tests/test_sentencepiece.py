"""SentencePiece tokenizer: blank id, round trips, jamo input, persistence, the training command."""
import json

import pytest

from hypersp.registry import TOKENIZERS
from hypersp.tokenizers.sentencepiece import SentencePieceTokenizer, SentencePieceTokenizerConfig as Cfg
from hypersp_cli import tokenizer as tokenizer_cli

TEXTS = ["나는 학교에 간다", "나는 집에 간다", "너는 학교에 간다", "나는 밥을 먹는다", "그는 집에 있다",
         "우리는 공원에서 논다", "오늘 날씨가 좋다", "내일은 비가 온다"] * 10


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
@pytest.mark.parametrize("input_", ["syllable", "jamo"])
def test_fit_encode_decode(model_type, input_):
    tok = SentencePieceTokenizer(Cfg(vocab_size=34, model_type=model_type, input=input_))
    tok.fit(TEXTS)
    assert tok.vocab_size == 34 and tok.tokens[0] == "<blank>" and tok.blank_id == 0
    for text in TEXTS[:8]:
        ids = tok.encode(text)
        assert ids and 0 not in ids and max(ids) < tok.vocab_size
        assert tok.decode(ids) == text
    assert tok.decode([0] + tok.encode("나는 집에") + [0]) == "나는 집에"  # blanks are skipped
    jamo_pieces = any("\u1100" <= ch <= "\u11ff" for t in tok.tokens for ch in t)
    assert jamo_pieces == (input_ == "jamo")


def test_unknown_characters_are_dropped_and_counted():
    tok = SentencePieceTokenizer(Cfg(vocab_size=34))
    tok.fit(TEXTS)
    ids = tok.encode("나는 Q 간다")
    assert 1 not in ids and tok.unknown_count >= 1
    assert tok.decode(ids) == "나는 간다"


def test_state_dict_rebuilds_the_tokenizer():
    tok = SentencePieceTokenizer(Cfg(vocab_size=38, input="jamo"))
    tok.fit(TEXTS)
    state = json.loads(json.dumps(tok.state_dict()))  # plain JSON
    fresh = TOKENIZERS.build(Cfg())  # a checkpoint's config may be stale: the state wins
    fresh.load_state_dict(state)
    assert fresh.tokens == tok.tokens and fresh.input == "jamo"
    assert fresh.encode("오늘 날씨가 좋다") == tok.encode("오늘 날씨가 좋다")
    with pytest.raises(KeyError, match="model"):
        fresh.load_state_dict({"tokens": ["<blank>"]})


def test_clear_errors():
    with pytest.raises(ValueError, match="vocab_size"):
        SentencePieceTokenizer(Cfg(vocab_size=5000)).fit(TEXTS)
    with pytest.raises(ValueError, match="model_type"):
        SentencePieceTokenizer(Cfg(model_type="wordpiece"))
    with pytest.raises(RuntimeError, match="not trained"):
        SentencePieceTokenizer(Cfg()).encode("가")


def test_training_command_and_model_path(tmp_path, capsys):
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": f"{i}.wav", "duration": 1.0, "text": t}, ensure_ascii=False) + "\n"
                                for i, t in enumerate(TEXTS)), encoding="utf-8")
    out = tmp_path / "spm"
    rc = tokenizer_cli.main(["--manifest", str(manifest), "--out", str(out), "type=bpe", "vocab_size=34", "input=jamo"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vocab_size"] == 34 and "tokenizer.model_path=" in summary["use_with"]
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[0] == "<blank>" and len(vocab) == 34
    loaded = SentencePieceTokenizer(Cfg(model_path=str(out / "tokenizer.model"), input="jamo"))
    loaded.fit(["ignored: the model is already trained"])
    assert loaded.tokens == vocab and loaded.decode(loaded.encode("내일은 비가 온다")) == "내일은 비가 온다"
    assert tokenizer_cli.main(["--manifest", str(manifest), "--out", str(out), "vocab_sise=34"]) == 2
    assert "vocab_sise" in capsys.readouterr().err
