"""The fault suite of issue 15 (parts 4 and 6): every bad input is a 4xx or a WebSocket close code with a
reason, counted in /metrics by reason, and the security defaults hold (WebSocket origins, a TLS key kept in
a private folder across restarts, ffmpeg that never follows a playlist to local files).

One ``--app all`` server process serves the HTTP and WebSocket cases; the TLS case starts two more."""
import io
import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("sanic")
pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from hypersp.config import ConfigError  # noqa: E402
from hypersp.testing import ServerProcess, make_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow  # server processes: not in `pytest -m "not slow"`

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def server(ckpt):
    with ServerProcess(ckpt, "all", ["--max-frame-kb", "16"]) as srv:
        yield srv
        assert srv.alive(), srv.log()[-2000:]


def call(url, body=None, ctype=None, method=None):
    """-> (status, parsed JSON body or text, headers)."""
    headers = {"Content-Type": ctype} if ctype else {}
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, data, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as err:
        status, data, hdrs = err.code, err.read(), err.headers
    try:
        return status, json.loads(data), hdrs
    except ValueError:
        return status, data.decode(errors="replace"), hdrs


def metric(srv, code, reason, app=None):
    """The value of hypersp_errors_total for (app, code, reason); 0 when absent."""
    _, text, _ = call(srv.url + "/metrics")
    app_re = re.escape(app) if app else "[^\"]*"
    m = re.search(rf'hypersp_errors_total\{{app="{app_re}",code="{code}",reason="{reason}"\}} (\S+)', text)
    return float(m.group(1)) if m else 0.0


def pcm_json(seconds=0.5, rate=16000, **extra):
    t = np.arange(int(seconds * rate)) / rate
    return json.dumps({"uid": "u", "sid": "s", "data": (3000 * np.sin(2 * np.pi * 300 * t)).astype(int).tolist(),
                       **extra}).encode()


DEEP = b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
BIG_INT = b'{"data": [1, 99999999999999999999999]}'
HUGE_INT = b'{"data": [' + b"9" * 5000 + b"]}"  # past Python's 4300-digit limit on int() from text


# ---- HTTP: bad input is a 4xx with a reason, counted -------------------------------------------------
@pytest.mark.parametrize("body, ctype, status, reason, words", [
    (BIG_INT, "application/json", 400, "integer_too_large", "beyond 64 bits"),
    (HUGE_INT, "application/json", 400, "integer_too_large", "thousands of digits"),
    (DEEP, "application/json", 400, "json_too_deep", "nested too deeply"),
    (b"a=1&b=2", "application/x-www-form-urlencoded", 415, "content_type", "application/json"),
    (b"hello", "text/plain", 415, "content_type", "application/json"),
])
def test_bad_json_is_a_4xx_with_its_reason_and_counted(server, body, ctype, status, reason, words):
    before = metric(server, status, reason, "online_resp")
    got, answer, _ = call(server.url + "/online_resp/recognize", body, ctype)
    assert got == status and words in answer["error"], answer
    assert not re.search(r"0x[0-9a-f]{6,}", answer["error"])  # no memory address, no Python repr
    assert metric(server, status, reason, "online_resp") == before + 1


@pytest.mark.parametrize("ctype", ["application/x-www-form-urlencoded", "text/plain;charset=UTF-8"])
def test_seed_json_or_audio_sent_as_a_form_is_read(server, ctype):
    """`curl -d @req.json` and `curl --data-binary @a.wav` send application/x-www-form-urlencoded; fetch() of a
    string sends text/plain."""
    ok, ref, _ = call(server.url + "/online_resp/recognize", pcm_json(), "application/json")
    got, answer, _ = call(server.url + "/online_resp/recognize", pcm_json(), ctype)
    assert ok == got == 200 and answer == ref and answer["uid"] == "u"
    wav = _wav(np.zeros(8000, np.float32), 16000)
    ok, ref, _ = call(server.url + "/online_resp/recognize", wav, "audio/wav")
    got, answer, _ = call(server.url + "/online_resp/recognize", wav, ctype)
    assert ok == got == 200 and answer == ref and answer["duration"] == 0.5
    got, answer, _ = call(server.url + "/online_resp/recognize", pcm_json()[:-1] + b', "data": 7}', ctype)
    assert got == 400 and "list of PCM16" in answer["error"]  # JSON, wrong inside: that reason, not the type


