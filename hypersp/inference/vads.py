"""Registered voice activity detectors (``hypersp.registry.VADS``), chosen by ``vad.name``.

The contract every VAD keeps (built as ``VADS.build(cfg)`` / :func:`build_vad` from a ``VadConfig``)::

    vad = build_vad(VadConfig(name="silero"))
    vad.segments(samples, sample_rate)   # samples (S,) float32 in [-1, 1] at sample_rate Hz
        -> [(start_s, end_s), ...]       # seconds, sorted, non-overlapping, padded by vad.pad_s; speech runs
                                         # closer than min_silence_s are one segment, runs shorter than
                                         # min_speech_s are dropped, none is longer than max_segment_s (+ pads):
                                         # longer ones are cut at their least speech-like frame
    s = vad.stream(sample_rate)          # one per live stream (not shared between streams)
    s.accept(samples)                    # (S,) float32, any length; whole frames are classified, the rest waits
    s.speech_s                           # seconds of speech since the last reset (writable: an endpointer may
                                         # zero it to forget isolated clicks)
    s.trailing_silence_s                 # seconds of non-speech since the last speech frame
    s.reset()                            # zero both counters (model state and noise floor continue: same audio)

A VAD also says ``sample_rates`` (the rates it runs at natively; others are resampled with soxr, offline
and streaming alike) and ``whole_when_none`` (the engine treats a loud input in which this VAD finds no
segment as one segment: true for the energy VAD, whose floor is learned from the signal itself and so
finds nothing in a short clip that is speech from end to end).

Built-ins:

- ``energy`` — :mod:`hypersp.inference.vad` (no dependency, microseconds per second of audio; fails in
  noise: it learns its floor from the signal and calls loud frames speech).
- ``silero`` — Silero VAD, the ONNX model shipped inside the ``silero-vad`` pip package (no download),
  run with onnxruntime on numpy (``torch`` is not imported; the package is located, not imported, so its
  import-time ``torch.set_num_threads(1)`` never runs). 32 ms frames at 8 and 16 kHz; a frame is speech
  from ``vad.threshold`` on and stays speech while its probability is above ``threshold - 0.15``.
- ``webrtc`` — the WebRTC GMM VAD from ``webrtcvad-wheels`` (30 ms frames, 8/16/32/48 kHz,
  aggressiveness ``vad.webrtc_mode``).

A VAD needing an optional package imports it when it is built, so the registry loads without it; selecting
it then fails with the ``pip install`` line. ``bench/vad_compare.py`` measures them all (README, "VAD").
"""
from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from hypersp.config.schema import VadConfig
from hypersp.inference.vad import StreamingVad, speech_segments
from hypersp.registry import VADS, register_vad

Segments = List[Tuple[float, float]]


def build_vad(cfg: Optional[VadConfig] = None) -> "Vad":
    """The registered VAD named ``cfg.name`` (default: a ``VadConfig()``)."""
    cfg = cfg or VadConfig()
    return VADS.build(cfg)


class Vad:
    """Base class of registered VADs (see the module docstring for the contract)."""

    sample_rates: Optional[Tuple[int, ...]] = None  # None: any rate
    whole_when_none: bool = False
    requires: Tuple[str, ...] = ()  # importable modules it needs (optional packages)

    def __init__(self, cfg: VadConfig):
        self.cfg = cfg

    def segments(self, samples: np.ndarray, sample_rate: int) -> Segments:
        raise NotImplementedError

    def stream(self, sample_rate: int) -> Any:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- energy
@register_vad("energy", config=VadConfig)
class EnergyVad(Vad):
    """The energy VAD of :mod:`hypersp.inference.vad`: ``speech_segments`` and ``StreamingVad``."""

    whole_when_none = True

    def segments(self, samples: np.ndarray, sample_rate: int) -> Segments:
        return speech_segments(samples, sample_rate, self.cfg)

    def stream(self, sample_rate: int) -> StreamingVad:
        return StreamingVad(sample_rate, self.cfg)


