"""A vosk-server-compatible WebSocket endpoint (``/vosk`` on every app): vosk clients work by changing the URL.

The session, as vosk-server's ``asr_server.py`` speaks it:
- optional first text message ``{"config": {"sample_rate": N, "words": bool, "phrase_list": [str],
  "max_alternatives": N}}`` (``phrase_list`` boosts those phrases as hotwords in the final pass);
- binary chunks of PCM16 at ``sample_rate`` (default: the app's rate; any rate is resampled), each answered by
  one message: ``{"partial": text}``, or at an endpoint ``{"text": text, "result": [{"word", "start", "end",
  "conf"}]}`` (``result`` only with ``words``; with ``max_alternatives > 0``: ``{"alternatives": [{"text",
  "confidence"}]}``);
- ``{"eof": 1}``: the final result of what is left, then the socket closes.
Recognition is hypersp's engine (the same streaming recognizer, decoder and limits as ``/recognize``).
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

from hypersp.serve.protocol import (WS_NORMAL, WS_UNSUPPORTED_DATA, ProtocolError, SettingsError,
                                    decode_binary, parse_json_object)
from hypersp.serve.responses import count_limit_close, json_text, ws_error


def vosk_result(ev: Dict[str, Any], words: bool, alternatives: int) -> Dict[str, Any]:
    """A hypersp final event in vosk's shape."""
    if alternatives > 0:
        nbest = ev.get("nbest") or [{"text": ev["text"], "score": 0.0}]
        return {"alternatives": [{"text": h["text"], "confidence": h["score"]} for h in nbest[:alternatives]]}
    out: Dict[str, Any] = {"text": ev["text"]}
    if words:
        out["result"] = [{"word": w["word"], "start": w["start"], "end": w["end"], "conf": w["confidence"]}
                         for w in ev.get("words", [])]
    return out


def parse_config(obj: Dict[str, Any], app_rate: int) -> Dict[str, Any]:
    cfg = obj.get("config")
    if not isinstance(cfg, dict):
        raise SettingsError("'config' must be an object: {\"config\": {\"sample_rate\": 16000, \"words\": true}}")
    out = {"sample_rate": app_rate, "words": False, "phrase_list": [], "max_alternatives": 0}
    if "sample_rate" in cfg:
        rate = cfg["sample_rate"]
        if type(rate) not in (int, float) or not 8000 <= rate <= 48000:
            raise SettingsError(f"config.sample_rate must be 8000..48000 Hz, got {json.dumps(rate)[:40]}")
        out["sample_rate"] = int(rate)
    if "words" in cfg:
        out["words"] = bool(cfg["words"])
    if "phrase_list" in cfg:
        phrases = cfg["phrase_list"]
        if not isinstance(phrases, list) or any(not isinstance(p, str) for p in phrases) or len(phrases) > 100:
            raise SettingsError("config.phrase_list must be a list of at most 100 strings")
        out["phrase_list"] = [p.strip() for p in phrases if p.strip() and len(p) <= 50]
    if "max_alternatives" in cfg:
        n = cfg["max_alternatives"]
        if type(n) is not int or not 0 <= n <= 10:
            raise SettingsError("config.max_alternatives must be an integer from 0 to 10")
        out["max_alternatives"] = n
    return out


async def vosk_session(ws, server, app, stream_limits) -> None:
    """One vosk-style session on an accepted WebSocket. ``stream_limits`` is an async context manager that
    counts the stream against ``serve.max_streams`` (shared with /recognize)."""
    from websockets.exceptions import ConnectionClosed

    async with stream_limits as admitted:
        if not admitted:
            return
        cfg = {"sample_rate": app.sample_rate, "words": False, "phrase_list": [], "max_alternatives": 0}
        stream = server.streaming.new_stream(app.sample_rate)
        first = True
        max_samples = (server.cfg.max_frame_kb * 1024) // 2
        try:
            while True:
                msg = await ws.recv(timeout=server.cfg.idle_timeout_s)
                if msg is None:  # vosk clients expect no {"error"} message: just the close, counted
                    server.metrics.inc("hypersp_errors_total", app=app.name, code=1001, reason="idle_timeout")
                    await ws.close(1001, f"no audio for {server.cfg.idle_timeout_s:g} s")
                    return
                try:
                    if isinstance(msg, str):
                        obj = parse_json_object(msg, "message")
                        if "config" in obj:
                            if not first:
                                raise SettingsError("send {\"config\": ...} before any audio")
                            cfg = parse_config(obj, app.sample_rate)
                            stream = server.streaming.new_stream(cfg["sample_rate"])
                            settings = {}
                            if cfg["phrase_list"]:
                                settings["hotwords"] = cfg["phrase_list"]
                            if cfg["max_alternatives"] > 1:
                                settings["nbest"] = cfg["max_alternatives"]
                            if settings:
                                stream.final_decoder = await server.worker.run_offline(
                                    server.recognizer.decoder_for, **settings)
                            first = False
                            continue
                        if "eof" in obj:
                            events = await server.worker.decode(stream, True)
                            finals = [e for e in events if e["final"]]
                            last = finals[-1] if finals else {"text": "", "words": []}
                            await ws.send(json_text(vosk_result(last, cfg["words"], cfg["max_alternatives"])))
                            await ws.close(WS_NORMAL, "eof")
                            return
                        raise ProtocolError("this is the vosk-compatible endpoint: send {\"config\": ...}, binary "
                                            "PCM16 chunks and {\"eof\": 1}; hypersp's own protocol is on /recognize",
                                            ws_code=WS_UNSUPPORTED_DATA, reason="other_protocol")
                    samples = decode_binary(bytes(msg), "int16", max_samples)
                except ProtocolError as err:
                    await ws_error(ws, err, server, app.name)
                    return
                first = False
                stream.accept(samples)
                events: List[Dict[str, Any]] = await server.worker.decode(stream) if stream.ready() else []
                finals = [e for e in events if e["final"] and e["text"]]
                if finals:
                    for ev in finals:
                        await ws.send(json_text(vosk_result(ev, cfg["words"], cfg["max_alternatives"])))
                else:
                    partials = [e for e in events if not e["final"]]
                    text = partials[-1]["text"] if partials else stream.text
                    await ws.send(json_text({"partial": text}))
        except (ConnectionClosed, asyncio.CancelledError) as gone:  # gone, or closed by websockets (frame limit)
            count_limit_close(ws, server, app.name)
            if isinstance(gone, asyncio.CancelledError):
                raise