def test_static_folder_head_and_unknown_routes(server):
    for path in ("/online_resp/static/", "/minutes/static/"):
        got, answer, _ = call(server.url + path)
        assert got == 404 and "no such file" in answer["error"]
    for path in ("/healthz", "/metrics", "/", "/online_resp/", "/online_resp/static/hypersp.js"):
        got, body, _ = call(server.url + path, method="HEAD")
        assert got == 200 and body == "", path
    got, _, _ = call(server.url + "/subtitles/jobs/nope", method="HEAD")
    assert got == 404  # the job route answers HEAD like GET
    before = metric(server, 405, "method_not_allowed", "-")
    got, answer, headers = call(server.url + "/healthz", b"{}", "application/json", method="POST")
    assert got == 405 and "POST" in answer["error"] and "GET" in headers.get("Allow", "")
    assert metric(server, 405, "method_not_allowed", "-") == before + 1
    got, answer, _ = call(server.url + "/no/such/route")
    assert got == 404 and "error" in answer
    assert metric(server, 404, "not_found", "online_resp") >= 1 and metric(server, 404, "not_found", "minutes") >= 1


def test_offline_tel_refuses_a_third_channel(server):
    rate = 8000
    x = np.zeros((rate, 3), np.float32)
    x[:, 2] = 0.3 * np.sin(2 * np.pi * 300 * np.arange(rate) / rate)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="PCM_16")
    got, answer, _ = call(server.url + "/offline_tel/recognize", buf.getvalue(), "audio/wav")
    assert got == 400 and "at most 2 channels, got 3" in answer["error"]
    assert metric(server, 400, "too_many_channels", "offline_tel") >= 1
    got, answer, _ = call(server.url + "/offline_tel/recognize", _wav(x[:, :2], rate), "audio/wav")
    assert got == 200 and answer["channels"] == 2  # stereo still goes


def _wav(x, rate):
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ---- WebSocket: close codes with reasons, counted ---------------------------------------------------
@pytest.mark.parametrize("message, code, reason, words", [
    (BIG_INT.decode().replace('{"data"', '{"state": 1, "data"'), 1007, "integer_too_large", "beyond 64 bits"),
    (DEEP.decode(), 1007, "json_too_deep", "nested too deeply"),
    ("{oops", 1007, "invalid_json", "not valid JSON"),
    (json.dumps({"state": 1, "data": [1], "sample_rate": 8000}), 1008, "sample_rate", "16000 Hz"),
    (json.dumps({"settings": {"nbest": 99}}), 1007, "invalid_settings", "'nbest'"),
    ("Done", 1003, "other_protocol", "sherpa-onnx"),
])
def test_ws_bad_input_closes_with_code_and_reason(server, message, code, reason, words):
    before = metric(server, code, reason, "online_resp")
    with connect(server.ws_url + "/online_resp/recognize", max_size=None) as ws:
        ws.send(message)
        assert words in json.loads(ws.recv(timeout=10))["error"]
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd.code == code and words in info.value.rcvd.reason
    assert metric(server, code, reason, "online_resp") == before + 1


