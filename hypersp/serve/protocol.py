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
see ``STREAMING_KEYS``) and ask for finals only (``"partials": false``: no model step until an utterance
ends, so a stream costs about what an upload of its audio costs). Hotwords and n-best re-rank the final text (the server's decoder with those fields
replaced; ``nbest > 1`` adds ``"nbest": [{"text", "score"}, ...]``); ``words: false`` drops word times.
Every result carries the spoken form ``text`` and the display form ``display`` (written numbers,
punctuation); ``"display": false`` makes the subtitles app's SRT/WebVTT show the spoken form.

Every function here raises :class:`ProtocolError` (HTTP status, WebSocket close code, message, and a
short ``reason`` under which ``/metrics`` counts it in ``hypersp_errors_total``). Close codes: 1007 for
data that is malformed or out of range, 1003 for another protocol's messages, 1008 for a policy (rate,
origin), 1009 for a message that is too big.
"""
from __future__ import annotations

import json
from typing import Any, Optional, Tuple

import numpy as np

# WebSocket close codes (RFC 6455 section 7.4.1).
WS_NORMAL = 1000
WS_GOING_AWAY = 1001
WS_UNSUPPORTED_DATA = 1003
WS_INVALID_DATA = 1007
WS_POLICY = 1008
WS_TOO_BIG = 1009
WS_INTERNAL_ERROR = 1011
WS_TRY_AGAIN_LATER = 1013


class ProtocolError(ValueError):
    """Bad input: ``message`` for the client, the HTTP ``status`` and WebSocket ``ws_code`` it gets, and
    ``reason``, a short fixed label (``invalid_json``, ``json_too_deep``, ...) that ``/metrics`` counts it
    under. Reasons are a small closed set so the metric's label values stay few."""

    def __init__(self, message: str, status: int = 400, ws_code: int = WS_INVALID_DATA,
                 reason: str = "invalid_request"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.ws_code = ws_code
        self.reason = reason


def pcm16_list(data: Any, field: str = "data", max_samples: int = 0) -> np.ndarray:
    """Validate a JSON list of PCM16 ints -> int16 array. Rejects non-lists, non-integers (bools and
    floats with a fraction included), values outside [-32768, 32767] and too many samples."""
    if not isinstance(data, list):
        raise ProtocolError(f"'{field}' must be a list of PCM16 integers, got {type(data).__name__}",
                            reason="invalid_samples")
    if max_samples and len(data) > max_samples:
        raise ProtocolError(f"'{field}' holds {len(data)} samples; at most {max_samples} are accepted per message",
                            status=413, ws_code=WS_TOO_BIG, reason="too_large")
    if not data:
        return np.zeros(0, dtype=np.int16)
    if any(type(v) is not int for v in data):  # bool is an int subclass: type() check rejects it too
        bad = next(v for v in data if type(v) is not int)
        raise ProtocolError(f"'{field}' must hold only integers (PCM16 samples), found {json.dumps(bad)[:40]}",
                            reason="invalid_samples")
    try:
        arr = np.asarray(data, dtype=np.int64)
    except OverflowError:  # JSON integers are unbounded; numpy's are not
        raise ProtocolError(f"'{field}' holds an integer beyond 64 bits; samples must be within int16 "
                            "[-32768, 32767]", reason="integer_too_large") from None
    lo, hi = int(arr.min()), int(arr.max())
    if lo < -32768 or hi > 32767:
        raise ProtocolError(f"'{field}' samples must be within int16 [-32768, 32767], found {lo if lo < -32768 else hi}",
                            reason="invalid_samples")
    return arr.astype(np.int16)


def parse_json_object(raw: Any, what: str) -> dict:
    """``raw`` (str or UTF-8 bytes) -> a JSON object. Refuses invalid JSON, non-objects, nesting deeper
    than Python's recursion limit (about 1000 levels; the protocol needs 3) and integers of more than
    ``sys.get_int_max_str_digits()`` (4300) digits, each with its own reason."""
    try:
        obj = json.loads(raw)
    except RecursionError:
        raise ProtocolError(f"{what} is nested too deeply (the protocol's JSON is at most 3 levels deep)",
                            reason="json_too_deep") from None
    except (ValueError, UnicodeDecodeError) as err:
        if "integer string conversion" in str(err):  # Python's digit limit on int() from text
            raise ProtocolError(f"{what} holds an integer with thousands of digits; PCM16 samples are within "
                                "[-32768, 32767]", reason="integer_too_large") from None
        raise ProtocolError(f"{what} is not valid JSON: {err}", reason="invalid_json") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(obj).__name__}", reason="invalid_json")
    return obj


