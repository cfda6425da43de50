"""Log-mel filterbank features in plain torch (no torchaudio).

Framing convention (Kaldi's ``snip_edges=True``, no centre padding): frame ``t`` covers
samples ``[t * hop, t * hop + win)``, so an utterance of ``S`` samples has

    T = 1 + (S - win) // hop     for S >= win
    T = 1                        for 0 < S < win   (the signal is zero-padded to one window)
    T = 0                        for S == 0

(:meth:`LogMelFeatures.num_frames`). Valid frames never read a padded sample, so the frames
of an utterance are the same whether it is computed alone or zero-padded inside a batch.

Pipeline per utterance: dither (training only) -> pre-emphasis -> frames -> window -> power
spectrum -> mel filterbank -> log(max(x, log_floor)) -> per-utterance mean/variance
normalization over valid frames (per mel bin) -> padded frames set to 0.

Two flavours, chosen by ``FeatureConfig.kaldi_compatible``:

- default: pre-emphasis over the whole waveform, periodic Hann window, Slaney mel scale with
  Slaney area normalization (librosa's / NeMo's defaults);
- Kaldi: per-frame DC removal and pre-emphasis, "povey" window (Hann^0.85), Kaldi mel scale
  ``1127 ln(1 + f/700)`` with triangles in the mel domain and the Nyquist bin left out, as in
  Kaldi's ``compute-fbank-feats`` (up to a constant log offset for Kaldi's int16 scaling, which
  per-utterance normalization removes).
"""
from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import Any, Tuple, Union

import numpy as np
import torch
from torch import nn

from hypersp.audio.config import FeatureConfig

_NORM_EPS = 1e-5  # added to the std so silent / one-frame utterances do not divide by zero


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


# --- the module ---------------------------------------------------------------------------

