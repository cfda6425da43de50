"""StreamingRecognizer: committed text never changes, endpoint rules, rate conversion, batching."""
import numpy as np
import pytest
from hypersp.config.schema import VadConfig
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
    # These tests drive the endpointer with pure tones: the energy VAD calls them speech, webrtc (the
    # default) does not, and the streaming logic is what is tested here.
    return Recognizer(FakeBackend(), vad=VadConfig(name="energy"))


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
    # silence only: nothing is kept beyond the pre-roll (+ the stretch where speech could start), nothing decoded
    quiet = srec.new_stream()
    assert run(srec, quiet, np.zeros(16000 * 10, np.float32)) == []
    cfg = srec.cfg
    assert quiet.audio.size == 0
    assert quiet.idle.size <= srec.preroll_samples + int((cfg.min_speech_s + cfg.chunk_s) * 16000)


def test_batched_streams_match_single_streams():
    srec = StreamingRecognizer(FakeRecognizer())
    a, b = srec.new_stream(), srec.new_stream()
    x, y = speech(2.0), speech(1.3) * 0.7
    for s, w in ((a, x), (b, y)):
        s.accept(w)
    both = srec.decode([a, b], force_final=[True, True])
    c = srec.new_stream(); c.accept(x)
    assert both[0][-1]["text"] == srec.decode([c], force_final=[True])[0][-1]["text"]


# ---- with the shipped model: no silent loss, onsets kept ---------------------------------------
@pytest.fixture(scope="module")
def session():
    """Three eSpeak NG sentences at 16 kHz, the first starting at t = 0 (no leading silence), joined by
    1.0 and 1.3 s pauses, plus the shipped demo model."""
    import hypersp
    from hypersp.audio.io import resample
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    pieces = []
    for i, text in enumerate(["오늘 회의를 시작하겠습니다", "이번 분기 매출은 늘었습니다", "질문이 있으시면 말씀해 주세요"]):
        x, rate = synth.synthesize(text, rate_wpm=165, seed=i)
        x = resample(x.astype(np.float32) / 32768.0, rate, 16000)
        if i == 0:  # cut eSpeak's own leading silence: speech from the very first sample
            e = np.abs(x) > 0.02
            x = x[int(np.argmax(e)):]
        pieces += [x, np.zeros(int((1.0 + 0.3 * i) * 16000), np.float32)]
    return hypersp.load("demo_ko_16k"), np.concatenate(pieces)


def stream_finals(asr, audio, message_s, rate=16000, cfg=None):
    s = asr.stream(input_rate=rate, cfg=cfg)
    step = max(1, int(message_s * rate))
    events = []
    for i in range(0, audio.size, step):
        events += s.accept(audio[i:i + step])
    events += s.finish()
    return [e for e in events if e["final"] and e["text"]]


@pytest.mark.parametrize("message_s", [0.01, 0.1, 0.5, 2.0, 1000.0])
@pytest.mark.slow
def test_any_message_size_gives_the_same_finals(session, message_s):
    """10 ms messages, 2 s messages or the whole session in one message: identical finals, and the same
    text as recognizing the uploaded session (the engine's transcribe)."""
    asr, audio = session
    reference = stream_finals(asr, audio, 0.32)
    got = stream_finals(asr, audio, message_s)
    assert [e["text"] for e in got] == [e["text"] for e in reference]
    assert len(got) == 3, [e["text"] for e in got]
    uploaded = asr.transcribe(audio).text
    assert " ".join(e["text"] for e in got) == uploaded


def first_partial_at(asr, audio, cfg, message_s=0.1, rate=16000):
    """Audio seconds sent (in ``message_s`` messages) when the first non-empty partial came."""
    s = asr.stream(input_rate=rate, cfg=cfg)
    step = int(message_s * rate)
    for i in range(0, audio.size, step):
        if any(not e["final"] and e["text"] for e in s.accept(audio[i:i + step])):
            return (i + step) / rate
    return None


