"""The Sanic server factory: one process, one model, the registered demo apps (``demo_apps.py`` and
plugins) mounted as blueprints; the shared handlers and the protocol glue.

    server = ServerContext.from_checkpoint(ckpt, ServeConfig(max_streams=64))
    app = create_app(server, ["online_resp"])             # API at /recognize, page at /
    app = create_app(server, ["subtitles", "minutes"])    # more than one: /subtitles/..., /minutes/...

Routes of every app (``P`` = "" for a single app, ``/NAME`` otherwise):
    GET  P/                 the app's web page (relative URLs: works under any host name and prefix)
    POST P/recognize        offline recognition (JSON PCM16 or an audio upload)
    WS   P/recognize        streaming recognition
    GET  P/static/<file>    page assets
plus what the app adds (subtitle jobs), and ``GET /healthz``, ``GET /metrics`` at the root.

Bad input never reaches the model: the body/frame size limits (``max_body_mb``, ``max_frame_kb``)
are enforced by Sanic (HTTP 413, WebSocket close 1009), everything else by ``protocol.py``
(HTTP 4xx with ``{"error": ...}``, WebSocket ``{"error": ...}`` then close with a code and reason).
JSON bodies and messages are written by ``responses.py`` (``json_response``, ``json_text``).
"""
from __future__ import annotations

import asyncio
import io
import logging
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from hypersp.config.schema import ServeConfig  # noqa: F401  (re-exported)
from hypersp.serve.metrics import Metrics
from hypersp.serve.protocol import (WS_GOING_AWAY, WS_INTERNAL_ERROR, WS_NORMAL, WS_POLICY,
                                    WS_TRY_AGAIN_LATER, ProtocolError, parse_json_object, parse_offline_request,
                                    parse_settings, parse_ws_message)
from hypersp.serve.responses import count_limit_close, error_response, json_response, json_text, ws_error

log = logging.getLogger("hypersp.serve")
HERE = Path(__file__).parent


class ServerContext:
    """Everything the handlers share: the engine, the streaming recognizer, the worker, limits, metrics, jobs.

    Settings come from one composed config (``serve.*``, ``streaming.*``, ``vad.*``, ``decoding.*``):
    the checkpoint's, then YAML files, then ``key=value`` overrides, as in training (:meth:`load`)."""

    def __init__(self, recognizer, cfg: Optional[ServeConfig] = None, streaming_cfg=None):
        from hypersp.inference.streaming import StreamingRecognizer
        from hypersp.serve.admission import StreamAdmission
        from hypersp.serve.uploads import DecodePool, UploadGate
        from hypersp.serve.worker import InferenceWorker

        self.cfg = cfg or ServeConfig()
        self.recognizer = recognizer
        self.streaming = StreamingRecognizer(recognizer, streaming_cfg)
        self.metrics = Metrics()
        self.worker = InferenceWorker(self.streaming, self.metrics, self.cfg.max_batch, self.cfg.max_wait_ms)
        self.admission = StreamAdmission(self.worker.load, self.cfg.max_stream_lag_s, self.cfg.max_stream_load)
        self.uploads = UploadGate(self.cfg.max_uploads, self.cfg.max_upload_mb_in_flight * 1e6, self.metrics)
        self.decoders = DecodePool(self.cfg.decode_workers)  # started with the server (processes)
        self.open_streams = 0
        self.jobs: Dict[str, Dict[str, Any]] = {}
        self.started = time.time()

    @classmethod
    def load(cls, model: str, config_files=(), overrides=(), decoding: Optional[Dict[str, Any]] = None,
             device: str = "cpu", threads: Optional[int] = None, runtime: str = "torch",
             precision: str = "fp32") -> "ServerContext":
        """``model``: checkpoint path, shipped name or exported ``.onnx``. ``decoding``: fields applied over
        ``decoding.*`` (the command's --decoding/--beam-size/... flags). ``runtime`` (a checkpoint): torch,
        onnxruntime or torchscript (:mod:`hypersp.inference.runtimes`); ``precision``: its forward pass's
        (``TorchBackend``)."""
        from omegaconf import OmegaConf

        from hypersp.config import compose
        from hypersp.config.schema import StreamingConfig, VadConfig
        from hypersp.inference.recognizer import Recognizer, make_decoding_config

        if str(model).endswith(".onnx"):
            cfg = compose(config_files=list(config_files), overrides=list(overrides))
            vad = VadConfig(**OmegaConf.to_container(cfg.vad, resolve=True))
            rec = Recognizer.from_exported(str(model), threads=threads, vad=vad,
                                           decoding=make_decoding_config(cfg.decoding, **(decoding or {})))
            rec.config = cfg
        else:
            rec = Recognizer.from_checkpoint(str(model), device=device, decoding=decoding or None,
                                             overrides=list(overrides), config_files=list(config_files),
                                             runtime=runtime, threads=threads, precision=precision)
            cfg = rec.config
        serve = ServeConfig(**OmegaConf.to_container(cfg.serve, resolve=True))
        streaming = StreamingConfig(**OmegaConf.to_container(cfg.streaming, resolve=True))
        return cls(rec, serve, streaming)

    @classmethod
    def from_checkpoint(cls, checkpoint: str, cfg: Optional[ServeConfig] = None, device: str = "cpu") -> "ServerContext":
        from hypersp.inference.recognizer import Recognizer

        return cls(Recognizer.from_checkpoint(checkpoint, device=device), cfg)