def check_rate(obj: dict, expected: int) -> None:
    if "sample_rate" not in obj:
        return
    rate = obj["sample_rate"]
    if type(rate) is not int:
        raise ProtocolError(f"'sample_rate' must be an integer (Hz), got {json.dumps(rate)[:40]}",
                            reason="invalid_field")
    if rate != expected:
        raise ProtocolError(f"this app takes {expected} Hz PCM16; got sample_rate={rate}. Resample to {expected} Hz "
                            f"(or send an audio file, which is resampled on the server)", ws_code=WS_POLICY,
                            reason="sample_rate")


def parse_offline_request(body: bytes, sample_rate: int, max_samples: int) -> Tuple[np.ndarray, dict]:
    """``{uid, sid, data}`` -> (int16 samples, the object). ``data`` must be non-empty."""
    obj = parse_json_object(body, "request body")
    for key in ("uid", "sid"):
        if key in obj and not isinstance(obj[key], (str, int)):
            raise ProtocolError(f"'{key}' must be a string, got {type(obj[key]).__name__}", reason="invalid_field")
    if "data" not in obj:
        raise ProtocolError("request body has no 'data' field (a list of PCM16 integers)", reason="invalid_field")
    check_rate(obj, sample_rate)
    samples = pcm16_list(obj["data"], max_samples=max_samples)
    if samples.size == 0:
        raise ProtocolError("'data' is empty: send at least one PCM16 sample", reason="invalid_samples")
    return samples, obj


FORMATS = {"int16": 2, "float32": 4, "mulaw": 1, "alaw": 1}  # binary sample formats -> bytes per sample
SUPPORTED = ("this server speaks the hypersp protocol on /recognize: text frames {\"state\": 0|1, \"data\": [PCM16]} "
             "or binary audio frames, an optional first {\"settings\": {...}} (hotwords, nbest, words, format, "
             "sample_rate, streaming) and {\"eof\": 1} to end the session; vosk clients connect to /vosk")


def decode_binary(buf: bytes, fmt: str, max_samples: int = 0) -> np.ndarray:
    """A binary frame in ``fmt`` (int16/float32 little-endian, G.711 mulaw/alaw bytes) -> float32 in [-1, 1]."""
    width = FORMATS[fmt]
    if len(buf) % width:
        raise ProtocolError(f"binary frame has {len(buf)} bytes; {fmt} samples take {width} bytes each",
                            reason="invalid_samples")
    n = len(buf) // width
    if max_samples and n > max_samples:
        raise ProtocolError(f"binary frame holds {n} samples; at most {max_samples} per message", status=413,
                            ws_code=WS_TOO_BIG, reason="too_large")
    if fmt == "int16":
        return np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
    if fmt == "float32":
        x = np.frombuffer(buf, dtype="<f4").astype(np.float32)
        if x.size and (not np.isfinite(x).all() or float(np.abs(x).max()) > 16.0):
            raise ProtocolError("float32 frame holds NaN/inf or values far outside [-1, 1]: is it really float32? "
                                "(PCM16 is the default; declare {\"settings\": {\"format\": \"float32\"}} only for "
                                "float samples)", reason="invalid_samples")
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
        raise ProtocolError("'Done' is sherpa-onnx's end-of-stream message; " + SUPPORTED,
                            ws_code=WS_UNSUPPORTED_DATA, reason="other_protocol")
    obj = parse_json_object(msg, "message")
    if "eof" in obj:
        return 0, np.zeros(0, dtype=np.float32), True
    if "signal" in obj:
        raise ProtocolError("{\"signal\": ...} is WeNet's protocol; " + SUPPORTED, ws_code=WS_UNSUPPORTED_DATA,
                            reason="other_protocol")
    if "config" in obj:
        raise ProtocolError("vosk client? connect to /vosk ({\"config\": ...} is vosk's protocol); " + SUPPORTED,
                            ws_code=WS_UNSUPPORTED_DATA, reason="other_protocol")
    state = obj.get("state", 1)
    if type(state) is not int or state not in (0, 1):
        raise ProtocolError(f"'state' must be 0 (silence: end of utterance) or 1 (speech), got {json.dumps(state)[:40]}",
                            reason="invalid_field")
    check_rate(obj, sample_rate)
    samples = pcm16_list(obj.get("data", []), max_samples=max_samples)
    if state == 1 and samples.size == 0:
        raise ProtocolError("'data' is empty with state 1: send PCM16 samples, or state 0 to end the utterance",
                            reason="invalid_samples")
    return state, samples.astype(np.float32) / 32768.0, False


