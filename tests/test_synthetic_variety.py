"""Long utterances, rooms and codecs in the synthetic corpus (issue 13 parts 4 and 7)."""
import json

import numpy as np
import pytest

from hypersp.config import ConfigError
from hypersp.prepare.synthetic.generator import (CODECS, SyntheticConfig, apply_reverb, codec_round_trip, config_hash,
                                                 generate_corpus, plan_corpus, room_impulse_response, validate_config)


def test_long_utterances_join_training_sentences_and_keep_the_sentence_budget():
    base = SyntheticConfig(hours=0.2, seed=2)
    cfg = SyntheticConfig(hours=0.2, seed=2, long_fraction=0.3)
    plain, joined = plan_corpus(base), plan_corpus(cfg)
    for split in ("dev", "test"):  # only training utterances are joined
        assert [i["text"] for i in plain if i["split"] == split] == [i["text"] for i in joined if i["split"] == split]
    long_items = [i for i in joined if "sentences" in i]
    assert long_items and all(i["split"] == "train" for i in long_items)
    for item in long_items:
        assert item["text"] == " ".join(item["sentences"]) and len(item["pauses"]) == len(item["sentences"]) - 1
        assert all(0.3 <= p <= 1.2 for p in item["pauses"])
    # the same training sentences, in the same order: long utterances use up the sentences they join
    sentences = lambda plan: [s for i in plan if i["split"] == "train" for s in i.get("sentences", [i["text"]])]
    assert sentences(joined) == sentences(plain)
    assert len([i for i in joined if i["split"] == "train"]) < len([i for i in plain if i["split"] == "train"])


def test_a_long_utterance_is_long_and_has_its_pauses(tmp_path):
    cfg = SyntheticConfig(hours=0.02, seed=4, long_fraction=0.5, long_seconds=[12.0, 16.0], long_pause_s=[0.6, 0.8],
                          noise_snr_db_min=0.0, noise_snr_db_max=0.0, dev_fraction=0.0, test_fraction=0.1)
    generate_corpus(tmp_path, cfg, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    long_rows = [r for r in rows if r["duration"] > 8.0]
    assert long_rows, [r["duration"] for r in rows]
    import soundfile as sf

    audio, rate = sf.read(tmp_path / long_rows[0]["audio_filepath"], dtype="float32")
    hop = rate // 100  # 10 ms frames; a pause of >= 0.6 s between sentences shows as a long quiet run
    rms = np.sqrt(np.mean(audio[: len(audio) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    quiet = rms < rms.max() * 1e-3
    inner = quiet[int(0.5 * 100): -int(0.5 * 100)]
    longest, run = 0, 0
    for q in inner:
        run = run + 1 if q else 0
        longest = max(longest, run)
    assert longest >= 50  # >= 0.5 s of silence inside the utterance


def test_room_impulse_response_decays_by_its_rt60():
    rng = np.random.default_rng(0)
    h = room_impulse_response(rng, 0.5, 16000)
    assert len(h) == 8000 and h[0] == 1.0
    early = np.sqrt(np.mean(h[800:1600] ** 2))  # 50-100 ms
    late = np.sqrt(np.mean(h[7200:8000] ** 2))  # 450-500 ms
    assert 20 * np.log10(early / late) > 35  # ~ 60 dB per 0.5 s in theory


def test_reverb_smears_a_burst_and_keeps_the_level():
    x = np.zeros(16000)
    x[1000:1800] = np.sin(np.arange(800) * 0.3)
    y = apply_reverb(x, np.random.default_rng(1), 0.6, 16000)
    assert y.shape == x.shape
    assert np.sqrt(np.mean(y ** 2)) == pytest.approx(np.sqrt(np.mean(x ** 2)), rel=1e-6)
    assert np.abs(y[2500:4000]).max() > 0.01  # sound after the burst ended: the room's tail


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_codec_round_trip_keeps_length_and_signal(codec):
    rate = 16000
    t = np.arange(rate) / rate
    x = (0.5 * np.sin(2 * np.pi * 440 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    y = codec_round_trip(x, rate, codec)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    lag = 2048  # lossy codecs may delay the signal; compare the best alignment
    corr = max(np.dot(x[lag:-lag], y[lag + d: len(y) - lag + d]) for d in range(-lag, lag + 1, 16))
    assert corr / np.dot(x[lag:-lag], x[lag:-lag]) > 0.8


def test_rooms_and_codecs_only_in_training_and_deterministic():
    cfg = SyntheticConfig(hours=0.2, seed=6, reverb_fraction=0.5, codec_fraction=0.5)
    plan = plan_corpus(cfg)
    assert plan == plan_corpus(cfg)
    assert any("rt60" in i for i in plan) and any("codec" in i for i in plan)
    assert all(i["split"] == "train" for i in plan if "rt60" in i or "codec" in i)
    assert all(0.2 <= i["rt60"] <= 0.8 for i in plan if "rt60" in i)
    assert {i["codec"] for i in plan if "codec" in i} <= set(CODECS)
    # and the plan of everything else is what it was without them
    strip = lambda p: [{k: v for k, v in i.items() if k not in ("rt60", "codec")} for i in p]
    assert strip(plan) == plan_corpus(SyntheticConfig(hours=0.2, seed=6))


def test_new_options_leave_existing_corpora_hashes_alone_and_are_validated():
    assert config_hash(SyntheticConfig()) == config_hash(SyntheticConfig(long_seconds=[10.0, 30.0], codecs=list(CODECS)))
    assert config_hash(SyntheticConfig()) != config_hash(SyntheticConfig(long_fraction=0.1))
    assert config_hash(SyntheticConfig()) != config_hash(SyntheticConfig(reverb_fraction=0.1))
    with pytest.raises(ConfigError) as err:
        validate_config(SyntheticConfig(long_fraction=1.5, long_seconds=[30, 10], codecs=["wma"], rt60_s=[0.0, 1.0]))
    message = str(err.value)
    for fragment in ("long_fraction=1.5", "long_seconds=[30, 10]", "codecs=['wma']", "rt60_s=[0.0, 1.0]"):
        assert fragment in message