# ---- audio uploads --------------------------------------------------------------------------
def decode_upload(data: bytes, filename: str = "") -> tuple:
    """Uploaded file bytes -> (samples (C, S) float32, rate). Tries libsndfile, then ffmpeg (for mp4,
    m4a, webm... when installed). Raises ProtocolError 415 for anything that is not audio.

    The messages are for people (the pages show them as they are): Korean, short, with the English key
    phrase in brackets for API clients; the decoders' own words (which hold Python reprs and temp paths)
    go to the server log only."""
    import soundfile as sf

    name = _display_name(filename)
    if not data:
        raise ProtocolError("업로드한 파일이 비어 있습니다 (the upload is empty): wav, flac, ogg, mp3 파일이나 "
                            "JSON PCM16을 보내세요", reason="empty_body")
    try:
        x, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        if x.shape[0] == 0:
            raise ProtocolError(f"{name}: 오디오 샘플이 없습니다 (no samples)", status=400, reason="empty_body")
        return np.ascontiguousarray(x.T), int(rate)
    except ProtocolError:
        raise
    except Exception as err:
        log.info("libsndfile cannot read %s: %s", filename or "the upload", (str(err).splitlines() or [""])[0])
    from hypersp.audio.ffmpeg import FFmpegError, ffmpeg_decode, find_ffmpeg

    if find_ffmpeg() is None:
        raise ProtocolError(f"{name}: 읽을 수 있는 오디오 파일이 아닙니다 (not a readable audio file). "
                            "wav, flac, ogg, mp3는 바로 읽습니다. mp4, m4a, webm을 읽으려면 서버에 ffmpeg가 "
                            "필요한데 설치되어 있지 않습니다 (예: apt-get install ffmpeg)", status=415, reason="not_audio")
    try:  # locked down: container whitelist, no other files or URLs, a time limit (hypersp.audio.ffmpeg)
        return ffmpeg_decode(data)
    except FFmpegError as err:
        log.info("ffmpeg cannot read %s: %s", filename or "the upload", err)
        if err.timed_out:
            raise ProtocolError(f"{name}: 디코딩이 시간 제한을 넘었습니다 (decoding took longer than the time limit); "
                                "더 짧은 파일이나 wav/flac로 올리세요", status=415, reason="decode_timeout") from None
        raise ProtocolError(f"{name}: 읽을 수 있는 오디오 파일이 아닙니다 (not a readable audio file). "
                            "소리가 든 오디오나 동영상 파일을 올리세요", status=415, reason="not_audio") from None


