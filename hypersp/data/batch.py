"""The typed batch that flows from the data loader to criterions and decoders."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import torch


@dataclass
class Batch:
    """A padded mini-batch of utterances.

    features:        (B, T, F) float log-mel frames, zero-padded after ``feature_lengths``.
    feature_lengths: (B,) long, number of valid frames per utterance.
    targets:         (B, U) long token ids, padded with 0 after ``target_lengths``
                     (0 is the CTC blank; padding is never read because lengths are given).
    target_lengths:  (B,) long, number of valid target tokens.
    ids:             utterance ids (``utt_id`` from the manifest, else the audio path).
    texts:           reference transcripts as written in the manifest (for scoring).
    durations:       audio seconds per utterance (for throughput / RTF).
    """

    features: torch.Tensor
    feature_lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor
    ids: List[str] = field(default_factory=list)
    texts: List[str] = field(default_factory=list)
    durations: List[float] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (utt_id, reason) dropped by collate

    def to(self, device) -> "Batch":
        return Batch(
            self.features.to(device, non_blocking=True),
            self.feature_lengths.to(device, non_blocking=True),
            self.targets.to(device, non_blocking=True),
            self.target_lengths.to(device, non_blocking=True),
            self.ids,
            self.texts,
            self.durations,
            self.skipped,
        )

    def pin_memory(self) -> "Batch":
        """Called by the DataLoader when ``pin_memory=True`` (page-locked host memory for fast H2D copies)."""
        return Batch(self.features.pin_memory(), self.feature_lengths.pin_memory(), self.targets.pin_memory(),
                     self.target_lengths.pin_memory(), self.ids, self.texts, self.durations, self.skipped)

    def __len__(self) -> int:
        return self.features.shape[0]
