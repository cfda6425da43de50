"""G.711 telephony codecs (ITU-T G.711): 8-bit mu-law and A-law bytes <-> linear PCM16, with numpy tables.

``mulaw_decode(data) -> int16 (N,)`` and ``alaw_decode(data) -> int16 (N,)`` take one byte per sample;
the encoders exist for tests and tools. Decoding is a 256-entry table lookup.
"""
from __future__ import annotations

import numpy as np


def _mulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


MULAW = _mulaw_table()
ALAW = _alaw_table()


def mulaw_decode(data: bytes) -> np.ndarray:
    return MULAW[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> np.ndarray:
    return ALAW[np.frombuffer(data, dtype=np.uint8)]


def _encode(samples: np.ndarray, table: np.ndarray) -> bytes:
    """Nearest code for each PCM16 sample (a search over the 256 table values: fine for tests and tools)."""
    x = np.asarray(samples, dtype=np.int32)
    order = np.argsort(table)
    values = table[order].astype(np.int32)
    idx = np.clip(np.searchsorted(values, x), 1, 255)
    nearer = np.where(np.abs(values[idx - 1] - x) <= np.abs(values[idx] - x), idx - 1, idx)
    return order[nearer].astype(np.uint8).tobytes()


def mulaw_encode(samples: np.ndarray) -> bytes:
    return _encode(samples, MULAW)


def alaw_encode(samples: np.ndarray) -> bytes:
    return _encode(samples, ALAW)