def _display_name(filename: str) -> str:
    """The uploaded file's base name as shown in a message (no quotes, no control characters, short)."""
    base = "".join(c for c in os.path.basename(filename or "") if c.isprintable()).strip()
    if not base:
        return "업로드한 파일"
    return base if len(base) <= 60 else base[:57] + "..."


def offline_settings(settings: Dict[str, Any]) -> Dict[str, Any]:
    """The settings an offline request can use (hotwords, nbest, words, hotword_weight)."""
    from hypersp.serve.protocol import OFFLINE_KEYS

    return {k: v for k, v in settings.items() if k in OFFLINE_KEYS}


TEXT_FORM_TYPES = ("application/x-www-form-urlencoded", "text/plain")


def _json_audio(body: bytes, sample_rate: int, max_samples: int) -> tuple:
    """The seed JSON ``{uid, sid, data}`` -> ``(samples (1, S) float32, rate, meta, settings)``."""
    from hypersp.audio.io import pcm16_to_float

    samples, obj = parse_offline_request(body, sample_rate, max_samples)
    meta = {k: obj[k] for k in ("uid", "sid") if k in obj}
    return pcm16_to_float(samples)[None, :], sample_rate, meta, offline_settings(parse_settings(obj))


def _form_audio(body: bytes, ctype: str, sample_rate: int, max_samples: int) -> tuple:
    """A body sent as a form or text type (``curl -d``/``--data-binary`` and ``fetch`` of a string label anything
    so): the seed JSON when it starts with ``{``, else an audio file. When it is neither, 415 names the types."""
    try:
        if body.lstrip()[:1] == b"{":
            return _json_audio(body, sample_rate, max_samples)
        x, rate = decode_upload(body)
        return x, rate, {}, {}
    except ProtocolError as err:
        if err.reason not in ("invalid_json", "not_audio"):
            raise  # JSON or audio, but wrong inside: that reason is the useful one
        raise ProtocolError(f"a body sent as {ctype} is read as the JSON object {{uid, sid, data: [PCM16]}} or as an "
                            "audio file, and this one is neither: send JSON with Content-Type: application/json, or "
                            "an audio file as its own type (audio/wav, ...) or as multipart/form-data field 'file'",
                            status=415, reason="content_type") from None


def request_audio(request, sample_rate: int, max_samples: int) -> tuple:
    """The audio of a POST: JSON PCM16 at ``sample_rate``, a multipart ``file``, or a raw file body.
    Returns ``(samples (C, S) float32, rate, meta, settings)``; ``settings`` are the client's recognition
    settings (JSON body keys, or a multipart ``settings`` field holding JSON)."""
    ctype = (request.content_type or "").split(";")[0].strip().lower()
    if ctype in TEXT_FORM_TYPES:
        return _form_audio(request.body, ctype, sample_rate, max_samples)
    if ctype == "application/json" or (not ctype and request.body[:1] in (b"{", b"[")):
        return _json_audio(request.body, sample_rate, max_samples)
    if ctype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ProtocolError("multipart upload has no 'file' field", reason="invalid_field")
        raw = request.form.get("settings")
        settings = offline_settings(parse_settings({"settings": parse_json_object(raw, "'settings' field")})) if raw else {}
        x, rate = decode_upload(upload.body, upload.name)
        return x, rate, {}, settings
    if not request.body:
        raise ProtocolError("empty request body: send JSON {uid, sid, data:[PCM16]} or an audio file",
                            reason="empty_body")
    x, rate = decode_upload(request.body)
    return x, rate, {}, {}


