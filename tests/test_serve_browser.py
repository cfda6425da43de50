"""The online page in headless Chromium: fake microphone fed from a generated Korean WAV ->
AudioWorklet -> JS downsampling to 16 kHz -> WebSocket -> recognized text shown on the page.

Driven through the DevTools protocol with the ``websockets`` package (no playwright needed).
Skipped when chromium is not installed (Debian: ``apt-get install -y chromium``). With the tiny
untrained test model the text is meaningless, so the test checks that the page shows exactly the
finals the server produced for the audio; set HYPERSP_TEST_CHECKPOINT to a trained 16 kHz model
to also compare the live text with offline recognition of the same file.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("sanic")
pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from hypersp.audio.io import write_wav  # noqa: E402
from hypersp.serve.testing import ServerProcess, make_tiny_checkpoint  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")]
SENTENCE = "안녕하세요 반갑습니다"


def korean_wav(path):
    from hypersp.data.espeak import EspeakSynthesizer

    samples, rate = EspeakSynthesizer().synthesize(SENTENCE)
    x = samples.astype(np.float32) / 32768.0
    x = np.concatenate([np.zeros(rate // 2, np.float32), x, np.zeros(int(1.5 * rate), np.float32)])
    write_wav(path, x, rate)  # 16-bit PCM mono: what Chromium's fake capture plays reliably


class Page:
    """Minimal DevTools client: evaluate JavaScript in one page."""

    def __init__(self, ws_url):
        self.ws = connect(ws_url, max_size=None).__enter__()  # closed explicitly below
        self.next_id = 0

    def evaluate(self, expr):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": "Runtime.evaluate",
                                 "params": {"expression": expr, "returnByValue": True, "awaitPromise": True,
                                            "userGesture": True}}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                return msg["result"]["result"].get("value")


def test_online_page_shows_recognized_text(tmp_path):
    wav = tmp_path / "speech.wav"
    korean_wav(wav)
    ckpt = os.environ.get("HYPERSP_TEST_CHECKPOINT") or make_tiny_checkpoint(tmp_path / "tiny.pt")
    profile = tempfile.mkdtemp(prefix="hypersp-chromium-")
    with ServerProcess(ckpt, "online_resp") as srv:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
             "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav}%noloop",
             "--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", srv.url + "/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            port = None
            deadline = time.time() + 30
            while port is None and time.time() < deadline:
                line = proc.stderr.readline()
                m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
                port = int(m.group(1)) if m else None
            assert port, "chromium did not start its DevTools endpoint"
            targets = []
            while not targets and time.time() < deadline:
                targets = [t for t in json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
                           if t["type"] == "page" and t["url"].startswith(srv.url)]
                time.sleep(0.2)
            page = Page(targets[0]["webSocketDebuggerUrl"])
            for _ in range(50):
                if page.evaluate("typeof window.hyperspStart") == "function":
                    break
                time.sleep(0.1)
            page.evaluate("window.hyperspStart()")
            state = {}
            deadline = time.time() + 20
            while time.time() < deadline:
                state = page.evaluate("JSON.stringify(window.hyperspState)")
                state = json.loads(state)
                if state["finals"] or state["errors"]:
                    break
                time.sleep(0.25)
            shown = page.evaluate("document.getElementById('finals').innerText")
            page.ws.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            shutil.rmtree(profile, ignore_errors=True)
        assert not state["errors"], state
        assert state["sent"] > 16000 * 1.0, state  # at least a second of 16 kHz audio went out
        assert state["finals"], (state, srv.log()[-2000:])
        assert shown.strip() == "\n".join(state["finals"]).strip()  # the page shows what the server said
        metrics = urllib.request.urlopen(srv.url + "/metrics").read().decode()
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
        hyp, ref = jamo("".join(state["finals"])), jamo(offline)
        assert editdistance.eval(hyp, ref) / max(len(ref), 1) < 0.5, (state["finals"], offline)
