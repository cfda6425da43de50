"""Log-mel features in numpy only: the front end of an ONNX deployment that has no torch.

``NumpyLogMelFeatures(cfg)`` computes what ``hypersp.audio.features.LogMelFeatures`` computes in
eval mode (no dither), from the same ``FeatureConfig``: same framing (Kaldi's ``snip_edges``, or
centred frames with reflected edges when ``snip_edges`` is False), window, pre-emphasis, FFT size,
mel filterbank (Slaney or Kaldi), log floor and per-utterance normalization over valid frames,
padded frames set to 0. The pure-numpy pieces
both classes share live here (mel scales, filterbanks, :func:`resolve_feature_params`), so
``features.py`` imports them and there is one copy of each.

Parity with the torch class is tested by ``tests/test_features_numpy.py`` (noise and swept tones
of several lengths in one padded batch, 16 and 8 kHz, every feature option): frame counts are
identical; the largest difference measured on normalized features was 9e-4 (Slaney) and 1.6e-3
(``kaldi_compatible``, in mel bins just above the log floor, where torch's float32 FFT is the
noisier of the two), 1.2e-4 on unnormalized log-mel.

This module imports numpy only (no torch, no omegaconf).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Tuple, Union

import numpy as np

from hypersp.audio.config import FeatureConfig

NORM_EPS = 1e-5  # added to the std so silent / one-frame utterances do not divide by zero


# --- mel scales ---------------------------------------------------------------------------

def hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    """Slaney (Auditory Toolbox) mel: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    mel = f / f_sp
    log_region = f >= min_log_hz
    mel[log_region] = min_log_mel + np.log(f[log_region] / min_log_hz) / logstep
    return mel


def mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    f = m * f_sp
    log_region = m >= min_log_mel
    f[log_region] = min_log_hz * np.exp(logstep * (m[log_region] - min_log_mel))
    return f


def hz_to_mel_kaldi(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """(n_fft//2 + 1, n_mels) triangular filters on the Slaney scale, area-normalized."""
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    mel_pts = np.linspace(hz_to_mel_slaney(np.array([f_min]))[0], hz_to_mel_slaney(np.array([f_max]))[0], n_mels + 2)
    hz_pts = mel_to_hz_slaney(mel_pts)
    fb = np.zeros((len(fft_freqs), n_mels))
    for m in range(n_mels):
        left, centre, right = hz_pts[m], hz_pts[m + 1], hz_pts[m + 2]
        rising = (fft_freqs - left) / (centre - left)
        falling = (right - fft_freqs) / (right - centre)
        fb[:, m] = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (right - left))
    return fb