# ---- handlers shared by every app -------------------------------------------------------------
async def offline_recognize(request, server: ServerContext, app) -> Any:
    """A streaming route: the body is admitted, spooled and decoded off the event loop (``uploads.Upload``)."""
    from hypersp.serve.uploads import Upload, refusal_response

    t0 = time.perf_counter()
    server.metrics.inc("hypersp_requests_total", app=app.name, kind="http")
    try:
        async with Upload(request, server, app.sample_rate) as upload:
            x, rate, meta, settings = await upload.audio()
            app.check_audio(x, rate)
            server.metrics.inc("hypersp_audio_seconds_total", x.shape[1] / rate, app=app.name)
            settings = {"display": server.cfg.display, **settings}  # which form subtitles show
            result = await server.worker.run_offline(app.recognize, server.recognizer, x, rate, settings=settings)
    except ProtocolError as err:
        return refusal_response(err, request, server, app.name)
    server.metrics.observe("hypersp_request_seconds", time.perf_counter() - t0, app=app.name)
    return json_response({**meta, **result, "final": True})


async def stream_recognize(request, ws, server: ServerContext, app) -> None:
    async with StreamSlot(server, app, ws) as admitted:
        if admitted:
            await _stream_session(ws, server, app)


async def _stream_session(ws, server: ServerContext, app) -> None:
    from websockets.exceptions import ConnectionClosed

    metrics = server.metrics
    stream = server.streaming.new_stream(app.sample_rate)
    max_samples = (server.cfg.max_frame_kb * 1024) // 2
    fmt, rate = "int16", app.sample_rate  # the client may declare others in its settings message

    want_words = True

    async def send_events(events):
        for ev in events:
            metrics.inc("hypersp_results_total", app=app.name, final=ev["final"])
            if not want_words:
                ev.pop("words", None)
            await ws.send(json_text(ev))

    first = True

    try:
        silent = 0.0
        while True:
            # Messages that have already arrived are read before the next step, so a stream the recognizer fell
            # behind on hands it its whole backlog, which it then catches up on (streaming.catchup_s).
            msg = await ws.recv(timeout=0) if stream.ready() else None
            if msg is None and stream.ready():
                await send_events(await server.worker.decode(stream))
                continue
            wait = server.cfg.final_after_idle_s if (stream.has_audio or stream.inbox_samples) else \
                server.cfg.idle_timeout_s - silent
            if msg is None:
                msg = await ws.recv(timeout=max(0.05, min(wait, server.cfg.idle_timeout_s - silent)))
            if msg is None and silent + wait < server.cfg.idle_timeout_s and (stream.has_audio or stream.inbox_samples):
                silent += wait  # the client paused without state 0: finalize what it sent, keep the socket
                await send_events(await server.worker.decode(stream, True))
                continue
            if msg is None:  # the client sent nothing for idle_timeout_s
                if stream.has_audio or stream.inbox_samples:
                    await send_events(await server.worker.decode(stream, True))
                await ws_error(ws, ProtocolError(f"no audio received for {server.cfg.idle_timeout_s:g} s; closing",
                                                 ws_code=WS_GOING_AWAY, reason="idle_timeout"), server, app.name)
                return
            try:
                if first and isinstance(msg, str) and '"settings"' in msg[:4096]:
                    first = False  # one optional settings message before any audio
                    settings = parse_settings(parse_json_object(msg, "settings message"))
                    want_words = settings.pop("words", True)
                    want_display = settings.pop("display", server.cfg.display)  # events carry both forms
                    fmt = settings.pop("format", fmt)
                    if "sample_rate" in settings:  # declared client rate: resampled by the stream
                        rate = settings.pop("sample_rate")
                        stream = server.streaming.new_stream(rate)
                    streaming = settings.pop("streaming", {})
                    partials = settings.pop("partials", stream.cfg.partials)
                    if streaming or partials != stream.cfg.partials:  # this connection's own endpointing
                        from dataclasses import replace

                        stream.cfg = replace(stream.cfg, **streaming, partials=partials)
                    if settings:
                        stream.final_decoder = await server.worker.run_offline(server.recognizer.decoder_for,
                                                                               **settings)
                    await ws.send(json_text({"settings": {**settings, "words": want_words, "display": want_display,
                                                           "streaming": streaming, "partials": partials,
                                                           "format": fmt, "sample_rate": rate}}))
                    continue
                first = False
                silent = 0.0
                state, samples, eof = parse_ws_message(msg, rate, max_samples, fmt)
            except ProtocolError as err:
                await ws_error(ws, err, server, app.name)
                return
            if samples.size:
                stream.accept(samples)
                metrics.inc("hypersp_audio_seconds_total", samples.size / rate, app=app.name)
            if eof:  # end of session: the last final at once, then a normal close
                await send_events(await server.worker.decode(stream, True))
                await ws.close(WS_NORMAL, "end of session")
                return
            if state == 0:
                await send_events(await server.worker.decode(stream, True))
    except (ConnectionClosed, asyncio.CancelledError) as gone:  # the client went away, or websockets closed it
        count_limit_close(ws, server, app.name)                  # over the frame limit: drop its state
        if isinstance(gone, asyncio.CancelledError):
            raise
    except Exception:  # a bug, not bad input: say so (1011) instead of a silent normal close
        log.exception("streaming session of %s failed", app.name)
        await ws_error(ws, ProtocolError("internal server error; the server log has the details",
                                         ws_code=WS_INTERNAL_ERROR, reason="internal_error"), server, app.name)


