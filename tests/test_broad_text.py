"""The broad text pool (hypersp.prepare.synthetic.broad_text) and the reserved open-vocabulary test (issue 13 parts 1-2).

Tests that read the pool need the optional extra ``hypersp[broadtext]`` (konlpy, wordfreq,
kiwipiepy-model) and skip without it; the open test and the error for a missing package do not.
"""
import importlib.util

import pytest

from hypersp.prepare.synthetic import broad_text as bt
from hypersp.prepare.synthetic.korean_text import MAX_WORDS, generate_sentences, is_clean_sentence
from hypersp.prepare.synthetic.open_test_text import OPEN_TEST_REGISTERS, open_test_sentences, unseen_word_fraction
from hypersp.prepare.synthetic.generator import SyntheticConfig, config_hash, plan_corpus, validate_config

DEMO_HELDOUT = ["m8", "f5", "steph2", "klatt4", "iven3", "Andrea", "benjamin", "aunty"]


@pytest.fixture(scope="module")
def packages():
    for module in ("konlpy", "wordfreq", "kiwipiepy_model"):
        pytest.importorskip(module, reason="optional extra hypersp[broadtext] not installed")


@pytest.fixture(scope="module")
def pool(packages):
    return bt.broad_sentences()


# --------------------------------------------------------------------------- open test (no extra needed)


def test_open_test_sentences_are_clean_distinct_and_balanced():
    sentences = open_test_sentences()
    assert len(sentences) == 240 and len(set(sentences)) == 240
    assert all(is_clean_sentence(s) for s in sentences)
    assert [len(open_test_sentences(r)) for r in OPEN_TEST_REGISTERS] == [60, 60, 60, 60]


def test_open_test_is_open_vocabulary_for_the_template_generator():
    # The demo models were trained on generate_sentences text: at least 30 % of the open test's words
    # must be unseen there (the demo corpus has ~13,000 training sentences; 20,000 is more generous).
    training = generate_sentences(20000, seed=0)
    unseen = unseen_word_fraction(open_test_sentences(), training)
    assert unseen["tokens"] >= 0.30 and unseen["types"] >= 0.30
    assert not set(open_test_sentences()) & set(training)


def test_unseen_word_fraction_counts_tokens_and_types():
    out = unseen_word_fraction(["가 나 나", "다"], ["가 라"])
    assert out["tokens"] == pytest.approx(3 / 4) and out["types"] == pytest.approx(2 / 3)
    assert (out["num_tokens"], out["num_types"]) == (4, 3)


def test_synthetic_text_open_plans_only_held_out_voices_in_test():
    cfg = SyntheticConfig(text="open", heldout_variants=DEMO_HELDOUT, min_rate=125, max_rate=195)
    validate_config(cfg)
    plan = plan_corpus(cfg)
    assert [p["text"] for p in plan] == open_test_sentences()
    assert {p["split"] for p in plan} == {"test"}
    assert {p["speaker"] for p in plan} <= set(DEMO_HELDOUT) and len({p["speaker"] for p in plan}) == 8
    assert all(125 <= p["rate"] <= 195 for p in plan)
    assert plan == plan_corpus(cfg)  # deterministic
    with pytest.raises(ValueError, match="held-out voices"):
        validate_config(SyntheticConfig(text="open", heldout_variants=[]))
    with pytest.raises(ValueError, match="text='nope'"):
        validate_config(SyntheticConfig(text="nope"))


def test_template_corpora_keep_their_config_hash():
    # `text`/`broad_fraction` do not enter the hash of a templates corpus: corpora made before they
    # existed are reused, not regenerated.
    assert config_hash(SyntheticConfig()) == config_hash(SyntheticConfig(broad_fraction=0.9))
    assert config_hash(SyntheticConfig()) != config_hash(SyntheticConfig(text="open"))


def test_broad_corpus_hash_follows_the_pool_version(packages, monkeypatch):
    # a text=broad corpus made from an older pool (e.g. before the one numeral reader) is regenerated
    cfg = SyntheticConfig(text="broad")
    before = config_hash(cfg)
    monkeypatch.setattr(bt, "POOL_VERSION", bt.POOL_VERSION + 1)
    assert config_hash(cfg) != before


