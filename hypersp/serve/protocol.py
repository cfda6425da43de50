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


def parse_ws_message(msg: Any, sample_rate: int, max_samples: int) -> Tuple[Optional[int], np.ndarray]:
    """One WebSocket message -> (state or None for binary frames, int16 samples).

    Text: ``{"state": 0|1, "data": [...]}`` (``data`` may be empty only with state 0: a bare
    ``{"state": 0}`` ends the utterance). Binary: PCM16 little-endian, an even number of bytes.
    """
    if isinstance(msg, (bytes, bytearray, memoryview)):
        buf = bytes(msg)
        if len(buf) % 2:
            raise ProtocolError(f"binary frame has {len(buf)} bytes; PCM16 needs an even number")
        if max_samples and len(buf) // 2 > max_samples:
            raise ProtocolError(f"binary frame holds {len(buf) // 2} samples; at most {max_samples} per message",
                                ws_code=WS_TOO_BIG)
        return None, np.frombuffer(buf, dtype="<i2").astype(np.int16)
    obj = parse_json_object(msg, "message")
    state = obj.get("state", 1)
    if type(state) is not int or state not in (0, 1):
        raise ProtocolError(f"'state' must be 0 (silence: end of utterance) or 1 (speech), got {json.dumps(state)[:40]}")
    check_rate(obj, sample_rate)
    samples = pcm16_list(obj.get("data", []), max_samples=max_samples)
    if state == 1 and samples.size == 0:
        raise ProtocolError("'data' is empty with state 1: send PCM16 samples, or state 0 to end the utterance")
    return state, samples


SETTINGS_KEYS = ("hotwords", "nbest", "words", "hotword_weight", "streaming")
# Endpointing thresholds a client may set for its own connection (seconds), with their allowed range.
STREAMING_KEYS = {"endpoint_silence_s": (0.1, 10.0), "endpoint_silence_no_text_s": (0.2, 30.0),
                  "max_utterance_s": (1.0, 60.0), "cut_pad_s": (0.0, 1.0), "min_speech_s": (0.05, 2.0)}
MAX_HOTWORDS = 100
MAX_NBEST = 10


def parse_settings(obj: dict) -> dict:
    """The client's recognition settings from a request object (top level or ``"settings": {...}``) ->
    ``{"hotwords": [...], "nbest": n, "hotword_weight": w, "words": bool}`` with only the given keys."""
    node = obj.get("settings", None)
    if node is None:
        node = {k: obj[k] for k in SETTINGS_KEYS if k in obj}
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
    if "words" in node:
        if type(node["words"]) is not bool:
            raise ProtocolError(f"'words' must be true or false, got {json.dumps(node['words'])[:40]}")
        out["words"] = node["words"]
    return out