async def origin_refused(request, ws, server: ServerContext, app) -> bool:
    """Close (1008, with the reason) a WebSocket that a page of another site opened, unless its origin is
    allowed (``serve.allowed_origins``; rules in ``hypersp.serve.security``). True when it was closed."""
    from hypersp.serve.security import origin_allowed

    origin = request.headers.get("origin")
    if origin_allowed(origin, request.headers.get("host", ""), server.cfg.allowed_origins):
        return False
    shown = "".join(c for c in origin if c.isprintable())[:60]
    await ws_error(ws, ProtocolError(f"origin {shown} may not open this WebSocket (hypersp-serve --allowed-origins)",
                                     ws_code=WS_POLICY, reason="origin_not_allowed"), server, app.name)
    return True


class StreamSlot:
    """Counts a WebSocket session against ``serve.max_streams``; refuses it (close 1013 with the reason) when
    full, or while the streaming worker does not keep up (``admission.StreamAdmission``: queue delay, load).
    ``async with StreamSlot(...) as admitted``."""

    def __init__(self, server: ServerContext, app, ws):
        self.server, self.app, self.ws, self.admitted = server, app, ws, False

    async def __aenter__(self) -> bool:
        from websockets.exceptions import ConnectionClosed

        server, metrics = self.server, self.server.metrics
        refusal = (("streams", f"server busy: {server.cfg.max_streams} streams open; try again later")
                   if server.open_streams >= server.cfg.max_streams else server.admission.refusal(server.open_streams))
        if refusal is not None:
            kind, reason = refusal
            metrics.inc("hypersp_streams_refused_total", app=self.app.name, reason=kind)
            try:
                await self.ws.send(json_text({"error": reason}))
                await self.ws.close(WS_TRY_AGAIN_LATER, reason)
            except ConnectionClosed:
                pass
            return False
        self.admitted = True
        server.open_streams += 1
        metrics.set("hypersp_streams_open", server.open_streams)
        metrics.inc("hypersp_requests_total", app=self.app.name, kind="websocket")
        return True

    async def __aexit__(self, *exc) -> None:
        if self.admitted:
            self.server.open_streams -= 1
            self.server.metrics.set("hypersp_streams_open", self.server.open_streams)


# ---- the page ------------------------------------------------------------------------------
def render_page(app, display: bool = True) -> str:
    """The app's page: the template with its title and description (HTML-escaped) and its settings
    as JSON for the script (``</`` escaped so no text can close the script element); ``display``: the
    page starts showing the display form (``serve.display``)."""
    from html import escape

    html = (HERE / "templates" / "index.html").read_text(encoding="utf-8")
    settings = {"name": app.name, "title": app.title, "mode": app.mode, "sample_rate": app.sample_rate,
                "description": app.description, "display": bool(display)}
    html = html.replace("{{ title }}", escape(app.title)).replace("{{ description }}", escape(app.description))
    return html.replace("{{ settings }}", json_text(settings).replace("</", "<\\/"))


