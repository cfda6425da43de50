"""StreamingRecognizer: committed text never changes, endpoint rules, rate conversion, batching."""
import numpy as np
import pytest
from hypersp.inference.recognizer import Recognizer
from hypersp.inference.streaming import StreamingConfig, StreamingRecognizer
from hypersp.tokenizers.char import CharTokenizer


class FakeBackend:
    """Emits one of a/b/c (by the frame's first sample) on every 4th loud frame, blank elsewhere; 40 ms
    frames. Deterministic and position-based, so committed tokens must equal an offline pass."""
    sample_rate = 16000
    frame_shift_s = 0.04

    def __init__(self):
        self.tokenizer = CharTokenizer()
        self.tokenizer.fit(["abc"])  # tokens: blank, space, a, b, c
        self.vocab_size = self.tokenizer.vocab_size

    def log_probs(self, waves):
        out = []
        for w in waves:
            n = int(np.ceil(len(w) / 640))
            lp = np.full((n, 5), -10.0, dtype=np.float32)
            lp[:, 0] = 0.0
            for i in range(n):
                frame = w[i * 640:(i + 1) * 640]
                if frame.size and np.abs(frame).max() > 0.05 and i % 4 == 0:
                    lp[i, 0], lp[i, 2 + int(frame[0] * 1000) % 3] = -10.0, 0.0
            out.append(lp)
        return out


def FakeRecognizer():
    return Recognizer(FakeBackend())


def speech(seconds, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 200 * t) + 0.1).astype(np.float32)


def run(srec, stream, x, chunk=1600):
    events = []
    for i in range(0, len(x), chunk):
        stream.accept(x[i:i + chunk])
        if stream.ready():
            events += srec.decode([stream])[0]
    return events


def test_partials_extend_and_silence_endpoint():
    srec = StreamingRecognizer(FakeRecognizer(), StreamingConfig(final_full_context=False))
    st = srec.new_stream()
    x = np.concatenate([np.zeros(8000, np.float32), speech(3.0), np.zeros(24000, np.float32)])
    events = run(srec, st, x)
    partials = [e for e in events if not e["final"]]
    finals = [e for e in events if e["final"]]
    assert len(finals) == 1 and finals[0]["reason"] == "silence" and finals[0]["text"]
    committed_lengths = []
    for a, b in zip(partials, partials[1:]):  # only the last lookahead can change: shared prefix grows
        common = len([1 for p, q in zip(a["text"], b["text"]) if p == q])
        committed_lengths.append(common)
        assert common >= len(a["text"]) - srec.lookahead_frames
    assert finals[0]["start"] <= 0.5 + 1e-6 and finals[0]["end"] < 0.5 + 3.0 + 1.5
    assert partials[-1]["text"] in finals[0]["text"] or finals[0]["text"].startswith(partials[-1]["text"][:-3])


def test_max_length_client_final_and_idle_silence():
    srec = StreamingRecognizer(FakeRecognizer(), StreamingConfig(max_utterance_s=2.0))
    st = srec.new_stream(8000)  # the client sends 8 kHz; the model runs at 16 kHz
    x = np.concatenate([np.zeros(4000, np.float32), speech(5.0, 8000)])  # the VAD needs a quiet start
    events = run(srec, st, x, chunk=800)
    finals = [e for e in events if e["final"]]
    assert [e["reason"] for e in finals] == ["max_length", "max_length"]
    assert all(e["end"] - e["start"] == pytest.approx(2.0, abs=0.35) for e in finals)
    last = srec.decode([st], force_final=[True])[0]
    assert last[-1]["final"] and last[-1]["reason"] == "client"
    assert last[-1]["end"] == pytest.approx(5.5, abs=0.05)
    # silence only: nothing is kept beyond the pre-roll, nothing is decoded
    quiet = srec.new_stream()
    assert run(srec, quiet, np.zeros(16000 * 10, np.float32)) == []
    assert quiet.audio.size == 0 and quiet.idle.size <= srec.preroll_samples


def test_batched_streams_match_single_streams():
    srec = StreamingRecognizer(FakeRecognizer())
    a, b = srec.new_stream(), srec.new_stream()
    x, y = speech(2.0), speech(1.3) * 0.7
    for s, w in ((a, x), (b, y)):
        s.accept(w)
    both = srec.decode([a, b], force_final=[True, True])
    c = srec.new_stream(); c.accept(x)
    assert both[0][-1]["text"] == srec.decode([c], force_final=[True])[0][-1]["text"]
