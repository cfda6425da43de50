"""Reading and writing audio.

Everything returned here is ``float32`` in ``[-1, 1]``; sample rates are in Hz; offsets and
durations in seconds.

- Files libsndfile understands (wav, flac, ogg, mp3 with libsndfile >= 1.1, ...) are read
  with ``soundfile``.
- ``.pcm`` files are raw, headerless, little-endian signed 16-bit mono at ``pcm_sample_rate``
  (the KsponSpeech / AI Hub convention). An odd byte count (a truncated last sample, common
  in those corpora) drops the last byte instead of failing.
- When the file's rate differs from the requested one, samples are resampled with soxr
  (quality "HQ"), so an 8 kHz telephone task really gets 8 kHz audio and a 44.1 kHz file
  is brought down to 16 kHz.

Every failure raises :class:`AudioReadError` (a ``ValueError``) with a one-line message
naming the file and the reason.
"""
from __future__ import annotations

import os
from typing import Any, Tuple, Union

import numpy as np
import soundfile as sf
import soxr

PathLike = Union[str, "os.PathLike[str]"]

PCM_EXTENSIONS = (".pcm", ".raw")


class AudioReadError(ValueError):
    """An audio file could not be read: missing, not audio, empty, or offset past its end."""


def pcm16_to_float(samples: Any) -> np.ndarray:
    """Signed 16-bit PCM -> float32 in [-1, 1).

    Accepts an int16 array, a list of ints (the JSON ``data`` field of the serving protocol)
    or little-endian bytes (binary WebSocket frames; an odd trailing byte is dropped).
    """
    if isinstance(samples, (bytes, bytearray, memoryview)):
        buf = bytes(samples)
        samples = np.frombuffer(buf[: len(buf) - len(buf) % 2], dtype="<i2")
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        arr = np.clip(arr, -32768, 32767).astype(np.int16)
    return arr.astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> int16 (clipped), the inverse of :func:`pcm16_to_float`."""
    x = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 32767.0 / 32768.0)
    return np.round(x * 32768.0).astype(np.int16)


def write_wav(path: PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write ``samples`` ((S,) mono or (C, S) multichannel, float in [-1, 1]) as 16-bit PCM wav."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.T  # soundfile wants (S, C)
    elif x.ndim != 1:
        raise ValueError(f"write_wav({path}): samples must be (S,) or (C, S), got shape {x.shape}")
    sf.write(os.fspath(path), np.clip(x, -1.0, 1.0), int(sample_rate), subtype="PCM_16", format="WAV")


def resample(samples: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample (S,) or (C, S) float32 with soxr "HQ"; a no-op when the rates match."""
    if int(orig_rate) == int(target_rate) or samples.shape[-1] == 0:
        return samples
    if samples.ndim == 1:
        return soxr.resample(samples, orig_rate, target_rate, quality="HQ").astype(np.float32, copy=False)
    # soxr takes (S, C)
    out = soxr.resample(np.ascontiguousarray(samples.T), orig_rate, target_rate, quality="HQ")
    return np.ascontiguousarray(out.T).astype(np.float32, copy=False)


def read_audio(
    path: Any, offset: float = 0.0, duration: float = 0.0, pcm_sample_rate: int = 16000
) -> Tuple[np.ndarray, int]:
    """Read a file at its own rate: returns ``(samples (C, S) float32, sample_rate)``.

    ``path`` may also be a binary file-like object (read with soundfile; raw PCM needs a path).
    ``offset``/``duration`` are seconds; ``duration <= 0`` reads to the end.
    """
    is_path = isinstance(path, (str, os.PathLike))
    name = os.fspath(path) if is_path else getattr(path, "name", repr(path))
    if offset < 0:
        raise AudioReadError(f"cannot read audio {name}: negative offset {offset} s")
    if is_path and not os.path.isfile(name):
        reason = "it is a directory" if os.path.isdir(name) else "file not found"
        raise AudioReadError(f"cannot read audio {name}: {reason}")

    if is_path and name.lower().endswith(PCM_EXTENSIONS):
        samples, rate = _read_pcm(name, offset, duration, pcm_sample_rate)
    else:
        samples, rate = _read_soundfile(path, name, offset, duration)
    if samples.shape[-1] == 0:
        what = "no samples after the offset" if offset > 0 else "the file holds no audio samples"
        raise AudioReadError(f"cannot read audio {name}: empty ({what})")
    return samples, rate


