"""Training-time augmentation: SpecAugment on features, and waveform transforms.

Waveform helpers work on numpy float32 ``(S,)`` arrays in [-1, 1] (what :func:`load_audio`
returns); rates are in Hz. ``telephone_channel`` turns wideband audio into 8 kHz
narrowband telephone audio and is shared with the synthetic corpus generator.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import soxr
import torch
from torch import nn

from hypersp.audio.config import SpecAugmentConfig


class SpecAugment(nn.Module):
    """Frequency and time masks (Park et al. 2019) on ``(B, T, F)`` features.

    ``forward(features (B, T, F), lengths (B,) long frames) -> features`` with masked cells set
    to 0 (the mean of normalized features). Masks are drawn only in training mode (``eval()``
    is the identity) and only inside each utterance's valid frames ``[0, lengths[b])``.
    Per utterance, each of ``time_masks`` masks has a width drawn uniformly from
    ``[0, min(time_width * length, time_width_max)]`` frames (``time_width`` >= 1 is read as
    a frame count instead of a fraction), and each of ``freq_masks`` masks a width from
    ``[0, freq_width]`` bins. Randomness comes from torch's global generator, so
    ``torch.manual_seed`` makes it reproducible.
    """

    def __init__(self, cfg: Any = None):
        super().__init__()
        cfg = cfg if cfg is not None else SpecAugmentConfig()
        self.enabled = bool(cfg.enabled)
        self.freq_masks = int(cfg.freq_masks)
        self.freq_width = int(cfg.freq_width)
        self.time_masks = int(cfg.time_masks)
        self.time_width = float(cfg.time_width)
        self.time_width_max = int(cfg.time_width_max)

    def forward(self, features: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        if not (self.training and self.enabled) or features.numel() == 0:
            return features
        batch, num_frames, num_bins = features.shape
        device = features.device
        if lengths is None:
            lengths = torch.full((batch,), num_frames, dtype=torch.long, device=device)
        lengths = lengths.to(device=device, dtype=torch.long).clamp(max=num_frames)
        t = torch.arange(num_frames, device=device)[None, :]  # (1, T)
        f = torch.arange(num_bins, device=device)[None, :]  # (1, F)

        time_mask = torch.zeros(batch, num_frames, dtype=torch.bool, device=device)
        if self.time_masks > 0:
            if self.time_width < 1:
                max_w = torch.floor(lengths.float() * self.time_width).long()
            else:
                max_w = torch.full_like(lengths, int(self.time_width))
            max_w = torch.minimum(max_w.clamp(min=0, max=self.time_width_max), lengths)
            for _ in range(self.time_masks):
                width = torch.floor(torch.rand(batch, device=device) * (max_w + 1).float()).long()
                start = torch.floor(torch.rand(batch, device=device) * (lengths - width + 1).float()).long()
                time_mask |= (t >= start[:, None]) & (t < (start + width)[:, None])

        freq_mask = torch.zeros(batch, num_bins, dtype=torch.bool, device=device)
        if self.freq_masks > 0:
            max_fw = min(self.freq_width, num_bins)
            for _ in range(self.freq_masks):
                width = torch.floor(torch.rand(batch, device=device) * (max_fw + 1)).long()
                start = torch.floor(torch.rand(batch, device=device) * (num_bins - width + 1).float()).long()
                freq_mask |= (f >= start[:, None]) & (f < (start + width)[:, None])

        valid = (t < lengths[:, None])[:, :, None]  # (B, T, 1)
        mask = (time_mask[:, :, None] | freq_mask[:, None, :]) & valid
        return features.masked_fill(mask, 0.0)


def speed_perturb(wave: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Kaldi/sox-style speed perturbation: play ``factor`` times faster (tempo and pitch change).

    The output has ``round(len(wave) / factor)`` samples at the same ``sample_rate``; done by
    resampling from ``sample_rate * factor`` to ``sample_rate`` with soxr.
    """
    if factor <= 0:
        raise ValueError(f"speed_perturb: factor must be > 0, got {factor}")
    wave = np.asarray(wave, dtype=np.float32)
    if factor == 1.0 or wave.size == 0:
        return wave
    return soxr.resample(wave, sample_rate * factor, sample_rate, quality="HQ").astype(np.float32, copy=False)


def add_noise(
    wave: np.ndarray, noise: np.ndarray, snr_db: float, rng: Optional[np.random.Generator] = None
) -> np.ndarray:
    """Mix ``noise`` into ``wave`` at signal-to-noise ratio ``snr_db`` (dB, by mean power).

    The noise is tiled (if shorter) and cut to the length of ``wave``, starting at a random
    offset when ``rng`` is given, else at 0. The result is not clipped.
    """
    wave = np.asarray(wave, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if noise.size == 0:
        raise ValueError("add_noise: noise is empty")
    if wave.size == 0:
        return wave
    start = int(rng.integers(0, noise.size)) if rng is not None else 0
    reps = -(-(start + wave.size) // noise.size)
    segment = np.tile(noise, reps)[start : start + wave.size]
    p_signal = float(np.mean(wave.astype(np.float64) ** 2))
    p_noise = float(np.mean(segment.astype(np.float64) ** 2))
    if p_noise <= 0.0:
        return wave.copy()
    scale = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (wave + scale * segment).astype(np.float32)


MU = 255.0


def mu_law_encode(x: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> 8-bit mu-law codes 0..255 (G.711-style companding, continuous form)."""
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    return np.round((y + 1.0) / 2.0 * MU).astype(np.uint8)


def mu_law_decode(codes: np.ndarray) -> np.ndarray:
    """8-bit mu-law codes -> float32 in [-1, 1]."""
    y = 2.0 * np.asarray(codes, dtype=np.float64) / MU - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU).astype(np.float32)


def band_limit(wave: np.ndarray, sample_rate: int, low_hz: float, high_hz: float, transition_hz: float = 50.0) -> np.ndarray:
    """Zero-phase FFT band-pass: keep ``[low_hz, high_hz]``, raised-cosine edges ``transition_hz`` wide."""
    x = np.asarray(wave, dtype=np.float64)
    n = x.size
    if n == 0:
        return x.astype(np.float32)
    freqs = np.fft.rfftfreq(n, d=1.0 / sample_rate)
    gain = np.ones_like(freqs)
    # below low_hz - transition and above high_hz + transition: 0; cosine ramps in between
    lo = np.clip((freqs - (low_hz - transition_hz)) / transition_hz, 0.0, 1.0)
    hi = np.clip(((high_hz + transition_hz) - freqs) / transition_hz, 0.0, 1.0)
    gain *= 0.5 - 0.5 * np.cos(np.pi * lo)
    gain *= 0.5 - 0.5 * np.cos(np.pi * hi)
    return np.fft.irfft(np.fft.rfft(x) * gain, n=n).astype(np.float32)


TELEPHONE_RATE = 8000


def telephone_channel(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Simulate a narrowband (G.711 mu-law) phone line: ``(S,)`` at ``sample_rate`` -> float32 at 8000 Hz.

    Band-limits to about 300-3400 Hz (FFT filter), resamples to 8 kHz with soxr, then
    encodes/decodes 8-bit mu-law, adding its companding quantization noise.
    """
    x = band_limit(np.asarray(wave, dtype=np.float32), sample_rate, 300.0, 3400.0)
    if sample_rate != TELEPHONE_RATE:
        x = soxr.resample(x, sample_rate, TELEPHONE_RATE, quality="HQ").astype(np.float32, copy=False)
    return mu_law_decode(mu_law_encode(x))