class SettingsError(ProtocolError):
    """A client's settings (POST keys, a WebSocket settings message, vosk's config) that cannot be used."""

    def __init__(self, message: str):
        super().__init__(message, reason="invalid_settings")


OFFLINE_KEYS = ("hotwords", "nbest", "words", "hotword_weight", "display")  # what a POST may set
SETTINGS_KEYS = ("hotwords", "nbest", "words", "hotword_weight", "display", "streaming", "format", "sample_rate",
                 "partials")
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
        raise SettingsError(f"'settings' must be an object with any of {', '.join(SETTINGS_KEYS)}")
    else:
        unknown = sorted(set(node) - set(SETTINGS_KEYS))
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; supported: {', '.join(SETTINGS_KEYS)}")
    out: dict = {}
    if "hotwords" in node:
        hot = node["hotwords"]
        if not isinstance(hot, list) or any(not isinstance(h, str) or not h.strip() or len(h) > 50 for h in hot):
            raise SettingsError("'hotwords' must be a list of non-empty strings of at most 50 characters")
        if len(hot) > MAX_HOTWORDS:
            raise SettingsError(f"'hotwords' holds {len(hot)} phrases; at most {MAX_HOTWORDS} are accepted")
        out["hotwords"] = [h.strip() for h in hot]
    if "nbest" in node:
        n = node["nbest"]
        if type(n) is not int or not 1 <= n <= MAX_NBEST:
            raise SettingsError(f"'nbest' must be an integer from 1 to {MAX_NBEST}, got {json.dumps(n)[:40]}")
        out["nbest"] = n
    if "hotword_weight" in node:
        w = node["hotword_weight"]
        if type(w) not in (int, float) or not 0 <= w <= 20:
            raise SettingsError(f"'hotword_weight' must be a number from 0 to 20, got {json.dumps(w)[:40]}")
        out["hotword_weight"] = float(w)
    if "streaming" in node:
        st = node["streaming"]
        if not isinstance(st, dict):
            raise SettingsError(f"'streaming' must be an object with any of {', '.join(STREAMING_KEYS)}")
        for key, value in st.items():
            if key not in STREAMING_KEYS:
                raise SettingsError(f"unknown streaming setting {key!r}; a connection may set {', '.join(STREAMING_KEYS)}")
            lo, hi = STREAMING_KEYS[key]
            if type(value) not in (int, float) or not lo <= value <= hi:
                raise SettingsError(f"streaming.{key} must be a number of seconds from {lo:g} to {hi:g}, "
                                    f"got {json.dumps(value)[:40]}")
        out["streaming"] = {k: float(v) for k, v in st.items()}
    if "format" in node:
        if node["format"] not in FORMATS:
            raise SettingsError(f"'format' must be one of {', '.join(FORMATS)}, got {json.dumps(node['format'])[:40]}")
        out["format"] = node["format"]
    if "sample_rate" in node:
        rate = node["sample_rate"]
        if type(rate) is not int or not 8000 <= rate <= 48000:
            raise SettingsError(f"'sample_rate' must be an integer from 8000 to 48000 (Hz), got {json.dumps(rate)[:40]}")
        out["sample_rate"] = rate
    # display: subtitles show the display form (true) or the spoken one; partials: false = finals only (streaming)
    for key in ("words", "display", "partials"):
        if key in node:
            if type(node[key]) is not bool:
                raise SettingsError(f"'{key}' must be true or false, got {json.dumps(node[key])[:40]}")
            out[key] = node[key]
    return out