def test_missing_package_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wordfreq" else real(name, *a))
    bt._pool.cache_clear()
    with pytest.raises(ImportError, match=r"pip install hypersp\[broadtext\]"):
        bt.broad_sentences(sources=("wordfreq",))
    with pytest.raises(ValueError, match="unknown broad text sources"):
        bt.broad_sentences(sources=("wikipedia",))


# --------------------------------------------------------------------------- helpers (no extra needed)


def test_conjugate_leaves_every_stem_intact():
    assert bt.conjugate("먹", "습니다") == "먹습니다"
    assert bt.conjugate("가", "습니다") == "갑니다"
    assert bt.conjugate("만들", "습니다") == "만듭니다"  # ㄹ drops before ㅂ니다
    assert bt.conjugate("돕", "습니다") == "돕습니다"  # ㅂ-irregular stems are regular here
    assert bt.conjugate("모르", "고") == "모르고" and bt.conjugate("듣", "기") == "듣기"
    with pytest.raises(ValueError):
        bt.conjugate("먹", "어요")


# --------------------------------------------------------------------------- the pool (needs the extra)


def test_speakable_sentences_read_numbers_and_drop_what_cannot_be_spoken(packages):
    out = bt.speakable_sentences("제1조 ① 대한민국은 민주공화국이다.\n이 법은 WHO 기준에 따른다.\n3·1운동의 정신을 잇는다.")
    assert "제일조 대한민국은 민주공화국이다" in out
    assert "삼일운동의 정신을 잇는다" in out
    assert not any("WHO" in s or "기준에" in s for s in out)  # Latin left after normalization: dropped
    long = " ".join(["가나다"] * 30) + "."
    pieces = bt.speakable_sentences(long)
    assert sum(len(p.split()) for p in pieces) == 30 and all(len(p.split()) <= MAX_WORDS for p in pieces)


def test_pool_is_clean_hangul_with_100k_distinct_words(pool):
    assert len(pool) > 90000 and len(set(pool)) == len(pool)
    assert all(is_clean_sentence(s) for s in pool)
    assert bt.distinct_words(pool) >= 100_000


def test_pool_has_real_sentences_and_is_disjoint_from_the_open_test(pool):
    real = bt.real_sentences()
    assert len(real) > 500 and set(real) <= set(pool)
    assert "대한민국은 민주공화국이다" in " ".join(real)
    assert not set(open_test_sentences()) & set(pool)


def test_pool_is_deterministic_by_seed(packages):
    bt._pool.cache_clear()
    a = bt.broad_sentences(seed=3, n_lexicon=2000)
    bt._pool.cache_clear()
    b = bt.broad_sentences(seed=3, n_lexicon=2000)
    c = bt.broad_sentences(seed=4, n_lexicon=2000)
    assert a == b and a != c
    assert bt.lexicon_sentences(500, seed=1) == bt.lexicon_sentences(500, seed=1)


def test_sources_can_be_chosen_without_the_gpl_dictionary(packages):
    pool = bt.broad_sentences(sources=("kolaw", "kobill", "wordfreq", "kiwi"), n_lexicon=3000)
    assert len(pool) > 3000 and all(is_clean_sentence(s) for s in pool)
    report = bt.pool_report(sources=("kolaw", "kobill", "wordfreq", "kiwi"), n_lexicon=3000)
    assert "hannanum" not in report["sources"] and report["versions"]["wordfreq"]


def test_synthetic_text_broad_mixes_pool_and_templates(pool):
    cfg = SyntheticConfig(hours=0.05, text="broad", broad_fraction=0.5)
    texts = [p["text"] for p in plan_corpus(cfg)]
    from_pool = sum(t in set(pool) for t in texts)
    assert abs(from_pool - len(texts) / 2) <= 2 and len(set(texts)) == len(texts)
    assert config_hash(cfg) != config_hash(SyntheticConfig(hours=0.05))