@pytest.mark.parametrize("path", ["/online_resp/recognize", "/online_resp/vosk"])
def test_ws_frame_over_the_limit_is_1009_and_counted(server, path):
    before = metric(server, 1009, "too_large", "online_resp")
    with connect(server.ws_url + path, max_size=None) as ws:
        ws.send(np.zeros(10_000, np.int16).tobytes())  # 20 KB > --max-frame-kb 16
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=10)
    assert info.value.rcvd.code == 1009 and "exceeds limit" in info.value.rcvd.reason
    deadline = time.time() + 5  # counted when the handler ends, just after the close
    while metric(server, 1009, "too_large", "online_resp") == before and time.time() < deadline:
        time.sleep(0.1)
    assert metric(server, 1009, "too_large", "online_resp") == before + 1


def test_vosk_endpoint_bad_input_is_counted(server):
    before = metric(server, 1003, "other_protocol", "online_resp")
    with connect(server.ws_url + "/online_resp/vosk") as ws:
        ws.send(json.dumps({"state": 1, "data": [1]}))
        assert "vosk-compatible" in json.loads(ws.recv(timeout=10))["error"]
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd.code == 1003 and "vosk" in info.value.rcvd.reason
    assert metric(server, 1003, "other_protocol", "online_resp") == before + 1


# ---- WebSocket origins ------------------------------------------------------------------------------
def test_ws_origins(server):
    before = metric(server, 1008, "origin_not_allowed", "online_resp")
    with connect(server.ws_url + "/online_resp/recognize", origin="https://evil.example") as ws:
        assert "origin https://evil.example" in json.loads(ws.recv(timeout=10))["error"]
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd.code == 1008 and "--allowed-origins" in info.value.rcvd.reason
    assert metric(server, 1008, "origin_not_allowed", "online_resp") == before + 1
    with connect(server.ws_url + "/online_resp/vosk", origin="http://evil.example:15003") as ws:
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=10)
    assert info.value.rcvd.code == 1008
    # the server's own pages (same host:port), localhost pages and clients without Origin are served
    own = f"http://127.0.0.1:{server.port}"
    for origin in (own, "http://localhost:8080", "https://127.0.0.1", None):
        with connect(server.ws_url + "/online_resp/recognize", origin=origin) as ws:
            ws.send(json.dumps({"state": 1, "data": [0] * 1600}))
            ws.send(json.dumps({"state": 0}))
            while not json.loads(ws.recv(timeout=30)).get("final"):
                pass


def test_origin_rules():
    from hypersp.serve.security import origin_allowed

    default = ["localhost", "127.0.0.1", "::1"]
    assert origin_allowed(None, "example.com", default)  # not a browser
    assert origin_allowed("https://example.com", "example.com", default)  # same origin
    assert origin_allowed("https://example.com:443", "example.com", default)  # default port spelled out
    assert not origin_allowed("https://example.com:8443", "example.com", default)  # another port: another origin
    assert origin_allowed("http://[::1]:3000", "example.com", default)
    assert not origin_allowed("https://localhost.evil.example", "example.com", default)
    assert not origin_allowed("null", "example.com", default)  # file:// pages, sandboxed frames
    only = ["https://app.example.com:8443"]
    assert origin_allowed("https://app.example.com:8443", "srv:15003", only)
    assert not origin_allowed("http://app.example.com:8443", "srv:15003", only)  # scheme differs
    assert not origin_allowed("http://localhost:3000", "srv:15003", only)  # the list replaces the default
    assert origin_allowed("https://anything.example", "srv:15003", ["*"])


def test_allowed_origins_option_becomes_the_config_list():
    from hypersp_cli.serve import build_parser, overrides_from

    args = build_parser().parse_intermixed_args(["--allowed-origins", "*,https://a.example:8443", "serve.max_jobs=3"])
    assert overrides_from(args) == ['serve.allowed_origins=["*", "https://a.example:8443"]', "serve.max_jobs=3"]
    from hypersp.config import compose

    cfg = compose(overrides=overrides_from(args)[:1])
    assert list(cfg.serve.allowed_origins) == ["*", "https://a.example:8443"]


# ---- TLS: one key, kept in a private folder across restarts ----------------------------------------
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


