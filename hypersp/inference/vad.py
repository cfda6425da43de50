"""Energy-based voice activity detection (no model, no download).

Why energy and not a neural VAD: it costs microseconds per second of audio, works at 8 kHz and
16 kHz alike, needs no extra package and is good enough to cut long recordings at pauses
(lecture subtitles, meeting minutes) and to tell the streaming endpointer that the microphone
has gone quiet. It is not good at telling speech from loud noise; the streaming endpointer
therefore also requires the model to emit CTC blanks before it ends an utterance.

How it decides, per 30 ms frame (10 ms hop):
- frame energy in dBFS (``10 log10(mean(x^2))``, x in [-1, 1]);
- the noise floor is a low percentile (10th) of the frame energies of the whole signal (offline)
  or a slowly rising / fast falling running minimum (streaming);
- a frame is speech when its energy is above ``max(floor + margin_db, min_db)``;
- short gaps inside speech (< ``min_silence_s``) are bridged, speech runs shorter than
  ``min_speech_s`` are dropped, and every region is padded by ``pad_s`` on both sides.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from hypersp.config.schema import VadConfig  # noqa: F401  (the schema lives with the other config groups)




def frame_energies_db(samples: np.ndarray, sample_rate: int, frame_ms: float = 30.0, hop_ms: float = 10.0) -> np.ndarray:
    """Energy in dBFS of each frame: ``samples (S,)`` float in [-1, 1] -> ``(N,)`` with N = frames of ``hop_ms``."""
    x = np.asarray(samples, dtype=np.float32)
    win = max(1, int(round(sample_rate * frame_ms / 1000)))
    hop = max(1, int(round(sample_rate * hop_ms / 1000)))
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    n = 1 + max(0, x.size - win) // hop
    sq = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(n) * hop
    ends = np.minimum(starts + win, x.size)
    energy = (sq[ends] - sq[starts]) / np.maximum(ends - starts, 1)
    return (10.0 * np.log10(energy + 1e-10)).astype(np.float32)


def speech_frames(energies_db: np.ndarray, cfg: VadConfig) -> np.ndarray:
    """Boolean speech flag per frame, with the floor taken from the signal itself."""
    if energies_db.size == 0:
        return np.zeros(0, dtype=bool)
    floor = float(np.percentile(energies_db, 10))
    threshold = max(floor + cfg.margin_db, cfg.min_db)
    return energies_db > threshold


def _runs(flags: np.ndarray) -> List[Tuple[int, int]]:
    """[start, end) index runs where ``flags`` is true."""
    if flags.size == 0:
        return []
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    diff = np.diff(padded)
    return list(zip(np.flatnonzero(diff == 1).tolist(), np.flatnonzero(diff == -1).tolist()))


def speech_segments(samples: np.ndarray, sample_rate: int, cfg: VadConfig = None) -> List[Tuple[float, float]]:
    """Speech regions of a whole signal as ``[(start_s, end_s), ...]`` in seconds, sorted, non-overlapping.

    Regions longer than ``cfg.max_segment_s`` are split at their quietest frame so that each
    segment fits the recognizer comfortably.
    """
    cfg = cfg or VadConfig()
    x = np.asarray(samples, dtype=np.float32)
    duration = x.size / float(sample_rate)
    e = frame_energies_db(x, sample_rate, cfg.frame_ms, cfg.hop_ms)
    flags = speech_frames(e, cfg)
    hop_s = cfg.hop_ms / 1000.0
    runs = _runs(flags)
    # Bridge short gaps, then drop short blips.
    merged: List[List[int]] = []
    gap = int(round(cfg.min_silence_s / hop_s))
    for s, t in runs:
        if merged and s - merged[-1][1] < gap:
            merged[-1][1] = t
        else:
            merged.append([s, t])
    min_len = int(round(cfg.min_speech_s / hop_s))
    merged = [r for r in merged if r[1] - r[0] >= min_len]
    # Split overly long regions at the quietest frame (recursively).
    max_len = max(1, int(round(cfg.max_segment_s / hop_s)))
    out: List[Tuple[int, int]] = []
    todo = [tuple(r) for r in merged]
    while todo:
        s, t = todo.pop(0)
        if t - s <= max_len:
            out.append((s, t))
            continue
        lo, hi = s + max_len // 4, s + max_len  # cut between 1/4 and the full length
        cut = lo + int(np.argmin(e[lo:hi]))
        out.append((s, cut))
        todo.insert(0, (cut, t))
    frame_s = cfg.frame_ms / 1000.0
    segments = []
    for s, t in out:
        start = max(0.0, s * hop_s - cfg.pad_s)
        end = min(duration, (t - 1) * hop_s + frame_s + cfg.pad_s)
        if segments and start < segments[-1][1]:
            start = segments[-1][1]
        if end > start:
            segments.append((round(start, 3), round(end, 3)))
    return segments


class StreamingVad:
    """Per-stream energy VAD: feed audio, ask how long the trailing silence is.

    The noise floor follows the quietest recent frames (drops at once, rises by
    ``rise_db_per_s``), so a noisy microphone does not look like endless speech.
    """

    def __init__(self, sample_rate: int, cfg: VadConfig = None, rise_db_per_s: float = 3.0):
        self.cfg = cfg or VadConfig()
        self.sample_rate = int(sample_rate)
        self.hop = max(1, int(round(sample_rate * self.cfg.hop_ms / 1000)))
        self.rise = rise_db_per_s * self.cfg.hop_ms / 1000.0
        # The floor starts below any speech (not at the first frame: a stream may begin mid-word) and
        # follows the quietest frames from there.
        self.floor = self.cfg.min_db - self.cfg.margin_db
        self._rest = np.zeros(0, dtype=np.float32)
        self.speech_s = 0.0  # speech seen since the last reset
        self.trailing_silence_s = 0.0

    def reset(self) -> None:
        self.speech_s = 0.0
        self.trailing_silence_s = 0.0

    def accept(self, samples: np.ndarray) -> None:
        x = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32)])
        n = x.size // self.hop
        self._rest = x[n * self.hop:]
        if n == 0:
            return
        frames = x[: n * self.hop].reshape(n, self.hop).astype(np.float64)
        energies = 10.0 * np.log10((frames ** 2).mean(axis=1) + 1e-10)
        hop_s = self.cfg.hop_ms / 1000.0
        for e in energies:
            self.floor = min(float(e), self.floor + self.rise)
            if e > max(self.floor + self.cfg.margin_db, self.cfg.min_db):
                self.speech_s += hop_s
                self.trailing_silence_s = 0.0
            else:
                self.trailing_silence_s += hop_s
