"""offline_tel / channels=True: line echo of the other party is not a turn (issue 12 part 7).

A stereo call of nine alternating turns (eSpeak NG Korean, 8 kHz) where each channel also carries the other
party's speech 20 ms late at -30 or -25 dB, plus low noise. The energy VAD alone finds phantom turns in the echo
(or, when the parties answer quickly, glues the echo onto real turns); with suppression: nine turns in, nine out,
each on its own channel. Real overlap (both talk at once) keeps both turns."""
import numpy as np
import pytest

from hypersp.audio.io import resample
from hypersp.config.schema import VadConfig
from hypersp.inference.crosstalk import suppress_crosstalk
from hypersp.inference.vad import speech_segments

RATE = 8000
TEXTS = ["안녕하세요 고객센터입니다", "네 주문 확인 부탁드립니다", "주문 번호를 말씀해 주세요",
         "일 이 삼 사 입니다", "확인되었습니다", "언제 도착하나요", "내일 오후에 도착합니다",
         "감사합니다", "좋은 하루 되세요"]


@pytest.fixture(scope="module")
def turns():
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    out = []
    for i, text in enumerate(TEXTS):
        x, rate = synth.synthesize(text, rate_wpm=170, seed=i)
        out.append(resample(x.astype(np.float32) / 32768.0 * 0.5, rate, RATE))
    return out


def call(turns, echo_db, gap_s=0.6, overlap_after=None, overlap_s=0.8, seed=0):
    """Stereo ``(2, S)``: turn i on channel i % 2 with ``gap_s`` pauses (turn ``overlap_after + 1`` starts
    ``overlap_s`` before turn ``overlap_after`` ends); the other channel gets each turn 20 ms late at ``echo_db``.
    Returns the audio and the true turns ``[(channel, start_s, end_s)]``."""
    rng = np.random.default_rng(seed)
    gap, delay, gain = int(gap_s * RATE), int(0.02 * RATE), 10 ** (echo_db / 20)
    total = sum(t.size for t in turns) + gap * (len(turns) + 1) + delay
    x = np.zeros((2, total), np.float32)
    pos, truth = gap, []
    for i, t in enumerate(turns):
        c = i % 2
        x[c, pos:pos + t.size] += t
        x[1 - c, pos + delay:pos + delay + t.size] += gain * t
        truth.append((c, pos / RATE, (pos + t.size) / RATE))
        pos += t.size + (gap if i != overlap_after else -int(overlap_s * RATE))
    x += 0.0005 * rng.standard_normal(x.shape).astype(np.float32)
    return x, truth


def turns_of(spans):
    """Per-channel spans -> ``[(start, end, channel)]`` in time order."""
    return sorted((s, e, c) for c, segs in enumerate(spans) for s, e in segs)


@pytest.mark.parametrize("gap_s", [0.6, 0.25])  # 0.25 s: quicker than vad.min_silence_s, echo glues onto turns
@pytest.mark.parametrize("echo_db", [-30.0, -25.0])
def test_nine_turns_in_nine_turns_out(turns, echo_db, gap_s):
    x, truth = call(turns, echo_db, gap_s)
    cfg = VadConfig()
    spans = [speech_segments(x[c], RATE, cfg) for c in range(2)]
    # the VAD alone does not give the nine turns (phantom turns in the echo, or echo merged into turns)
    assert [c for _, _, c in turns_of(spans)] != [c for c, _, _ in truth]
    kept = turns_of(suppress_crosstalk(spans, list(x), RATE, cfg.crosstalk_margin_db, cfg=cfg))
    assert [c for _, _, c in kept] == [c for c, _, _ in truth]
    for (s, e, _), (_, ts, te) in zip(kept, truth):  # each segment is its turn, without the other's echo
        assert abs(s - ts) < 0.25 and abs(e - te) < 0.25, ((s, e), (ts, te))


def test_overlapping_talk_keeps_both_channels(turns):
    x, truth = call(turns, -25.0, overlap_after=3)  # turns 3 (channel 1) and 4 (channel 0) overlap by 0.8 s
    assert truth[4][1] < truth[3][2] - 0.7
    cfg = VadConfig()
    spans = [speech_segments(x[c], RATE, cfg) for c in range(2)]
    kept = turns_of(suppress_crosstalk(spans, list(x), RATE, cfg.crosstalk_margin_db, cfg=cfg))
    assert [c for _, _, c in kept] == [c for c, _, _ in truth]
    for (s, e, _), (_, ts, te) in zip(kept, truth):  # both overlapping turns keep their own span
        assert abs(s - ts) < 0.25 and abs(e - te) < 0.25, ((s, e), (ts, te))


def test_zero_margin_or_one_channel_leaves_segments_alone(turns):
    x, _ = call(turns, -25.0)
    spans = [speech_segments(x[c], RATE) for c in range(2)]
    assert suppress_crosstalk(spans, list(x), RATE, 0.0) == spans
    assert suppress_crosstalk(spans[:1], list(x[:1]), RATE, 10.0) == spans[:1]


@pytest.fixture(scope="module")
def demo_8k():
    import hypersp

    return hypersp.load("demo_ko_8k")


@pytest.mark.parametrize("echo_db", [-30.0, -25.0])
def test_through_the_engine_with_the_8k_demo_model(turns, demo_8k, echo_db):
    x, truth = call(turns, echo_db)
    t = demo_8k.transcribe(x, sample_rate=RATE, channels=True)
    assert [s.channel for s in t.segments] == [c for c, _, _ in truth]  # 9 segments, channels alternate
    assert all(abs(s.start - ts) < 0.25 for s, (_, ts, _) in zip(t.segments, truth))


@pytest.mark.slow
def test_offline_tel_app_labels_nine_turns(turns, demo_8k):
    import hypersp

    from hypersp.serve.demo_apps import OfflineTelApp, OfflineTelConfig

    x, truth = call(turns, -25.0, gap_s=0.25)
    result = OfflineTelApp(OfflineTelConfig()).recognize(demo_8k, x, RATE, settings={"words": False})
    assert [s["speaker"] for s in result["segments"]] == [("agent", "customer")[c] for c, _, _ in truth]
    off = hypersp.load("demo_ko_8k", overrides=["vad.crosstalk_margin_db=0"])  # suppression off: not 9 turns
    assert [s.channel for s in off.transcribe(x, sample_rate=RATE, channels=True).segments] != \
        [c for c, _, _ in truth]