def _read_pcm(name: str, offset: float, duration: float, rate: int) -> Tuple[np.ndarray, int]:
    total = os.path.getsize(name) // 2
    start = int(round(offset * rate))
    if start > total or (start == total and total > 0):
        raise AudioReadError(
            f"cannot read audio {name}: offset {offset:.3f} s is past the end ({total / rate:.3f} s)"
        )
    count = total - start if duration <= 0 else min(total - start, int(round(duration * rate)))
    with open(name, "rb") as f:
        f.seek(2 * start)
        data = f.read(2 * count)
    return pcm16_to_float(np.frombuffer(data, dtype="<i2"))[None, :], rate


def _read_soundfile(path: Any, name: str, offset: float, duration: float) -> Tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(path) as f:
            rate = f.samplerate
            total = f.frames
            start = int(round(offset * rate))
            if total > 0 and start >= total:
                raise AudioReadError(
                    f"cannot read audio {name}: offset {offset:.3f} s is past the end ({total / rate:.3f} s)"
                )
            if start:
                f.seek(start)
            frames = -1 if duration <= 0 else int(round(duration * rate))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except AudioReadError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AudioReadError(f"cannot read audio {name}: not a readable audio file ({detail})") from None
    return np.ascontiguousarray(data.T), rate


def load_audio_channels(
    path: Any,
    target_sample_rate: int,
    offset: float = 0.0,
    duration: float = 0.0,
    pcm_sample_rate: int = 16000,
) -> np.ndarray:
    """Like :func:`load_audio` but keeps the channels: ``(C, S)`` float32 at ``target_sample_rate``.

    For stereo call recordings where agent and customer are on separate channels.
    ``target_sample_rate <= 0`` keeps the file's rate.
    """
    samples, rate = read_audio(path, offset, duration, pcm_sample_rate)
    if target_sample_rate and target_sample_rate > 0:
        samples = resample(samples, rate, target_sample_rate)
    return samples


def load_audio(
    path: Any,
    target_sample_rate: int,
    offset: float = 0.0,
    duration: float = 0.0,
    pcm_sample_rate: int = 16000,
) -> np.ndarray:
    """Read ``path`` as mono ``(S,)`` float32 in [-1, 1] at ``target_sample_rate`` Hz.

    Channels are averaged (mixing happens before resampling). ``offset``/``duration`` are
    seconds at the file's own rate; ``duration <= 0`` means to the end. ``pcm_sample_rate``
    is the rate of headerless ``.pcm`` files. ``target_sample_rate <= 0`` keeps the file's rate.
    Raises :class:`AudioReadError` naming the file and the reason.
    """
    samples, rate = read_audio(path, offset, duration, pcm_sample_rate)
    mono = samples[0] if samples.shape[0] == 1 else samples.mean(axis=0, dtype=np.float32)
    if target_sample_rate and target_sample_rate > 0:
        mono = resample(mono, rate, target_sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def audio_info(path: PathLike, pcm_sample_rate: int = 16000) -> Tuple[int, int, int]:
    """``(sample_rate, num_frames, channels)`` without decoding the samples (for manifests)."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise AudioReadError(f"cannot read audio {name}: file not found")
    if name.lower().endswith(PCM_EXTENSIONS):
        return pcm_sample_rate, os.path.getsize(name) // 2, 1
    try:
        info = sf.info(name)
    except (sf.LibsndfileError, RuntimeError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AudioReadError(f"cannot read audio {name}: not a readable audio file ({detail})") from None
    return info.samplerate, info.frames, info.channels
