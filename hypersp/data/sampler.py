"""Duration-bucketed batching.

Utterances are sorted by duration and cut into ``num_buckets`` buckets of similar length;
inside a bucket, batches are filled until the *padded* audio (longest utterance x count)
reaches ``batch_seconds``. Batch order is shuffled every epoch from ``seed + epoch``.

For distributed training every rank builds the same global batch list and takes
``batches[rank::world_size]`` truncated to the same count, so ranks see disjoint data and the
same number of steps.
"""
from __future__ import annotations

import math
import random
from typing import Iterator, List, Sequence


class DurationBucketSampler:
    def __init__(
        self,
        durations: Sequence[float],
        batch_seconds: float,
        num_buckets: int = 10,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_batch_size: int = 0,
    ):
        if batch_seconds <= 0:
            raise ValueError(f"batch_seconds must be > 0, got {batch_seconds}")
        self.durations = list(durations)
        self.batch_seconds = batch_seconds
        self.num_buckets = max(1, num_buckets)
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.max_batch_size = max_batch_size
        self.epoch = 0
        self.start_batch = 0  # batches of the current epoch already consumed (exact resume)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's shuffle; ``start_batch`` skips batches already trained on."""
        self.epoch = epoch
        self.start_batch = start_batch

    def _global_batches(self) -> List[List[int]]:
        rng = random.Random(self.seed + self.epoch)
        order = sorted(range(len(self.durations)), key=lambda i: self.durations[i])
        if self.shuffle:
            # Break ties / jitter inside a bucket so batches differ between epochs.
            size = math.ceil(len(order) / self.num_buckets) or 1
            buckets = [order[i : i + size] for i in range(0, len(order), size)]
            for b in buckets:
                rng.shuffle(b)
                b.sort(key=lambda i: self.durations[i])
        else:
            size = len(order) or 1
            buckets = [order]
        batches: List[List[int]] = []
        for bucket in buckets:
            current: List[int] = []
            longest = 0.0
            for i in bucket:
                longest_if_added = max(longest, self.durations[i])
                full = longest_if_added * (len(current) + 1) > self.batch_seconds
                full = full or (self.max_batch_size and len(current) >= self.max_batch_size)
                if current and full:
                    batches.append(current)
                    current, longest_if_added = [], self.durations[i]
                current.append(i)
                longest = longest_if_added
            if current:
                batches.append(current)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[List[int]]:
        batches = self._global_batches()
        if self.world_size > 1:
            per_rank = len(batches) // self.world_size
            batches = batches[self.rank :: self.world_size][:per_rank]
        return iter(batches[self.start_batch :])

    def __len__(self) -> int:
        n = len(self._global_batches())
        return n // self.world_size if self.world_size > 1 else n