def render_index(apps) -> str:
    """The ``--app all`` index: every mounted app in port order with its title, description and rate."""
    from html import escape

    items = []
    for d in sorted(apps, key=lambda d: (d.port or 1 << 30, d.name)):
        kind = "마이크 실시간 인식" if d.mode == "online" else "파일 올려 인식"
        items.append(f'<li><a href="{escape(d.name)}/">{escape(d.title)}</a>'
                     f'<div class="desc">{escape(d.description)}</div>'
                     f'<div class="meta">{kind} · {d.sample_rate / 1000:g} kHz'
                     f' · 단독 실행 포트 {d.port} · 경로 /{escape(d.name)}/</div></li>')
    return ("<!doctype html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>hypersp 음성인식 데모</title><link rel=\"stylesheet\" href=\"" + escape(apps[0].name) +
            "/static/style.css\"></head><body><header><h1>hypersp 음성인식 데모</h1>"
            "<p>한 서버에서 모든 데모를 엽니다. 마이크 데모는 HTTPS(또는 localhost)에서만 동작합니다.</p></header>"
            f"<main><ul id=\"apps\" class=\"apps\">{''.join(items)}</ul></main></body></html>")


def too_large_message(cfg: ServeConfig, exception: Exception) -> str:
    if "header" in str(exception).lower():
        return "요청 헤더가 너무 큽니다 (request header too large)"
    return f"파일이 너무 큽니다: 최대 {cfg.max_body_mb:g} MB까지 올릴 수 있습니다 (serve.max_body_mb)"


# ---- factory ------------------------------------------------------------------------------
GET_HEAD = ("GET", "HEAD")  # every GET route answers HEAD too (headers only; Sanic drops the body)
HTTP_REASONS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "body_timeout",
                413: "too_large", 503: "busy"}  # the metric reason of Sanic's own HTTP errors