@needs_openssl
def test_tls_key_is_kept_across_restarts_and_no_temporary_keys_remain(ckpt, tmp_path):
    from hypersp.serve.security import self_signed_cert

    cert_dir = tmp_path / "tls"
    earlier = Path(self_signed_cert("127.0.0.1", cert_dir)["cert"]).read_text()  # what an earlier start made
    legacy = set(Path(tempfile.gettempdir()).glob("hypersp-tls-*"))
    with ServerProcess(ckpt, "online_resp", ["--ssl-cert-dir", str(cert_dir)], ssl=True) as srv:
        served = ssl.get_server_certificate(("127.0.0.1", srv.port))
    assert served.strip() == earlier.strip()  # the same certificate, so the same key, after a restart
    assert stat.S_IMODE(cert_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((cert_dir / "key.pem").stat().st_mode) == 0o600
    assert sorted(os.listdir(cert_dir)) == ["cert.pem", "key.pem"]  # no temporary key material left
    assert set(Path(tempfile.gettempdir()).glob("hypersp-tls-*")) <= legacy  # nothing new in the temp folder


@needs_openssl
def test_cert_reissued_for_a_new_host_with_the_same_key(tmp_path):
    from hypersp.serve.security import _cert_names, self_signed_cert

    first = self_signed_cert("127.0.0.1", tmp_path / "tls")
    key = Path(first["key"]).read_bytes()
    cert = Path(first["cert"]).read_bytes()
    again = self_signed_cert("127.0.0.1", tmp_path / "tls")
    assert Path(again["cert"]).read_bytes() == cert  # nothing to change: nothing rewritten
    other = self_signed_cert("asr.example.com", tmp_path / "tls")
    assert Path(other["key"]).read_bytes() == key and Path(other["cert"]).read_bytes() != cert
    assert {"DNS:asr.example.com", "DNS:localhost", "IP:127.0.0.1"} <= _cert_names(shutil.which("openssl"),
                                                                                  Path(other["cert"]))


@needs_openssl
def test_servers_starting_at_once_share_one_key(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    from hypersp.serve.security import self_signed_cert

    cert_dir = str(tmp_path / "tls")
    with ProcessPoolExecutor(3) as pool:
        made = list(pool.map(self_signed_cert, ["127.0.0.1"] * 3, [cert_dir] * 3))
    assert len({tuple(m.values()) for m in made}) == 1
    openssl = shutil.which("openssl")
    public = subprocess.run([openssl, "pkey", "-in", made[0]["key"], "-pubout"], capture_output=True).stdout
    in_cert = subprocess.run([openssl, "x509", "-in", made[0]["cert"], "-noout", "-pubkey"], capture_output=True).stdout
    assert public and public == in_cert  # the certificate is of the key that stayed
    assert sorted(os.listdir(cert_dir)) == ["cert.pem", "key.pem"]


@needs_openssl
def test_cert_dir_readable_by_others_is_refused(tmp_path):
    from hypersp.serve.security import self_signed_cert

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    with pytest.raises(ConfigError, match="mode 0700"):
        self_signed_cert("127.0.0.1", shared)
    assert not any(shared.iterdir())


def test_legacy_temporary_key_folders_are_removed(tmp_path, monkeypatch):
    from hypersp.serve import security

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = tmp_path / "hypersp-tls-abc123"
    old.mkdir()
    (old / "key.pem").write_text("PRIVATE")
    (old / "cert.pem").write_text("CERT")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / "hypersp-tls-new"  # a server of an older version may be starting with it right now
    fresh.mkdir()
    (fresh / "key.pem").write_text("PRIVATE")
    other = tmp_path / "hypersp-tls-other"  # holds something else: not ours to judge
    other.mkdir()
    (other / "notes.txt").write_text("x")
    os.utime(other, (time.time() - 7200, time.time() - 7200))
    assert security.remove_legacy_temp_certs() == 1
    assert not old.exists() and fresh.exists() and other.exists()


# ---- ffmpeg: whitelisted containers and protocols, a time limit -------------------------------------
def _ffmpeg_make(tmp_path, name, *args, seconds=20):
    out = tmp_path / name
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    *args, str(out)], check=True)
    return out


