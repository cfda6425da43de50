"""offline_tel / channels=True: line echo of the other party is not a turn. Nine alternating turns with the other
channel's speech leaking at -30 and -25 dB give nine segments on the right channels; overlap keeps both."""
import numpy as np
import pytest

from hypersp.audio.io import resample
from hypersp.inference.crosstalk import suppress_crosstalk
from hypersp.inference.vad import speech_segments
from hypersp.config.schema import VadConfig

RATE = 8000
TEXTS = ["안녕하세요 고객센터입니다", "네 주문 확인 부탁드립니다", "주문 번호를 말씀해 주세요",
         "일 이 삼 사 입니다", "확인되었습니다", "언제 도착하나요", "내일 오후에 도착합니다",
         "감사합니다", "좋은 하루 되세요"]


@pytest.fixture(scope="module")
def turns():
    from hypersp.data.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    out = []
    for i, text in enumerate(TEXTS):
        x, rate = synth.synthesize(text, rate_wpm=170, seed=i)
        out.append(resample(x.astype(np.float32) / 32768.0 * 0.5, rate, RATE))
    return out


def call(turns, echo_db, overlap=False, seed=0):
    """Stereo (2, S): turn i on channel i % 2, 0.6 s gaps, the other channel gets it at echo_db (20 ms later)."""
    rng = np.random.default_rng(seed)
    gap = int(0.6 * RATE)
    total = sum(t.size for t in turns) + gap * (len(turns) + 1)
    x = np.zeros((2, total), np.float32)
    pos, truth = gap, []
    delay = int(0.02 * RATE)
    gain = 10 ** (echo_db / 20)
    for i, t in enumerate(turns):
        c = i % 2
        x[c, pos:pos + t.size] += t
        x[1 - c, pos + delay:pos + delay + t.size] += gain * t[: max(0, total - pos - delay)][: t.size]
        truth.append((c, pos / RATE))
        pos += t.size + (gap if not (overlap and i == 3) else -int(0.8 * RATE))
    x += 0.0005 * rng.standard_normal(x.shape).astype(np.float32)
    return x, truth


@pytest.mark.parametrize("echo_db", [-30.0, -25.0])
def test_nine_turns_in_nine_turns_out(turns, echo_db):
    x, truth = call(turns, echo_db)
    cfg = VadConfig()
    spans = [speech_segments(x[c], RATE, cfg) for c in range(2)]
    assert sum(len(s) for s in spans) > 9  # without suppression the echo makes phantom turns
    kept = suppress_crosstalk(spans, list(x), RATE, cfg.crosstalk_margin_db)
    found = sorted((s, c) for c in range(2) for s, _ in kept[c])
    assert [c for _, c in found] == [c for c, _ in truth]
    assert all(abs(s - t) < 0.3 for (s, _), (_, t) in zip(found, truth))


def test_overlapping_talk_keeps_both_channels(turns):
    x, truth = call(turns, -25.0, overlap=True)
    spans = [speech_segments(x[c], RATE, VadConfig()) for c in range(2)]
    kept = suppress_crosstalk(spans, list(x), RATE, 10.0)
    assert sum(len(k) for k in kept) >= 8  # turns 4 and 5 overlap by 0.8 s: both channels still have their turns
    assert {c for c in range(2) if kept[c]} == {0, 1}


def test_through_the_engine_with_the_8k_demo_model(turns):
    import hypersp

    x, truth = call(turns, -25.0)
    t = hypersp.load("demo_ko_8k").transcribe(x, sample_rate=RATE, channels=True)
    assert [s.channel for s in t.segments] == [c for c, _ in truth]
    off = hypersp.load("demo_ko_8k", overrides=["vad.crosstalk_margin_db=0"]).transcribe(x, sample_rate=RATE,
                                                                                          channels=True)
    assert len(off.segments) > 9
