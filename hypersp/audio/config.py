"""Configuration dataclasses for the audio front end (kept import-light: no torch)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FeatureConfig:
    """Log-mel filterbank features.

    Times are in milliseconds, frequencies in Hz. ``sample_rate`` is set by the task
    (16000, or 8000 for telephone tasks) and must match the audio fed in.
    """

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 0            # 0: next power of two >= window length
    f_min: float = 0.0
    f_max: float = 0.0        # 0: sample_rate / 2
    preemphasis: float = 0.97
    dither: float = 1e-5      # added during training only
    log_floor: float = 1e-6
    normalize: str = "per_utterance"  # per_utterance | none
    kaldi_compatible: bool = False    # povey window + Kaldi mel scale instead of Hann/Slaney


@dataclass
class SpecAugmentConfig:
    """SpecAugment (Park et al. 2019) masks applied to (B, T, F) features in training."""

    enabled: bool = True
    freq_masks: int = 2
    freq_width: int = 15        # max bins per frequency mask
    time_masks: int = 2
    time_width: float = 0.05    # max frames per time mask, as a fraction of the utterance length
    time_width_max: int = 40    # ... capped at this many frames


def telephone_features() -> FeatureConfig:
    """Log-mel front end for 8 kHz telephone audio: 64 mels over 0-4 kHz."""
    return FeatureConfig(sample_rate=8000, n_mels=64, f_min=0.0, f_max=4000.0)