@pytest.mark.parametrize("message_s", [0.01, 0.1, 2.0, 1000.0])
@pytest.mark.slow
def test_start_steps_bring_the_first_partial_sooner_and_change_no_final(session, message_s):
    """streaming.start_step_s (0.1 s by default): steps between the chunk_s steps while an utterance has no text
    yet. The first partial comes sooner than with chunk_s steps only (start_step_s=0), and every final (text, start,
    end) is the same: the chunk_s steps stay where they were and an utterance that opens between two of them
    starts where it would have at the next one."""
    from dataclasses import replace

    asr, audio = session
    quick = asr.default_streaming_config()
    assert quick.start_step_s == 0.1
    chunks_only = replace(quick, start_step_s=0.0)
    if message_s == 0.1:
        assert first_partial_at(asr, audio, quick) <= first_partial_at(asr, audio, chunks_only) - 0.1
    fields = ("text", "start", "end", "reason")
    got = [tuple(e.get(k) for k in fields) for e in stream_finals(asr, audio, message_s, cfg=quick)]
    want = [tuple(e.get(k) for k in fields) for e in stream_finals(asr, audio, message_s, cfg=chunks_only)]
    assert got == want and len(got) == 3


def count_model_calls(asr, monkeypatch):
    """From now on, every model forward of ``asr`` (window steps and final passes) appends its batch size here."""
    calls = []
    real = asr.log_probs

    def counting(waves):
        calls.append(len(waves))
        return real(waves)

    monkeypatch.setattr(asr, "log_probs", counting)
    return calls


@pytest.mark.slow
def test_a_backlog_is_caught_up_in_fewer_model_steps(session, monkeypatch):
    """A stream handed seconds of audio at once (a large message, or the backlog of a server that fell behind)
    runs the model once per stretch of speech instead of once per 0.32 s step (streaming.catchup_s): far
    fewer model calls, the same finals. (Window mode: demo_ko_16k streams two-pass by default.)"""
    from hypersp.config.schema import StreamingConfig

    asr, audio = session
    window = StreamingConfig(mode="window")
    calls = count_model_calls(asr, monkeypatch)
    live = stream_finals(asr, audio, 0.1, cfg=window)
    live_calls, calls[:] = len(calls), []
    backlog = stream_finals(asr, audio, 1000.0, cfg=window)
    assert [e["text"] for e in backlog] == [e["text"] for e in live]
    assert len(calls) * 3 < live_calls, (len(calls), live_calls)


@pytest.mark.slow
def test_a_cached_stream_catches_up_in_fewer_model_calls(session, monkeypatch):
    """Cached mode: a backlog is fed to the cached encoder in one call per stretch of speech (its per-call cost
    dominates a small model), with the same finals as 0.1 s messages."""
    from hypersp.config.schema import StreamingConfig

    asr, audio = session
    cfg = StreamingConfig(mode="cached")
    calls = []
    model = asr.backend.model
    real = model.forward_chunks

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "forward_chunks", counting)

    def finals(message_s):
        s = asr.stream(input_rate=16000, cfg=cfg)
        step = max(1, int(message_s * 16000))
        events = []
        for i in range(0, audio.size, step):
            events += s.accept(audio[i:i + step])
        return [e["text"] for e in events + s.finish() if e["final"] and e["text"]]

    live = finals(0.1)
    live_calls, calls[:] = len(calls), []
    backlog = finals(1000.0)
    assert backlog == live and len(live) == 3
    assert len(calls) * 3 < live_calls, (len(calls), live_calls)


