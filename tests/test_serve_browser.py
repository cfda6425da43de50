"""The demo pages in headless Chromium, driven through the DevTools protocol with the ``websockets``
package (no playwright needed). Skipped when chromium is not installed (Debian: ``apt-get install -y
chromium``). One ``--app all`` server (plain HTTP, a small ``serve.max_body_mb``) and one browser serve
every test:

- the online page: fake microphone fed from a generated Korean WAV -> AudioWorklet -> JS downsampling to
  16 kHz -> WebSocket -> recognized text shown on the page; the clear button empties it;
- the same page opened over plain HTTP from another host name (``hypersp.test``, mapped to 127.0.0.1 by
  Chromium's host resolver rules, so not a secure context): a Korean message saying why the microphone
  is unavailable and how to fix it, and a disabled start button;
- minutes and offline_tel: a WAV chosen in the form's file input and submitted -> segment table, TXT/SRT/
  VTT/JSON downloads with the right names and contents -> the clear button empties it all; a file over the
  body limit gives a Korean message;
- the ``--app all`` index: Korean, the five apps in port order with descriptions and rates;
- (plain HTTP) a too-large upload and a non-audio upload get Korean JSON errors without Python reprs.

With the tiny untrained test model the text is meaningless, so the tests check that the page shows exactly
what the server produced; set HYPERSP_TEST_CHECKPOINT to a trained 16 kHz model to also compare the live
text with offline recognition of the same file.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("sanic")
pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from hypersp.audio.io import write_wav  # noqa: E402
from hypersp.testing import ServerProcess, make_tiny_checkpoint  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")]
SENTENCE = "안녕하세요 반갑습니다"
MAX_BODY_MB = 0.2  # the server's upload limit in these tests
FOREIGN_HOST = "hypersp.test"  # resolved to 127.0.0.1 by the browser, but not "localhost": no secure context
PYTHON_REPR = re.compile(r"b'|b\"|Error\(|<[_a-zA-Z.]+ object|Traceback|\\x[0-9a-f]{2}")


def korean_wav(path):
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    samples, rate = EspeakSynthesizer().synthesize(SENTENCE)
    x = samples.astype(np.float32) / 32768.0
    x = np.concatenate([np.zeros(rate // 2, np.float32), x, np.zeros(int(1.5 * rate), np.float32)])
    write_wav(path, x, rate)  # 16-bit PCM mono: what Chromium's fake capture plays reliably


def bursts(seconds, rate, offset=0.0):
    """Syllable-like harmonic bursts: 1 s of sound, 1 s of silence, ... (shifted by ``offset`` s)."""
    t = np.arange(int(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900), 1))
    x = 0.3 * env * x / 2
    x[((t - offset) % 2.0 >= 1.0) | (t < offset)] = 0.0
    return x.astype(np.float32)


class Page:
    """Minimal DevTools client for one page: send commands, evaluate JavaScript."""

    def __init__(self, target, devtools_port):
        self.target, self.devtools_port = target, devtools_port
        self.ws = connect(target["webSocketDebuggerUrl"], max_size=None).__enter__()  # closed explicitly below
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def evaluate(self, expr):
        result = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True, userGesture=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expr}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expr, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expr)
            if value:
                return value
            time.sleep(0.1)
        value = self.evaluate(expr)  # once more after the deadline: a stalled machine may have eaten the wait
        if value:
            return value
        raise AssertionError(f"timed out waiting for {expr}")

    def text(self, selector):
        return self.evaluate(f"document.querySelector({json.dumps(selector)}).innerText")

    def close(self):
        self.ws.close()
        urllib.request.urlopen(f"http://127.0.0.1:{self.devtools_port}/json/close/{self.target['id']}").read()


class Browser:
    """Headless Chromium with a fake microphone playing ``wav`` and ``FOREIGN_HOST`` mapped to 127.0.0.1."""

    def __init__(self, wav):
        self.profile = tempfile.mkdtemp(prefix="hypersp-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
             "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav}%noloop",
             "--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={self.profile}",
             f"--host-resolver-rules=MAP {FOREIGN_HOST} 127.0.0.1", "--disable-features=HttpsUpgrades",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port = None
        deadline = time.time() + 30
        while self.port is None and time.time() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            self.port = int(m.group(1)) if m else None
        if self.port is None:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")

    def open(self, url, ready="typeof window.hyperspClear === 'function'"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?{url}", method="PUT")
        page = Page(json.loads(urllib.request.urlopen(req, timeout=30).read()), self.port)
        page.wait_for(f"document.readyState === 'complete' && location.href.startsWith({json.dumps(url)}) && ({ready})")
        return page

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    korean_wav(path)
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return os.environ.get("HYPERSP_TEST_CHECKPOINT") or make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def server(ckpt):
    with ServerProcess(ckpt, "all", [f"serve.max_body_mb={MAX_BODY_MB}"]) as srv:  # plain HTTP (--no-ssl)
        yield srv
        assert srv.alive(), srv.log()[-2000:]


@pytest.fixture(scope="module")
def browser(wav):
    b = Browser(wav)
    yield b
    b.close()


def test_online_page_shows_recognized_text(server, browser, wav, ckpt):
    page = browser.open(server.url + "/online_resp/")  # 127.0.0.1 is a secure context: the microphone works
    try:
        assert page.evaluate("window.isSecureContext") is True
        assert page.evaluate("document.getElementById('notice').hidden") is True
        assert page.evaluate("document.getElementById('start').disabled") is False
        buttons = page.evaluate("[...document.querySelectorAll('#online button')].map(b => b.textContent)")
        assert buttons == ["🎤 시작", "■ 중지", "지우기"], buttons
        assert page.text("#status") == "대기 중"
        page.evaluate("window.hyperspStart()")
        read_state = lambda: json.loads(page.evaluate("JSON.stringify(window.hyperspState)"))  # noqa: E731
        deadline = time.time() + 60  # the final comes ~3.3 s in; a loaded CI machine may stall far longer
        state = read_state()
        while not (state["finals"] or state["errors"]) and time.time() < deadline:
            time.sleep(0.25)
            state = read_state()
        state = read_state()  # fresh after the loop: one poll may have taken the machine's whole stall
        shown = page.text("#finals")
        page.evaluate("document.getElementById('display').click()")  # the switch: the spoken form
        shown_spoken = page.text("#finals")
        status = page.text("#status")
        page.evaluate("window.hyperspStop()")
        page.evaluate("document.getElementById('clear').click()")
        cleared = page.evaluate("document.getElementById('finals').innerText + document.getElementById('partial').innerText")
        after = json.loads(page.evaluate("JSON.stringify(window.hyperspState)"))
    finally:
        page.close()
    assert not state["errors"], state
    assert state["sent"] > 16000 * 1.0, state  # at least a second of 16 kHz audio went out
    assert state["finals"], (state, status, server.log()[-2000:])
    # the page shows what the server said: the display form, or the spoken form after the switch
    assert shown.strip() == "\n".join(f["display"] for f in state["finals"]).strip()
    assert shown_spoken.strip() == "\n".join(f["text"] for f in state["finals"]).strip()
    assert status == "듣는 중 (16000 Hz)", status
    assert cleared == "" and after["finals"] == [] and after["partial"] is None
    metrics = urllib.request.urlopen(server.url + "/metrics").read().decode()
    assert re.search(r'hypersp_results_total\{app="online_resp",final="True"\} [1-9]', metrics)
    if os.environ.get("HYPERSP_TEST_CHECKPOINT"):
        # A trained model: the live path (browser capture, JS resampling, streaming) must hear about what
        # offline recognition of the same file hears (jamo-level distance; the demo models are small).
        import unicodedata

        import editdistance

        from hypersp.inference.recognizer import Recognizer

        def jamo(t):
            return unicodedata.normalize("NFD", t.replace(" ", ""))

        offline = Recognizer.from_checkpoint(str(ckpt)).transcribe_file(wav)["text"]
        hyp, ref = jamo("".join(f["text"] for f in state["finals"])), jamo(offline)
        assert editdistance.eval(hyp, ref) / max(len(ref), 1) < 0.5, (state["finals"], offline)


@pytest.mark.parametrize("app", ["online_resp", "online_tel"])
def test_microphone_page_over_plain_http_from_another_host_explains_why_and_the_fix(server, browser, app):
    url = f"http://{FOREIGN_HOST}:{server.port}/{app}/"
    page = browser.open(url)
    try:
        secure = page.evaluate("window.isSecureContext")
        notice_hidden = page.evaluate("document.getElementById('notice').hidden")
        notice = page.text("#notice")
        disabled = page.evaluate("document.getElementById('start').disabled")
        status = page.text("#status")
        page.evaluate("window.hyperspStart()")  # even a script call does not try the microphone
        errors = page.evaluate("window.hyperspState.errors")
    finally:
        page.close()
    assert secure is False
    assert not notice_hidden and disabled is True
    assert "브라우저는 HTTPS 또는 localhost에서만 마이크를 허용합니다" in notice, notice  # why
    assert "--no-ssl 없이" in notice and "--ssl-cert" in notice  # the fix: serve HTTPS ...
    assert f"https://{FOREIGN_HOST}:{server.port}/{app}/" in notice  # ... and open the https address
    assert f"ssh -L {server.port}:localhost:{server.port}" in notice  # or a tunnel to localhost
    assert "hypersp-serve --app all --host 0.0.0.0" in notice  # the page is mounted under /NAME/: --app all
    assert "HTTPS" in status and errors == []


def upload_through_form(page, path):
    """Choose ``path`` in the page's file input (as a user would) and submit the form."""
    doc = page.call("DOM.getDocument")
    node = page.call("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector="#file")
    page.call("DOM.setFileInputFiles", files=[str(path)], nodeId=node["nodeId"])
    page.evaluate("document.getElementById('upload').requestSubmit()")
    page.wait_for("window.hyperspState.result !== null || window.hyperspState.errors.length > 0", timeout=30)


@pytest.mark.parametrize("app", ["minutes", "offline_tel", "subtitles"])
def test_offline_page_table_downloads_and_clear(server, browser, app, tmp_path):
    path = tmp_path / f"{app}.wav"
    if app != "offline_tel":
        sf.write(path, bursts(4.0, 16000), 16000, subtype="PCM_16")
    else:  # a stereo call: agent on the left, customer on the right, taking turns
        x = np.stack([bursts(4.0, 8000), bursts(4.0, 8000, offset=1.0)], axis=1)
        sf.write(path, x, 8000, subtype="PCM_16")
    page = browser.open(f"{server.url}/{app}/")
    try:
        assert page.evaluate("[...document.querySelectorAll('#offline button')].map(b => b.textContent)") == ["인식", "지우기"]
        upload_through_form(page, path)
        state = json.loads(page.evaluate("JSON.stringify(window.hyperspState)"))
        assert not state["errors"], state
        result = state["result"]
        status = page.text("#ostatus")
        rows = page.evaluate("[...document.querySelectorAll('#segments tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
        links = page.evaluate("[...document.querySelectorAll('#downloads a')].map(a => [a.getAttribute('download'), a.href])")
        files = {name: page.evaluate(f"fetch({json.dumps(href)}).then(r => r.text())") for name, href in links}
        page.evaluate("document.getElementById('display').click()")  # the switch: the spoken form
        spoken_rows = page.evaluate("[...document.querySelectorAll('#segments tbody tr')].map(r => r.cells[3].textContent)")
        spoken_links = page.evaluate("[...document.querySelectorAll('#downloads a')].map(a => a.href)")
        page.evaluate("document.getElementById('oclear').click()")
        after = page.evaluate("[document.querySelectorAll('#segments tbody tr').length, "
                              "document.getElementById('downloads').innerText, document.getElementById('ostatus').innerText, "
                              "document.getElementById('file').files.length, window.hyperspState.result]")
    finally:
        page.close()
    segments = result["segments"]
    assert segments, result
    assert status.startswith("완료") and f"구간 {len(segments)}개" in status, status
    assert len(rows) == len(segments)
    assert [r[3] for r in rows] == [s["display"] for s in segments]  # the table shows what the server said
    assert spoken_rows == [s["text"] for s in segments]
    assert all(href.startswith("blob:") for href in spoken_links)  # the spoken form's files come from the page
    assert [name for name, _ in links] == [f"{app}.txt", f"{app}.srt", f"{app}.vtt", f"{app}.json"]
    if app == "subtitles":  # SRT and WebVTT come from the server's job (its cues), TXT and JSON from the page
        assert [href.startswith("blob:") for _, href in links] == [True, False, False, True]
    else:  # built in the page from the segments
        assert all(href.startswith("blob:") for _, href in links)
    assert json.loads(files[f"{app}.json"])["segments"] == segments
    assert len(files[f"{app}.txt"].splitlines()) == len(segments)
    spoken = [s for s in segments if s["text"]]
    assert files[f"{app}.vtt"].startswith("WEBVTT\n")
    assert files[f"{app}.vtt"].count(" --> ") == files[f"{app}.srt"].count(" --> ")
    if app != "subtitles":  # (subtitle cues may split a long segment)
        assert files[f"{app}.srt"].count(" --> ") == len(spoken)
    if spoken:
        assert files[f"{app}.srt"].startswith("1\n")
        assert re.search(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", files[f"{app}.srt"], re.M)
    if app == "offline_tel":
        assert {r[2] for r in rows} == {"상담원", "고객"}, rows  # speakers shown in Korean
        assert "상담원: " in files[f"{app}.txt"] and "고객: " in files[f"{app}.txt"]
        assert {s["speaker"] for s in segments} == {"agent", "customer"}  # JSON keeps the API's values
    assert after == [0, "", "대기 중", 0, None], after


def test_too_large_upload_in_the_page(server, browser, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, bursts(10.0, 16000), 16000, subtype="PCM_16")  # 320 kB > 0.2 MB
    page = browser.open(f"{server.url}/minutes/")
    try:
        upload_through_form(page, path)
        status = page.text("#ostatus")
        # a body that is not JSON (a proxy's HTML 413 page) still gives a Korean message, not a JSON.parse error
        proxy = page.evaluate("(() => { try { window.hyperspParseAnswer(413, 'text/html', '<html><h1>413 Request "
                              "Entity Too Large</h1></html>'); } catch (e) { return e.message; } })()")
        gateway = page.evaluate("(() => { try { window.hyperspParseAnswer(502, '', 'Bad Gateway'); } catch (e) "
                                "{ return e.message; } })()")
    finally:
        page.close()
    assert status.startswith("오류: "), status
    # Chromium reads the server's early 413 answer, or reports the connection the server closed
    assert "파일이 너무 큽니다" in status or "서버에 연결할 수 없습니다" in status, status
    assert not PYTHON_REPR.search(status), status
    assert proxy.startswith("파일이 너무 큽니다 (HTTP 413)"), proxy
    assert "HTTP 502" in gateway and "서버" in gateway, gateway


def test_all_index_in_korean_in_port_order(server, browser):
    from hypersp.registry import APPS

    page = browser.open(server.url + "/", ready="document.querySelectorAll('#apps li').length > 0")
    try:
        heading = page.text("h1")
        items = page.evaluate("[...document.querySelectorAll('#apps li')].map(li => [li.querySelector('a')"
                              ".getAttribute('href'), li.querySelector('a').textContent, li.querySelector('.desc')"
                              ".textContent, li.querySelector('.meta').textContent])")
        lang = page.evaluate("document.documentElement.lang")
    finally:
        page.close()
    assert heading == "hypersp 음성인식 데모" and lang == "ko"
    assert [href for href, *_ in items] == ["subtitles/", "minutes/", "online_resp/", "online_tel/", "offline_tel/"]
    for href, title, desc, meta in items:
        cfg = APPS.config_class(href.rstrip("/"))()
        assert title == cfg.title and desc == cfg.description and re.search("[가-힣]", desc)
        assert f"{cfg.sample_rate // 1000} kHz" in meta and str(cfg.port) in meta
        assert ("마이크" if cfg.mode == "online" else "파일") in meta


def post(url, body, ctype):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def test_upload_errors_are_korean_json_without_python_reprs(server):
    status, ctype, body = post(server.url + "/minutes/recognize", b"\0" * 300_000, "audio/wav")
    assert status == 413 and ctype.startswith("application/json"), (status, ctype, body)
    error = json.loads(body)["error"]
    assert error == f"파일이 너무 큽니다: 최대 {MAX_BODY_MB:g} MB까지 올릴 수 있습니다 (serve.max_body_mb)"
    boundary = "hyperspBOUNDARY"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
                 f"Content-Type: text/plain\r\n\r\nthis is not audio\r\n--{boundary}--\r\n").encode()
    status, ctype, body = post(server.url + "/minutes/recognize", multipart, f"multipart/form-data; boundary={boundary}")
    assert status == 415 and ctype.startswith("application/json"), (status, ctype, body)
    error = json.loads(body)["error"]
    assert error.startswith("notes.txt: 읽을 수 있는 오디오 파일이 아닙니다"), error
    if shutil.which("ffmpeg") is None:
        assert "ffmpeg가 필요한데 설치되어 있지 않습니다" in error, error
    assert not PYTHON_REPR.search(error) and "'" not in error, error
    metrics = urllib.request.urlopen(server.url + "/metrics").read().decode()
    assert re.search(r'hypersp_errors_total\{app="minutes",code="413",reason="too_large"\} [1-9]', metrics), metrics
