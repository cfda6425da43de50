"""G.711 tables against the standard's reference values (and Python's audioop where it still exists)."""
import numpy as np
import pytest

from hypersp.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode


def test_reference_values():
    # mu-law: 0xFF and 0x7F are +0 / -0, 0x80 is the largest positive, 0x00 the largest negative
    assert mulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00])).tolist() == [0, 0, 32124, -32124]
    # A-law: 0xD5 / 0x55 are the smallest positive / negative steps, 0xAA / 0x2A the largest
    assert alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]


def test_matches_audioop_where_available():
    audioop = pytest.importorskip("audioop")
    data = bytes(range(256))
    assert mulaw_decode(data).tolist() == list(np.frombuffer(audioop.ulaw2lin(data, 2), "<i2"))
    assert alaw_decode(data).tolist() == list(np.frombuffer(audioop.alaw2lin(data, 2), "<i2"))


@pytest.mark.parametrize("encode,decode", [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)])
def test_round_trip_error_is_within_one_step(encode, decode):
    x = (np.sin(np.linspace(0, 60, 4000)) * 20000).astype(np.int16)
    y = decode(encode(x)).astype(np.int32)
    assert len(y) == len(x)
    assert np.all(np.abs(y - x) <= np.maximum(16, np.abs(x) // 16))
