"""The wire protocol of the demo servers (the original hypersp README's API), validated strictly.

HTTP ``POST /recognize``
    JSON ``{"uid": str, "sid": str, "data": [PCM16 ints]}`` (optional ``"sample_rate": int``, which
    must equal the app's rate) -> ``{"text": str, "final": true, "segments": [...], "duration": s}``;
    or an audio file (wav/flac/ogg/mp3, or mp4/m4a/webm when ffmpeg is installed) as the raw body
    or as multipart field ``file``.
WebSocket ``/recognize``
    text frames ``{"state": 0|1, "data": [PCM16 ints]}`` or binary frames of little-endian PCM16
    (state 1), at the app's rate -> ``{"text", "final": false}`` partials and ``{"text", "final":
    true}`` finals (extra fields: ``segment``, ``start``, ``end``, ``reason``). An error is sent as
    ``{"error": message}`` and the connection is closed with a close code and the same reason.

Settings (optional): a POST body may carry ``"hotwords": [str]``, ``"nbest": int`` and ``"words": bool``
(or the same inside ``"settings": {...}``); a WebSocket client may send ``{"settings": {...}}`` as its
first message, which may also set its own endpointing (``"streaming": {"endpoint_silence_s": 0.8, ...}``,
see ``STREAMING_KEYS``). Hotwords and n-best re-rank the final text (the server's decoder with those fields
replaced; ``nbest > 1`` adds ``"nbest": [{"text", "score"}, ...]``); ``words: false`` drops word times.

Every function here raises :class:`ProtocolError` (HTTP status, WebSocket close code, message).
"""
from __future__ import annotations

import json
from typing import Any, Optional, Tuple

import numpy as np

# WebSocket close codes (RFC 6455 section 7.4.1).
WS_NORMAL = 1000
WS_GOING_AWAY = 1001
WS_UNSUPPORTED_DATA = 1003
WS_POLICY = 1008
WS_TOO_BIG = 1009
WS_TRY_AGAIN_LATER = 1013


class ProtocolError(ValueError):
    def __init__(self, message: str, status: int = 400, ws_code: int = WS_UNSUPPORTED_DATA):
        super().__init__(message)
        self.message = message
        self.status = status
        self.ws_code = ws_code


