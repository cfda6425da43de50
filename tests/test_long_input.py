"""Long input in the engine: cut at pauses, chunk with overlap, stitch posteriors on one time axis."""
import numpy as np
import pytest

from hypersp.inference.recognizer import Recognizer, pause_cuts
from hypersp.tokenizers.char import CharTokenizer

RATE = 16000


def tone(seconds, level=0.3, freq=200.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def gap(seconds, level=1e-4):
    return (level * np.random.default_rng(int(seconds * 1000)).standard_normal(int(seconds * RATE))).astype(np.float32)


class FramewiseBackend:
    """Each 40 ms output frame depends only on its own samples (loud -> token a/b/c by its mean level,
    quiet -> blank), so posteriors of pieces must stitch to exactly those of the whole wave."""
    sample_rate = RATE
    frame_shift_s = 0.04

    def __init__(self):
        self.tokenizer = CharTokenizer()
        self.tokenizer.fit(["abc"])
        self.vocab_size = self.tokenizer.vocab_size
        self.lengths = []

    def log_probs(self, waves):
        out = []
        for w in waves:
            self.lengths.append(w.shape[0])
            n = int(np.ceil(w.shape[0] / 640))
            lp = np.full((n, 5), -10.0, dtype=np.float32)
            for i in range(n):
                f = w[i * 640:(i + 1) * 640]
                loud = f.size and np.abs(f).max() > 0.05
                lp[i, 2 + int(np.abs(f).mean() * 30) % 3 if loud else 0] = 0.0
            out.append(lp)
        return out


def test_pause_cuts_fall_in_the_middle_of_pauses_only():
    x = np.concatenate([gap(0.3), tone(2.0), gap(0.4), tone(1.5), gap(0.05), tone(1.5), gap(0.3), tone(0.5), gap(0.2)])
    cuts = pause_cuts(x, RATE, align=640)
    assert all(c % 640 == 0 for c in cuts)
    # the 0.4 s pause (2.3-2.7 s) is cut near its middle; the 0.05 s dip is not a pause; the last pause
    # (5.55-5.85 s) would leave a 0.7 s piece, shorter than the 1 s minimum
    assert len(cuts) == 1 and abs(cuts[0] / RATE - 2.5) < 0.05, [c / RATE for c in cuts]
    assert pause_cuts(tone(10.0), RATE) == []  # continuous sound: nothing to cut
    loud_noise = np.concatenate([tone(2.0), gap(0.4, level=0.01), tone(2.0)])  # a pause over noise 30 dB down
    assert len(pause_cuts(loud_noise, RATE)) == 1


@pytest.mark.parametrize("split_over_s,max_chunk_s", [(0.0, 0.0), (4.0, 0.0), (0.0, 3.0), (4.0, 3.0)])
def test_split_and_chunked_posteriors_equal_the_whole_waves(split_over_s, max_chunk_s):
    rng = np.random.default_rng(0)
    parts = []
    for _ in range(6):  # ~1-3 s bursts with 0.2-0.6 s pauses, ~15 s in all
        parts += [tone(rng.uniform(1.0, 3.0), level=rng.uniform(0.1, 0.5)), gap(rng.uniform(0.2, 0.6))]
    long_wave = np.concatenate(parts)
    short_wave = tone(2.0)
    backend = FramewiseBackend()
    rec = Recognizer(backend, split_over_s=split_over_s, max_chunk_s=max_chunk_s, chunk_s=max_chunk_s or 4.0,
                     chunk_overlap_s=1.0)
    whole = backend.log_probs([long_wave, short_wave])
    backend.lengths.clear()
    got = rec.chunked_log_probs([long_wave, short_wave])
    if split_over_s or max_chunk_s:
        assert max(backend.lengths) < long_wave.size  # the long wave really ran in pieces
    for g, w in zip(got, whole):
        assert g.shape == w.shape
        # frames whose 40 ms straddle a piece boundary may differ; all others are identical
        assert (g.argmax(1) == w.argmax(1)).mean() > 0.97
    assert np.array_equal(got[1], whole[1])  # short waves are never touched


@pytest.fixture(scope="module")
def sentences():
    """Three eSpeak sentences (16 kHz) and the demo model."""
    import hypersp
    from hypersp.audio.io import resample
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer
    from hypersp.prepare.synthetic.generator import trim_silence

    synth = EspeakSynthesizer()
    waves = []
    for i, text in enumerate(["오늘 회의를 시작하겠습니다", "고객센터에 문의해 주셔서 감사합니다", "다음 주 월요일에 다시 연락드리겠습니다"]):
        x, r = synth.synthesize(text, variant="m3", rate_wpm=175, seed=i)
        waves.append(resample(trim_silence(x.astype(np.float32) / 32768.0, r), r, RATE))
    return hypersp.load("demo_ko_16k"), waves


def test_a_long_window_decodes_as_its_parts(sentences):
    """Sentences joined by 0.15 s pauses (too short for the VAD to split an upload) decode in one window
    as they do one by one: the engine cuts at the pauses. Without the cut the window decodes worse."""
    asr, waves = sentences
    pause = np.zeros(int(0.15 * RATE), np.float32)
    window = np.concatenate([x for w in waves for x in (w, pause)])
    parts = " ".join(s.text for s in asr.recognize(waves, words=False))
    engine = asr.transcribe(window, segment=False)
    assert engine.text.replace(" ", "") == parts.replace(" ", "")
    words = engine.segments[0].words  # word times stay on the window's time axis
    assert words[0].start < 0.5 and words[-1].end > window.size / RATE - 0.8
