"""WebSocket protocol extras on /recognize: declared formats and rates, end of session, a final after a pause
without state 0. The seed API itself is tests/test_serve_api.py."""
import json
import time

import numpy as np
import pytest

pytest.importorskip("sanic")
pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from hypersp.audio.g711 import alaw_encode, mulaw_encode  # noqa: E402
from hypersp.audio.io import resample  # noqa: E402
from hypersp.testing import ServerProcess  # noqa: E402

pytestmark = pytest.mark.slow  # a server process


@pytest.fixture(scope="module")
def utterance():
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    x, rate = EspeakSynthesizer().synthesize("주문하신 물건은 내일 도착합니다", rate_wpm=165)
    return resample(x.astype(np.float32) / 32768.0, rate, 16000)


@pytest.fixture(scope="module")
def server():
    with ServerProcess("demo_ko_16k", "online_resp", ["serve.final_after_idle_s=1.0"]) as srv:
        yield srv


def events_until_close(ws):
    """Every event the server sends until it closes the socket -> (events, the close frame's code)."""
    events = []
    try:
        while True:
            events.append(json.loads(ws.recv(timeout=30)))
    except ConnectionClosed as closed:
        return events, closed.rcvd.code


def session(srv, settings, frames, end=json.dumps({"eof": 1})):
    """Send the settings, the frames and the end message; return (finals' text, close code)."""
    with connect(srv.ws_url + "/recognize") as ws:
        if settings:
            ws.send(json.dumps({"settings": settings}))
            assert "settings" in json.loads(ws.recv(timeout=30))
        for f in frames:
            ws.send(f)
        ws.send(end)
        events, code = events_until_close(ws)
    return " ".join(ev["text"] for ev in events if ev.get("final") and ev["text"]), code


def chunks(buf, n):
    return [buf[i:i + n] for i in range(0, len(buf), n)]


def test_declared_formats_and_rates_give_the_int16_text(server, utterance):
    pcm = np.clip(np.round(utterance * 32767), -32768, 32767).astype("<i2")
    reference, code = session(server, None, chunks(pcm.tobytes(), 3200))
    assert reference and code == 1000  # eof: the last final, then a normal close
    as_float = session(server, {"format": "float32"}, chunks(utterance.astype("<f4").tobytes(), 6400))
    assert as_float == (reference, 1000)
    x8 = resample(utterance, 16000, 8000)
    pcm8 = np.clip(np.round(x8 * 32767), -32768, 32767).astype(np.int16)
    at_8k, _ = session(server, {"sample_rate": 8000}, chunks(pcm8.astype("<i2").tobytes(), 1600))
    mu, _ = session(server, {"sample_rate": 8000, "format": "mulaw"}, chunks(mulaw_encode(pcm8), 800))
    a, _ = session(server, {"sample_rate": 8000, "format": "alaw"}, chunks(alaw_encode(pcm8), 800))
    assert at_8k and mu == at_8k and a == at_8k  # telephone rate and codecs: same text as linear PCM at 8 kHz


def test_finals_only_connection_gets_no_partials_and_the_same_final(server, utterance):
    """{"settings": {"partials": false}}: no partial events, the same final text as with partials."""
    pcm = np.clip(np.round(utterance * 32767), -32768, 32767).astype("<i2")
    frames = chunks(pcm.tobytes(), 3200)
    reference, _ = session(server, None, frames)
    with connect(server.ws_url + "/recognize") as ws:
        ws.send(json.dumps({"settings": {"partials": False}}))
        assert json.loads(ws.recv(timeout=30))["settings"]["partials"] is False
        for f in frames:
            ws.send(f)
        ws.send(json.dumps({"eof": 1}))
        events, _ = events_until_close(ws)
    assert events and all(ev["final"] for ev in events)
    assert " ".join(ev["text"] for ev in events if ev["text"]) == reference


def test_float_audio_sent_as_pcm16_is_refused_with_a_reason(server, utterance):
    with connect(server.ws_url + "/recognize") as ws:
        ws.send(json.dumps({"settings": {"format": "float32"}}))
        ws.recv(timeout=30)
        ws.send(np.full(100, 1e9, dtype="<f4").tobytes())
        assert "float32" in json.loads(ws.recv(timeout=10))["error"]


def test_a_pause_without_state_0_still_gets_its_final(server, utterance):
    pcm = np.clip(np.round(utterance * 32767), -32768, 32767).astype("<i2")
    with connect(server.ws_url + "/recognize") as ws:
        for f in chunks(pcm.tobytes(), 3200):
            ws.send(f)
        t0 = time.time()
        while True:
            ev = json.loads(ws.recv(timeout=10))
            if ev.get("final") and ev["text"]:
                break
        assert time.time() - t0 < 5.0  # final_after_idle_s=1 (or the silence endpoint), not idle_timeout_s=30


def test_a_vosk_client_works_by_changing_the_url(server, utterance):
    """vosk-server's session on /vosk: config, binary PCM16 chunks answered one by one, eof -> result, close."""
    import urllib.request

    pcm = np.clip(np.round(utterance * 32767), -32768, 32767).astype("<i2")
    body = json.dumps({"uid": "u", "data": pcm.tolist()}).encode()
    req = urllib.request.Request(server.url + "/recognize", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        posted = json.loads(r.read())["text"]
    texts, answers, result = [], 0, None
    with connect(server.ws_url + "/vosk") as ws:
        ws.send(json.dumps({"config": {"sample_rate": 16000, "words": True}}))
        for f in chunks(pcm.tobytes(), 8000):
            ws.send(f)
            msg = json.loads(ws.recv(timeout=30))
            answers += 1
            assert "partial" in msg or "text" in msg
            if msg.get("text"):
                texts.append(msg["text"])
                result = msg
        ws.send(json.dumps({"eof": 1}))
        last = json.loads(ws.recv(timeout=30))
        if last.get("text"):
            texts.append(last["text"])
            result = last
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert answers == len(chunks(pcm.tobytes(), 8000))
    assert " ".join(texts) == posted and posted
    assert result["result"] and {"word", "start", "end", "conf"} <= set(result["result"][0])


def test_the_streaming_model_serves_cached_with_the_text_of_its_python_stream(utterance):
    """hypersp-serve --checkpoint demo_ko_16k_stream streams through the cached encoder (its saved settings), with
    partials, and its final is the text the Python stream of the same model gives for the same PCM16 frames."""
    import hypersp

    pcm = np.clip(np.round(np.concatenate([np.zeros(8000, np.float32), utterance]) * 32767), -32768, 32767).astype("<i2")
    with ServerProcess("demo_ko_16k_stream", "online_resp") as srv:
        with connect(srv.ws_url + "/recognize") as ws:
            for f in chunks(pcm.tobytes(), 3200):  # 0.1 s frames at 2x real time (no backlog to catch up on)
                ws.send(f)
                time.sleep(0.05)
            ws.send(json.dumps({"eof": 1}))
            events, _ = events_until_close(ws)
    asr = hypersp.load("demo_ko_16k_stream")
    assert asr.default_streaming_config().mode == "cached"
    stream = asr.stream(input_rate=16000)
    local = []
    for i in range(0, pcm.size, 1600):
        local += stream.accept(pcm[i:i + 1600].astype(np.float32) / 32768.0)
    local += stream.finish()
    served = " ".join(ev["text"] for ev in events if ev["final"] and ev["text"])
    assert served and served == " ".join(ev["text"] for ev in local if ev["final"] and ev["text"])
    assert any(not ev["final"] for ev in events)  # partials while it was spoken
