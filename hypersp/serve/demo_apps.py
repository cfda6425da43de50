"""The five demo apps of the original toolkit, registered in the ``app`` registry.

| app          | port  | client rate | page                                   |
|--------------|-------|-------------|----------------------------------------|
| subtitles    | 15001 | 16 kHz      | upload a lecture -> SRT / WebVTT        |
| minutes      | 15002 | 16 kHz      | upload a meeting -> utterances + times  |
| online_resp  | 15003 | 16 kHz      | live microphone, partials + finals      |
| online_tel   | 15004 | 8 kHz       | live microphone at telephone rate       |
| offline_tel  | 15005 | 8 kHz       | upload a call; stereo = agent/customer  |

"Client rate" is what JSON/binary PCM16 must be sent at; the server resamples to the model's rate,
so any checkpoint serves any app (an 8 kHz ``synthetic_tel`` model is the right one for the
telephone apps). Uploaded files may have any rate.

This module is imported on every registry lookup, so it must stay cheap: Sanic is only imported
inside ``add_routes``. A plugin adds an app the same way: subclass ``DemoApp``, register it; extra
routes answer with ``hypersp.serve.responses.json_response``. The server that mounts the apps is
``hypersp.serve.server``.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

from hypersp.registry import register_app


@dataclass
class DemoAppConfig:
    name: str = ""
    port: int = 0
    sample_rate: int = 16000  # rate of PCM16 sent by clients (JSON data / binary frames)
    mode: str = "offline"  # "offline" (upload page) or "online" (microphone page)
    default_checkpoint: str = "demo_ko_16k"  # shipped model hypersp-serve uses when --checkpoint is omitted
    title: str = ""
    description: str = ""


class DemoApp:
    """A demo: its config, how it turns audio into a response, and any extra routes.

    The config dataclass is the one given to ``@register_app`` (``APPS.config_class(name)``).
    """

    def __init__(self, cfg: DemoAppConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.port = int(cfg.port)
        self.sample_rate = int(cfg.sample_rate)
        self.mode = cfg.mode
        self.title = cfg.title or cfg.name
        self.description = cfg.description

    def recognize(self, recognizer, audio: np.ndarray, rate: int, progress=None,
                  settings: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """``audio (C, S)`` float32 at ``rate`` -> the JSON response (without ``final``). Runs on the
        offline worker thread, through the engine (``Recognizer.transcribe``). Default: channels mixed,
        VAD segments with times and words. ``settings``: the client's per-request options
        (``hotwords``, ``nbest``, ``words``, ``display``; see ``hypersp.serve.protocol.parse_settings``).
        The result carries both forms, ``text`` (spoken) and ``display``, for the whole and each segment."""
        settings = dict(settings or {})
        words = settings.pop("words", True)
        settings.pop("display", None)  # which form subtitles show (SubtitlesApp); not a decoding setting
        return recognizer.transcribe(audio, rate, progress=progress, words=words, **settings).to_dict(words=words)

    def check_audio(self, audio: np.ndarray, rate: int) -> None:
        """Refuse audio ``(C, S)`` at ``rate`` Hz that this app cannot take, before any recognition: raise
        ``hypersp.serve.protocol.ProtocolError`` with the reason. Default: anything decodable goes."""

    def add_routes(self, bp, server) -> None:
        """Extra routes beyond the page, POST/WS /recognize and static files."""


@dataclass
class SubtitlesConfig(DemoAppConfig):
    name: str = "subtitles"
    port: int = 15001
    title: str = "강의 자막 생성 (lecture subtitles)"
    description: str = "강의 녹음(wav/flac/mp3, ffmpeg가 있으면 mp4)을 올리면 SRT와 WebVTT 자막을 만듭니다."


@register_app("subtitles", config=SubtitlesConfig)
class SubtitlesApp(DemoApp):
    """Upload -> background job with progress -> SRT and WebVTT downloads.

    POST /jobs (multipart ``file`` or raw body) -> ``{"job", "status_url"}``;
    GET /jobs/<id> -> ``{"status": queued|running|done|error, "progress": 0..1, ...}``;
    GET /jobs/<id>/subtitles.srt and .vtt. ``POST /recognize`` answers at once with ``srt``/``vtt`` inline.
    """


    def recognize(self, recognizer, audio, rate, progress=None, settings=None):
        from hypersp.inference.subtitles import make_cues, to_srt, to_vtt

        display = (settings or {}).get("display", True)  # cues of the display form unless asked otherwise
        result = super().recognize(recognizer, audio, rate, progress, settings)
        cues = make_cues([{**s, "text": s["display"] if display else s["text"]} for s in result["segments"]])
        return {**result, "cues": cues, "srt": to_srt(cues), "vtt": to_vtt(cues)}

    def add_routes(self, bp, server) -> None:
        import asyncio

        from sanic.response import text

        from hypersp.serve.protocol import ProtocolError
        from hypersp.serve.responses import error_response, json_response
        from hypersp.serve.server import GET_HEAD, request_audio

        jobs = server.jobs

        @bp.post("/jobs", name="job_create", stream=True)  # the body is read by uploads.Upload
        async def create(request):
            from hypersp.serve.uploads import Upload, refusal_response

            upload = Upload(request, server, self.sample_rate)  # its slot is held until the job ends
            try:
                upload.admit()
                audio, rate, _, settings = await upload.audio()
                self.check_audio(audio, rate)
                settings = {"display": server.cfg.display, **settings}
            except ProtocolError as err:
                upload.release()
                return refusal_response(err, request, server, self.name)
            while len(jobs) >= server.cfg.max_jobs:  # forget the oldest finished job
                done = [k for k, j in jobs.items() if j["status"] in ("done", "error")]
                if not done:
                    upload.release()
                    return json_response({"error": f"{server.cfg.max_jobs} jobs are running; try again later"},
                                         status=503)
                jobs.pop(done[0])
            job_id = uuid.uuid4().hex[:12]
            job = {"status": "queued", "progress": 0.0, "duration": round(audio.shape[1] / rate, 3),
                   "created": time.time()}
            jobs[job_id] = job

            def progress(done_s, total_s):
                job["progress"] = round(min(1.0, done_s / max(total_s, 1e-9)), 3)

            async def run():
                job["status"] = "running"
                try:
                    job["result"] = await server.worker.run_offline(self.recognize, server.recognizer, audio, rate,
                                                                    progress, settings)
                    job["status"], job["progress"] = "done", 1.0
                except Exception as err:  # reported to the client, the server goes on
                    job["status"], job["error"] = "error", f"{type(err).__name__}: {err}"
                finally:
                    upload.release()

            asyncio.get_running_loop().create_task(run())
            return json_response({"job": job_id, "status_url": f"jobs/{job_id}"}, status=202)

        @bp.route("/jobs/<job_id:str>", methods=GET_HEAD, name="job_status")
        async def status(request, job_id):
            job = jobs.get(job_id)
            if job is None:
                return json_response({"error": f"no job {job_id!r} (jobs are kept in memory; "
                                               "the server may have restarted)"}, status=404)
            body = {k: v for k, v in job.items() if k != "result"}
            if job["status"] == "done":
                r = job["result"]
                body.update(text=r["text"], display=r["display"], segments=r["segments"], srt_url=f"jobs/{job_id}/subtitles.srt",
                            vtt_url=f"jobs/{job_id}/subtitles.vtt")
            return json_response(body)

        @bp.route("/jobs/<job_id:str>/<filename:str>", methods=GET_HEAD, name="job_file")
        async def download(request, job_id, filename):
            fmt = filename[len("subtitles."):] if filename.startswith("subtitles.") else filename
            job = jobs.get(job_id)
            if job is None or job["status"] != "done":
                return json_response({"error": f"job {job_id!r} is not finished"}, status=404)
            if fmt not in ("srt", "vtt"):
                return json_response({"error": f"unknown subtitle format {fmt!r}; choose srt or vtt"}, status=404)
            ctype = "application/x-subrip" if fmt == "srt" else "text/vtt"
            return text(job["result"][fmt], content_type=f"{ctype}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="subtitles.{fmt}"'})


@dataclass
class MinutesConfig(DemoAppConfig):
    name: str = "minutes"
    port: int = 15002
    title: str = "발화 단위 대화록 (meeting minutes)"
    description: str = "회의 녹음을 올리면 발화 단위 대화록(시작/끝 시각)을 만듭니다."


@register_app("minutes", config=MinutesConfig)
class MinutesApp(DemoApp):
    """Upload a meeting or call recording -> utterance-level transcript with start/end times."""


@dataclass
class OnlineRespConfig(DemoAppConfig):
    name: str = "online_resp"
    port: int = 15003
    mode: str = "online"
    title: str = "고객응대 실시간 음성인식 (16 kHz)"
    description: str = "마이크 음성을 16 kHz로 보내 실시간으로 인식합니다."


@register_app("online_resp", config=OnlineRespConfig)
class OnlineRespApp(DemoApp):
    """Live microphone recognition at 16 kHz (customer response)."""


@dataclass
class OnlineTelConfig(DemoAppConfig):
    name: str = "online_tel"
    port: int = 15004
    sample_rate: int = 8000
    default_checkpoint: str = "demo_ko_8k"
    mode: str = "online"
    title: str = "고객상담 실시간 음성인식 (8 kHz)"
    description: str = "마이크 음성을 전화 대역 8 kHz로 보내 실시간으로 인식합니다."


@register_app("online_tel", config=OnlineTelConfig)
class OnlineTelApp(DemoApp):
    """Live recognition of telephone-band audio sent at 8 kHz (call center)."""


@dataclass
class OfflineTelConfig(DemoAppConfig):
    name: str = "offline_tel"
    port: int = 15005
    sample_rate: int = 8000
    default_checkpoint: str = "demo_ko_8k"
    title: str = "고객상담 대화록 (8 kHz)"
    description: str = "상담 통화 녹음을 올리면 대화록을 만듭니다. 스테레오 녹음은 채널 0을 상담원, 채널 1을 고객으로 표시합니다."


@register_app("offline_tel", config=OfflineTelConfig)
class OfflineTelApp(DemoApp):
    """Like minutes at 8 kHz; a stereo call recording is recognized per channel and each segment
    is labelled ``speaker``: ``agent`` (channel 0) or ``customer`` (channel 1)."""

    SPEAKERS = ("agent", "customer")

    def check_audio(self, audio, rate):
        """A call is mono or stereo (agent, customer): a third channel has no speaker, so it is refused
        (400) rather than recognized under a made-up label or dropped."""
        from hypersp.serve.protocol import ProtocolError

        if audio.shape[0] > len(self.SPEAKERS):
            raise ProtocolError(f"통화 녹음은 모노나 스테레오(채널 0 상담원, 채널 1 고객)여야 합니다: 이 파일은 채널이 "
                                f"{audio.shape[0]}개입니다 (offline_tel takes at most {len(self.SPEAKERS)} channels, "
                                f"got {audio.shape[0]}); 스테레오로 줄이거나 minutes 앱을 쓰세요",
                                reason="too_many_channels")

    def recognize(self, recognizer, audio, rate, progress=None, settings=None):
        if audio.shape[0] < 2:
            return super().recognize(recognizer, audio, rate, progress, settings)
        settings = dict(settings or {})
        words = settings.pop("words", True)
        settings.pop("display", None)
        # every channel is recognized (none is silently ignored); echo of the other party is not a turn
        result = recognizer.transcribe(audio, rate, channels=True, progress=progress, words=words,
                                       **settings).to_dict(words=words)
        for seg in result["segments"]:
            c = seg["channel"]
            seg["speaker"] = self.SPEAKERS[c] if c < len(self.SPEAKERS) else f"channel {c}"
        return result
