"""Uploads never stall the server (issue 15 part 1): admission before the body is read (503 + Retry-After, counted),
a body read timeout (408), decoding in worker processes so that /healthz and a live stream stay responsive while
a 150 MB JSON body is parsed and an ffmpeg takes 5 s, and a memory bound with three large uploads at once.

Real server processes (``hypersp.testing.ServerProcess``) with a tiny model; a fake ``ffmpeg`` on PATH that sleeps."""
import io
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("sanic")
pytest.importorskip("websockets")
from hypersp.testing import ServerProcess, make_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow  # server processes


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def fake_ffmpeg(folder, seconds):
    """A fake ffmpeg in ``folder`` that sleeps ``seconds`` and fails (as for a file it cannot read)."""
    folder.mkdir(exist_ok=True)
    (folder / "ffmpeg").write_text(f"#!/bin/sh\nsleep {seconds}\nexit 1\n")
    (folder / "ffmpeg").chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


NOT_AUDIO = b"this is not audio\n" * 100
SLOW_FFMPEG_S = 5  # the responsiveness test's ffmpeg


@pytest.fixture(scope="module")
def limited(ckpt, tmp_path_factory):
    """Two uploads, 1 MB in flight, a 1 s body timeout, an ffmpeg that takes 2 s."""
    with pytest.MonkeyPatch.context() as mp:  # the server inherits PATH
        mp.setenv("PATH", fake_ffmpeg(tmp_path_factory.mktemp("bin"), 2))
        extra = ["serve.max_uploads=2", "serve.max_upload_mb_in_flight=1", "serve.body_timeout_s=1"]
        with ServerProcess(ckpt, "minutes", extra) as srv:
            yield srv
            assert srv.alive(), srv.log()[-2000:]