def kaldi_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """(n_fft//2 + 1, n_mels) filters exactly as Kaldi's ``MelBanks`` (Nyquist bin weight 0)."""
    bin_width = sample_rate / n_fft
    mel_lo, mel_hi = hz_to_mel_kaldi(f_min), hz_to_mel_kaldi(f_max)
    delta = (mel_hi - mel_lo) / (n_mels + 1)
    mel_of_bin = hz_to_mel_kaldi(bin_width * np.arange(n_fft // 2))
    fb = np.zeros((n_fft // 2 + 1, n_mels))
    for m in range(n_mels):
        left, centre, right = mel_lo + m * delta, mel_lo + (m + 1) * delta, mel_lo + (m + 2) * delta
        inside = (mel_of_bin > left) & (mel_of_bin < right)
        up = (mel_of_bin - left) / (centre - left)
        down = (right - mel_of_bin) / (right - centre)
        fb[: n_fft // 2, m] = np.where(inside, np.where(mel_of_bin <= centre, up, down), 0.0)
    return fb


def hann_window(win_length: int) -> np.ndarray:
    """Periodic Hann window (``torch.hann_window(periodic=True)``), float64."""
    n = np.arange(win_length, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2 * math.pi * n / win_length)


def povey_window(win_length: int) -> np.ndarray:
    """Kaldi's "povey" window: a symmetric Hann window raised to 0.85, float64."""
    n = np.arange(win_length, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2 * math.pi * n / (win_length - 1))) ** 0.85


# --- the resolved configuration, shared with the torch class ------------------------------

@dataclass
class FeatureParams:
    """A ``FeatureConfig`` turned into samples and arrays (what both feature classes compute with).

    ``win_length`` / ``hop_length`` / ``n_fft`` in samples, ``f_min`` / ``f_max`` in Hz (resolved:
    ``f_max <= 0`` means Nyquist plus that offset), ``window (win_length,)`` and
    ``mel_fb (n_fft//2 + 1, n_mels)`` in float64.
    """

    sample_rate: int
    n_mels: int
    win_length: int
    hop_length: int
    n_fft: int
    f_min: float
    f_max: float
    preemphasis: float
    dither: float
    log_floor: float
    normalize: str
    kaldi_compatible: bool
    snip_edges: bool
    window: np.ndarray
    mel_fb: np.ndarray


def resolve_feature_params(cfg: Any = None, stacklevel: int = 3) -> FeatureParams:
    """Check ``cfg`` (a ``FeatureConfig`` or anything with its attributes) and derive the arrays.

    Raises ``ValueError`` naming the ``features.*`` key for impossible settings; warns when some
    mel filters are empty (too many mels for the FFT size).
    """
    cfg = cfg if cfg is not None else FeatureConfig()
    sample_rate = int(cfg.sample_rate)
    n_mels = int(cfg.n_mels)
    win_length = int(round(sample_rate * float(cfg.win_ms) / 1000.0))
    hop_length = int(round(sample_rate * float(cfg.hop_ms) / 1000.0))
    if win_length <= 0 or hop_length <= 0:
        raise ValueError(
            f"features.win_ms={cfg.win_ms} / features.hop_ms={cfg.hop_ms} give fewer than one sample "
            f"at sample_rate={sample_rate}"
        )
    n_fft = int(cfg.n_fft)
    n_fft = n_fft if n_fft > 0 else 1 << (win_length - 1).bit_length()
    if n_fft < win_length:
        raise ValueError(
            f"features.n_fft={n_fft} is shorter than the window ({win_length} samples = "
            f"{cfg.win_ms} ms at {sample_rate} Hz); set n_fft >= {win_length} or 0 for automatic"
        )
    nyquist = sample_rate / 2.0
    f_max = float(cfg.f_max)
    f_max = nyquist + f_max if f_max <= 0 else f_max  # 0 -> Nyquist; negative = offset from Nyquist (Kaldi)
    f_min = float(cfg.f_min)
    if not 0.0 <= f_min < f_max <= nyquist + 1e-6:
        raise ValueError(
            f"features.f_min={cfg.f_min} / features.f_max={cfg.f_max} must satisfy 0 <= f_min < f_max <= "
            f"sample_rate/2 = {nyquist:g} Hz (f_max 0 means Nyquist)"
        )
    normalize = str(cfg.normalize)
    if normalize not in ("per_utterance", "cumulative", "none"):
        raise ValueError(f"features.normalize={normalize!r}; choose 'per_utterance', 'cumulative' or 'none'")
    kaldi = bool(cfg.kaldi_compatible)
    if kaldi:
        window = povey_window(win_length)
        fb = kaldi_mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
    else:
        window = hann_window(win_length)
        fb = slaney_mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
    empty = np.flatnonzero(fb.sum(axis=0) == 0)
    if len(empty):
        warnings.warn(
            f"{len(empty)} of {n_mels} mel filters are empty (n_mels={n_mels} is too many for "
            f"n_fft={n_fft} at {sample_rate} Hz); lower features.n_mels or raise features.n_fft",
            stacklevel=stacklevel,
        )
    return FeatureParams(sample_rate, n_mels, win_length, hop_length, n_fft, f_min, f_max,
                         float(cfg.preemphasis), float(cfg.dither), float(cfg.log_floor), normalize, kaldi,
                         bool(getattr(cfg, "snip_edges", True)), window, fb)


def num_frames(num_samples: Union[int, np.ndarray], win_length: int, hop_length: int,
               snip_edges: bool = True) -> Union[int, np.ndarray]:
    """Frames for ``num_samples`` samples ``S``.

    ``snip_edges`` (Kaldi's default): ``0`` for ``S == 0``, else ``1 + max(S - win, 0) // hop``.
    Otherwise (Kaldi's ``--snip-edges=false``, kaldi-native-fbank's default): ``(S + hop // 2) // hop``,
    one frame per hop centred on it (so 0 frames for ``S < hop / 2``).
    """
    if isinstance(num_samples, np.ndarray):
        s = num_samples.astype(np.int64)
        if not snip_edges:
            return np.maximum((s + hop_length // 2) // hop_length, 0).astype(np.int64)
        return np.where(s > 0, 1 + np.maximum(s - win_length, 0) // hop_length, 0).astype(np.int64)
    s = int(num_samples)
    if not snip_edges:
        return max((s + hop_length // 2) // hop_length, 0)
    return 0 if s <= 0 else 1 + max(s - win_length, 0) // hop_length


def centred_frame_offset(win_length: int, hop_length: int) -> int:
    """First sample of frame 0 with ``snip_edges=False`` (Kaldi: ``hop // 2 - win // 2``; negative)."""
    return hop_length // 2 - win_length // 2


def reflect_indices(positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sample positions ``(P,)`` (any integers) folded into ``[0, S_b)`` per row: ``(B, P)`` int64.

    Kaldi's edge rule for ``snip_edges=False``: ``-1 -> 0, -2 -> 1, ..`` and ``S -> S-1, S+1 -> S-2, ..``,
    repeated until inside (a symmetric reflection with period ``2 S``). Rows with ``S_b == 0`` give 0.
    """
    s = np.maximum(np.asarray(lengths, dtype=np.int64), 1)[:, None]
    m = np.mod(np.asarray(positions, dtype=np.int64)[None, :], 2 * s)
    return np.where(m < s, m, 2 * s - 1 - m)


# --- the extractor ------------------------------------------------------------------------

def banded_filterbank(mel_fb: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``mel_fb (n_bins, F)`` as ``(bins (F, K) int64, weights (F, K))``: filter ``m`` is
    ``sum_k power[..., bins[m, k]] * weights[m, k]``, ``K`` the widest filter's span of bins.

    Why: ``power @ mel_fb`` goes to the BLAS, whose threads (OpenBLAS starts one per core) fight
    onnxruntime's spinning threads for the CPU; measured on 2 cores that made the projection 30x
    slower. The banded form runs in one thread through ``np.einsum(optimize=False)`` (no BLAS).
    """
    n_bins, n_mels = mel_fb.shape
    lo = np.zeros(n_mels, dtype=np.int64)
    span = 1
    for m in range(n_mels):
        nz = np.flatnonzero(mel_fb[:, m])
        if nz.size:
            lo[m] = nz[0]
            span = max(span, int(nz[-1] - nz[0]) + 1)
    pos = lo[:, None] + np.arange(span)[None, :]
    bins = np.minimum(pos, n_bins - 1)
    weights = np.where(pos < n_bins, mel_fb[bins, np.arange(n_mels)[:, None]], 0.0)
    return bins, weights.astype(mel_fb.dtype)


class NumpyLogMelFeatures:
    """Batched log-mel features in numpy, equal to ``LogMelFeatures(cfg).eval()``.

    ``__call__(waves (B, S) float32, lengths (B,) int64 samples) ->
    (features (B, T, F) float32, feature_lengths (B,) int64)`` with ``F = n_mels`` and
    ``T = num_frames(S)``; frames at or after ``feature_lengths[b]`` are 0 and samples at or after
    ``lengths[b]`` are ignored. ``lengths=None`` means every row is ``S`` samples long. No dither
    (inference only). Attributes as the torch class: ``sample_rate``, ``n_mels``, ``win_length``,
    ``hop_length``, ``n_fft`` (samples), ``window``, ``mel_fb`` (float32 arrays).

    Computed in float32 (as torch does); one call holds a ``(B, T, n_fft)`` frame array, about
    12 MB per minute of 16 kHz audio.
    """

    def __init__(self, cfg: Any = None):
        p = resolve_feature_params(cfg)
        self.params = p
        self.sample_rate, self.n_mels = p.sample_rate, p.n_mels
        self.win_length, self.hop_length, self.n_fft = p.win_length, p.hop_length, p.n_fft
        self.f_min, self.f_max = p.f_min, p.f_max
        self.preemphasis, self.log_floor = p.preemphasis, p.log_floor
        self.normalize, self.kaldi_compatible, self.snip_edges = p.normalize, p.kaldi_compatible, p.snip_edges
        self.window = p.window.astype(np.float32)
        self.mel_fb = p.mel_fb.astype(np.float32)
        self._mel_bins, self._mel_weights = banded_filterbank(self.mel_fb)

    @property
    def num_features(self) -> int:
        return self.n_mels

    def num_frames(self, num_samples: Union[int, np.ndarray]) -> Union[int, np.ndarray]:
        """Frames produced for ``num_samples`` samples (int or int array), as in :meth:`__call__`."""
        return num_frames(num_samples, self.win_length, self.hop_length, self.snip_edges)

    def __call__(self, waves: np.ndarray, lengths: np.ndarray = None) -> Tuple[np.ndarray, np.ndarray]:
        x = np.asarray(waves, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"NumpyLogMelFeatures expects waves (B, S), got shape {x.shape}")
        batch, num_samples = x.shape
        if lengths is None:
            lengths = np.full((batch,), num_samples, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if lengths.shape[0] != batch:
            raise ValueError(f"NumpyLogMelFeatures: {lengths.shape[0]} lengths for a batch of {batch} waves")
        frame_lengths = self.num_frames(lengths)

        valid = np.arange(num_samples)[None, :] < lengths[:, None]
        x = np.where(valid, x, np.float32(0.0))  # whatever was in the padding is ignored (a copy)
        if not self.snip_edges:
            # Centred frames: gather every sample the frames read, edges reflected inside each row's
            # own length, so a padded row gives the frames it gives alone.
            frames_total = max(int(self.num_frames(num_samples)), 1)
            span = (frames_total - 1) * self.hop_length + self.win_length
            positions = centred_frame_offset(self.win_length, self.hop_length) + np.arange(span)
            x = np.take_along_axis(x, reflect_indices(positions, lengths), axis=1) if num_samples else \
                np.zeros((batch, span), dtype=np.float32)
        elif num_samples < self.win_length:  # short input: one zero-padded window
            x = np.pad(x, ((0, 0), (0, self.win_length - num_samples)))
        if not self.kaldi_compatible and self.preemphasis > 0:
            x[:, 1:] -= np.float32(self.preemphasis) * x[:, :-1]  # right side is evaluated first: a copy

        total = 1 + (x.shape[1] - self.win_length) // self.hop_length
        frames = np.lib.stride_tricks.sliding_window_view(x, self.win_length, axis=1)[:, ::self.hop_length]
        frames = frames[:, :total]  # (B, T, win) view
        if self.kaldi_compatible:
            frames = frames - frames.mean(axis=-1, keepdims=True, dtype=np.float32)
            if self.preemphasis > 0:
                frames[..., 1:] -= np.float32(self.preemphasis) * frames[..., :-1]
                frames[..., 0] -= np.float32(self.preemphasis) * frames[..., 0]
        spec = np.fft.rfft(frames * self.window, n=self.n_fft, axis=-1)  # (B, T, n_fft//2+1)
        power = np.square(spec.real, dtype=np.float32) + np.square(spec.imag, dtype=np.float32)
        mel = np.einsum("btmk,mk->btm", power[..., self._mel_bins], self._mel_weights, optimize=False)
        feats = np.log(np.maximum(mel, np.float32(self.log_floor)))  # (B, T, F)

        frame_mask = (np.arange(feats.shape[1])[None, :] < frame_lengths[:, None])[..., None]
        if self.normalize == "per_utterance":
            # As LogMelFeatures: statistics of the values shifted by the first frame, so a bin that is
            # constant over the utterance (e.g. at the log floor) normalizes to exactly 0.
            count = np.maximum(frame_lengths, 1).astype(np.float32)[:, None, None]
            shifted = np.where(frame_mask, feats - feats[:, :1], np.float32(0.0))
            centred = np.where(frame_mask, shifted - shifted.sum(axis=1, keepdims=True) / count, np.float32(0.0))
            var = np.square(centred).sum(axis=1, keepdims=True) / count
            feats = centred / (np.sqrt(var) + np.float32(NORM_EPS))
        elif self.normalize == "cumulative":  # as hypersp.audio.features.normalize_cumulative
            x = feats.astype(np.float64)
            shifted = x - x[:, :1]
            count = np.arange(1, x.shape[1] + 1, dtype=np.float64)[None, :, None]
            mean = np.cumsum(shifted, axis=1) / count
            std = np.sqrt(np.maximum(np.cumsum(np.square(shifted), axis=1) / count - np.square(mean), 0.0))
            feats = ((shifted - mean) / (std + NORM_EPS)).astype(np.float32)
        feats = np.where(frame_mask, feats, np.float32(0.0)).astype(np.float32, copy=False)
        return feats, frame_lengths.astype(np.int64)