def pcm16_list(data: Any, field: str = "data", max_samples: int = 0) -> np.ndarray:
    """Validate a JSON list of PCM16 ints -> int16 array. Rejects non-lists, non-integers (bools and
    floats with a fraction included), values outside [-32768, 32767] and too many samples."""
    if not isinstance(data, list):
        raise ProtocolError(f"'{field}' must be a list of PCM16 integers, got {type(data).__name__}")
    if max_samples and len(data) > max_samples:
        raise ProtocolError(f"'{field}' holds {len(data)} samples; at most {max_samples} are accepted per message",
                            status=413, ws_code=WS_TOO_BIG)
    if not data:
        return np.zeros(0, dtype=np.int16)
    if any(type(v) is not int for v in data):  # bool is an int subclass: type() check rejects it too
        bad = next(v for v in data if type(v) is not int)
        raise ProtocolError(f"'{field}' must hold only integers (PCM16 samples), found {json.dumps(bad)[:40]}")
    arr = np.asarray(data, dtype=np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < -32768 or hi > 32767:
        raise ProtocolError(f"'{field}' samples must be within int16 [-32768, 32767], found {lo if lo < -32768 else hi}")
    return arr.astype(np.int16)


def parse_json_object(raw: Any, what: str) -> dict:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ProtocolError(f"{what} is not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj


def check_rate(obj: dict, expected: int) -> None:
    if "sample_rate" not in obj:
        return
    rate = obj["sample_rate"]
    if type(rate) is not int:
        raise ProtocolError(f"'sample_rate' must be an integer (Hz), got {json.dumps(rate)[:40]}")
    if rate != expected:
        raise ProtocolError(f"this app takes {expected} Hz PCM16; got sample_rate={rate}. Resample to {expected} Hz "
                            f"(or send an audio file, which is resampled on the server)", ws_code=WS_POLICY)


def parse_offline_request(body: bytes, sample_rate: int, max_samples: int) -> Tuple[np.ndarray, dict]:
    """``{uid, sid, data}`` -> (int16 samples, the object). ``data`` must be non-empty."""
    obj = parse_json_object(body, "request body")
    for key in ("uid", "sid"):
        if key in obj and not isinstance(obj[key], (str, int)):
            raise ProtocolError(f"'{key}' must be a string, got {type(obj[key]).__name__}")
    if "data" not in obj:
        raise ProtocolError("request body has no 'data' field (a list of PCM16 integers)")
    check_rate(obj, sample_rate)
    samples = pcm16_list(obj["data"], max_samples=max_samples)
    if samples.size == 0:
        raise ProtocolError("'data' is empty: send at least one PCM16 sample")
    return samples, obj


FORMATS = {"int16": 2, "float32": 4, "mulaw": 1, "alaw": 1}  # binary sample formats -> bytes per sample
SUPPORTED = ("this server speaks the hypersp protocol on /recognize: text frames {\"state\": 0|1, \"data\": [PCM16]} "
             "or binary audio frames, an optional first {\"settings\": {...}} (hotwords, nbest, words, format, "
             "sample_rate, streaming) and {\"eof\": 1} to end the session; vosk clients connect to /vosk")


def decode_binary(buf: bytes, fmt: str, max_samples: int = 0) -> np.ndarray:
    """A binary frame in ``fmt`` (int16/float32 little-endian, G.711 mulaw/alaw bytes) -> float32 in [-1, 1]."""
    width = FORMATS[fmt]
    if len(buf) % width:
        raise ProtocolError(f"binary frame has {len(buf)} bytes; {fmt} samples take {width} bytes each")
    n = len(buf) // width
    if max_samples and n > max_samples:
        raise ProtocolError(f"binary frame holds {n} samples; at most {max_samples} per message", ws_code=WS_TOO_BIG)
    if fmt == "int16":
        return np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
    if fmt == "float32":
        x = np.frombuffer(buf, dtype="<f4").astype(np.float32)
        if x.size and (not np.isfinite(x).all() or float(np.abs(x).max()) > 16.0):
            raise ProtocolError("float32 frame holds NaN/inf or values far outside [-1, 1]: is it really float32? "
                                "(PCM16 is the default; declare {\"settings\": {\"format\": \"float32\"}} only for "
                                "float samples)")
        return x
    from hypersp.audio.g711 import alaw_decode, mulaw_decode

    return (mulaw_decode(buf) if fmt == "mulaw" else alaw_decode(buf)).astype(np.float32) / 32768.0


def parse_ws_message(msg: Any, sample_rate: int, max_samples: int, fmt: str = "int16"
                     ) -> Tuple[Optional[int], np.ndarray, bool]:
    """One WebSocket message -> (state or None for binary frames, float32 samples, end of session).

    Text: ``{"state": 0|1, "data": [...]}`` (``data`` may be empty only with state 0: a bare
    ``{"state": 0}`` ends the utterance); ``{"eof": 1}`` ends the session (also vosk's spelling).
    Binary: samples in the declared ``fmt`` (PCM16 little-endian by default). Messages of other known
    protocols (WeNet's ``{"signal": ...}``, sherpa-onnx's ``Done``, vosk's ``{"config": ...}``) get an
    error that names what this endpoint speaks.
    """
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return None, decode_binary(bytes(msg), fmt, max_samples), False
    if isinstance(msg, str) and msg.strip() == "Done":
        raise ProtocolError("'Done' is sherpa-onnx's end-of-stream message; " + SUPPORTED)
    obj = parse_json_object(msg, "message")
    if "eof" in obj:
        return 0, np.zeros(0, dtype=np.float32), True
    if "signal" in obj:
        raise ProtocolError("{\"signal\": ...} is WeNet's protocol; " + SUPPORTED)
    if "config" in obj:
        raise ProtocolError("vosk client? connect to /vosk ({\"config\": ...} is vosk's protocol); " + SUPPORTED)
    state = obj.get("state", 1)
    if type(state) is not int or state not in (0, 1):
        raise ProtocolError(f"'state' must be 0 (silence: end of utterance) or 1 (speech), got {json.dumps(state)[:40]}")
    check_rate(obj, sample_rate)
    samples = pcm16_list(obj.get("data", []), max_samples=max_samples)
    if state == 1 and samples.size == 0:
        raise ProtocolError("'data' is empty with state 1: send PCM16 samples, or state 0 to end the utterance")
    return state, samples.astype(np.float32) / 32768.0, False


OFFLINE_KEYS = ("hotwords", "nbest", "words", "hotword_weight")  # what a POST may set
SETTINGS_KEYS = ("hotwords", "nbest", "words", "hotword_weight", "streaming", "format", "sample_rate")
# Endpointing thresholds a client may set for its own connection (seconds), with their allowed range.
STREAMING_KEYS = {"endpoint_silence_s": (0.1, 10.0), "endpoint_silence_no_text_s": (0.2, 30.0),
                  "max_utterance_s": (1.0, 60.0), "cut_pad_s": (0.0, 1.0), "min_speech_s": (0.05, 2.0)}
MAX_HOTWORDS = 100
MAX_NBEST = 10


def parse_settings(obj: dict) -> dict:
    """The client's recognition settings from a request object (top level or ``"settings": {...}``) ->
    ``{"hotwords": [...], "nbest": n, "hotword_weight": w, "words": bool}`` with only the given keys."""
    node = obj.get("settings", None)
    if node is None:  # top-level keys of a POST body: recognition settings only (sample_rate is the audio's)
        node = {k: obj[k] for k in OFFLINE_KEYS if k in obj}
    elif not isinstance(node, dict):
        raise ProtocolError(f"'settings' must be an object with any of {', '.join(SETTINGS_KEYS)}")
    else:
        unknown = sorted(set(node) - set(SETTINGS_KEYS))
        if unknown:
            raise ProtocolError(f"unknown setting(s) {', '.join(unknown)}; supported: {', '.join(SETTINGS_KEYS)}")
    out: dict = {}
    if "hotwords" in node:
        hot = node["hotwords"]
        if not isinstance(hot, list) or any(not isinstance(h, str) or not h.strip() or len(h) > 50 for h in hot):
            raise ProtocolError("'hotwords' must be a list of non-empty strings of at most 50 characters")
        if len(hot) > MAX_HOTWORDS:
            raise ProtocolError(f"'hotwords' holds {len(hot)} phrases; at most {MAX_HOTWORDS} are accepted")
        out["hotwords"] = [h.strip() for h in hot]
    if "nbest" in node:
        n = node["nbest"]
        if type(n) is not int or not 1 <= n <= MAX_NBEST:
            raise ProtocolError(f"'nbest' must be an integer from 1 to {MAX_NBEST}, got {json.dumps(n)[:40]}")
        out["nbest"] = n
    if "hotword_weight" in node:
        w = node["hotword_weight"]
        if type(w) not in (int, float) or not 0 <= w <= 20:
            raise ProtocolError(f"'hotword_weight' must be a number from 0 to 20, got {json.dumps(w)[:40]}")
        out["hotword_weight"] = float(w)
    if "streaming" in node:
        st = node["streaming"]
        if not isinstance(st, dict):
            raise ProtocolError(f"'streaming' must be an object with any of {', '.join(STREAMING_KEYS)}")
        for key, value in st.items():
            if key not in STREAMING_KEYS:
                raise ProtocolError(f"unknown streaming setting {key!r}; a connection may set {', '.join(STREAMING_KEYS)}")
            lo, hi = STREAMING_KEYS[key]
            if type(value) not in (int, float) or not lo <= value <= hi:
                raise ProtocolError(f"streaming.{key} must be a number of seconds from {lo:g} to {hi:g}, "
                                    f"got {json.dumps(value)[:40]}")
        out["streaming"] = {k: float(v) for k, v in st.items()}
    if "format" in node:
        if node["format"] not in FORMATS:
            raise ProtocolError(f"'format' must be one of {', '.join(FORMATS)}, got {json.dumps(node['format'])[:40]}")
        out["format"] = node["format"]
    if "sample_rate" in node:
        rate = node["sample_rate"]
        if type(rate) is not int or not 8000 <= rate <= 48000:
            raise ProtocolError(f"'sample_rate' must be an integer from 8000 to 48000 (Hz), got {json.dumps(rate)[:40]}")
        out["sample_rate"] = rate
    if "words" in node:
        if type(node["words"]) is not bool:
            raise ProtocolError(f"'words' must be true or false, got {json.dumps(node['words'])[:40]}")
        out["words"] = node["words"]
    return out
