"""Task configuration shared by every speech-recognition task (import-light: no torch)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from hypersp.audio.config import FeatureConfig, SpecAugmentConfig


@dataclass
class SpeechRecognitionConfig:
    """What a task knows: where its data is, at what rate, and how text is normalized.

    Manifests are NeMo-style JSON lines (``audio_filepath``, ``duration``, ``text``);
    relative audio paths resolve against the manifest's folder.
    """

    name: str = "speech_recognition"
    sample_rate: int = 16000           # Hz; audio at any other rate is resampled to this
    train_manifest: str = ""
    valid_manifest: str = ""
    test_manifest: str = ""            # not read by hypersp; kept because checkpoints (the shipped ones too) store it
    text_normalizer: str = "basic"     # normalizer applied to manifest text to make training targets
    scoring_normalizer: str = "basic"  # applied to reference and hypothesis before CER/WER (validation, hypersp-eval)
    min_duration: float = 0.1          # seconds; shorter training utterances are skipped (and counted)
    max_duration: float = 30.0         # seconds; longer training utterances are skipped (and counted)
    batch_seconds: float = 240.0       # total audio seconds per training batch (duration bucketing)
    num_buckets: int = 10
    num_workers: int = 2               # DataLoader worker processes
    dataset: str = "audio_text"        # registered dataset class that reads the manifests
    # Train-time waveform augmentation, applied per utterance in this order (see WaveformAugment):
    speed_perturb: List[float] = field(default_factory=list)  # speed factors drawn per utterance, e.g. [0.9, 1.0, 1.1]; empty = off
    noise_snr_db: List[float] = field(default_factory=list)   # [min, max] SNR in dB of additive noise; empty = off
    noise_dir: str = ""                # folder of noise recordings (wav/flac, read recursively); "" = generated white noise
    noise_prob: float = 0.5            # fraction of utterances that get noise
    telephone_prob: float = 0.0        # fraction passed through a simulated phone line (300-3400 Hz, 8 kHz, mu-law)
    leading_silence_s: List[float] = field(default_factory=list)  # [min, max] s of quiet put before the speech; empty = off
    leading_silence_prob: float = 0.5  # fraction of utterances that get it (quiet: -100..-50 dBFS noise, below -96 digital zeros)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
