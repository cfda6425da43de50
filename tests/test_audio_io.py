import io

import numpy as np
import pytest
import soundfile as sf

from hypersp.audio.io import (
    AudioReadError,
    audio_info,
    float_to_pcm16,
    load_audio,
    load_audio_channels,
    pcm16_to_float,
    write_wav,
)


def sine(freq, rate, seconds=1.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * rate / len(x)


def write_pcm(path, x, odd=False):
    data = float_to_pcm16(x).astype("<i2").tobytes()
    path.write_bytes(data + (b"\x01" if odd else b""))


@pytest.mark.parametrize("src_rate", [8000, 16000, 44100])
@pytest.mark.parametrize("fmt", ["wav", "flac", "pcm"])
@pytest.mark.parametrize("target", [8000, 16000])
def test_read_resample_length_and_frequency(tmp_path, src_rate, fmt, target):
    x = sine(440.0, src_rate, seconds=1.0)
    path = tmp_path / f"a.{fmt}"
    if fmt == "pcm":
        write_pcm(path, x, odd=True)
        y = load_audio(path, target, pcm_sample_rate=src_rate)
    else:
        sf.write(str(path), x, src_rate, subtype="PCM_16")
        y = load_audio(path, target)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - target) <= 1  # 1 s of audio at the target rate
    assert np.max(np.abs(y)) <= 1.0
    assert abs(peak_hz(y, target) - 440.0) < 3.0
    if src_rate == target:
        np.testing.assert_allclose(y, np.round(x * 32768) / 32768, atol=1e-4)


def test_pcm_odd_byte_count_drops_last_byte(tmp_path):
    x = np.array([0.0, 0.5, -0.5, 0.25], dtype=np.float32)
    path = tmp_path / "odd.pcm"
    write_pcm(path, x, odd=True)
    assert path.stat().st_size % 2 == 1
    y = load_audio(path, 16000)
    np.testing.assert_allclose(y, x, atol=1 / 32768)


def test_offset_and_duration(tmp_path):
    rate = 16000
    ramp = (np.arange(rate * 2) / (rate * 2) - 0.5).astype(np.float32)
    wav = tmp_path / "ramp.wav"
    pcm = tmp_path / "ramp.pcm"
    sf.write(str(wav), ramp, rate, subtype="FLOAT")
    write_pcm(pcm, ramp)
    for path in (wav, pcm):
        y = load_audio(path, rate, offset=0.5, duration=0.25)
        assert len(y) == 4000
        np.testing.assert_allclose(y[0], ramp[8000], atol=1e-4)
        assert len(load_audio(path, rate, offset=1.5)) == 8000  # duration 0 = to the end
        with pytest.raises(AudioReadError, match="past the end"):
            load_audio(path, rate, offset=3.0)


def test_stereo_to_mono_and_channels(tmp_path):
    rate = 8000
    left, right = sine(300, rate, 0.5, 0.4), sine(1000, rate, 0.5, 0.2)
    path = tmp_path / "call.wav"
    write_wav(path, np.stack([left, right]), rate)
    assert audio_info(path) == (rate, len(left), 2)
    mono = load_audio(path, rate)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=2e-4)
    chans = load_audio_channels(path, 16000)
    assert chans.shape == (2, 2 * len(left))
    assert abs(peak_hz(chans[0], 16000) - 300) < 3 and abs(peak_hz(chans[1], 16000) - 1000) < 3


def test_file_like_object():
    buf = io.BytesIO()
    sf.write(buf, sine(500, 16000, 0.2), 16000, format="WAV", subtype="PCM_16")
    buf.seek(0)
    assert len(load_audio(buf, 8000)) == 1600


def test_errors_name_path_and_reason(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(AudioReadError, match=r"nope\.wav.*not found"):
        load_audio(missing, 16000)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioReadError, match=r"junk\.wav.*not a readable audio file") as err:
        load_audio(junk, 16000)
    assert "\n" not in str(err.value)
    empty_pcm = tmp_path / "empty.pcm"
    empty_pcm.write_bytes(b"")
    with pytest.raises(AudioReadError, match=r"empty\.pcm.*empty"):
        load_audio(empty_pcm, 16000)
    empty_wav = tmp_path / "empty.wav"
    write_wav(empty_wav, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioReadError, match=r"empty\.wav.*empty"):
        load_audio(empty_wav, 16000)
    with pytest.raises(AudioReadError, match="directory"):
        load_audio(tmp_path, 16000)
    assert issubclass(AudioReadError, ValueError)


def test_pcm16_conversions():
    ints = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    f = pcm16_to_float(ints)
    assert f.dtype == np.float32
    np.testing.assert_allclose(f, [0.0, 0.5, -1.0, 32767 / 32768])
    np.testing.assert_array_equal(float_to_pcm16(f), ints)
    np.testing.assert_allclose(pcm16_to_float(ints.astype("<i2").tobytes() + b"\x00"), f)
    np.testing.assert_allclose(pcm16_to_float([0, 16384]), [0.0, 0.5])
    assert float_to_pcm16(np.array([2.0, -2.0])).tolist() == [32767, -32768]


def test_write_wav_round_trip(tmp_path):
    x = sine(1234, 16000, 0.3)
    path = tmp_path / "out.wav"
    write_wav(path, x, 16000)
    info = sf.info(str(path))
    assert info.subtype == "PCM_16" and info.samplerate == 16000
    np.testing.assert_allclose(load_audio(path, 16000), x, atol=1 / 32768 + 1e-6)