@pytest.fixture
def private_audio(tmp_path):
    """A local AAC file (an extension HLS accepts for segments) that a crafted upload may name."""
    return _ffmpeg_make(tmp_path, "private.aac", "-t", "1", "-c:a", "aac", "-f", "adts")


def playlists(target: Path):
    """Uploads that would make an unrestricted ffmpeg read ``target``: HLS (URL and plain path), ffconcat."""
    return {
        "hls_file_url": f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://{target}\n#EXT-X-ENDLIST\n".encode(),
        "hls_path": f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n".encode(),
        "ffconcat": f"ffconcat version 1.0\nfile '{target.name}'\n".encode(),
    }


@needs_ffmpeg
def test_ffmpeg_refuses_playlists_that_name_local_files(private_audio, tmp_path):
    from hypersp.audio.ffmpeg import FFmpegError, ffmpeg_decode

    for name, data in playlists(private_audio).items():
        # the attack is real: ffmpeg without the whitelists, given the upload as a file, reads the local file
        upload = private_audio.parent / f"upload_{name}"
        upload.write_bytes(data)
        plain = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(upload), "-f", "wav", "pipe:1"],
                               capture_output=True)
        assert plain.returncode == 0 and len(plain.stdout) > 16000, (name, plain.stderr[-300:])
        with pytest.raises(FFmpegError, match="not on whitelist"):
            ffmpeg_decode(data)


@needs_ffmpeg
def test_ffmpeg_playlist_upload_is_415_and_returns_nothing_of_the_file(server, private_audio):
    for name, data in playlists(private_audio).items():
        got, answer, _ = call(server.url + "/minutes/recognize", data, "application/vnd.apple.mpegurl")
        assert got == 415 and "not a readable audio file" in answer["error"], (name, answer)
        assert str(private_audio) not in json.dumps(answer) and "segments" not in answer


@needs_ffmpeg
def test_ffmpeg_reads_the_accepted_containers_and_stops_at_the_time_limit(tmp_path, monkeypatch):
    from hypersp.audio.ffmpeg import FFmpegError, ffmpeg_decode

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    # m4a with its index after the audio (ffmpeg's default, as most recorders write it) cannot be read from a
    # pipe: it goes through the private temporary file; webm and mp3 through the pipe
    m4a = _ffmpeg_make(tmp_path, "a.m4a", "-ar", "16000", "-ac", "1", "-c:a", "aac").read_bytes()
    assert m4a.find(b"moov") > m4a.find(b"mdat") > 0
    piped = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", "pipe:0", "-f", "wav", "pipe:1"], input=m4a,
                           capture_output=True)
    assert len(piped.stdout) < 1000 and b"partial file" in piped.stderr  # a bare WAV header at most
    for name, args in (("a.m4a", ["-c:a", "aac"]), ("a.webm", ["-c:a", "libopus"]), ("a.mp3", [])):
        path = tmp_path / name if name == "a.m4a" else _ffmpeg_make(tmp_path, name, "-ar", "16000", "-ac", "1", *args)
        x, rate = ffmpeg_decode(path.read_bytes())
        assert x.shape[0] == 1 and abs(x.shape[1] / rate - 20) < 0.1, name  # (opus decodes at 48 kHz)
    with pytest.raises(FFmpegError, match="moov atom not found"):  # a truncated upload is refused, not silence
        ffmpeg_decode(m4a[:len(m4a) // 2])
    with pytest.raises(FFmpegError, match="longer than") as info:
        ffmpeg_decode((tmp_path / "a.webm").read_bytes(), timeout_s=0.001)
    assert info.value.timed_out
    assert not any(temp.iterdir())  # the m4a's temporary copy is gone
