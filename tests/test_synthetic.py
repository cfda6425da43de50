"""The synthetic Korean corpus: sentence generator, eSpeak NG binding, corpus writer."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hypersp.prepare.synthetic import korean_text as kt
from hypersp.prepare.synthetic.espeak import EspeakError, EspeakSynthesizer
from hypersp.prepare.synthetic.generator import SyntheticConfig, generate_corpus

MANIFEST_KEYS = {"audio_filepath", "duration", "text", "utt_id", "speaker", "corpus"}


# --------------------------------------------------------------------------- sentences


def test_sentences_are_distinct_hangul_only_and_deterministic():
    sents = kt.generate_sentences(3000, seed=3)
    assert len(sents) == 3000 and len(set(sents)) == 3000
    for s in sents:
        assert re.fullmatch(r"[가-힣]+( [가-힣]+)*", s), s  # no digits, Latin, punctuation, double spaces
        assert 2 <= len(s.split()) <= 12, s
    assert kt.generate_sentences(3000, seed=3) == sents
    assert kt.generate_sentences(100, seed=3) == sents[:100]
    assert kt.generate_sentences(100, seed=4) != sents[:100]
    hand = set(kt.hand_written_sentences())
    assert 0 < sum(s in hand for s in sents) < len(sents)  # both sources are used


@pytest.mark.parametrize("register", kt.REGISTERS)
def test_every_register_yields_many_sentences(register):
    sents = kt.generate_sentences(2000, seed=0, register=register)
    assert len(set(sents)) == 2000
    assert all(kt.is_clean_sentence(s) for s in sents)


def test_unknown_register_is_named():
    with pytest.raises(ValueError, match="unknown register 'news'.*lecture"):
        kt.generate_sentences(10, register="news")


def test_particles_follow_batchim():
    assert kt.josa("사과", "을") == "사과를" and kt.josa("책", "를") == "책을"
    assert kt.josa("팀장님", "가") == "팀장님이" and kt.josa("회의", "이") == "회의가"
    assert kt.josa("노트북", "는") == "노트북은" and kt.josa("커피 머신", "은") == "커피 머신은"
    assert kt.josa("냉장고", "과") == "냉장고와" and kt.josa("가방", "와") == "가방과"
    # 으로/로: ㄹ final behaves like a vowel
    assert kt.josa("서울", "으로") == "서울로" and kt.josa("부산", "로") == "부산으로"
    assert kt.josa("제주", "으로") == "제주로" and kt.josa("검은색", "로") == "검은색으로"
    rng = np.random.default_rng(0)
    out = kt.render_template("{city:으로} {product:을} {product2:이}", rng, "customer_service")
    city, product, product2 = out.split(" ")[0], out.split(" ")[-2], out.split(" ")[-1]
    assert city.endswith("로") and product[-1] in "을를" and product2[-1] in "이가"


def test_particles_agree_with_batchim_in_generated_sentences():
    """Every generated word made of a slot word + particle uses the form the batchim needs."""
    heads = {w.split(" ")[-1] for w in kt.slot_words()}
    heads = {h for h in heads if len(h) >= 2}
    forms = ["으로", "은", "는", "이", "가", "을", "를", "과", "와", "로"]
    checked = 0
    for sentence in kt.generate_sentences(4000, seed=11):
        for word in sentence.split(" "):
            for form in forms:
                head = word[: -len(form)]
                if word.endswith(form) and head in heads:
                    assert word == kt.josa(head, form), (word, sentence)
                    checked += 1
                    break
    assert checked > 2000


def test_generated_text_is_what_the_korean_normalizer_writes():
    """One numeral reader, one spacing convention: the generator writes numbers with hypersp.text.numbers,
    so the korean normalizer (training targets, scoring) leaves every generated sentence as it is, spaces
    included: 삼만 오천 원, 세 시, 유월 십오일, 뒷자리 일이삼사."""
    from hypersp.text.normalize import get_text_normalizer

    korean = get_text_normalizer("korean")
    sentences = kt.generate_sentences(3000, seed=17) + kt.hand_written_sentences()
    assert [s for s in sentences if korean(s) != s] == []
    text = " ".join(sentences)
    # the conventions are exercised: 만 groups apart (사만 팔천오백 원), native hours, 유월/시월, phone digits
    assert re.search(r"[가-힣]만 [가-힣]+ 원", text)
    for reading in (" 세 시", "유월 ", "시월 ", "뒷자리 "):
        assert reading in text, reading


# --------------------------------------------------------------------------- eSpeak binding


def test_espeak_synthesis_is_deterministic_and_validates_variants():
    synth = EspeakSynthesizer()
    assert synth.sample_rate == 22050
    assert {"m1", "f3"} <= set(synth.available_variants())
    a, rate = synth.synthesize("안녕하세요 반갑습니다", variant="f3", rate_wpm=160, seed=1)
    synth.synthesize("고객님 잠시만 기다려 주십시오", variant="m1", rate_wpm=300)  # history must not matter
    b, _ = synth.synthesize("안녕하세요 반갑습니다", variant="f3", rate_wpm=160, seed=1)
    assert rate == 22050 and a.dtype == np.int16 and len(a) > 0.5 * rate
    assert np.array_equal(a, b)
    fast, _ = synth.synthesize("안녕하세요 반갑습니다", variant="f3", rate_wpm=320, seed=1)
    assert len(fast) < 0.8 * len(a)
    with pytest.raises(EspeakError, match="unknown eSpeak NG voice variant 'nope'"):
        synth.synthesize("안녕하세요", variant="nope")


# --------------------------------------------------------------------------- corpus

TINY = dict(hours=0.02, seed=5, dev_fraction=0.2, test_fraction=0.2)


def _read(manifest: Path):
    return [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    report = generate_corpus(out, SyntheticConfig(**TINY), jobs=1, progress=False)
    return out, report


@pytest.mark.slow
def test_corpus_is_byte_identical_across_runs_and_job_counts(corpus, tmp_path):
    out, _ = corpus
    generate_corpus(tmp_path, SyntheticConfig(**TINY), jobs=2, progress=False)
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl"):
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes()
    wavs = sorted(p.name for p in (out / "wavs").iterdir())
    assert wavs == sorted(p.name for p in (tmp_path / "wavs").iterdir()) and wavs
    for name in wavs:
        assert (out / "wavs" / name).read_bytes() == (tmp_path / "wavs" / name).read_bytes(), name


def test_splits_are_disjoint_by_sentence_and_test_has_unseen_voices(corpus):
    out, report = corpus
    cfg = SyntheticConfig(**TINY)
    rows = {s: _read(out / f"{s}.jsonl") for s in ("train", "dev", "test")}
    texts = {s: {r["text"] for r in rows[s]} for s in rows}
    assert all(rows.values())
    assert not texts["train"] & texts["dev"] and not texts["train"] & texts["test"]
    assert not texts["dev"] & texts["test"]
    assert {r["speaker"] for r in rows["train"] + rows["dev"]} <= set(cfg.variants)
    test_speakers = {r["speaker"] for r in rows["test"]}
    assert test_speakers & set(cfg.heldout_variants)
    for split in rows:
        assert report["splits"][split]["utterances"] == len(rows[split])
        assert report["splits"][split]["hours"] == pytest.approx(sum(r["duration"] for r in rows[split]) / 3600, abs=1e-3)
    assert 0.01 < report["splits"]["train"]["hours"] < 0.04  # about hours=0.02 of training audio


def test_manifest_lines_match_the_wav_files(corpus):
    out, _ = corpus
    for split in ("train", "dev", "test"):
        for row in _read(out / f"{split}.jsonl"):
            assert set(row) == MANIFEST_KEYS and row["corpus"] == "synthetic"
            assert row["audio_filepath"] == f"wavs/{row['utt_id']}.wav"  # relative to the manifest
            assert kt.is_clean_sentence(row["text"])
            info = sf.info(str(out / row["audio_filepath"]))
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert row["duration"] == round(info.frames / 16000, 3)
            assert 0.8 < row["duration"] < 15


def test_silence_is_trimmed_and_padded(corpus):
    out, _ = corpus
    for row in _read(out / "train.jsonl")[:8]:
        wave, rate = sf.read(str(out / row["audio_filepath"]))
        hop = rate // 100
        frames = np.sqrt(np.mean(wave[: len(wave) // hop * hop].reshape(-1, hop) ** 2, axis=1))
        loud = np.flatnonzero(frames > 0.05 * frames.max())
        lead, trail = loud[0] / 100, (len(frames) - 1 - loud[-1]) / 100
        assert 0.05 <= lead <= 0.3 and 0.05 <= trail <= 0.35, (row["utt_id"], lead, trail)
        assert frames[: int(0.05 * 100)].mean() < 0.05 * frames.max()  # padding is (near) silence


@pytest.mark.slow
def test_finished_corpus_is_reused_and_interrupted_one_resumes(corpus, tmp_path):
    out, _ = corpus
    again = generate_corpus(out, SyntheticConfig(**TINY), jobs=1, progress=False)
    assert again["reused"] is True
    # simulate an interrupted run: no report, one wav missing
    work = tmp_path / "c"
    generate_corpus(work, SyntheticConfig(**TINY), progress=False)
    wavs = sorted((work / "wavs").iterdir())
    victim, kept = wavs[3], wavs[4]
    reference, kept_mtime = victim.read_bytes(), kept.stat().st_mtime_ns
    victim.unlink()
    (work / "report.json").unlink()
    resumed = generate_corpus(work, SyntheticConfig(**TINY), progress=False)
    assert resumed["reused"] is False and victim.read_bytes() == reference
    assert kept.stat().st_mtime_ns == kept_mtime  # finished wavs are not rewritten
    # another config regenerates
    other = generate_corpus(work, SyntheticConfig(**{**TINY, "seed": 6}), progress=False)
    assert other["reused"] is False and other["config_hash"] != resumed["config_hash"]
    assert _read(work / "train.jsonl") != _read(out / "train.jsonl")


def test_invalid_config_names_the_fields(tmp_path):
    bad = SyntheticConfig(hours=0.01, variants=["m1", "zzz"], heldout_variants=["m1"], min_rate=300, max_rate=200)
    with pytest.raises(ValueError) as err:
        generate_corpus(tmp_path, bad, progress=False)
    msg = str(err.value)
    assert "zzz" in msg and "heldout_variants ['m1']" in msg and "min_rate=300 > max_rate=200" in msg


def test_telephone_corpus_is_8khz_narrowband(tmp_path):
    # telephone_channel comes from hypersp.audio.augment (band-limit 300-3400 Hz, 8 kHz, mu-law)
    report = generate_corpus(tmp_path, SyntheticConfig(hours=0.005, seed=2, telephone=True), progress=False)
    assert report["sample_rate"] == 8000
    rows = _read(tmp_path / "train.jsonl")
    assert rows
    for row in rows[:5]:
        wave, rate = sf.read(str(tmp_path / row["audio_filepath"]))
        assert rate == 8000 and row["duration"] == round(len(wave) / 8000, 3)
        power = np.abs(np.fft.rfft(wave)) ** 2
        freqs = np.fft.rfftfreq(len(wave), 1 / rate)
        assert freqs.max() <= 4000  # nothing above 4 kHz can exist at 8 kHz
        assert power[freqs > 3600].sum() < 0.01 * power.sum()  # and the channel cuts off below it


# --------------------------------------------------------------------------- demo-corpus options


def test_babble_covers_every_jamo_and_is_clean():
    rng = np.random.default_rng(0)
    texts = [kt.babble_sentence(rng) for _ in range(400)]
    assert all(kt.is_clean_sentence(t) for t in texts)
    syllables = [ord(c) - 0xAC00 for t in texts for c in t if c != " "]
    assert {s // 588 for s in syllables} == set(range(19))  # every initial consonant
    assert {s // 28 % 21 for s in syllables} == set(range(21))  # every vowel
    assert len({s % 28 for s in syllables}) >= 20  # most finals, and "no final" most often
    assert np.bincount([s % 28 for s in syllables]).argmax() == 0


def _demo_plan(**overrides):
    from hypersp.prepare.synthetic.generator import plan_corpus

    cfg = SyntheticConfig(**{**dict(hours=0.3, seed=1, variants=["all"], heldout_variants=["m8", "f5"],
                                    heldout_test_fraction=1.0, min_rate=110, max_rate=250,
                                    heldout_rate_band=[165, 185], babble_fraction=0.3), **overrides})
    return cfg, plan_corpus(cfg)


def test_all_variants_heldout_rate_band_and_babble_in_the_plan():
    from hypersp.prepare.synthetic.espeak import available_variants
    from hypersp.prepare.synthetic.generator import CRASHING_VARIANTS, resolved_variants

    cfg, plan = _demo_plan()
    variants = resolved_variants(cfg)
    assert set(variants) == set(available_variants()) - {"m8", "f5"} - CRASHING_VARIANTS
    seen = {s: [p for p in plan if p["split"] == s] for s in ("train", "dev", "test")}
    for split in ("train", "dev"):
        assert {p["speaker"] for p in seen[split]} <= set(variants)
        assert not any(165 <= p["rate"] <= 185 for p in seen[split])  # the band is never heard in training
    assert {p["speaker"] for p in seen["test"]} <= {"m8", "f5"}
    assert all(165 <= p["rate"] <= 185 for p in seen["test"])
    sentences = set(kt.generate_sentences(len(plan) + 10, seed=1))
    babble = [p for p in seen["train"] if p["text"] not in sentences]
    assert 0.2 < len(babble) / len(seen["train"]) < 0.4
    assert all(p["text"] in sentences for p in seen["dev"] + seen["test"])  # babble is train-only


def test_demo_options_leave_the_default_plan_unchanged():
    from hypersp.prepare.synthetic.generator import plan_corpus

    base = plan_corpus(SyntheticConfig(hours=0.1, seed=3))
    assert plan_corpus(SyntheticConfig(hours=0.1, seed=3, heldout_rate_band=[], babble_fraction=0.0)) == base


def test_demo_options_are_validated():
    from hypersp.prepare.synthetic.generator import validate_config

    with pytest.raises(ValueError) as err:
        validate_config(SyntheticConfig(variants=["all", "m1"], heldout_variants=["all"],
                                        heldout_rate_band=[100, 300], babble_fraction=1.5))
    msg = str(err.value)
    for part in ("'all' must stand alone", "heldout_variants: 'all'", "heldout_rate_band=[100, 300]", "babble_fraction=1.5"):
        assert part in msg


def test_a_crashing_synthesis_worker_fails_the_run_instead_of_hanging(tmp_path):
    # "Demonic" makes the bundled eSpeak NG segfault on Korean text: the pool must report it.
    cfg = SyntheticConfig(hours=0.01, seed=0, variants=["Demonic"], heldout_variants=[],
                          min_pitch=10, max_pitch=10, min_pitch_range=88, max_pitch_range=88)
    with pytest.raises(RuntimeError, match="synthesis worker died"):
        generate_corpus(tmp_path, cfg, jobs=2, progress=False)