def create_app(server: ServerContext, app_names: List[str], name: str = "hypersp"):
    """Build the Sanic app serving ``app_names`` (registered apps) with ``server``'s model."""
    from sanic import Blueprint, Sanic
    from sanic.response import html as html_response, text

    from hypersp.registry import APPS

    sanic_app = Sanic(name)
    cfg = server.cfg
    sanic_app.config.REQUEST_MAX_SIZE = int(cfg.max_body_mb * 1_000_000)
    sanic_app.config.WEBSOCKET_MAX_SIZE = int(cfg.max_frame_kb * 1024)
    sanic_app.config.RESPONSE_TIMEOUT = 900  # long uploads are recognized within the request
    sanic_app.config.FALLBACK_ERROR_FORMAT = "json"
    sanic_app.config.KEEP_ALIVE_TIMEOUT = 15
    sanic_app.ctx.server = server

    single = len(app_names) == 1
    mounted = []
    for app_name in app_names:
        app_cls = APPS.get(app_name)
        demo = app_cls(APPS.config_class(app_name)())
        prefix = "" if single else f"/{app_name}"
        bp = Blueprint(f"app_{app_name}", url_prefix=prefix or None)
        _mount(bp, demo, server, html_response)
        demo.add_routes(bp, server)
        sanic_app.blueprint(bp)
        mounted.append(demo)
    sanic_app.ctx.apps = mounted

    if not single:
        index_page = render_index(mounted)

        @sanic_app.route("/", methods=GET_HEAD, name="index")
        async def index(request):
            return html_response(index_page)

    from sanic.exceptions import NotFound, PayloadTooLarge, SanicException

    def app_of(request) -> str:
        """The mounted app a request was for (with several apps: its first path part), "-" for none."""
        first = (getattr(request, "path", "") or "/").strip("/").split("/")[0]
        return mounted[0].name if single else (first if first in {d.name for d in mounted} else "-")

    @sanic_app.exception(PayloadTooLarge)
    async def too_large(request, exception):  # Sanic's own 413 body names no limit and no setting
        server.metrics.inc("hypersp_errors_total", app=app_of(request), code=413, reason="too_large")
        return json_response({"error": too_large_message(cfg, exception)}, status=413)

    @sanic_app.exception(Exception)
    async def any_error(request, exception):
        """Every other failure is ``{"error": message}`` counted by status and reason: Sanic's own HTTP errors
        (404, 405, 400 for a malformed request, ...) with their status, a folder under static/ as 404 (Sanic
        raises IsADirectoryError for it), anything else a 500 whose details go to the server log only."""
        if isinstance(exception, IsADirectoryError):
            exception = NotFound("no such file: static/ serves files by name and lists no folders")
        if isinstance(exception, SanicException):
            status, message = exception.status_code, str(exception)
            reason = HTTP_REASONS.get(status, "bad_request" if status < 500 else "server_error")
        else:
            log.error("%s %s failed", request.method, request.path, exc_info=exception)
            status, message, reason = 500, "internal server error; the server log has the details", "internal_error"
        server.metrics.inc("hypersp_errors_total", app=app_of(request), code=status, reason=reason)
        response = json_response({"error": message}, status=status)
        response.headers.update(getattr(exception, "headers", None) or {})  # e.g. Allow on a 405
        return response

    @sanic_app.route("/healthz", methods=GET_HEAD, name="healthz")
    async def healthz(request):
        return json_response({"status": "ok", "pid": os.getpid(), "apps": [d.name for d in mounted],
                      "sample_rate": server.recognizer.sample_rate,
                      "streams_open": server.open_streams, "max_streams": cfg.max_streams,
                      "stream_load": server.worker.load.snapshot(), "uploads_in_flight": server.uploads.uploads,
                      "uptime_s": round(time.time() - server.started, 1)})

    @sanic_app.route("/metrics", methods=GET_HEAD, name="metrics")
    async def metrics(request):
        for key, value in server.worker.load.snapshot().items():  # the admission inputs, as of now
            if key != "batches":
                server.metrics.set(f"hypersp_stream_{key}", value)
        return text(server.metrics.render(), content_type="text/plain; version=0.0.4")

    @sanic_app.before_server_start
    async def _start(app):
        server.worker.start()
        server.decoders.start()
        from hypersp.text.display import display_form

        # Load the display form's lazy parts now, not on a live stream's first multi-word text: kiwipiepy's
        # analyzer (spacing) holds the GIL for about 5 s while it loads, which froze every stream and /healthz.
        display_form("오늘 도 좋은 하루 입니다")

    @sanic_app.before_server_stop
    async def _stop(app):
        await server.worker.stop()
        server.decoders.close()

    return sanic_app


def _mount(bp, demo, server, html_response) -> None:
    page = render_page(demo, server.cfg.display)

    @bp.route("/", methods=GET_HEAD, name="page")
    async def page_handler(request):
        if not request.path.endswith("/"):  # relative URLs need the trailing slash: /minutes -> /minutes/
            from sanic.response import redirect

            return redirect(request.path + "/")
        return html_response(page)

    @bp.post("/recognize", name="recognize_http", stream=True)  # the body is read by uploads.Upload
    async def http_handler(request):
        return await offline_recognize(request, server, demo)

    @bp.websocket("/recognize", name="recognize_ws")
    async def ws_handler(request, ws):
        if not await origin_refused(request, ws, server, demo):
            await stream_recognize(request, ws, server, demo)

    @bp.websocket("/vosk", name="vosk_ws")
    async def vosk_handler(request, ws):
        from hypersp.serve.vosk import vosk_session

        if not await origin_refused(request, ws, server, demo):
            await vosk_session(ws, server, demo, StreamSlot(server, demo, ws))

    bp.static("/static", str(HERE / "static"), name="static")


