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
    normalize: str = "per_utterance"  # per_utterance | cumulative (statistics of the frames so far: streamable) | none
    kaldi_compatible: bool = False    # povey window + Kaldi mel scale instead of Hann/Slaney
    snip_edges: bool = True           # False: Kaldi's centred frames, edges reflected (kaldi_fbank_features)


@dataclass
class SpecAugmentConfig:
    """SpecAugment (Park et al. 2019) masks applied to (B, T, F) features in training."""

    enabled: bool = True
    freq_masks: int = 2
    freq_width: int = 15        # max bins per frequency mask
    time_masks: int = 2
    time_width: float = 0.05    # max frames per time mask, as a fraction of the utterance length
    time_width_max: int = 40    # ... capped at this many frames


# What kaldi-native-fbank computes by default (as sherpa-onnx runs it for a plain CTC model):
# FLT_EPSILON, the floor under its mel energies before the log.
KALDI_LOG_FLOOR = 1.1920928955078125e-07


def kaldi_fbank_features(sample_rate: int = 16000, n_mels: int = 80) -> FeatureConfig:
    """Kaldi fbank as kaldi-native-fbank (and so sherpa-onnx) computes it with its defaults.

    Povey window, per-frame DC removal and pre-emphasis 0.97, Kaldi mel scale over
    20 Hz .. Nyquist - 400 Hz, centred frames with reflected edges (``snip_edges=False``),
    25 ms / 10 ms, log of the power mel energies floored at FLT_EPSILON; hypersp's
    per-utterance normalization on top (``hypersp-export --format sherpa-onnx`` puts it in the graph).
    """
    return FeatureConfig(sample_rate=sample_rate, n_mels=n_mels, win_ms=25.0, hop_ms=10.0, n_fft=0,
                         f_min=20.0, f_max=-400.0, preemphasis=0.97, log_floor=KALDI_LOG_FLOOR,
                         normalize="per_utterance", kaldi_compatible=True, snip_edges=False)


def telephone_features() -> FeatureConfig:
    """Log-mel front end for 8 kHz telephone audio: 64 mels over 0-4 kHz."""
    return FeatureConfig(sample_rate=8000, n_mels=64, f_min=0.0, f_max=4000.0)
