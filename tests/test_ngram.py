"""ARPA n-gram LMs: reading with back-off, Kneser-Ney building, round trip, the builder command."""
import json
import math

import pytest

from hypersp.decoding.ngram import LN10, ArpaError, NgramLM, build_arpa, text_to_units
from hypersp_cli import lm as lm_cli

ARPA = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<s>\t-0.5
-0.7\t</s>
-0.6\ta\t-0.3
-0.8\tb\t-0.2
-2.0\t<unk>

\\2-grams:
-0.2\t<s> a
-0.4\ta b
-0.1\tb </s>

\\end\\
"""

TEXTS = ["나는 학교에 간다", "나는 집에 간다", "너는 학교에 간다", "나는 밥을 먹는다", "그는 집에 있다"]


def test_reader_backs_off(tmp_path):
    path = tmp_path / "hand.arpa"
    path.write_text(ARPA, encoding="utf-8")
    lm = NgramLM.load(path)
    assert lm.order == 2 and lm.unit == "word"
    s = lm.begin_state()
    lp, s = lm.score(s, "a")
    assert math.isclose(lp, -0.2 * LN10)                     # seen bigram
    lp, s2 = lm.score(s, "a")
    assert math.isclose(lp, (-0.3 - 0.6) * LN10)            # back-off(a) + p(a)
    lp, _ = lm.score(s, "zebra")
    assert math.isclose(lp, (-0.3 - 2.0) * LN10)            # unknown word -> <unk>
    assert math.isclose(lm.sentence_logprob(["a", "b"]), (-0.2 - 0.4 - 0.1) * LN10)


def test_kneser_ney_is_normalized_and_prefers_seen_text():
    for order in (1, 2, 3):
        lm = build_arpa(TEXTS, order=order)
        words = sorted(lm.vocab - {"<s>"})
        for state in (lm.begin_state(), ("나는",), ("<s>", "나는"), ("학교에",)):
            total = sum(math.exp(lm.score(state, w)[0]) for w in words)
            assert math.isclose(total, 1.0, rel_tol=1e-6), (order, state, total)
    lm = build_arpa(TEXTS, order=3)
    assert lm.sentence_logprob("나는 학교에 간다".split()) > lm.sentence_logprob("간다 학교에 나는".split()) + 5


def test_arpa_round_trip(tmp_path):
    lm = build_arpa(TEXTS, order=3, unit="jamo")
    path = tmp_path / "lm.arpa"
    lm.save(path)
    again = NgramLM.load(path)
    assert again.unit == "jamo" and again.order == 3
    assert again.ngrams.keys() == lm.ngrams.keys()
    for n in lm.ngrams:
        assert again.ngrams[n].keys() == lm.ngrams[n].keys()
    units = text_to_units("나는 밥을 먹는다", "jamo")
    assert math.isclose(again.sentence_logprob(units), lm.sentence_logprob(units), abs_tol=1e-4)


def test_units():
    assert text_to_units("가 나", "char") == ["가", "<sp>", "나"]
    assert text_to_units("가", "jamo") == ["\u1100", "\u1161"]
    assert text_to_units(" 가  나 ", "word") == ["가", "나"]


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=1\n\n\\1-grams:\nnot-a-number a\n", encoding="utf-8")
    with pytest.raises(ArpaError, match="bad.arpa:5"):
        NgramLM.load(bad)
    with pytest.raises(FileNotFoundError):
        NgramLM.load(tmp_path / "missing.arpa")


def test_builder_command(tmp_path, capsys):
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": f"{i}.wav", "duration": 1.0, "text": t}, ensure_ascii=False) + "\n"
                                for i, t in enumerate(TEXTS)), encoding="utf-8")
    text = tmp_path / "extra.txt"
    text.write_text("나는 집에 있다\n\n", encoding="utf-8")
    out = tmp_path / "lm" / "word3.arpa"
    assert lm_cli.main(["--manifest", str(manifest), "--text", str(text), "--out", str(out), "--order", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sentences"] == 6 and summary["order"] == 3
    lm = NgramLM.load(out)
    assert ("나는", "집에", "있다") in lm.ngrams[3]


def test_word_prefixes_compare_as_jamo():
    from hypersp.decoding.ngram import WordPrefixes

    p = WordPrefixes(["학교", "학생", "가다"])
    assert "학" in p and "학교" in p and "가" in p and "" in p
    assert "\u1112\u1161\u11a8" in p            # 하 + final ㄱ, on the way to 학교
    assert "\u1112\u1161\u11a8\u1100" in p      # ... + the next initial
    assert "\u1112\u1161\u1100" not in p        # 하 + initial ㄱ is "하교", no word
    assert "학교다" not in p and "나" not in p
    lm = build_arpa(TEXTS, order=2)
    prefixes = lm.word_prefixes()
    assert lm.word_prefixes() is prefixes and "학교" in prefixes and "<s" not in prefixes and "학교에" in prefixes
    assert len(prefixes) == len(lm.vocab - {"<s>", "</s>", "<unk>"})


def test_load_lm_reads_a_file_once(tmp_path):
    from hypersp.decoding.ngram import load_lm

    path = tmp_path / "w.arpa"
    build_arpa(TEXTS, order=2).save(path)
    a = load_lm(path)
    assert load_lm(str(path)) is a
    build_arpa(TEXTS[:2], order=2).save(path)  # changed on disk: read again
    b = load_lm(path)
    assert b is not a and b.vocab != a.vocab
    with pytest.raises(FileNotFoundError):
        load_lm(tmp_path / "missing.arpa")


# ---- pruning (hypersp-prepare lm --prune) and .arpa.gz ------------------------------------------------
REPEATED = TEXTS + ["나는 학교에 간다", "너는 집에 간다", "나는 학교에 있다"]


def _contexts(texts, unit, order):
    states = set()
    for t in texts:
        u = ["<s>"] + text_to_units(t, unit)
        for i in range(len(u)):
            for k in range(1, order):
                if i - k + 1 >= 0:
                    states.add(tuple(u[i - k + 1:i + 1]))
    return states


@pytest.mark.parametrize("unit,order,prune", [("word", 3, 2), ("char", 4, 2), ("jamo", 5, [2, 3]), ("jamo", 4, 3)])
def test_pruned_model_drops_rare_ngrams_and_stays_normalized(unit, order, prune):
    full = build_arpa(REPEATED, order=order, unit=unit)
    lm = build_arpa(REPEATED, order=order, unit=unit, prune=prune)
    assert lm.order == order
    for n in (1, 2):  # orders 1 and 2 are never pruned
        assert lm.ngrams[n].keys() == full.ngrams[n].keys()
    assert sum(len(lm.ngrams[n]) for n in range(3, order + 1)) < sum(len(full.ngrams[n]) for n in range(3, order + 1))
    for n in range(3, order + 1):
        for gram, (prob, _) in lm.ngrams[n].items():
            assert gram[:-1] in lm.ngrams[n - 1] and gram[1:] in lm.ngrams[n - 1]  # contexts and suffixes kept
            assert math.isclose(prob, full.ngrams[n][gram][0], abs_tol=1e-12)  # kept n-grams keep their probability
    words = sorted(lm.vocab - {"<s>"})
    for state in _contexts(REPEATED, unit, order):  # every context sums to one, including those that lost n-grams
        total = sum(math.exp(lm.score(state, w)[0]) for w in words)
        assert math.isclose(total, 1.0, rel_tol=1e-9), (state, total)
    seen, scrambled = text_to_units("나는 학교에 간다", unit), text_to_units("간다 학교에 나는", unit)
    assert lm.sentence_logprob(seen) > lm.sentence_logprob(scrambled) + 5


def test_prune_thresholds():
    from hypersp.decoding.ngram import prune_thresholds

    assert prune_thresholds(None, 6) == {} and prune_thresholds(1, 6) == {} and prune_thresholds(2, 2) == {}
    assert prune_thresholds(2, 5) == {3: 2, 4: 2, 5: 2}
    assert prune_thresholds([1, 2, 3], 6) == {4: 2, 5: 3, 6: 3}
    with pytest.raises(ValueError, match="decrease"):
        prune_thresholds([3, 2], 4)
    unpruned = build_arpa(REPEATED, order=3, unit="char")
    assert build_arpa(REPEATED, order=3, unit="char", prune=1).ngrams == unpruned.ngrams


def test_gzip_round_trip_is_deterministic(tmp_path):
    lm = build_arpa(REPEATED, order=4, unit="jamo", prune=2)
    a, b, plain = tmp_path / "a.arpa.gz", tmp_path / "b.arpa.gz", tmp_path / "a.arpa"
    lm.save(a)
    lm.save(b)
    lm.save(plain)
    assert a.read_bytes()[:2] == b"\x1f\x8b" and a.read_bytes() == b.read_bytes()  # gzip, no time stamp
    assert a.stat().st_size < plain.stat().st_size
    again = NgramLM.load(a)
    assert again.unit == "jamo" and again.ngrams == NgramLM.load(plain).ngrams
    units = text_to_units("나는 학교에 간다", "jamo")
    assert math.isclose(again.sentence_logprob(units), lm.sentence_logprob(units), abs_tol=1e-4)
    broken = tmp_path / "broken.arpa.gz"
    broken.write_bytes(a.read_bytes()[: len(a.read_bytes()) // 2])
    with pytest.raises(ArpaError, match="broken.arpa.gz"):
        NgramLM.load(broken)
    not_gz = tmp_path / "text.arpa.gz"
    not_gz.write_text(ARPA, encoding="utf-8")
    with pytest.raises(ArpaError, match="not a readable ARPA file"):
        NgramLM.load(not_gz)


def test_builder_command_prunes_and_writes_gzip(tmp_path, capsys):
    text = tmp_path / "pool.txt"
    text.write_text("\n".join(REPEATED) + "\n", encoding="utf-8")
    out = tmp_path / "jamo4.arpa.gz"
    assert lm_cli.main(["--text", str(text), "--out", str(out), "--order", "4", "--unit", "jamo", "--prune", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["prune"] == {"3": 2, "4": 2} and summary["bytes"] == out.stat().st_size
    lm = NgramLM.load(out)
    assert lm.unit == "jamo" and {n: len(v) for n, v in lm.ngrams.items()} == {int(k): v for k, v in summary["ngrams"].items()}
    with pytest.raises(SystemExit):
        lm_cli.main(["--text", str(text), "--out", str(out), "--prune", "3,2"])
    assert "decrease" in capsys.readouterr().err
