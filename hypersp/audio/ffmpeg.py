"""Decoding untrusted uploads with ffmpeg (mp4, m4a, webm, ... that libsndfile cannot read), locked down.

An upload is data, never a set of instructions: a crafted HLS playlist, ffconcat script or other "meta"
format would make ffmpeg open local files or URLs named inside it. So every call

- allows only the demuxers of the audio/video containers hypersp accepts (:data:`DEMUXERS`, passed as
  ``-format_whitelist``): playlists (hls, dash, concat, ...), image sequences and the like are refused before
  anything they name is opened;
- allows only the protocol the input itself comes through (``-protocol_whitelist pipe``, or ``file`` for
  the one temporary file below): a demuxer cannot reach the network or other files;
- feeds the input through a pipe (``pipe:0``). ISO-BMFF files (mp4, m4a, mov, 3gp) are the exception: most
  recorders write their index (``moov``) after the audio, and reading it needs a seekable input, so they
  are written to a private temporary folder (mode 0700, removed at once) and only the ``mov`` demuxer is
  allowed for them;
- is stopped after ``timeout_s`` seconds of wall-clock time;
- writes 16-bit PCM WAV to a pipe (``pipe:1``), read back with soundfile; nothing else is written.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from typing import Optional, Tuple

import numpy as np

# Wall-clock limit of one upload's decode (s). Measured: 30 min of 44.1 kHz stereo AAC (29 MB) took 2.6 s of
# CPU, 6.3 s wall on a busy 2-core machine; the 200 MB body limit holds about 3.5 h of such audio.
FFMPEG_TIMEOUT_S = 120.0
# ffmpeg's short names of the demuxers an upload may use: mov (mp4/m4a/mov/3gp), matroska (mkv/webm), and
# the plain audio containers. Nothing that reads other files or URLs named in its content.
DEMUXERS = ("mov", "matroska", "mp3", "aac", "ogg", "wav", "w64", "flac", "amr", "asf", "avi", "caf")
# Box types that open an ISO-BMFF file (bytes 4..8): the only inputs that go through a temporary file.
ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


class FFmpegError(RuntimeError):
    """ffmpeg could not decode the input. ``timed_out``: it was stopped at the time limit. The message holds
    ffmpeg's own words (with paths and addresses): for the server log, not for clients."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def find_ffmpeg() -> Optional[str]:
    return shutil.which("ffmpeg")


def ffmpeg_command(ffmpeg: str, source: str, protocol: str, demuxers) -> list:
    """The locked-down command line: ``source`` (``pipe:0`` or ``file:PATH``) -> WAV PCM16 on stdout."""
    return [ffmpeg, "-nostdin", "-hide_banner", "-v", "error",
            "-protocol_whitelist", protocol, "-format_whitelist", ",".join(demuxers),
            "-i", source, "-vn", "-f", "wav", "-acodec", "pcm_s16le", "pipe:1"]


def ffmpeg_decode(data: bytes, ffmpeg: Optional[str] = None,
                  timeout_s: float = FFMPEG_TIMEOUT_S) -> Tuple[np.ndarray, int]:
    """File bytes -> ``(samples (C, S) float32 in [-1, 1], rate in Hz)`` through ffmpeg, as the module's
    docstring describes. Raises :class:`FFmpegError` when ffmpeg refuses or fails, or runs past ``timeout_s``."""
    import soundfile as sf

    ffmpeg = ffmpeg or find_ffmpeg()
    if ffmpeg is None:
        raise FFmpegError("ffmpeg is not installed")
    try:
        if data[4:8] in ISO_BMFF_BOXES:
            with tempfile.TemporaryDirectory(prefix="hypersp-ffmpeg-") as tmp:  # mode 0700
                src = os.path.join(tmp, "upload.mp4")
                with open(src, "wb") as f:
                    f.write(data)
                proc = subprocess.run(ffmpeg_command(ffmpeg, "file:" + src, "file", ("mov",)),
                                      stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s)
        else:
            proc = subprocess.run(ffmpeg_command(ffmpeg, "pipe:0", "pipe", DEMUXERS), input=data,
                                  capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:  # subprocess.run has killed it
        raise FFmpegError(f"ffmpeg ran longer than {timeout_s:g} s and was stopped", timed_out=True) from None
    if proc.returncode != 0 or not proc.stdout:
        raise FFmpegError(proc.stderr.decode(errors="replace").strip()[-300:] or f"exit status {proc.returncode}")
    try:
        x, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    except Exception as err:
        raise FFmpegError(f"ffmpeg's output is not readable: {err}") from None
    if x.shape[0] == 0:  # ffmpeg may exit 0 with a bare WAV header (no audio stream, a truncated file)
        raise FFmpegError("ffmpeg decoded no audio: " + proc.stderr.decode(errors="replace").strip()[-300:])
    return np.ascontiguousarray(x.T), int(rate)
