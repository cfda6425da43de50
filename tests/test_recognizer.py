"""Recognizer: batching, resampling, VAD segmentation with times; the energy VAD itself."""
import numpy as np
import pytest

from hypersp.audio.io import write_wav
from hypersp.inference.recognizer import Recognizer
from hypersp.inference.vad import speech_segments
from hypersp.testing import make_tiny_checkpoint


def bursts(rate, pattern):
    """pattern: [(seconds, loud?)]; loud parts are a 5 Hz-gated 300 Hz tone."""
    parts = []
    for sec, loud in pattern:
        t = np.arange(int(sec * rate)) / rate
        x = 0.3 * np.sin(2 * np.pi * 300 * t) * (np.sin(2 * np.pi * 5 * t) > -0.5) if loud else 0.001 * np.sin(t)
        parts.append(x.astype(np.float32))
    return np.concatenate(parts)


def test_vad_segments_follow_the_pauses():
    x = bursts(16000, [(0.5, False), (1.0, True), (1.0, False), (2.0, True), (0.7, False)])
    segs = speech_segments(x, 16000)
    assert len(segs) == 2
    assert segs[0][0] == pytest.approx(0.5, abs=0.15) and segs[0][1] == pytest.approx(1.5, abs=0.15)
    assert segs[1][0] == pytest.approx(2.5, abs=0.15) and segs[1][1] == pytest.approx(4.5, abs=0.15)
    assert speech_segments(np.zeros(16000, np.float32), 16000) == []


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    return Recognizer.from_checkpoint(str(make_tiny_checkpoint(tmp_path_factory.mktemp("c") / "t.pt")))


def test_batched_equals_single_and_any_rate(rec, tmp_path):
    a = bursts(16000, [(1.0, True)])
    b = bursts(16000, [(2.3, True)])
    texts = [s.text for s in rec.recognize([a, b])]
    assert texts == [rec.recognize([a])[0].text, rec.recognize([b])[0].text]
    long = bursts(16000, [(0.3, False), (1.0, True), (1.2, False), (1.0, True), (0.3, False)])
    vad = rec.segment(long)
    assert len(vad) == 2
    r16 = rec.transcribe(long)
    assert r16.duration == pytest.approx(3.8, abs=0.01)
    # segments are the VAD's (those with empty text dropped), with times in seconds of the input
    assert {(s.start, s.end) for s in r16.segments} <= {(round(s, 3), round(e, 3)) for s, e in vad}
    # the same audio at 44.1 kHz from a file: resampled, same segment times
    path = tmp_path / "a.wav"
    write_wav(path, bursts(44100, [(0.3, False), (1.0, True), (1.2, False), (1.0, True), (0.3, False)]), 44100)
    rf = rec.transcribe(path)
    assert rf.sample_rate == 16000 and len(rf.segments) == len(r16.segments)
    for s, t in zip(rf.segments, r16.segments):
        assert s.start == pytest.approx(t.start, abs=0.05) and s.end == pytest.approx(t.end, abs=0.05)
    # stereo: per-channel results
    write_wav(tmp_path / "s.wav", np.stack([long, long[::-1].copy()]), 16000)
    rs = rec.transcribe(tmp_path / "s.wav", channels=True)
    assert rs.channels == 2 and {s.channel for s in rs.segments} <= {0, 1}


def test_batch_seconds_defaults_by_device_and_only_changes_how_waves_are_grouped(rec):
    """Without a given size the engine batches 32 s of audio per forward pass on a CPU (large CPU batches page-fault
    their activations in afresh every pass) and 120 s on a GPU; the size groups waves, it never changes their frames."""
    from hypersp.inference.recognizer import default_batch_seconds

    assert rec.batch_seconds == 32.0 == default_batch_seconds("cpu")
    assert default_batch_seconds("cuda:1") == 120.0
    assert Recognizer(rec.backend, batch_seconds=7.5).batch_seconds == 7.5
    rng = np.random.default_rng(0)
    waves = [bursts(16000, [(0.2, False), (d, True)]) + 0.01 * rng.standard_normal(int((0.2 + d) * 16000),
                                                                                   dtype=np.float32)
             for d in (0.5, 1.7, 0.9, 2.4, 1.1)]
    calls = []
    forward = rec.backend.log_probs
    try:
        rec.backend.log_probs = lambda ws: calls.append(len(ws)) or forward(ws)
        rec.batch_seconds = 120.0
        whole = rec.chunked_log_probs(waves)
        rec.batch_seconds = 2.0
        grouped = rec.chunked_log_probs(waves)
    finally:
        rec.batch_seconds = 32.0
        del rec.backend.log_probs
    assert calls[0] == 5 and len(calls) > 2 and sum(calls[1:]) == 5
    for a, b in zip(whole, grouped):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-4


def test_words_of_a_batch_equal_words_one_by_one_and_unalignable_rows_get_none(rec):
    rng = np.random.default_rng(0)
    V = rec.backend.vocab_size
    lps, ids = [], []
    for T in (12, 30, 7, 25):
        logits = rng.normal(size=(T, V))
        lps.append((logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)).astype(np.float32))
        ids.append([int(i) for i in rng.integers(1, V, 4)])
    ids[2] = ids[2] * 3  # 12 tokens for 7 frames: cannot be aligned
    ids[3] = [1, 0, 2]  # the blank is not a token: no times either (not an error)
    batch = rec.align_words_batch(lps, ids)
    assert batch == [rec.align_words(lp, row) for lp, row in zip(lps, ids)]
    assert batch[2] == [] and batch[3] == []
    assert any(batch[:2])  # (words need tokens that decode to text; the tiny model's vocabulary has them)
