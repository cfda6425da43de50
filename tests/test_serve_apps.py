"""The five demo apps mounted together (``--app all``) over HTTPS/WSS with a generated certificate."""
import io
import json
import ssl
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("sanic")
pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from hypersp.testing import ServerProcess, make_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow  # a server process, subprocesses or training: not in `pytest -m "not slow"`

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def tone_bursts(seconds, rate, freq=300.0, gap=1.0):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (np.sin(2 * np.pi * 5 * t) > 0)
    x[(t % (2 * gap)) >= gap] = 0.0  # 1 s of sound, 1 s of silence, ...
    return x.astype(np.float32)


def wav_bytes(x, rate):
    buf = io.BytesIO()
    sf.write(buf, x.T if x.ndim == 2 else x, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def request(url, body=None, ctype="audio/wav"):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype} if body is not None else {},
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=60, context=CTX) as r:
        data = r.read()
        return r.status, (json.loads(data) if r.headers.get("Content-Type", "").startswith("application/json") else data.decode())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ckpt = make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tel.pt", telephone=True)  # an 8 kHz model
    with ServerProcess(ckpt, "all", ssl=True) as srv:
        yield srv
        assert srv.alive(), srv.log()[-2000:]


def test_all_apps_mounted_over_https(server):
    status, health = request(server.url + "/healthz")
    assert health["apps"] == ["minutes", "offline_tel", "online_resp", "online_tel", "subtitles"]
    assert health["sample_rate"] == 8000
    for name in health["apps"]:
        status, page = request(f"{server.url}/{name}/")
        assert status == 200 and 'src="static/hypersp.js"' in page


def test_online_tel_takes_8khz_and_16k_app_is_resampled(server):
    for app, rate in (("online_tel", 8000), ("online_resp", 16000)):
        x = (tone_bursts(1.0, rate) * 32767).astype(np.int16)
        with connect(f"{server.ws_url}/{app}/recognize", ssl=CTX) as ws:
            ws.send(json.dumps({"state": 1, "data": x.tolist()}))
            ws.send(json.dumps({"state": 0}))
            while True:
                ev = json.loads(ws.recv(timeout=10))
                if ev["final"]:
                    break
        assert ev["end"] == pytest.approx(1.0, abs=0.05), (app, ev)  # times are in seconds, whatever the rate
        assert isinstance(ev["display"], str) and (ev["display"] == "") == (ev["text"] == "")  # both forms


def test_minutes_segments_with_times(server):
    x = tone_bursts(6.0, 16000)
    status, body = request(server.url + "/minutes/recognize", wav_bytes(x, 16000))
    assert status == 200 and body["final"] is True
    assert isinstance(body["display"], str) and all(isinstance(s["display"], str) for s in body["segments"])
    starts = [s["start"] for s in body["segments"]]
    assert starts == sorted(starts)
    for s in body["segments"]:  # each segment lies on a burst (0-1, 2-3, 4-5 s), padded
        assert s["start"] % 2 < 0.3 or s["start"] % 2 > 1.7, body["segments"]


def test_offline_tel_labels_stereo_channels(server):
    left, right = tone_bursts(4.0, 8000), np.roll(tone_bursts(4.0, 8000), 8000)  # take turns
    status, body = request(server.url + "/offline_tel/recognize", wav_bytes(np.stack([left, right]), 8000))
    assert status == 200
    speakers = {s["speaker"] for s in body["segments"]}
    assert speakers <= {"agent", "customer"}
    for s in body["segments"]:
        assert s["speaker"] == ("agent" if s["channel"] == 0 else "customer")


def test_subtitles_job_progress_and_downloads(server):
    x = tone_bursts(12.0, 16000)
    status, job = request(server.url + "/subtitles/jobs", wav_bytes(x, 16000))
    assert status == 202
    deadline = time.time() + 30
    while True:
        try:
            status, st = request(f"{server.url}/subtitles/{job['status_url']}")
        except urllib.error.HTTPError as err:
            raise AssertionError(err.read())
        assert 0.0 <= st["progress"] <= 1.0
        if st["status"] == "done" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert st["status"] == "done" and st["progress"] == 1.0
    _, srt = request(f"{server.url}/subtitles/{st['srt_url']}")
    _, vtt = request(f"{server.url}/subtitles/{st['vtt_url']}")
    assert vtt.startswith("WEBVTT")
    if st["segments"]:
        assert "-->" in srt and srt.startswith("1\n")
    status = None
    try:
        request(f"{server.url}/subtitles/jobs/nope")
    except urllib.error.HTTPError as err:
        status = err.code
    assert status == 404
