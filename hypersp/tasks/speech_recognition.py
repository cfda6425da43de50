"""The speech-recognition task: data, features and text for one corpus.

A task owns what is specific to a corpus: sample rate, feature front end, text
normalization, manifests and how to prepare them from the raw download. Models and
tokenizers stay corpus-agnostic; a model gets ``input_dim`` and ``vocab_size`` from the task.

Build order (see ``hypersp.checkpoint``): tokenizer -> task -> datasets -> model -> criterion.
Corpus tasks subclass ``SpeechRecognitionTask`` with their own config defaults and a
``prepare`` classmethod (``hypersp-prepare CORPUS --root RAW --out DIR``).
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from hypersp.audio.augment import SpecAugment, add_noise, speed_perturb, telephone_channel
from hypersp.audio.io import load_audio, resample
from hypersp.audio.features import LogMelFeatures
from hypersp.data.dataset import collate
from hypersp.data.manifest import ManifestEntry, ManifestError, read_manifest
from hypersp.data.sampler import DurationBucketSampler
from hypersp.registry import DATASETS, register_task
from hypersp.tasks.base import SpeechRecognitionConfig
from hypersp.text.normalize import get_text_normalizer

log = logging.getLogger(__name__)


@register_task("speech_recognition", config=SpeechRecognitionConfig)
class SpeechRecognitionTask:
    """Generic ASR over NeMo-style manifests; the base of every corpus task."""

    default_tokenizer = "jamo"
    prepare_config: Optional[type] = None  # dataclass of ``hypersp-prepare`` options

    def __init__(self, cfg: SpeechRecognitionConfig, tokenizer: Any):
        if cfg.features.sample_rate != cfg.sample_rate:
            raise ValueError(
                f"task.features.sample_rate={cfg.features.sample_rate} differs from task.sample_rate={cfg.sample_rate}; "
                f"set both to the rate the model should run at"
            )
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.normalize_text = get_text_normalizer(cfg.text_normalizer)
        self.spec_augment = SpecAugment(cfg.spec_augment)

    # ---- sizes the model is built with -------------------------------------------------
    @property
    def input_dim(self) -> int:
        return self.cfg.features.n_mels

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    # ---- text ----------------------------------------------------------------------------
    def encode(self, text: str) -> List[int]:
        return self.tokenizer.encode(self.normalize_text(text))

    def decode(self, ids: List[int]) -> str:
        return self.tokenizer.decode(ids)

    def fit_tokenizer(self) -> None:
        """Fit the tokenizer vocabulary on the *training* transcripts only."""
        entries = read_manifest(self._manifest_path("train"))
        self.tokenizer.fit(self.normalize_text(e.text) for e in entries)

    # ---- data ----------------------------------------------------------------------------
    def featurizer(self) -> LogMelFeatures:
        return LogMelFeatures(self.cfg.features)

    def _manifest_path(self, split: str) -> str:
        key = f"{split}_manifest"
        path = getattr(self.cfg, key, "")
        if not path:
            raise ManifestError(f"task.{key} is not set; pass task.{key}=PATH.jsonl")
        return path

    def load_entries(self, manifest: str, train: bool) -> Tuple[List[ManifestEntry], Counter]:
        """Read a manifest; for training drop utterances outside the duration bounds (counted)."""
        entries = read_manifest(manifest)
        if not entries:
            raise ManifestError(f"manifest {manifest!r} has no utterances")
        dropped: Counter = Counter()
        if train:
            kept = []
            for e in entries:
                if e.duration < self.cfg.min_duration:
                    dropped["shorter than task.min_duration"] += 1
                elif e.duration > self.cfg.max_duration:
                    dropped["longer than task.max_duration"] += 1
                else:
                    kept.append(e)
            entries = kept
        return entries, dropped

    def dataset(self, manifest: str, train: bool = False, waveform_transform=None):
        entries, dropped = self.load_entries(manifest, train)
        if train and waveform_transform is None:
            waveform_transform = WaveformAugment.from_config(self.cfg)
        for reason, n in dropped.items():
            log.warning("%s: skipped %d utterances (%s)", manifest, n, reason)
        featurizer = self.featurizer()
        featurizer.train(train)
        dataset_cls = DATASETS.get(self.cfg.dataset)
        ds = dataset_cls(entries, self.cfg.sample_rate, featurizer, self.encode, waveform_transform)
        ds.dropped = dropped
        return ds

    def dataloader(
        self, dataset, train: bool, seed: int = 0, rank: int = 0, world_size: int = 1, batch_seconds: float = 0.0
    ) -> torch.utils.data.DataLoader:
        sampler = DurationBucketSampler(
            dataset.durations,
            batch_seconds or self.cfg.batch_seconds,
            num_buckets=self.cfg.num_buckets,
            shuffle=train,
            seed=seed,
            rank=rank,
            world_size=world_size,
        )
        workers = self.cfg.num_workers
        return torch.utils.data.DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            pin_memory=torch.cuda.is_available(),
            worker_init_fn=_worker_init,
        )

    def augment(self, batch):
        """Train-time feature augmentation of a ``Batch`` (SpecAugment), in place."""
        if self.cfg.spec_augment.enabled:
            self.spec_augment.train()
            batch.features = self.spec_augment(batch.features, batch.feature_lengths)
        return batch

    # ---- preparation -----------------------------------------------------------------------
    @classmethod
    def prepare_options(cls) -> Optional[Any]:
        """Default ``hypersp-prepare`` options (a dataclass instance), or None without a preparer."""
        return cls.prepare_config() if cls.prepare_config is not None else None

    @classmethod
    def prepare(cls, root: Optional[Path], out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
        raise NotImplementedError(
            f"task {cls.registered_name!r} has no preparer; write NeMo-style manifests yourself and pass "
            f"task.train_manifest=... task.valid_manifest=..."
        )


class WaveformAugment:
    """Train-time waveform augmentation: speed perturbation, additive noise, telephone channel, leading quiet.

    Configured by the task's ``speed_perturb``, ``noise_snr_db``/``noise_dir``/``noise_prob``,
    ``telephone_prob`` and ``leading_silence_s``/``leading_silence_prob``. Leading quiet is what a live
    stream puts before speech (the VAD's pre-roll, a microphone opened early): a model whose features are
    normalized by the statistics of the frames so far (``features.normalize=cumulative``) must learn that
    they may start with near-silence or digital zeros. Works on float waveforms ``(S,)`` at ``sample_rate`` and returns the same
    rate: the telephone channel (300-3400 Hz band, 8 kHz, 8-bit mu-law) is resampled back up for
    16 kHz tasks, so a wideband model learns narrowband input. Randomness comes from Python's
    ``random`` and numpy's global generator, which the trainer seeds per item, so runs repeat.
    Picklable, so it travels to DataLoader workers; noise files are read lazily there.
    """

    def __init__(self, cfg: SpeechRecognitionConfig):
        if any(f <= 0 for f in cfg.speed_perturb):
            raise ValueError(f"task.speed_perturb factors must be > 0, got {list(cfg.speed_perturb)}")
        if cfg.noise_snr_db and len(cfg.noise_snr_db) != 2:
            raise ValueError(f"task.noise_snr_db must be [min_db, max_db], got {list(cfg.noise_snr_db)}")
        if cfg.leading_silence_s and (len(cfg.leading_silence_s) != 2 or not 0 <= cfg.leading_silence_s[0] <= cfg.leading_silence_s[1]):
            raise ValueError(f"task.leading_silence_s must be [min_s, max_s] with 0 <= min <= max, got {list(cfg.leading_silence_s)}")
        for key in ("noise_prob", "telephone_prob", "leading_silence_prob"):
            if not 0.0 <= getattr(cfg, key) <= 1.0:
                raise ValueError(f"task.{key} must be within [0, 1], got {getattr(cfg, key)}")
        if cfg.noise_dir and not Path(cfg.noise_dir).is_dir():
            raise ValueError(f"task.noise_dir={cfg.noise_dir!r} is not a folder")
        self.sample_rate = cfg.sample_rate
        self.speeds = list(cfg.speed_perturb)
        self.snr = list(cfg.noise_snr_db)
        self.noise_dir = cfg.noise_dir
        self.noise_prob = cfg.noise_prob
        self.telephone_prob = cfg.telephone_prob
        self.leading_silence = list(cfg.leading_silence_s)
        self.leading_silence_prob = cfg.leading_silence_prob
        self._noise_files: Optional[List[Path]] = None

    @classmethod
    def from_config(cls, cfg: SpeechRecognitionConfig) -> Optional["WaveformAugment"]:
        """None when every augmentation is off."""
        active = len(cfg.speed_perturb) > 0 or len(cfg.noise_snr_db) > 0 or cfg.telephone_prob > 0 \
            or (len(cfg.leading_silence_s) > 0 and cfg.leading_silence_prob > 0)
        return cls(cfg) if active else None

    def _noise(self, n: int) -> np.ndarray:
        if not self.noise_dir:
            return np.random.standard_normal(n).astype(np.float32)  # generated: white noise
        if self._noise_files is None:
            self._noise_files = sorted(p for p in Path(self.noise_dir).rglob("*") if p.suffix.lower() in (".wav", ".flac"))
            if not self._noise_files:
                raise ValueError(f"task.noise_dir={self.noise_dir!r} holds no .wav/.flac files")
        return load_audio(str(random.choice(self._noise_files)), self.sample_rate)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        if self.speeds:
            wave = speed_perturb(wave, self.sample_rate, random.choice(self.speeds))
        if self.snr and random.random() < self.noise_prob:
            wave = add_noise(wave, self._noise(len(wave)), random.uniform(*self.snr), rng=np.random.default_rng(random.getrandbits(32)))
        if self.telephone_prob and random.random() < self.telephone_prob:
            narrow = telephone_channel(wave, self.sample_rate)
            wave = narrow if self.sample_rate == 8000 else resample(narrow, 8000, self.sample_rate)
        if self.leading_silence and random.random() < self.leading_silence_prob:
            wave = np.concatenate([self._quiet(int(random.uniform(*self.leading_silence) * self.sample_rate)), wave])
        return np.asarray(wave, dtype=np.float32)

    @staticmethod
    def _quiet(n: int) -> np.ndarray:
        """``n`` samples of quiet: white noise at -100..-50 dBFS RMS; below -96 dBFS (under 16-bit PCM's
        quantization step) digital zeros, as a client that sends silence as zeros does."""
        level_db = random.uniform(-100.0, -50.0)
        if level_db < -96.0:
            return np.zeros(n, dtype=np.float32)
        rng = np.random.default_rng(random.getrandbits(32))
        return (rng.standard_normal(n) * 10 ** (level_db / 20)).astype(np.float32)


def _worker_init(_worker_id: int) -> None:
    # DataLoader workers may be spawned fresh: make sure plugins are registered there too,
    # and keep each worker single-threaded so they do not fight the training process.
    from hypersp.plugins import load_all

    load_all()
    torch.set_num_threads(1)