@pytest.mark.slow
def test_a_client_final_costs_one_model_pass(session, monkeypatch):
    """When the client ends the utterance, its final is the engine's pass over the whole utterance: the audio
    still queued is not also run through a window step whose partial nobody would see."""
    asr, audio = session
    first = audio[:int(2.44 * 16000)]
    s = asr.stream(input_rate=16000)
    events = s.accept(first[:int(2.24 * 16000)])  # seven whole steps of 0.32 s
    calls = count_model_calls(asr, monkeypatch)
    events += s.accept(first[int(2.24 * 16000):])  # 0.2 s: less than a step, stays queued
    events += s.finish()
    finals = [e for e in events if e["final"]]
    assert len(finals) == 1 and finals[0]["text"].startswith("오늘"), finals
    assert len(calls) == 1, calls  # the final pass only


@pytest.mark.slow
def test_finals_only_stream_runs_the_model_once_per_utterance(session, monkeypatch):
    """streaming.partials=false: no partial events, the same finals as a stream with partials, and the model
    runs only for the finals (one pass per utterance), which is what an upload of the audio costs."""
    from hypersp.config.schema import StreamingConfig

    asr, audio = session
    live = stream_finals(asr, audio, 0.1)
    calls = count_model_calls(asr, monkeypatch)
    s = asr.stream(input_rate=16000, cfg=StreamingConfig(partials=False))
    events = []
    for i in range(0, audio.size, 1600):
        events += s.accept(audio[i:i + 1600])
    events += s.finish()
    assert events and all(e["final"] for e in events)
    finals = [e for e in events if e["text"]]
    assert [e["text"] for e in finals] == [e["text"] for e in live]
    assert len(calls) == len(finals) == 3, calls


def test_speech_at_t0_keeps_its_onset(session):
    asr, audio = session
    finals = stream_finals(asr, audio, 0.1)
    first_end = int(finals[0]["end"] * 16000)
    assert finals[0]["start"] == 0.0
    assert finals[0]["text"] == asr.transcribe(audio[:first_end], segment=False).text
    assert finals[0]["text"].startswith("오늘"), finals[0]["text"]


@pytest.mark.slow
def test_per_connection_endpointing(session):
    """A connection's own thresholds (the WebSocket settings message) change where its utterances end."""
    from dataclasses import replace

    from hypersp.serve.protocol import ProtocolError, parse_settings

    asr, audio = session
    settings = parse_settings({"settings": {"streaming": {"endpoint_silence_s": 2.0}}})
    s = asr.stream()
    s.stream.cfg = replace(s.stream.cfg, **settings["streaming"])
    events = []
    for i in range(0, audio.size, 1600):
        events += s.accept(audio[i:i + 1600])
    events += s.finish()
    finals = [e for e in events if e["final"] and e["text"]]
    assert len(finals) == 1  # the 1.0 and 1.3 s pauses no longer end an utterance
    assert len(stream_finals(asr, audio, 0.1)) == 3  # other connections keep the server's 0.5 s
    for bad in ({"streaming": {"endpoint_silence_s": -1}}, {"streaming": {"chunk_s": 1}}, {"streaming": 3}):
        with pytest.raises(ProtocolError):
            parse_settings({"settings": bad})


def test_python_streams_use_the_checkpoints_streaming_group_as_the_server_does(tmp_path):
    import hypersp
    from hypersp.testing import make_tiny_checkpoint

    ckpt = make_tiny_checkpoint(tmp_path / "t.pt", overrides=["streaming.chunk_s=0.64", "streaming.endpoint_silence_s=0.8"])
    asr = hypersp.load(str(ckpt), decoding="greedy")
    cfg = asr.stream().streaming.cfg
    assert (cfg.chunk_s, cfg.endpoint_silence_s) == (0.64, 0.8)  # saved with the model (e.g. a streaming recipe)
    assert hypersp.load(str(ckpt), decoding="greedy", overrides=["streaming.chunk_s=0.96"]).stream().streaming.cfg.chunk_s == 0.96
    assert asr.stream(cfg=StreamingConfig(chunk_s=0.32)).streaming.cfg.chunk_s == 0.32  # the caller's wins
    from hypersp.serve.server import ServerContext

    assert ServerContext.load(str(ckpt)).streaming.cfg.chunk_s == 0.64  # the server reads the same group
