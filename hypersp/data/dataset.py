"""Datasets that turn manifest entries into feature/target pairs.

``AudioTextDataset[i]`` reads one utterance (soundfile / raw PCM, resampled to the task rate),
computes normalized log-mel features ``(T, F)`` and encodes the normalized transcript.
An utterance that cannot be used (unreadable audio, empty target, ...) is returned as a
``Skipped`` record instead of raising, so a long training run never dies on one bad file;
``collate`` drops skipped items and reports them on the batch for the trainer to count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Union

import torch

from hypersp.audio.io import AudioReadError, load_audio
from hypersp.data.batch import Batch
from hypersp.data.manifest import ManifestEntry
from hypersp.registry import register_dataset


@dataclass
class Skipped:
    utt_id: str
    reason: str


@dataclass
class Example:
    features: torch.Tensor  # (T, F)
    tokens: List[int]
    utt_id: str
    text: str
    duration: float         # seconds


@register_dataset("audio_text")
class AudioTextDataset(torch.utils.data.Dataset):
    """Map-style dataset over manifest entries.

    ``featurizer``: module mapping ``(1, S)`` waveforms + lengths to ``(1, T, F)`` features.
    ``encode``: text -> token ids (already including text normalization).
    ``waveform_transform``: optional train-time augmentation on the float waveform (S,).
    """

    def __init__(
        self,
        entries: Sequence[ManifestEntry],
        sample_rate: int,
        featurizer: torch.nn.Module,
        encode: Callable[[str], List[int]],
        waveform_transform: Optional[Callable] = None,
    ):
        self.entries = list(entries)
        self.sample_rate = sample_rate
        self.featurizer = featurizer
        self.encode = encode
        self.waveform_transform = waveform_transform

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def durations(self) -> List[float]:
        return [e.duration for e in self.entries]

    def __getitem__(self, index: int) -> Union[Example, Skipped]:
        e = self.entries[index]
        try:
            wave = load_audio(e.audio_filepath, self.sample_rate, offset=e.offset, duration=e.duration if e.offset else 0.0)
        except AudioReadError as err:
            return Skipped(e.utt_id, f"unreadable audio: {err}")
        if wave.size == 0:
            return Skipped(e.utt_id, f"empty audio: {e.audio_filepath}")
        tokens = self.encode(e.text)
        if not tokens:
            return Skipped(e.utt_id, f"empty transcript after normalization: {e.text!r}")
        if self.waveform_transform is not None:
            wave = self.waveform_transform(wave)
        samples = torch.from_numpy(wave).float()[None]
        with torch.no_grad():
            feats, _ = self.featurizer(samples, torch.tensor([samples.shape[1]]))
        return Example(feats[0], tokens, e.utt_id, e.text, len(wave) / self.sample_rate)


def collate(items: List[Union[Example, Skipped]]) -> Batch:
    """Pad examples into a ``Batch``; skipped items go to ``batch.skipped``."""
    good = [x for x in items if isinstance(x, Example)]
    skipped = [x for x in items if isinstance(x, Skipped)]
    if good:
        feat_dim = good[0].features.shape[1]
        max_t = max(x.features.shape[0] for x in good)
        max_u = max(len(x.tokens) for x in good)
        features = torch.zeros(len(good), max_t, feat_dim)
        targets = torch.zeros(len(good), max_u, dtype=torch.long)
        for i, x in enumerate(good):
            features[i, : x.features.shape[0]] = x.features
            targets[i, : len(x.tokens)] = torch.tensor(x.tokens, dtype=torch.long)
    else:
        features = torch.zeros(0, 0, 0)
        targets = torch.zeros(0, 0, dtype=torch.long)
    batch = Batch(
        features=features,
        feature_lengths=torch.tensor([x.features.shape[0] for x in good], dtype=torch.long),
        targets=targets,
        target_lengths=torch.tensor([len(x.tokens) for x in good], dtype=torch.long),
        ids=[x.utt_id for x in good],
        texts=[x.text for x in good],
        durations=[x.duration for x in good],
    )
    batch.skipped = [(s.utt_id, s.reason) for s in skipped]
    return batch
