"""hypersp-serve end to end: a real server process (Sanic single-process) on a free port, real
HTTP and WebSocket clients; every bad input gets a clear 4xx / close code and the server stays up."""
import contextlib
import io
import json
import socket
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("sanic")
websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from hypersp.testing import ServerProcess, make_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow  # a server process, subprocesses or training: not in `pytest -m "not slow"`


def speechlike(seconds, rate=16000, seed=0):
    """Syllable-like bursts: harmonic tones under a 4 Hz envelope, then nothing else."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900), 1))
    return (0.3 * env * x / 2 + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def pcm(x):
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def server(ckpt):
    extra = ["--idle-timeout", "1.5", "--max-streams", "3", "--max-frame-kb", "64", "--max-body-mb", "1"]
    with ServerProcess(ckpt, "online_resp", extra) as srv:
        yield srv
        assert srv.alive(), srv.log()[-2000:]


def post(url, body, ctype="application/json"):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype} if ctype else {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def healthy(srv):
    status, body = get(srv.url + "/healthz")
    return status == 200 and json.loads(body)["status"] == "ok"


# ---- HTTP ----------------------------------------------------------------------------------
def test_offline_json_contract(server):
    data = pcm(speechlike(1.0)).tolist()
    status, body = post(server.url + "/recognize", json.dumps({"uid": "demo", "sid": "000001", "data": data}).encode())
    assert status == 200
    assert body["final"] is True and isinstance(body["text"], str)
    assert body["uid"] == "demo" and body["sid"] == "000001"
    assert body["duration"] == pytest.approx(1.0, abs=0.01)
    for seg in body["segments"]:
        assert 0 <= seg["start"] < seg["end"] <= 1.0


def test_offline_wav_upload_raw_and_multipart(server):
    buf = io.BytesIO()
    sf.write(buf, speechlike(1.0, 44100), 44100, format="WAV", subtype="PCM_16")
    wav = buf.getvalue()
    status, body = post(server.url + "/recognize", wav, "audio/wav")
    assert status == 200 and body["final"] is True and body["duration"] == pytest.approx(1.0, abs=0.01)
    boundary = "hyperspBOUNDARY"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                 f"Content-Type: audio/wav\r\n\r\n").encode() + wav + f"\r\n--{boundary}--\r\n".encode()
    status, body2 = post(server.url + "/recognize", multipart, f"multipart/form-data; boundary={boundary}")
    assert status == 200 and body2["text"] == body["text"]


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2, 3]", 400, "JSON object"),
    (json.dumps({"uid": "u", "sid": "s"}).encode(), 400, "no 'data'"),
    (json.dumps({"data": "0,1,2"}).encode(), 400, "list of PCM16"),
    (json.dumps({"data": [0, 1.5, 2]}).encode(), 400, "only integers"),
    (json.dumps({"data": [0, True]}).encode(), 400, "only integers"),
    (json.dumps({"data": [0, None]}).encode(), 400, "only integers"),
    (json.dumps({"uid": {"a": 1}, "data": [1]}).encode(), 400, "'uid' must be a string"),
    (json.dumps({"data": [0, 40000]}).encode(), 400, "int16"),
    (json.dumps({"data": [-40000]}).encode(), 400, "int16"),
    (json.dumps({"data": []}).encode(), 400, "empty"),
    (json.dumps({"data": [1, 2], "sample_rate": 8000}).encode(), 400, "16000 Hz"),
])
def test_offline_bad_json(server, body, status, words):
    got, answer = post(server.url + "/recognize", body)
    assert got == status and words in answer["error"], answer


def test_offline_oversized_and_non_audio(server):
    got, _ = post(server.url + "/recognize", json.dumps({"data": [0] * 600_000}).encode())
    assert got == 413  # --max-body-mb 1
    got, answer = post(server.url + "/recognize", b"GIF89a this is not audio at all", "application/octet-stream")
    assert got == 415 and "not a readable audio file" in answer["error"]
    got, answer = post(server.url + "/recognize", b"", "application/octet-stream")
    assert got == 400 and "empty" in answer["error"]
    assert healthy(server)


# ---- WebSocket -------------------------------------------------------------------------------
def ws_send_audio(ws, x, chunk=1600, binary=False):
    for i in range(0, len(x), chunk):
        part = pcm(x[i:i + chunk])
        ws.send(part.tobytes() if binary else json.dumps({"state": 1, "data": part.tolist()}))


def collect(ws, until_final=True, timeout=10.0):
    events, deadline = [], time.time() + timeout
    while time.time() < deadline:
        ev = json.loads(ws.recv(timeout=deadline - time.time()))
        events.append(ev)
        if until_final and ev.get("final"):
            return events
    return events


@pytest.mark.parametrize("binary", [False, True])
def test_stream_partials_then_final_on_state0(server, binary):
    with connect(server.ws_url + "/recognize") as ws:
        ws_send_audio(ws, speechlike(1.5), binary=binary)
        ws.send(json.dumps({"state": 0, "data": []}))
        events = collect(ws)
        assert events[-1]["final"] is True and events[-1]["reason"] == "client"
        assert all(e["final"] is False for e in events[:-1])
        assert all(isinstance(e["text"], str) for e in events)
        assert events[-1]["end"] == pytest.approx(1.5, abs=0.05)
        # the same connection goes on with the next utterance
        ws_send_audio(ws, speechlike(0.8, seed=1), binary=binary)
        ws.send(json.dumps({"state": 0}))
        nxt = collect(ws)
        assert nxt[-1]["final"] is True and nxt[-1]["segment"] == events[-1]["segment"] + 1


def test_stream_server_endpoint_on_trailing_silence(server):
    x = np.concatenate([speechlike(1.2), np.zeros(int(1.6 * 16000), np.float32)])
    with connect(server.ws_url + "/recognize") as ws:
        ws_send_audio(ws, x)
        events = collect(ws, timeout=10)
    final = events[-1]
    assert final["final"] is True and final["reason"] == "silence"
    assert final["end"] < 1.2 + 1.6  # fired before the client stopped sending


@pytest.mark.parametrize("message, code, words", [
    ("{oops", 1007, "not valid JSON"),  # 1007: malformed or out-of-range data
    (json.dumps({"state": 2, "data": [1]}), 1007, "'state'"),
    (json.dumps({"state": "1", "data": [1]}), 1007, "'state'"),
    (json.dumps({"state": 1, "data": [1, 2.5]}), 1007, "only integers"),
    (json.dumps({"state": 1, "data": [70000]}), 1007, "int16"),
    (json.dumps({"state": 1, "data": []}), 1007, "empty"),
    (json.dumps({"state": 1, "data": [1], "sample_rate": 8000}), 1008, "16000 Hz"),
    (b"\x01\x02\x03", 1007, "2 bytes each"),  # 1003 below: another protocol's messages
    ("Done", 1003, "sherpa-onnx"),
    (json.dumps({"signal": "start", "nbest": 1}), 1003, "WeNet"),
    (json.dumps({"config": {"sample_rate": 16000}}), 1003, "/vosk"),
])
def test_stream_bad_messages_close_with_reason(server, message, code, words):
    with connect(server.ws_url + "/recognize") as ws:
        ws.send(message)
        err = json.loads(ws.recv(timeout=5))
        assert words in err["error"]
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd.code == code and words in info.value.rcvd.reason
    assert healthy(server)


def test_stream_oversized_frame(server):
    with connect(server.ws_url + "/recognize", max_size=None) as ws:
        ws.send(np.zeros(40_000, np.int16).tobytes())  # 80 KB > --max-frame-kb 64
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=5)
        assert info.value.rcvd.code == 1009
    assert healthy(server)


def test_stream_silent_client_is_closed(server):
    t0 = time.time()
    with connect(server.ws_url + "/recognize") as ws:
        err = json.loads(ws.recv(timeout=10))
        assert "no audio received" in err["error"]
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd.code == 1001
    assert time.time() - t0 < 6


def test_stream_disconnect_mid_stream_and_stream_limit(server):
    # Clients that vanish mid-utterance (no close handshake) must free their slot.
    for seed in range(4):
        with contextlib.suppress(Exception), connect(server.ws_url + "/recognize") as ws:
            ws_send_audio(ws, speechlike(0.5, seed=seed))
            ws.socket.shutdown(socket.SHUT_RDWR)  # abrupt: TCP gone, no close frame
            ws.socket.close()
    time.sleep(0.5)
    deadline = time.time() + 10
    while json.loads(get(server.url + "/healthz")[1])["streams_open"] and time.time() < deadline:
        time.sleep(0.2)
    assert json.loads(get(server.url + "/healthz")[1])["streams_open"] == 0
    # --max-streams 3: the fourth is refused with a clear message and 1013
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(connect(server.ws_url + "/recognize")) for _ in range(3)]
        for ws in held:
            ws.send(json.dumps({"state": 1, "data": [0] * 160}))
        time.sleep(0.3)
        with connect(server.ws_url + "/recognize") as ws:
            err = json.loads(ws.recv(timeout=5))
            assert "server busy" in err["error"]
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd.code == 1013


def test_health_metrics_and_page(server):
    status, body = get(server.url + "/metrics")
    assert status == 200
    assert "hypersp_requests_total" in body and "hypersp_streams_open" in body
    assert 'hypersp_batch_seconds_bucket{le="+Inf"}' in body
    status, page = get(server.url + "/")
    assert status == 200 and 'src="static/hypersp.js"' in page and "//127.0.0.1" not in page
    assert '"sample_rate": 16000' in page
    status, js = get(server.url + "/static/hypersp.js")
    assert "audioWorklet" in js and 'new URL("recognize"' in js
    assert healthy(server)