class LogMelFeatures(nn.Module):
    """Batched log-mel features.

    ``forward(waveforms (B, S) float, lengths (B,) long samples) ->
    (features (B, T, F) float32, frame_lengths (B,) long)`` with ``F = n_mels`` and
    ``T = num_frames(S)`` (see the module docstring). Frames at or after ``frame_lengths[b]``
    are 0. Dither is added only in training mode, so ``eval()`` is deterministic.
    """

    def __init__(self, cfg: Any = None):
        super().__init__()
        cfg = cfg if cfg is not None else FeatureConfig()
        self.sample_rate = int(cfg.sample_rate)
        self.n_mels = int(cfg.n_mels)
        self.win_length = int(round(self.sample_rate * float(cfg.win_ms) / 1000.0))
        self.hop_length = int(round(self.sample_rate * float(cfg.hop_ms) / 1000.0))
        if self.win_length <= 0 or self.hop_length <= 0:
            raise ValueError(
                f"features.win_ms={cfg.win_ms} / features.hop_ms={cfg.hop_ms} give fewer than one sample "
                f"at sample_rate={self.sample_rate}"
            )
        n_fft = int(cfg.n_fft)
        self.n_fft = n_fft if n_fft > 0 else 1 << (self.win_length - 1).bit_length()
        if self.n_fft < self.win_length:
            raise ValueError(
                f"features.n_fft={self.n_fft} is shorter than the window ({self.win_length} samples = "
                f"{cfg.win_ms} ms at {self.sample_rate} Hz); set n_fft >= {self.win_length} or 0 for automatic"
            )
        nyquist = self.sample_rate / 2.0
        f_max = float(cfg.f_max)
        f_max = nyquist + f_max if f_max <= 0 else f_max  # 0 -> Nyquist; negative = offset from Nyquist (Kaldi)
        f_min = float(cfg.f_min)
        if not 0.0 <= f_min < f_max <= nyquist + 1e-6:
            raise ValueError(
                f"features.f_min={cfg.f_min} / features.f_max={cfg.f_max} must satisfy 0 <= f_min < f_max <= "
                f"sample_rate/2 = {nyquist:g} Hz (f_max 0 means Nyquist)"
            )
        self.f_min, self.f_max = f_min, f_max
        self.preemphasis = float(cfg.preemphasis)
        self.dither = float(cfg.dither)
        self.log_floor = float(cfg.log_floor)
        self.normalize = str(cfg.normalize)
        if self.normalize not in ("per_utterance", "none"):
            raise ValueError(f"features.normalize={self.normalize!r}; choose 'per_utterance' or 'none'")
        self.kaldi_compatible = bool(cfg.kaldi_compatible)

        if self.kaldi_compatible:
            n = torch.arange(self.win_length, dtype=torch.float64)
            window = (0.5 - 0.5 * torch.cos(2 * math.pi * n / (self.win_length - 1))).pow(0.85)
            fb = kaldi_mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, f_min, f_max)
        else:
            window = torch.hann_window(self.win_length, periodic=True, dtype=torch.float64)
            fb = slaney_mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, f_min, f_max)
        empty = np.flatnonzero(fb.sum(axis=0) == 0)
        if len(empty):
            warnings.warn(
                f"{len(empty)} of {self.n_mels} mel filters are empty (n_mels={self.n_mels} is too many for "
                f"n_fft={self.n_fft} at {self.sample_rate} Hz); lower features.n_mels or raise features.n_fft",
                stacklevel=2,
            )
        # Derived from the config, so not part of any checkpoint.
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("mel_fb", torch.from_numpy(fb).float(), persistent=False)

    @property
    def num_features(self) -> int:
        return self.n_mels

    def num_frames(self, num_samples: Union[int, torch.Tensor]) -> Union[int, torch.Tensor]:
        """Frames produced for ``num_samples`` samples (int or long tensor), as in :meth:`forward`."""
        if isinstance(num_samples, torch.Tensor):
            s = num_samples.long()
            t = 1 + torch.div((s - self.win_length).clamp(min=0), self.hop_length, rounding_mode="floor")
            return torch.where(s > 0, t, torch.zeros_like(t))
        s = int(num_samples)
        return 0 if s <= 0 else 1 + max(s - self.win_length, 0) // self.hop_length

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor = None) -> Tuple[torch.Tensor, torch.Tensor]:
        if waveforms.dim() != 2:
            raise ValueError(f"LogMelFeatures expects waveforms (B, S), got shape {tuple(waveforms.shape)}")
        x = waveforms.float()
        batch, num_samples = x.shape
        if lengths is None:
            lengths = torch.full((batch,), num_samples, dtype=torch.long, device=x.device)
        lengths = lengths.to(device=x.device, dtype=torch.long)
        frame_lengths = self.num_frames(lengths)

        sample_idx = torch.arange(num_samples, device=x.device)
        valid = sample_idx[None, :] < lengths[:, None]
        if self.training and self.dither > 0:
            x = x + self.dither * torch.randn_like(x) * valid
        x = x * valid  # whatever was in the padding is ignored

        if num_samples < self.win_length:  # short input: one zero-padded window
            x = nn.functional.pad(x, (0, self.win_length - num_samples))
        if not self.kaldi_compatible and self.preemphasis > 0:
            x = torch.cat([x[:, :1], x[:, 1:] - self.preemphasis * x[:, :-1]], dim=1)

        frames = x.unfold(1, self.win_length, self.hop_length)  # (B, T, win)
        if self.kaldi_compatible:
            frames = frames - frames.mean(dim=-1, keepdim=True)
            if self.preemphasis > 0:
                prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
                frames = frames - self.preemphasis * prev
        spec = torch.fft.rfft(frames * self.window, n=self.n_fft)  # (B, T, n_fft//2+1)
        power = spec.real.square() + spec.imag.square()
        feats = torch.log(torch.clamp(power @ self.mel_fb, min=self.log_floor))  # (B, T, F)

        frame_mask = (torch.arange(feats.shape[1], device=x.device)[None, :] < frame_lengths[:, None]).unsqueeze(-1)
        if self.normalize == "per_utterance":
            count = frame_lengths.clamp(min=1).to(feats.dtype)[:, None, None]
            mean = (feats * frame_mask).sum(dim=1, keepdim=True) / count
            var = (((feats - mean) * frame_mask).square()).sum(dim=1, keepdim=True) / count
            feats = (feats - mean) / (var.sqrt() + _NORM_EPS)
        feats = feats * frame_mask
        return feats, frame_lengths


def _config_key(cfg: Any) -> Tuple:
    fields = FeatureConfig.__dataclass_fields__
    return tuple((name, getattr(cfg, name)) for name in fields)


@lru_cache(maxsize=8)
def _cached_extractor(key: Tuple, train: bool) -> LogMelFeatures:
    return LogMelFeatures(FeatureConfig(**dict(key))).train(train)


def compute_features(waveform: Union[np.ndarray, torch.Tensor], cfg: Any, train: bool = False) -> torch.Tensor:
    """Features of one utterance: ``waveform (S,)`` float at ``cfg.sample_rate`` -> ``(T, F)`` float32.

    ``train=True`` adds dither (as in training mode); the default is deterministic. The extractor
    for a given config is built once per process and reused.
    """
    wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32) if isinstance(waveform, np.ndarray) else waveform)
    if wave.dim() != 1:
        raise ValueError(f"compute_features expects one waveform (S,), got shape {tuple(wave.shape)}")
    extractor = _cached_extractor(_config_key(cfg), bool(train))
    with torch.no_grad():
        feats, _ = extractor(wave[None, :].float())
    return feats[0]