# ------------------------------------------------------------------------------------- frame-based VADs
def _runs(flags: np.ndarray) -> List[List[int]]:
    """[start, end) frame-index runs where ``flags`` is true."""
    if flags.size == 0:
        return []
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return [[int(s), int(t)] for s, t in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def hysteresis(probs: np.ndarray, on: float, off: float, active: bool = False) -> Tuple[np.ndarray, bool]:
    """Speech flag per frame: speech starts at ``probs >= on`` and lasts while ``probs >= off``.
    Returns the flags and the state after the last frame (to continue a stream)."""
    flags = np.zeros(len(probs), dtype=bool)
    for i, p in enumerate(probs):
        active = p >= on or (active and p >= off)
        flags[i] = active
    return flags, active


GATE_MIN_HISTORY_S = 1.0  # streaming: no energy gate before this much audio (the floor is not known yet)
GATE_HISTORY_S = 10.0  # streaming: the floor and level come from this much recent audio
GATE_UPDATE_S = 0.25  # streaming: the gate is recomputed after this much new audio


def frame_energies(frames: np.ndarray) -> np.ndarray:
    """Energy in dBFS of each row of ``frames (N, L)`` -> ``(N,)``."""
    return 10.0 * np.log10((np.asarray(frames, np.float64) ** 2).mean(axis=1) + 1e-10)


def energy_gate(energies_db: np.ndarray, gate_db: float) -> float:
    """The level (dBFS) a frame must exceed to count as the foreground speaker's: the noise floor (10th
    percentile of ``energies_db``) plus ``min(gate_db, half the spread to the 90th percentile)``.

    A neural VAD calls background talkers (babble) speech too and then merges a whole session into one
    segment; frames near the floor are not the foreground speaker. At low SNR the spread is small, so
    the gate shrinks and keeps what the model found (bench/vad_compare.py)."""
    if gate_db <= 0 or energies_db.size == 0:
        return -np.inf
    floor, level = np.percentile(energies_db, [10, 90])
    return float(floor + min(float(gate_db), max(0.0, (level - floor) / 2.0)))


def segments_from_flags(flags: np.ndarray, hop_s: float, cut_scores: np.ndarray, duration_s: float,
                        cfg: VadConfig) -> Segments:
    """Per-frame speech flags (frame i covers ``[i, i + 1) * hop_s`` seconds) -> segments in seconds.

    The energy VAD's rules: gaps shorter than ``min_silence_s`` are bridged, runs shorter than
    ``min_speech_s`` dropped, runs longer than ``max_segment_s`` cut (recursively) at the frame with the
    lowest ``cut_scores`` between a quarter and the whole of ``max_segment_s``, then padded by ``pad_s``.
    """
    merged: List[List[int]] = []
    gap = int(round(cfg.min_silence_s / hop_s))
    for s, t in _runs(flags):
        if merged and s - merged[-1][1] < gap:
            merged[-1][1] = t
        else:
            merged.append([s, t])
    min_len = int(round(cfg.min_speech_s / hop_s))
    todo = [(s, t) for s, t in merged if t - s >= min_len]
    max_len = max(1, int(round(cfg.max_segment_s / hop_s)))
    out: List[Tuple[int, int]] = []
    while todo:
        s, t = todo.pop(0)
        if t - s <= max_len:
            out.append((s, t))
            continue
        lo, hi = s + max(1, max_len // 4), s + max_len
        cut = lo + int(np.argmin(cut_scores[lo:hi]))
        out.append((s, cut))
        todo.insert(0, (cut, t))
    segments: Segments = []
    for s, t in out:
        start = max(0.0, s * hop_s - cfg.pad_s)
        end = min(duration_s, t * hop_s + cfg.pad_s)
        if segments and start < segments[-1][1]:
            start = segments[-1][1]
        if end > start:
            segments.append((round(start, 3), round(end, 3)))
    return segments


class FrameVad(Vad):
    """A VAD that gives a speech probability per fixed-size frame with a per-stream state.

    Subclasses set ``sample_rates`` and implement ``frame_samples(rate)`` and ``detector(rate)``: a
    fresh stateful object whose ``probs(frames (N, L) float32) -> (N,)`` are speech probabilities in
    [0, 1] of consecutive frames (binary for webrtc). ``on``/``off`` are the hysteresis thresholds.
    """

    sample_rates: Tuple[int, ...] = (16000,)
    use_probs_for_cuts = True  # cut long regions at the lowest probability (else at the lowest energy)

    @property
    def on(self) -> float:
        return 0.5

    @property
    def off(self) -> float:
        return 0.5

    def frame_samples(self, sample_rate: int) -> int:
        raise NotImplementedError

    def detector(self, sample_rate: int) -> Any:
        raise NotImplementedError

    def native_rate(self, sample_rate: int) -> int:
        """The rate the model runs at for input at ``sample_rate``: itself if supported, else the nearest
        supported rate at or above it (else the highest)."""
        if sample_rate in self.sample_rates:
            return int(sample_rate)
        above = [r for r in self.sample_rates if r >= sample_rate]
        return int(min(above) if above else max(self.sample_rates))

    def segments(self, samples: np.ndarray, sample_rate: int) -> Segments:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        duration = x.size / float(sample_rate)
        if x.size == 0:
            return []
        rate = self.native_rate(sample_rate)
        if rate != sample_rate:
            from hypersp.audio.io import resample

            x = resample(x, int(sample_rate), rate)
        n = self.frame_samples(rate)
        frames = np.zeros((-(-x.size // n)) * n, dtype=np.float32)  # the last partial frame is zero-padded
        frames[: x.size] = x
        frames = frames.reshape(-1, n)
        probs = np.asarray(self.detector(rate).probs(frames), dtype=np.float32)
        flags, _ = hysteresis(probs, self.on, self.off)
        energies = frame_energies(frames)
        flags &= energies > energy_gate(energies, self.cfg.energy_gate_db)
        scores = probs if self.use_probs_for_cuts else energies
        return segments_from_flags(flags, n / float(rate), scores, duration, self.cfg)

    def stream(self, sample_rate: int) -> "FrameStreamingVad":
        return FrameStreamingVad(self, sample_rate)


class FrameStreamingVad:
    """Per-stream state of a :class:`FrameVad` (the streaming half of the contract)."""

    def __init__(self, vad: FrameVad, sample_rate: int):
        self.sample_rate = int(sample_rate)
        self.rate = vad.native_rate(self.sample_rate)
        self._resampler = None
        if self.rate != self.sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(self.sample_rate, self.rate, 1, dtype="float32", quality="HQ")
        self.frame = vad.frame_samples(self.rate)
        self.hop_s = self.frame / float(self.rate)
        self._det = vad.detector(self.rate)
        self._on, self._off = vad.on, vad.off
        self._gate_db = float(vad.cfg.energy_gate_db)
        self._energies = np.zeros(0, dtype=np.float64)  # the last GATE_HISTORY_S of frame energies
        self._keep = int(round(GATE_HISTORY_S / self.hop_s))
        self._gate: Optional[float] = None  # the energy gate (dBFS), recomputed every GATE_UPDATE_S
        self._new = 0  # frames since then
        self._active = False
        self._rest = np.zeros(0, dtype=np.float32)
        self.speech_s = 0.0
        self.trailing_silence_s = 0.0
        self.last_prob = 0.0  # speech probability of the newest frame

    def reset(self) -> None:
        self.speech_s = 0.0
        self.trailing_silence_s = 0.0

    def accept(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._resampler is not None:
            x = np.asarray(self._resampler.resample_chunk(x), dtype=np.float32).reshape(-1)
        x = np.concatenate([self._rest, x])
        n = x.size // self.frame
        self._rest = x[n * self.frame:]
        if n == 0:
            return
        frames = x[: n * self.frame].reshape(n, self.frame)
        probs = np.asarray(self._det.probs(frames), dtype=np.float32)
        flags, self._active = hysteresis(probs, self._on, self._off, self._active)
        if self._gate_db > 0:
            energies = frame_energies(frames)
            self._energies = np.concatenate([self._energies, energies])[-self._keep:]
            self._new += n
            if self._energies.size * self.hop_s >= GATE_MIN_HISTORY_S:
                if self._new * self.hop_s >= GATE_UPDATE_S or self._gate is None:  # percentiles are costly per message
                    self._gate, self._new = energy_gate(self._energies, self._gate_db), 0
                flags &= energies > self._gate
        self.last_prob = float(probs[-1])
        for f in flags:
            if f:
                self.speech_s += self.hop_s
                self.trailing_silence_s = 0.0
            else:
                self.trailing_silence_s += self.hop_s


# ---------------------------------------------------------------------------------------------- silero
_SILERO_SESSIONS: Dict[str, Any] = {}
_SILERO_LOCK = threading.Lock()
SILERO_MODEL_FILE = "silero_vad.onnx"  # 8 and 16 kHz, opset 16, shipped in silero_vad/data/


def _missing(package: str, vad: str, extra: str = "") -> ImportError:
    return ImportError(f"vad.name={vad} needs the {package!r} package: pip install {package}{extra} "
                       f"(or pip install 'hypersp[vad]'), or choose another VAD: vad.name=energy")


def silero_model_path() -> str:
    """Path of the ONNX model inside the installed ``silero-vad`` package (found without importing it)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("silero-vad", "silero")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "data", SILERO_MODEL_FILE)
        if os.path.isfile(path):
            return path
    raise ImportError(f"the installed silero-vad package has no data/{SILERO_MODEL_FILE}; "
                      f"reinstall it: pip install --force-reinstall silero-vad")


def _silero_session(path: str) -> Any:
    with _SILERO_LOCK:
        sess = _SILERO_SESSIONS.get(path)
        if sess is None:
            try:
                import onnxruntime as ort
            except ModuleNotFoundError:
                raise _missing("onnxruntime", "silero") from None
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1  # a VAD frame is tiny: threads cost more than they give
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
            _SILERO_SESSIONS[path] = sess
        return sess


class _SileroDetector:
    """One stream's recurrent state for the Silero ONNX model (a session is shared, thread-safe)."""

    def __init__(self, session: Any, sample_rate: int):
        self.session = session
        self.sr = np.array(sample_rate, dtype=np.int64)
        self.context = np.zeros((1, 64 if sample_rate == 16000 else 32), dtype=np.float32)
        self.state = np.zeros((2, 1, 128), dtype=np.float32)

    def probs(self, frames: np.ndarray) -> np.ndarray:
        out = np.empty(len(frames), dtype=np.float32)
        c = self.context.shape[1]
        x = np.empty((1, c + frames.shape[1]), dtype=np.float32)  # the model sees the previous c samples too
        x[0, :c] = self.context[0]
        feed = {"input": x, "state": self.state, "sr": self.sr}
        run = self.session.run
        for i, frame in enumerate(frames):
            x[0, c:] = frame
            p, feed["state"] = run(None, feed)
            out[i] = p[0, 0]
            x[0, :c] = x[0, -c:]
        self.context = x[:, :c].copy()
        self.state = feed["state"]
        return out


@register_vad("silero", config=VadConfig)
class SileroVad(FrameVad):
    """Silero VAD (ONNX, from the ``silero-vad`` pip package) on onnxruntime; 32 ms frames."""

    sample_rates = (8000, 16000)
    requires = ("silero_vad", "onnxruntime")

    def __init__(self, cfg: VadConfig):
        super().__init__(cfg)
        if not 0.0 < cfg.threshold < 1.0:
            raise ValueError(f"vad.threshold must be a speech probability in (0, 1), got {cfg.threshold}")
        self.session = _silero_session(silero_model_path())

    @property
    def on(self) -> float:
        return float(self.cfg.threshold)

    @property
    def off(self) -> float:
        return max(0.01, float(self.cfg.threshold) - 0.15)

    def frame_samples(self, sample_rate: int) -> int:
        return 512 if sample_rate == 16000 else 256

    def detector(self, sample_rate: int) -> _SileroDetector:
        return _SileroDetector(self.session, sample_rate)


# ---------------------------------------------------------------------------------------------- webrtc
class _WebrtcDetector:
    def __init__(self, module: Any, mode: int, sample_rate: int):
        self.vad = module.Vad(int(mode))
        self.rate = int(sample_rate)

    def probs(self, frames: np.ndarray) -> np.ndarray:
        pcm = np.clip(np.round(frames * 32768.0), -32768, 32767).astype("<i2")
        return np.array([1.0 if self.vad.is_speech(f.tobytes(), self.rate) else 0.0 for f in pcm], dtype=np.float32)


@register_vad("webrtc", config=VadConfig)
class WebrtcVad(FrameVad):
    """The WebRTC VAD (``webrtcvad-wheels``): a speech/non-speech decision per 30 ms frame."""

    sample_rates = (8000, 16000, 32000, 48000)
    use_probs_for_cuts = False  # binary decisions: cut long regions at the quietest frame
    requires = ("webrtcvad",)

    def __init__(self, cfg: VadConfig):
        super().__init__(cfg)
        if int(cfg.webrtc_mode) not in (0, 1, 2, 3):
            raise ValueError(f"vad.webrtc_mode must be 0, 1, 2 or 3, got {cfg.webrtc_mode}")
        try:
            import webrtcvad
        except ModuleNotFoundError:
            raise _missing("webrtcvad-wheels", "webrtc") from None
        self.module = webrtcvad

    def frame_samples(self, sample_rate: int) -> int:
        return sample_rate * 30 // 1000

    def detector(self, sample_rate: int) -> _WebrtcDetector:
        return _WebrtcDetector(self.module, self.cfg.webrtc_mode, sample_rate)


def available_vads() -> List[str]:
    """Registered VAD names whose optional packages are installed (found, not imported)."""
    return [e.name for e in VADS.entries()
            if all(importlib.util.find_spec(m) is not None for m in getattr(e.cls, "requires", ()))]