@pytest.fixture
def big(ckpt, tmp_path_factory):
    """Room for 150 MB bodies (JSON ones parsed, not refused) and an ffmpeg that takes SLOW_FFMPEG_S; one server
    per test, so that the memory test does not share it with the 26 minutes of audio of the responsiveness test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", fake_ffmpeg(tmp_path_factory.mktemp("bin"), SLOW_FFMPEG_S))
        extra = ["--max-body-mb", "160", "serve.max_json_seconds=1700"]
        with ServerProcess(ckpt, "online_resp", extra) as srv:
            yield srv
            assert srv.alive(), srv.log()[-2000:]


def post(url, body, ctype="application/octet-stream", timeout=60):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"{}")


def metric(srv, line_start):
    """The sum of the /metrics lines that start with ``line_start`` (a name and the first labels)."""
    with urllib.request.urlopen(srv.url + "/metrics", timeout=10) as r:
        return sum(float(line.rsplit(" ", 1)[1]) for line in r.read().decode().splitlines()
                   if line.startswith(line_start))


def tree_rss_mb(pid):
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024


def wait_in_flight(srv, n):
    deadline = time.time() + 15
    while metric(srv, "hypersp_uploads_in_flight") < n and time.time() < deadline:
        time.sleep(0.05)
    assert metric(srv, "hypersp_uploads_in_flight") == n


def test_uploads_beyond_the_limits_get_503_with_retry_after(limited):
    srv, url = limited, limited.url + "/recognize"
    answers = []
    held = [threading.Thread(target=lambda b=b: answers.append(post(url, b)[0])) for b in (NOT_AUDIO * 350, NOT_AUDIO)]
    held[0].start()  # 0.63 MB, held for 2 s by the slow ffmpeg
    wait_in_flight(srv, 1)
    status, headers, body = post(url, NOT_AUDIO * 350)  # 0.63 + 0.63 MB > serve.max_upload_mb_in_flight=1
    assert status == 503 and headers.get("Retry-After") == "5"
    assert "serve.max_upload_mb_in_flight" in body["error"]
    held[1].start()  # small: fits the bytes, takes the second slot (waits for the decode process)
    wait_in_flight(srv, 2)
    status, headers, body = post(url, NOT_AUDIO)  # a third upload > serve.max_uploads=2
    assert status == 503 and headers.get("Retry-After") == "5" and "serve.max_uploads" in body["error"]
    for t in held:
        t.join()
    assert answers == [415, 415]  # the admitted ones were decoded (by the slow ffmpeg) and answered
    assert metric(srv, 'hypersp_uploads_refused_total{reason="bytes"}') == 1
    assert metric(srv, 'hypersp_uploads_refused_total{reason="uploads"}') == 1
    assert metric(srv, 'hypersp_errors_total{app="minutes",code="503"') == 2  # (a reason label may follow)
    assert metric(srv, "hypersp_uploads_in_flight") == 0
    status, _, body = post(url, json.dumps({"data": [0, 1, 2] * 100}).encode(), "application/json")
    assert status == 200 and body["final"] is True  # the slots are free again


def children(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def test_a_dead_decode_process_fails_one_upload_not_the_server(limited):
    srv, url = limited, limited.url + "/recognize"
    answer = {}
    t = threading.Thread(target=lambda: answer.update(r=post(url, NOT_AUDIO)))
    t.start()
    wait_in_flight(srv, 1)
    time.sleep(0.5)  # the decode process is now waiting for the (slow, fake) ffmpeg
    decoders = [c for c in children(srv.proc.pid)
                if b"spawn_main" in open(f"/proc/{c}/cmdline", "rb").read()
                and b"resource_tracker" not in open(f"/proc/{c}/cmdline", "rb").read()]
    assert len(decoders) == 1, decoders
    os.kill(decoders[0], 9)
    t.join()
    status, _, body = answer["r"]
    assert status == 500 and "died" in body["error"]
    assert post(url, NOT_AUDIO)[0] == 415  # a new decode process reads the next upload
    assert srv.alive()


def test_stalled_upload_is_dropped(limited):
    srv = limited
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /recognize HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n"
              + b"RIFF" + b"\0" * 1000)  # then nothing
    s.settimeout(15)
    t0 = time.time()
    answer = b""
    while True:
        data = s.recv(65536)
        if not data:  # the server closed the connection
            break
        answer += data
    took = time.time() - t0
    s.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"serve.body_timeout_s" in answer
    assert 0.9 <= took < 5, took
    assert metric(srv, 'hypersp_errors_total{app="minutes",code="408"') == 1
    with urllib.request.urlopen(srv.url + "/healthz", timeout=10) as r:
        assert json.loads(r.read())["uploads_in_flight"] == 0


def test_event_loop_stays_responsive_during_150mb_json_and_slow_ffmpeg(big):
    """The live stream's finals keep coming (no gap 200 ms beyond their 500 ms rhythm) and /healthz answers
    within 200 ms while a 150 MB JSON body is received and parsed and an ffmpeg call takes 5 s."""
    from websockets.sync.client import connect

    pair = b"-12345,6789,"  # 2 samples in 12 bytes
    body = b'{"uid": "big", "data": [' + pair * (150_000_000 // len(pair)) + b"0]}"
    srv = big
    if True:  # (one block: the measuring threads live inside it)
        stop = threading.Event()
        health, finals = [], []

        def poll():
            while not stop.is_set():
                t0 = time.perf_counter()
                urllib.request.urlopen(srv.url + "/healthz", timeout=30).read()
                health.append(time.perf_counter() - t0)
                time.sleep(0.05)

        with connect(srv.ws_url + "/recognize", open_timeout=30) as ws:

            def speak():  # 100 ms frames in real time, the end of an utterance every 500 ms
                t = np.arange(1600) / 16000
                frame = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()
                k, t_next = 0, time.perf_counter()
                while not stop.is_set():
                    ws.send(frame)
                    k += 1
                    if k % 5 == 0:
                        ws.send('{"state": 0}')
                    t_next += 0.1
                    time.sleep(max(0.0, t_next - time.perf_counter()))

            def listen():
                while not stop.is_set():
                    try:
                        if json.loads(ws.recv(timeout=1)).get("final"):
                            finals.append(time.perf_counter())
                    except TimeoutError:
                        pass

            threads = [threading.Thread(target=f, daemon=True) for f in (poll, speak, listen)]
            for t in threads:
                t.start()
            time.sleep(1.5)
            answers = {}

            def upload(name, data, ctype):
                try:
                    answers[name] = post(srv.url + "/recognize", data, ctype)
                except OSError as err:  # the JSON one is still being recognized when the server stops
                    answers[name] = err

            uploads = [threading.Thread(target=upload, args=("ffmpeg", NOT_AUDIO, "application/octet-stream")),
                       threading.Thread(target=upload, args=("json", body, "application/json"), daemon=True)]
            t_start = time.perf_counter()
            for t in uploads:
                t.start()
            deadline = time.time() + 60
            while (metric(srv, "hypersp_upload_read_seconds_count") < 2 or "ffmpeg" not in answers) and \
                    time.time() < deadline:
                time.sleep(0.2)  # until the 150 MB body is received and the slow ffmpeg has answered
            time.sleep(3.0)  # and the decode process has parsed the JSON for a while (it takes ~30 s: not waited for)
            t_end = time.perf_counter()
            stop.set()
            for t in threads + uploads[:1]:
                t.join(timeout=10)
        assert answers["ffmpeg"][0] == 415
        assert t_end - t_start > SLOW_FFMPEG_S + 3  # the measurement covered the slow ffmpeg and JSON parsing
        assert len(health) > 50
        # the old server: 5 s (ffmpeg) and 13.7 s (JSON) without an answer. On a shared 2-core machine a request
        # may wait for a core now and then, so one in a hundred may take longer, but none half a second
        assert np.percentile(health, 99) < 0.2 and max(health) < 0.5, sorted(health)[-5:]
        gaps = np.diff([f for f in finals if f >= t_start - 0.5] + [t_end])
        assert len(gaps) >= 8 and max(gaps) < 0.5 + 0.2, gaps


def test_memory_with_three_large_uploads(big):
    """Three 40 MB WAV uploads at once: the server and its decode process grow by less than 500 MB, because the
    bodies wait on disk and one at a time is decoded (decode process) and recognized (offline thread); the old
    server, decoding all three on its event loop, grew by 650 MB in this test (commit a654100)."""
    n = 20_000_000  # 40 MB of PCM16, 21 min at 16 kHz: quiet noise, nothing to recognize
    buf = io.BytesIO()
    sf.write(buf, (np.random.default_rng(0).standard_normal(n) * 30).astype(np.int16), 16000, format="WAV")
    wav = buf.getvalue()
    srv = big
    idle = tree_rss_mb(srv.proc.pid)
    statuses, peak = [], [idle]
    threads = [threading.Thread(target=lambda: statuses.append(post(srv.url + "/recognize", wav, "audio/wav",
                                                                    timeout=120)[0])) for _ in range(3)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak.append(tree_rss_mb(srv.proc.pid))
        time.sleep(0.05)
    assert statuses == [200, 200, 200]
    assert max(peak) - idle < 500, (idle, max(peak))
